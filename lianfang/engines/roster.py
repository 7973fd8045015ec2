"""Duty rosters: staff to shifts (and posts) over a horizon of days, optimised with OR-Tools CP-SAT.

Pure Python (no Django). A :class:`Problem` lists shift types, staff with their personal rules,
demand per day, shift and post (a gate or a lane; ``""`` when there are no posts), optionally by
skill or kind of staff, and the staff's on/off requests. :func:`solve` returns the best roster
found within the time limit together with the proven lower bound.

Hard rules (never broken; a roster that breaks one is never returned):

* at most one shift per person per day (the roster maps ``(staff, day)`` to one shift);
* forbidden successions (``ShiftType.forbidden_next``) and, when shift start times are given,
  the minimum rest between the end of one shift and the start of the next day's shift;
* per person: maximum number of each shift type (``0`` = may not work it), minimum and maximum
  total minutes, maximum minutes per calendar week, maximum consecutive working days (counting
  the days worked in a row up to the eve of day 0, ``Staff.worked_before``), minimum
  consecutive working days, minimum consecutive days off (counting the days off in a row up to
  the eve after a working day, ``Staff.rested_before``), maximum weekends worked (a weekend is
  worked when the person works on the Saturday or the Sunday), days off, unavailable
  ``(day, shift)`` slots, the skills a shift type requires, and the posts the person may staff.

The minimum run lengths do not apply to a run touching the first or the last day of the horizon
(what happened before or after it is unknown), which is also the convention of the Curtois & Qu
benchmark instances (see :mod:`lianfang.engines.nrp_format`).

Soft rules (the objective, minimised, integer):

* cover: for every :class:`Demand` row, ``under_weight`` per missing person and ``over_weight``
  per extra person. A row with a ``skill`` counts only the people at that day, shift and post who
  have the skill (or are of that kind, e.g. ``"medical"``); a row without counts everybody there.
  Demand is therefore never a reason for infeasibility: a shortfall is a penalised slack, and the
  solution lists each one with the reason in Chinese (:class:`Shortfall`).
* requests: an unmet on-request or a granted off-request costs its weight.
* fairness (``Problem.fairness_weight``): each night shift (among those who may work nights) and
  each weekend day (among everybody) a person works beyond the fair share, the demand spread
  evenly over them and rounded up.
* continuity (``Problem.continuity_weight``): per person, each extra post beyond the first.

Model: a Boolean per person, day, shift and post. Each person's runs of working days and days off
(maximum and minimum lengths, with the border exemption) are one automaton over the days, which
CP-SAT unrolls into a flow: its linear relaxation is much tighter than clauses, and with CP-SAT's
strongest-LP worker (``max_lp``) leading on few cores the small benchmark instances are proven
optimal in seconds. On small models a limited number of weekends is counted in that automaton too;
on bigger ones the weekend states would multiply the flow past what the LP can solve in time, and a
flag per weekend counts them instead (see :func:`_weekend_states`). Cover slacks are exact in every
roster (never both short and over), so the objective CP-SAT reports is the roster's. Because every
hard rule is personal, a legal roster can be built person by person; :func:`solve` first does so
with a greedy pass per person guided by a backward table of what the rest of the horizon still
allows (see :func:`_construct`; a few seconds even for a year of 150 people). Then two searches
share the cores and the best roster (:class:`_Best`): CP-SAT on the whole model, which proves
bounds (big models start from the built roster), and a large-neighbourhood search
(:func:`_improve`) that re-plans a few people over the whole horizon, or many people over a few
days or over the same days of every week, with small CP-SAT models while the others keep their
schedules, and takes over every better roster CP-SAT finds. On small models over at most four
weeks CP-SAT's LP workers usually prove the optimum within seconds, so they run alone for the
first half of the time limit; on bigger ones (or longer horizons) the neighbourhood search runs
from the start on two threads beside one CP-SAT worker, since there the whole model's LP is too
slow to lead the search, and CP-SAT is stopped after a quarter of the time (on big models, from
10,000 assignment variables, after a twentieth) if its bound is still below half the best roster's
objective (its LP cannot finish in time; the search gets the core).
Models too big to build and presolve in the time left get the neighbourhood search alone. So a
problem whose people can each be rostered legally always gets a legal roster.

:func:`objective_value` recomputes the objective from a roster independently of the CP-SAT model
and :func:`check` lists hard-rule violations in Chinese (used, for example, to re-check a swap).
Bad input raises :class:`RosterError` with a Chinese message; an over-constrained problem returns
status ``"infeasible"`` with the people whose own rules contradict each other and which rule to
relax.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from ortools.sat.python import cp_model

Status = Literal["optimal", "feasible", "infeasible", "unknown"]
Assignments = Mapping[tuple[str, int], str]  # (staff id, day) -> shift id
Posts = Mapping[tuple[str, int], str]  # (staff id, day) -> post ("" = no post)
Progress = Callable[[float, int, int], None]  # (seconds, objective, bound)

KINDS: dict[str, str] = {"local": "属地工作人员", "police": "交警", "volunteer": "志愿者", "medical": "医护人员"}
SKILLS: dict[str, str] = {"driver": "驾驶", "medical": "医疗", "party": "党员", "night": "夜班"}
WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")

RULES_ZH: dict[str, str] = {
    "days_off": "休息日/不可用时段",
    "shift_not_allowed": "可上班次",
    "skill": "班次所需技能",
    "post": "可驻岗位",
    "succession": "班次衔接与最短休息",
    "max_shifts": "各班次次数上限",
    "max_minutes": "总工时上限",
    "min_minutes": "总工时下限",
    "week_minutes": "每周工时上限",
    "max_consecutive": "最多连续上班天数",
    "min_consecutive": "最少连续上班天数",
    "min_consecutive_off": "最少连续休息天数",
    "max_weekends": "周末上班次数上限",
}
_RELAXABLE = (
    "min_minutes",
    "min_consecutive",
    "min_consecutive_off",
    "days_off",
    "max_consecutive",
    "max_weekends",
    "max_minutes",
    "week_minutes",
    "max_shifts",
    "succession",
)


class RosterError(ValueError):
    """Bad input for the roster solver; the message is shown to the user (Chinese)."""


@dataclass(frozen=True)
class ShiftType:
    id: str
    minutes: int
    forbidden_next: frozenset[str] = frozenset()  # shift types that may not be worked the next day
    start: int | None = None  # minute of the day the shift starts; with Problem.min_rest_minutes
    night: bool = False  # counted by the fairness of nights
    requires: frozenset[str] = frozenset()  # skills needed to work this shift at all (e.g. "night")
    name: str = ""  # display name, e.g. 早班


@dataclass(frozen=True)
class Staff:
    id: str
    kind: str = "local"  # local / police / volunteer / medical (see KINDS)
    skills: frozenset[str] = frozenset()
    max_shifts: Mapping[str, int] = field(default_factory=dict)  # shift id -> most times; 0 = never; absent = no limit
    min_minutes: int = 0
    max_minutes: int | None = None
    max_consecutive: int | None = None  # working days in a row
    min_consecutive: int = 1
    min_consecutive_off: int = 1
    max_weekends: int | None = None
    days_off: frozenset[int] = frozenset()
    unavailable: frozenset[tuple[int, str]] = frozenset()  # (day, shift id)
    posts: frozenset[str] = frozenset()  # posts this person may staff; empty = any
    max_week_minutes: int | None = None  # per calendar week (Monday to Sunday)
    name: str = ""
    worked_before: int = 0  # days worked in a row up to the eve of day 0 (the roster before): count towards max_consecutive
    rested_before: int = 0  # days off in a row up to the eve, after a working day: count towards min_consecutive_off


@dataclass(frozen=True)
class Demand:
    day: int
    shift: str
    post: str = ""
    skill: str | None = None  # a skill or a kind of staff; None = anybody
    required: int = 1
    under_weight: int = 100
    over_weight: int = 1


@dataclass(frozen=True)
class Request:
    staff: str
    day: int
    shift: str | None  # None: any shift (on = wants to work that day, off = wants the day off)
    on: bool
    weight: int = 1


@dataclass(frozen=True)
class Problem:
    days: int
    shifts: tuple[ShiftType, ...]
    staff: tuple[Staff, ...]
    demand: tuple[Demand, ...] = ()
    requests: tuple[Request, ...] = ()
    fairness_weight: int = 0
    continuity_weight: int = 0
    first_weekday: int = 0  # weekday of day 0, Monday = 0
    min_rest_minutes: int = 0  # between shifts on consecutive days, when start times are known


@dataclass(frozen=True)
class Shortfall:
    day: int
    shift: str
    post: str
    skill: str | None
    required: int
    assigned: int
    missing: int
    reason_zh: str


@dataclass
class Solution:
    assignments: dict[tuple[str, int], str]
    posts: dict[tuple[str, int], str]
    objective: int
    bound: int
    status: Status
    seconds: float
    shortfalls: list[Shortfall] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # notes and explanations, Chinese
    breakdown: dict[str, int] = field(default_factory=dict)  # objective by component
    search_steps: int = 0  # sub-problems the neighbourhood search solved

    @property
    def gap(self) -> float:
        """Relative gap between the roster's objective and the proven bound (0 when optimal)."""
        if self.status not in ("optimal", "feasible"):
            return math.inf
        return (self.objective - self.bound) / max(abs(self.objective), 1)


# --------------------------------------------------------------------------------------------
# Validation and lookups


@dataclass(frozen=True)
class _Index:
    problem: Problem
    shifts: dict[str, ShiftType]
    staff: dict[str, Staff]
    slot_posts: dict[tuple[int, str], tuple[str, ...]]  # (day, shift) -> posts with demand
    explicit_forbidden: frozenset[tuple[str, str]]
    rest_forbidden: frozenset[tuple[str, str]]
    weekends: tuple[tuple[int, ...], ...]
    weeks: tuple[tuple[int, ...], ...]

    @property
    def forbidden(self) -> frozenset[tuple[str, str]]:
        return self.explicit_forbidden | self.rest_forbidden

    def posts_of(self, day: int, shift: str) -> tuple[str, ...]:
        return self.slot_posts.get((day, shift), ("",))

    def weekday(self, day: int) -> int:
        return (self.problem.first_weekday + day) % 7


def _who(st: Staff) -> str:
    return f"「{st.name or st.id}」"


def _shift_zh(idx: _Index, shift: str) -> str:
    st = idx.shifts.get(shift)
    return (st.name if st and st.name else shift) + ("" if st and st.name.endswith("班") else "班")


def _skill_zh(skill: str) -> str:
    return SKILLS.get(skill) or KINDS.get(skill) or skill


def _day_zh(idx: _Index, day: int) -> str:
    return f"第 {day + 1} 天（{WEEKDAYS[idx.weekday(day)]}）"


def _slot_zh(idx: _Index, day: int, shift: str, post: str) -> str:
    return f"{_day_zh(idx, day)}{_shift_zh(idx, shift)}" + (f"「{post}」" if post else "")


def _nonneg(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RosterError(f"{what}必须是不小于 0 的整数（收到：{value!r}）。")


def _index(problem: Problem) -> _Index:
    if isinstance(problem.days, bool) or not isinstance(problem.days, int) or problem.days < 1:
        raise RosterError(f"排班天数必须是不小于 1 的整数（收到：{problem.days!r}）。")
    if not problem.shifts:
        raise RosterError("至少需要一个班次。")
    if not 0 <= problem.first_weekday <= 6:
        raise RosterError(f"首日星期必须在 0（周一）到 6（周日）之间（收到：{problem.first_weekday!r}）。")
    for value, what in (
        (problem.fairness_weight, "公平性权重"),
        (problem.continuity_weight, "岗位连续性权重"),
        (problem.min_rest_minutes, "最短休息时间"),
    ):
        _nonneg(value, what)
    shifts: dict[str, ShiftType] = {}
    for sh in problem.shifts:
        if sh.id in shifts:
            raise RosterError(f"班次编号重复：{sh.id}。")
        if isinstance(sh.minutes, bool) or not isinstance(sh.minutes, int) or sh.minutes <= 0:
            raise RosterError(f"班次 {sh.id} 的时长必须是正整数分钟（收到：{sh.minutes!r}）。")
        shifts[sh.id] = sh
    for sh in problem.shifts:
        unknown = sorted(sh.forbidden_next - shifts.keys())
        if unknown:
            raise RosterError(f"班次 {sh.id} 的禁止衔接中有未知班次：{'、'.join(unknown)}。")
    staff: dict[str, Staff] = {}
    for st in problem.staff:
        if st.id in staff:
            raise RosterError(f"人员编号重复：{st.id}。")
        staff[st.id] = st
        for sid, most in st.max_shifts.items():
            if sid not in shifts:
                raise RosterError(f"人员 {st.id} 的班次上限中有未知班次：{sid}。")
            _nonneg(most, f"人员 {st.id} 的 {sid} 班次上限")
        for value, what in ((st.min_minutes, "最少工时"), (st.min_consecutive, "最少连续上班天数"),
                            (st.min_consecutive_off, "最少连续休息天数"), (st.worked_before, "排班前已连续上班天数"),
                            (st.rested_before, "排班前已连续休息天数")):
            _nonneg(value, f"人员 {st.id} 的{what}")
        if st.worked_before and st.rested_before:
            raise RosterError(f"人员 {st.id} 排班前不能既连续上班又连续休息（前一天只能是其中一种）。")
        for opt, what in ((st.max_minutes, "最多工时"), (st.max_consecutive, "最多连续上班天数"),
                          (st.max_weekends, "周末上班上限"), (st.max_week_minutes, "每周工时上限")):
            if opt is not None:
                _nonneg(opt, f"人员 {st.id} 的{what}")
        if st.max_minutes is not None and st.max_minutes < st.min_minutes:
            raise RosterError(f"人员 {st.id} 的最少工时（{st.min_minutes} 分钟）大于最多工时（{st.max_minutes} 分钟）。")
        for day, sid in st.unavailable:
            if sid not in shifts:
                raise RosterError(f"人员 {st.id} 的不可用时段中有未知班次：{sid}。")
            _day_in_range(problem, day, f"人员 {st.id} 的不可用时段")
        for day in st.days_off:
            _day_in_range(problem, day, f"人员 {st.id} 的休息日")
    slot_posts: dict[tuple[int, str], set[str]] = defaultdict(set)
    for dm in problem.demand:
        if dm.shift not in shifts:
            raise RosterError(f"需求中有未知班次：{dm.shift}（第 {dm.day + 1} 天）。")
        _day_in_range(problem, dm.day, "需求")
        for value, what in ((dm.required, "需求人数"), (dm.under_weight, "缺员权重"), (dm.over_weight, "超员权重")):
            _nonneg(value, f"第 {dm.day + 1} 天 {dm.shift} 班的{what}")
        slot_posts[(dm.day, dm.shift)].add(dm.post)
    for rq in problem.requests:
        if rq.staff not in staff:
            raise RosterError(f"申请中有未知人员：{rq.staff}。")
        if rq.shift is not None and rq.shift not in shifts:
            raise RosterError(f"人员 {rq.staff} 的申请中有未知班次：{rq.shift}。")
        _day_in_range(problem, rq.day, f"人员 {rq.staff} 的申请")
        _nonneg(rq.weight, f"人员 {rq.staff} 的申请权重")
    rest: set[tuple[str, str]] = set()
    if problem.min_rest_minutes:
        for a in problem.shifts:
            for b in problem.shifts:
                if a.start is not None and b.start is not None:
                    gap = 1440 + b.start - (a.start + a.minutes)
                    if gap < problem.min_rest_minutes:
                        rest.add((a.id, b.id))
    weekends: dict[int, list[int]] = defaultdict(list)
    weeks: dict[int, list[int]] = defaultdict(list)
    for d in range(problem.days):
        week = (problem.first_weekday + d) // 7
        weeks[week].append(d)
        if (problem.first_weekday + d) % 7 >= 5:
            weekends[week].append(d)
    explicit = frozenset((a.id, b) for a in problem.shifts for b in a.forbidden_next)
    return _Index(
        problem=problem,
        shifts=shifts,
        staff=staff,
        slot_posts={k: tuple(sorted(v)) for k, v in slot_posts.items()},
        explicit_forbidden=explicit,
        rest_forbidden=frozenset(rest) - explicit,
        weekends=tuple(tuple(v) for _, v in sorted(weekends.items())),
        weeks=tuple(tuple(v) for _, v in sorted(weeks.items())),
    )


def _day_in_range(problem: Problem, day: object, what: str) -> None:
    if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day < problem.days:
        raise RosterError(f"{what}中的日期 {day!r} 超出排班范围（第 1 到第 {problem.days} 天）。")


def _matches(st: Staff, skill: str | None) -> bool:
    return skill is None or skill in st.skills or st.kind == skill


def _blocked(idx: _Index, st: Staff, day: int, shift: str, post: str, relax: frozenset[str] = frozenset()) -> str | None:
    """The rule that forbids ``st`` on this slot by itself, or None."""
    sh = idx.shifts[shift]
    if "days_off" not in relax and (day in st.days_off or (day, shift) in st.unavailable):
        return "days_off"
    if "max_shifts" not in relax and st.max_shifts.get(shift) == 0:
        return "shift_not_allowed"
    if not sh.requires <= st.skills:
        return "skill"
    if post and st.posts and post not in st.posts:
        return "post"
    return None


def _night_eligible(idx: _Index, st: Staff) -> bool:
    return any(sh.night and st.max_shifts.get(sh.id) != 0 and sh.requires <= st.skills for sh in idx.problem.shifts)


def _fairness_groups(idx: _Index) -> list[tuple[str, tuple[Staff, ...], int]]:
    """(what, staff, fair share) of the fairness term: night shifts among those who may work nights,
    weekend days among everybody. The fair share is the demand spread evenly over them, rounded up;
    each night or weekend day a person works beyond it costs ``fairness_weight``. (An excess over
    a share, unlike a spread max - min, is 0 whenever the work can be shared evenly, so a fair
    roster can be proven optimal: the LP bound of a spread is always 0.)"""
    p = idx.problem
    groups: list[tuple[str, tuple[Staff, ...], int]] = []
    nightly = tuple(st for st in p.staff if _night_eligible(idx, st))
    night_demand = sum(dm.required for dm in p.demand if dm.skill is None and idx.shifts[dm.shift].night)
    if nightly and any(sh.night for sh in p.shifts):
        groups.append(("nights", nightly, math.ceil(night_demand / len(nightly))))
    weekend_days = {d for wk in idx.weekends for d in wk}
    weekend_demand = sum(dm.required for dm in p.demand if dm.skill is None and dm.day in weekend_days)
    if weekend_days and p.staff:
        groups.append(("weekends", tuple(p.staff), math.ceil(weekend_demand / len(p.staff))))
    return groups


# --------------------------------------------------------------------------------------------
# Checking a roster (independent of the CP-SAT model)


@dataclass(frozen=True)
class _Violation:
    staff: str
    day: int | None
    rule: str
    message: str


def _resolve_post(idx: _Index, posts: Posts | None, key: tuple[str, int], shift: str) -> str:
    if posts is not None and key in posts:
        return posts[key]
    options = idx.posts_of(key[1], shift)
    return options[0] if len(options) == 1 else ""


_Schedules = dict[str, dict[int, tuple[str, str]]]  # staff id -> day -> (shift, post)


def _schedules(idx: _Index, assignments: Assignments, posts: Posts | None) -> tuple[_Schedules, list[str]]:
    by_staff: dict[str, dict[int, tuple[str, str]]] = {st.id: {} for st in idx.problem.staff}
    errors: list[str] = []
    for key, shift in sorted(assignments.items()):
        sid, day = key
        if sid not in idx.staff:
            errors.append(f"排班表中有未知人员：{sid}。")
        elif shift not in idx.shifts:
            errors.append(f"{_who(idx.staff[sid])}第 {day + 1} 天排了未知班次：{shift}。")
        elif isinstance(day, bool) or not isinstance(day, int) or not 0 <= day < idx.problem.days:
            errors.append(f"{_who(idx.staff[sid])}的日期 {day!r} 超出排班范围。")
        else:
            by_staff[sid][day] = (shift, _resolve_post(idx, posts, key, shift))
    return by_staff, errors


def _runs(work: Sequence[bool], value: bool) -> list[tuple[int, int]]:
    """Maximal runs [start, end] (inclusive) of ``value``."""
    out: list[tuple[int, int]] = []
    start: int | None = None
    for d, w in enumerate(work):
        if w == value and start is None:
            start = d
        elif w != value and start is not None:
            out.append((start, d - 1))
            start = None
    if start is not None:
        out.append((start, len(work) - 1))
    return out


def _staff_violations(idx: _Index, st: Staff, sched: Mapping[int, tuple[str, str]]) -> list[_Violation]:
    days = idx.problem.days
    who = _who(st)
    out: list[_Violation] = []

    def add(day: int | None, rule: str, message: str) -> None:
        out.append(_Violation(st.id, day, rule, message))

    for day, (shift, post) in sorted(sched.items()):
        rule = _blocked(idx, st, day, shift, post)
        where = f"{who}{_day_zh(idx, day)}"
        if rule == "days_off":
            add(day, rule, f"{where}是休息日或不可用时段，不能上{_shift_zh(idx, shift)}。")
        elif rule == "shift_not_allowed":
            add(day, rule, f"{where}：此人不能上{_shift_zh(idx, shift)}。")
        elif rule == "skill":
            need = "、".join(_skill_zh(s) for s in sorted(idx.shifts[shift].requires - st.skills))
            add(day, rule, f"{where}：{_shift_zh(idx, shift)}需要「{need}」资质，此人不具备。")
        elif rule == "post":
            add(day, rule, f"{where}：此人不能驻守「{post}」。")
        nxt = sched.get(day + 1)
        if nxt is not None:
            if (shift, nxt[0]) in idx.explicit_forbidden:
                add(day + 1, "succession", f"{where}上{_shift_zh(idx, shift)}，次日不能接{_shift_zh(idx, nxt[0])}。")
            elif (shift, nxt[0]) in idx.rest_forbidden:
                hours = idx.problem.min_rest_minutes / 60
                add(day + 1, "succession",
                    f"{where}上{_shift_zh(idx, shift)}后到次日{_shift_zh(idx, nxt[0])}休息不足 {hours:g} 小时。")
    counts: dict[str, int] = defaultdict(int)
    for shift, _post in sched.values():
        counts[shift] += 1
    for shift, n in sorted(counts.items()):
        most = st.max_shifts.get(shift)
        if most is not None and most > 0 and n > most:
            add(None, "max_shifts", f"{who}上了 {n} 次{_shift_zh(idx, shift)}，超过上限 {most} 次。")
    total = sum(idx.shifts[s].minutes for s, _ in sched.values())
    if st.max_minutes is not None and total > st.max_minutes:
        add(None, "max_minutes", f"{who}总工时 {total / 60:g} 小时，超过上限 {st.max_minutes / 60:g} 小时。")
    if total < st.min_minutes:
        add(None, "min_minutes", f"{who}总工时 {total / 60:g} 小时，低于下限 {st.min_minutes / 60:g} 小时。")
    if st.max_week_minutes is not None:
        for week in idx.weeks:  # named by its days: "week 4" of a roster means nothing to a volunteer
            minutes = sum(idx.shifts[sched[d][0]].minutes for d in week if d in sched)
            if minutes > st.max_week_minutes:
                add(week[0], "week_minutes",
                    f"{who}{_day_zh(idx, week[0])}至{_day_zh(idx, week[-1])}这一周工时 {minutes / 60:g} 小时，"
                    f"超过每周上限 {st.max_week_minutes / 60:g} 小时。")
    work = [d in sched for d in range(days)]
    if 0 < st.rested_before < st.min_consecutive_off:  # the days off before day 0 are a run to complete
        first = next((d for d in range(days) if work[d]), None)
        if first is not None and first + st.rested_before < st.min_consecutive_off:
            rested = first + st.rested_before
            add(first, "min_consecutive_off", f"{who}排班前已连续休息 {st.rested_before} 天，第 {first + 1} 天就上班，"
                                              f"共只休息 {rested} 天，少于连续休息 {st.min_consecutive_off} 天。")
    for a, b in _runs(work, True):
        length = b - a + 1
        if st.max_consecutive is not None and a == 0 and st.worked_before and length + st.worked_before > st.max_consecutive:
            add(a, "max_consecutive", f"{who}排班前已连续上班 {st.worked_before} 天，又从第 1 天起连续上班 {length} 天，"
                                      f"共 {length + st.worked_before} 天，超过上限 {st.max_consecutive} 天。")
        elif st.max_consecutive is not None and length > st.max_consecutive:
            add(a, "max_consecutive", f"{who}从第 {a + 1} 天起连续上班 {length} 天，超过上限 {st.max_consecutive} 天。")
        if 0 < a and b < days - 1 and length < st.min_consecutive:
            add(a, "min_consecutive", f"{who}从第 {a + 1} 天起只连续上班 {length} 天，少于 {st.min_consecutive} 天。")
    for a, b in _runs(work, False):
        length = b - a + 1
        if 0 < a and b < days - 1 and length < st.min_consecutive_off:
            add(a, "min_consecutive_off", f"{who}从第 {a + 1} 天起只休息 {length} 天，少于连续休息 {st.min_consecutive_off} 天。")
    if st.max_weekends is not None:
        worked = sum(1 for wk in idx.weekends if any(d in sched for d in wk))
        if worked > st.max_weekends:
            add(None, "max_weekends", f"{who}有 {worked} 个周末上班，超过上限 {st.max_weekends} 个。")
    return out


def check(problem: Problem, assignments: Assignments, posts: Posts | None = None) -> list[str]:
    """Hard-rule violations of a roster, in Chinese; empty when the roster is legal.

    ``posts`` gives each assignment's post; where absent, the only post with demand for that day
    and shift is assumed ("" when there are several or none).
    """
    idx = _index(problem)
    by_staff, errors = _schedules(idx, assignments, posts)
    for st in problem.staff:
        errors.extend(v.message for v in _staff_violations(idx, st, by_staff[st.id]))
    return errors


def objective_breakdown(problem: Problem, assignments: Assignments, posts: Posts | None = None) -> dict[str, int]:
    """The objective of a roster by component, computed directly from the definitions."""
    idx = _index(problem)
    by_staff, errors = _schedules(idx, assignments, posts)
    if errors:
        raise RosterError(errors[0])
    present: dict[tuple[int, str, str], list[Staff]] = defaultdict(list)
    for st in problem.staff:
        for day, (shift, post) in by_staff[st.id].items():
            present[(day, shift, post)].append(st)
    under = over = 0
    for dm in problem.demand:
        n = sum(1 for st in present.get((dm.day, dm.shift, dm.post), ()) if _matches(st, dm.skill))
        under += dm.under_weight * max(0, dm.required - n)
        over += dm.over_weight * max(0, n - dm.required)
    requests = 0
    for rq in problem.requests:
        got = by_staff[rq.staff].get(rq.day)
        granted = got is not None and (rq.shift is None or got[0] == rq.shift)
        if granted != rq.on:
            requests += rq.weight
    fairness = 0
    if problem.fairness_weight:
        for what, members, share in _fairness_groups(idx):
            if what == "nights":
                values = [sum(1 for s, _ in by_staff[st.id].values() if idx.shifts[s].night) for st in members]
            else:
                values = [sum(1 for wk in idx.weekends for d in wk if d in by_staff[st.id]) for st in members]
            fairness += problem.fairness_weight * sum(max(0, v - share) for v in values)
    continuity = 0
    if problem.continuity_weight:
        for st in problem.staff:
            distinct = {post for _, post in by_staff[st.id].values() if post}
            continuity += problem.continuity_weight * max(0, len(distinct) - 1)
    return {"cover_under": under, "cover_over": over, "requests": requests, "fairness": fairness, "continuity": continuity}


def objective_value(problem: Problem, assignments: Assignments, posts: Posts | None = None) -> int:
    """The objective of a roster (the benchmark's definition for benchmark instances), recomputed."""
    return sum(objective_breakdown(problem, assignments, posts).values())


# --------------------------------------------------------------------------------------------
# The CP-SAT model


_Run = tuple[str, int, bool]  # ("start" | "w" | "o", length, started on the first day and still short)


def _next_run(run: _Run, work: bool, kmin: int, kmax: int | None, omin: int) -> _Run | None:
    """The run after one more day (working or not), or None when a run-length rule forbids it.

    Lengths are capped where they stop mattering (at ``kmax`` for work runs, or ``kmin`` when there
    is no maximum; at ``omin`` for days off); a run starting on the first day is exempt from the
    minimum (the border convention)."""
    kind, length, border = run
    can_work = kmax is None or kmax >= 1
    if kind == "start":
        if work:
            return ("w", 1, kmin > 1) if can_work else None
        return ("o", 1, omin > 1)
    if kind == "w":
        if not work:
            return ("o", 1, False) if length >= kmin or border else None
        if kmax is not None and length >= kmax:
            return None
        longer = length + 1 if kmax is not None else min(length + 1, kmin)
        return ("w", longer, border and longer < kmin)
    if work:
        return ("w", 1, False) if can_work and (length >= omin or border) else None
    longer = min(length + 1, omin)
    return ("o", longer, border and longer < omin)


def _carried(st: Staff) -> int:
    """Working days before day 0 that the runs' automaton starts with (at most the maximum: more
    only means day 0 must be off, which walking that many days already says)."""
    return st.worked_before if st.max_consecutive is None else min(st.worked_before, st.max_consecutive)


def _rested(st: Staff) -> int:
    """Days off before day 0 that still bind the minimum days off in a row (0: none, or enough)."""
    return st.rested_before if st.rested_before < st.min_consecutive_off and st.max_consecutive != 0 else 0


def _history(st: Staff) -> list[bool]:
    """The days before day 0 that the runs' automaton walks first (working or not): the run of
    working days carried over, or a working day and then the days off since (so that this run of
    days off, unlike one at a border, must reach the minimum)."""
    if _rested(st):
        return [True] + [False] * _rested(st)
    return [True] * _carried(st)


_RUN_RULES = frozenset({"max_consecutive", "min_consecutive", "min_consecutive_off"})
_AUTOMATON_WEEKEND_STATES = 150  # at most (weekends allowed + 1) x weekends, to count weekends in the runs' automaton
_WEEKEND_FLAGS_MODEL = 2_500  # possible assignments from which the whole model counts weekends by flags (see solve)


class _Model:
    """CP-SAT model of the roster for ``staff`` (a subset for diagnosis), with ``relax`` rules left out."""

    def __init__(self, idx: _Index, staff: Sequence[Staff], *, relax: frozenset[str] = frozenset(), soft: bool = True,
                 fixed_cover: Sequence[int] | None = None, window: range | None = None,
                 around: Mapping[str, Mapping[int, tuple[str, str]]] | None = None,
                 weekend_states: int = _AUTOMATON_WEEKEND_STATES) -> None:
        """``fixed_cover``: per demand row, the people outside ``staff`` already counted there (a
        neighbourhood of :func:`_improve`, where everybody else keeps their schedule).

        ``window`` (with ``around``, the current schedules of ``staff``): only those days are
        variables; ``staff`` keep their schedules outside it, which enter the rules and the
        objective as constants (the runs' automaton starts in the state the days before leave and
        must end in a state the days after accept). The objective then differs from the whole
        roster's by a constant. The run rules cannot be relaxed in a window.

        ``weekend_states``: a person's weekends are counted in the runs' automaton when that needs
        at most this many weekend states, else by a flag per weekend."""
        p = idx.problem
        m = cp_model.CpModel()
        self.model = m
        self.idx = idx
        if window is not None and (around is None or not relax.isdisjoint(_RUN_RULES)):
            raise ValueError("a window needs the schedules around it and the run rules")
        self.window = window
        self.weekend_states = weekend_states
        self.around: Mapping[str, Mapping[int, tuple[str, str]]] = around or {}
        self._kept: dict[str, list[tuple[int, str, str]]] = {}  # see _outside
        self.x: dict[tuple[str, int, str, str], cp_model.IntVar] = {}
        self.work: dict[tuple[str, int], cp_model.IntVar | None] = {}  # None: cannot work that day
        self.shift_lits: dict[tuple[str, int, str], list[cp_model.IntVar]] = {}
        self.vars_of: dict[str, list[tuple[int, str, str, cp_model.IntVar]]] = defaultdict(list)
        self.at_slot: dict[tuple[int, str, str], list[tuple[Staff, cp_model.IntVar]]] = defaultdict(list)
        self.after: dict[str, list[str]] = defaultdict(list)  # shift -> the shifts it forbids the next day
        for a, b in sorted(idx.forbidden):
            self.after[a].append(b)
        terms: list[cp_model.LinearExprT] = []
        offset = 0
        days = window if window is not None else range(p.days)
        for st in staff:
            edges = self._edges(st) if window is not None else {}
            for d in days:
                day_vars: list[cp_model.IntVar] = []
                for sh in p.shifts:
                    lits: list[cp_model.IntVar] = []
                    if (d, sh.id) in edges:
                        continue  # the fixed day before or after forbids this shift
                    for post in idx.posts_of(d, sh.id):
                        if _blocked(idx, st, d, sh.id, post, relax) is None:
                            var = m.new_bool_var(f"x[{st.id},{d},{sh.id},{post}]")
                            self.x[(st.id, d, sh.id, post)] = var
                            self.vars_of[st.id].append((d, sh.id, post, var))
                            self.at_slot[(d, sh.id, post)].append((st, var))
                            lits.append(var)
                    if lits:
                        self.shift_lits[(st.id, d, sh.id)] = lits
                        day_vars.extend(lits)
                if not day_vars:
                    self.work[(st.id, d)] = None
                elif len(day_vars) == 1:
                    self.work[(st.id, d)] = day_vars[0]
                else:
                    w = m.new_bool_var(f"work[{st.id},{d}]")
                    m.add_exactly_one([*day_vars, ~w])
                    self.work[(st.id, d)] = w
            self._personal_rules(st, relax)
        if soft:
            offset = self._soft_terms(staff, terms, fixed_cover)
        self.objective_terms = terms
        self.offset = offset
        if soft:
            m.minimize(cp_model.LinearExpr.sum(terms) + offset)

    def y(self, sid: str, day: int, shift: str) -> list[cp_model.IntVar]:
        return self.shift_lits.get((sid, day, shift), [])

    def _edges(self, st: Staff) -> set[tuple[int, str]]:
        """(day, shift) of the window that the fixed days just before and after it forbid (succession)."""
        assert self.window is not None
        sched = self.around[st.id]
        first, last = self.window[0], self.window[-1]
        out: set[tuple[int, str]] = set()
        for a, b in self.idx.forbidden:
            if (before := sched.get(first - 1)) is not None and before[0] == a:
                out.add((first, b))
            if (after := sched.get(last + 1)) is not None and after[0] == b:
                out.add((last, a))
        return out

    def _outside(self, st: Staff) -> list[tuple[int, str, str]]:
        """(day, shift, post) that ``st`` keeps outside the window (nothing without a window); read
        by several rules, so worked out once per person."""
        if self.window is None:
            return []
        if st.id not in self._kept:
            window = self.window
            self._kept[st.id] = [(d, shift, post) for d, (shift, post) in self.around[st.id].items() if d not in window]
        return self._kept[st.id]

    def _personal_rules(self, st: Staff, relax: frozenset[str]) -> None:
        idx, m = self.idx, self.model
        p = idx.problem
        H = p.days
        days = self.window if self.window is not None else range(H)
        outside = self._outside(st)  # constants of a window model
        if _RUN_RULES.isdisjoint(relax):
            # the weekends in the automaton multiply its states by the weekends allowed: only for short horizons
            with_weekends = ("max_weekends" not in relax and st.max_weekends is not None
                             and st.max_weekends < len(idx.weekends)
                             and (st.max_weekends + 1) * len(idx.weekends) <= self.weekend_states)
            self._automaton(st, with_weekends)
            relax = relax | _RUN_RULES | ({"max_weekends"} if with_weekends else set())
        work = [self.work[(st.id, d)] for d in range(H)] if self.window is None else []  # used with relaxed run rules only
        mine = self.vars_of[st.id]
        if "succession" not in relax and self.after:
            lits_at: dict[tuple[int, str], list[cp_model.IntVar]] = defaultdict(list)
            for d, sid, _post, v in mine:
                lits_at[(d, sid)].append(v)
            for (d, a), first in lits_at.items():
                nexts = self.after.get(a)
                if nexts:
                    second = [v for b in nexts for v in lits_at.get((d + 1, b), ())]
                    if second:
                        m.add_at_most_one(first + second)
        if "max_shifts" not in relax:
            of_shift: dict[str, list[cp_model.IntVar]] = defaultdict(list)
            for _d, sid, _post, v in mine:
                of_shift[sid].append(v)
            for sid, most in st.max_shifts.items():
                lits = of_shift.get(sid, [])
                most -= sum(1 for _d, shift, _post in outside if shift == sid)
                if len(lits) > max(0, most):
                    m.add(cp_model.LinearExpr.sum(lits) <= most)
        total = cp_model.LinearExpr.weighted_sum([v for *_rest, v in mine], [idx.shifts[sid].minutes for _d, sid, _p, _v in mine])
        kept = sum(idx.shifts[shift].minutes for _d, shift, _post in outside)
        if "max_minutes" not in relax and st.max_minutes is not None:
            m.add(total <= st.max_minutes - kept)
        if "min_minutes" not in relax and st.min_minutes > 0:
            m.add(total >= st.min_minutes - kept)
        if "week_minutes" not in relax and st.max_week_minutes is not None:
            for week in idx.weeks:
                week_terms = [idx.shifts[sid].minutes * v for d in week if d in days
                              for sid in idx.shifts for v in self.y(st.id, d, sid)]
                if week_terms:
                    week_kept = sum(idx.shifts[shift].minutes for d, shift, _post in outside if d in week)
                    m.add(sum(week_terms) <= st.max_week_minutes - week_kept)
        k = st.max_consecutive
        if "max_consecutive" not in relax and k is not None:
            for d in range(-_carried(st), H - k):  # from d < 0: windows starting in the run before day 0
                window = [w for w in work[max(0, d):d + k + 1] if w is not None]
                if len(window) > k + min(0, d):
                    m.add(sum(window) <= k + min(0, d))
        if "min_consecutive" not in relax:
            self._min_runs(work, st.min_consecutive, on=True)
        if "min_consecutive_off" not in relax:
            self._min_runs(work, st.min_consecutive_off, on=False, before=_rested(st))
        if "max_weekends" not in relax and st.max_weekends is not None and st.max_weekends < len(idx.weekends):
            worked = {d for d, _shift, _post in outside}
            flags: list[cp_model.IntVar] = []
            most = st.max_weekends
            for wk in idx.weekends:
                if worked.intersection(wk):
                    most -= 1  # worked on a fixed day of this weekend already
                    continue
                lits = [w for d in wk if d in days and (w := self.work[(st.id, d)]) is not None]
                if len(lits) == 1:
                    flags.append(lits[0])
                elif lits:
                    f = m.new_bool_var(f"weekend[{st.id},{wk[0]}]")
                    for lit in lits:
                        m.add_implication(lit, f)
                    flags.append(f)
            if len(flags) > most:
                m.add(sum(flags) <= most)

    def _automaton(self, st: Staff, weekends: bool) -> None:
        """Run lengths (and, with ``weekends``, the weekends worked) of one person as an automaton.

        CP-SAT unrolls an automaton into a flow over the days, whose linear relaxation is far
        tighter than the equivalent clauses. A state is the current run (working or off, its
        length capped where it stops mattering, and whether it started on the first day, which
        exempts it from the minimum) and, with ``weekends``, the weekends worked so far and
        whether the current weekend is already counted. The label of day ``d`` is ``work[d]``
        plus 2 on the first day of a weekend and 4 on its later days.
        """
        idx, m = self.idx, self.model
        kmax = st.max_consecutive  # None: unlimited, and run lengths beyond the minimum need not be told apart
        kmin = max(1, st.min_consecutive)
        omin = max(1, st.min_consecutive_off)
        cap = st.max_weekends if weekends and st.max_weekends is not None else None

        def run_next(run: _Run, work: bool) -> _Run | None:
            return _next_run(run, work, kmin, kmax, omin)

        Key = tuple[tuple[str, int, bool], int, bool]
        start: Key = (("start", 0, True), 0, False)
        states: dict[Key, int] = {start: 0}
        triples: list[tuple[int, int, int]] = []
        todo = [start]
        while todo:
            key = todo.pop()
            run, count, counted = key
            for position in (0, 1, 2) if cap is not None else (0,):
                for work in (False, True):
                    nrun = run_next(run, work)
                    if nrun is None:
                        continue
                    ncount, ncounted = count, False
                    if cap is not None and position:
                        already = counted if position == 2 else False
                        ncounted = already or work
                        ncount = count + (1 if work and not already else 0)
                        if ncount > cap:
                            continue
                    nkey: Key = (nrun, ncount, ncounted)
                    if nkey not in states:
                        states[nkey] = len(states)
                        todo.append(nkey)
                    triples.append((states[key], int(work) + 2 * position, states[nkey]))
        first_of: dict[int, bool] = {}
        for wk in idx.weekends:
            for i, d in enumerate(wk):
                first_of[d] = i == 0

        def offset(d: int) -> int:
            return 0 if cap is None or d not in first_of else (2 if first_of[d] else 4)

        H = idx.problem.days
        days = self.window if self.window is not None else range(H)
        step = {(a, lab): b for a, lab, b in triples}

        def walk(state: int, labels: list[int]) -> int | None:
            for lab in labels:
                if (nxt := step.get((state, lab))) is None:
                    return None
                state = nxt
            return state

        # the days worked (or rested) up to the eve (the roster before) are a run the first days
        # continue; a working run from day 0 stays exempt from the minimum, as at any border
        initial = walk(0, [int(w) for w in _history(st)])
        assert initial is not None  # the automaton allows any run up to the maximum
        finals = sorted(states.values())
        if self.window is not None:
            # the days around the window are fixed: start where the days before leave the automaton,
            # end only in states from which the days after are accepted
            sched = self.around[st.id]
            before = [int(d in sched) + offset(d) for d in range(days[0])]
            after = [int(d in sched) + offset(d) for d in range(days[-1] + 1, H)]
            start_state = walk(initial, before)
            if start_state is None:
                raise ValueError(f"the schedule of {st.id} before the window breaks a run rule")
            initial = start_state

            def accepts(state: int) -> bool:
                return walk(state, after) is not None

            finals = [n for n in finals if accepts(n)]
        labels: list[cp_model.LinearExprT] = []
        for d in days:
            w = self.work[(st.id, d)]
            labels.append(offset(d) if w is None else w + offset(d))
        m.add_automaton(labels, initial, finals, triples)

    def _min_runs(self, work: Sequence[cp_model.IntVar | None], k: int, *, on: bool, before: int = 0) -> None:
        """Forbid runs of ``on`` shorter than k that touch neither end of the horizon, and (with
        ``before``, the days of such a run before day 0) the first run too short with them."""
        H = len(work)

        def lit(d: int, value: bool) -> cp_model.BoolVarT | bool:
            w = work[d]
            if w is None:
                return not value
            return w if value else ~w

        for length in range(1, k):
            for start in range(1, H - length):
                # forbidden: !on at start-1, on at start..start+length-1, !on at start+length
                clause = [lit(start - 1, on), lit(start + length, on)]
                clause += [lit(d, not on) for d in range(start, start + length)]
                if any(c is True for c in clause):
                    continue
                self.model.add_bool_or([c for c in clause if not isinstance(c, bool)])
        for length in range(min(k - before, H) if before else 0):
            # forbidden: on at 0..length-1 (after ``before`` days of it), !on at length
            clause = [lit(length, on)] + [lit(d, not on) for d in range(length)]
            if not any(c is True for c in clause):
                self.model.add_bool_or([c for c in clause if not isinstance(c, bool)])

    def _soft_terms(self, staff: Sequence[Staff], terms: list[cp_model.LinearExprT], fixed_cover: Sequence[int] | None) -> int:
        idx, m = self.idx, self.model
        p = idx.problem
        offset = 0
        window = self.window  # outside it, cover and requests do not change: left out
        for i, dm in enumerate(p.demand):
            if (dm.under_weight == 0 and dm.over_weight == 0) or (window is not None and dm.day not in window):
                continue
            need = dm.required - (fixed_cover[i] if fixed_cover is not None else 0)  # < 0: over already
            lits = [v for st, v in self.at_slot.get((dm.day, dm.shift, dm.post), ()) if _matches(st, dm.skill)]
            if not lits:
                offset += dm.under_weight * max(0, need) + dm.over_weight * max(0, -need)
                continue
            under = m.new_int_var(0, max(0, need), f"under[{dm.day},{dm.shift},{dm.post},{dm.skill}]")
            over = m.new_int_var(0, max(0, len(lits) - need), f"over[{dm.day},{dm.shift},{dm.post},{dm.skill}]")
            m.add(cp_model.LinearExpr.sum(lits) + under - over == need)
            if need > 0 and len(lits) > need:  # slack exact in every roster, not only optimal ones
                short = m.new_bool_var(f"short[{dm.day},{dm.shift},{dm.post},{dm.skill}]")
                m.add(over == 0).only_enforce_if(short)
                m.add(under == 0).only_enforce_if(~short)
            terms.append(dm.under_weight * under)
            if dm.over_weight:
                terms.append(dm.over_weight * over)
        ids = {st.id for st in staff}
        for rq in p.requests:
            if rq.staff not in ids or rq.weight == 0 or (window is not None and rq.day not in window):
                continue
            if rq.shift is None:
                w = self.work[(rq.staff, rq.day)]
                lits_ = [] if w is None else [w]
            else:
                lits_ = list(self.y(rq.staff, rq.day, rq.shift))
            if rq.on:
                offset += rq.weight
                if lits_:
                    terms.append(-rq.weight * sum(lits_))
            elif lits_:
                terms.append(rq.weight * sum(lits_))
        if p.fairness_weight:
            for what, members, share in _fairness_groups(idx):
                for st in members:
                    if st.id not in ids:
                        continue
                    if what == "nights":
                        lits = [v for _d, sid, _post, v in self.vars_of[st.id] if idx.shifts[sid].night]
                        kept = sum(1 for _d, sid, _post in self._outside(st) if idx.shifts[sid].night)
                    else:
                        lits = [v for d, _sid, _post, v in self.vars_of[st.id] if idx.weekday(d) >= 5]
                        kept = sum(1 for d, _sid, _post in self._outside(st) if idx.weekday(d) >= 5)
                    if len(lits) + kept <= share:
                        continue  # can never exceed the share
                    excess = m.new_int_var(0, len(lits) + kept - share, f"{what}_excess[{st.id}]")
                    m.add(excess >= sum(lits) + kept - share)
                    terms.append(p.fairness_weight * excess)
        if p.continuity_weight:
            real_posts = sorted({dm.post for dm in p.demand if dm.post})
            if len(real_posts) > 1:
                for st in staff:
                    at: list[cp_model.IntVar | int] = []
                    kept_posts = {pp for _d, _sid, pp in self._outside(st)}
                    for post in real_posts:
                        if post in kept_posts:
                            at.append(1)
                            continue
                        lits = [v for _d, _sid, pp, v in self.vars_of[st.id] if pp == post]
                        if not lits:
                            continue
                        a = m.new_bool_var(f"at[{st.id},{post}]")
                        m.add_max_equality(a, lits)
                        at.append(a)
                    if len(at) > 1 and kept_posts & set(real_posts):  # at a post anyway: each other post costs
                        terms.append(p.continuity_weight * (sum(at) - 1))
                    elif len(at) > 1:
                        anywhere = m.new_bool_var(f"any[{st.id}]")
                        m.add_max_equality(anywhere, at)
                        terms.append(p.continuity_weight * (sum(at) - anywhere))
        return offset


# --------------------------------------------------------------------------------------------
# Solving


class _Callback(cp_model.CpSolverSolutionCallback):
    """CP-SAT's solutions and bounds on the whole model: progress, and (``capture``) each better roster
    handed to the neighbourhood search."""

    def __init__(self, progress: Progress | None, started: float) -> None:
        super().__init__()
        self._progress = progress
        self._started = started
        self._lock = threading.Lock()
        self.best: int | None = None
        self.bound: int | None = None
        self.error: BaseException | None = None
        self.capture: Callable[[cp_model.CpSolverSolutionCallback], None] | None = None
        self.solver: cp_model.CpSolver | None = None

    def _emit(self) -> None:
        if self._progress is None or self.best is None or self.error is not None:
            return
        try:
            self._progress(time.perf_counter() - self._started, self.best, self.bound if self.bound is not None else self.best)
        except Exception as exc:  # a broken progress reporter must not lose the roster
            self.error = exc

    def on_solution_callback(self) -> None:
        if self.capture is not None:
            self.capture(self)
        self.improved(round(self.objective_value), _bound(self.best_objective_bound, round(self.objective_value)))

    def improved(self, objective: int, bound: int | None = None) -> None:
        """A better roster (from CP-SAT or the neighbourhood search)."""
        with self._lock:
            if bound is not None:
                self.bound = max(self.bound or 0, bound)
            if self.best is None or objective < self.best:
                self.best = objective
            if self.bound is not None:
                self.bound = min(self.bound, self.best)
            self._emit()

    def on_bound(self, bound: float) -> None:
        with self._lock:
            if not math.isfinite(bound):
                return
            new = max(0, math.ceil(bound - 1e-6))
            if self.best is not None:
                new = min(new, self.best)
            if self.bound is None or new > self.bound:
                self.bound = new
                self._emit()


class _Best:
    """The best legal roster so far, shared by CP-SAT's thread and the neighbourhood search."""

    def __init__(self, callback: _Callback) -> None:
        self._lock = threading.Lock()
        self._callback = callback
        self.objective: int | None = None
        self.assignments: dict[tuple[str, int], str] = {}
        self.posts: dict[tuple[str, int], str] = {}
        self.proven = False
        self.version = 0
        self.steps = 0  # of the neighbourhood search

    def offer(self, objective: int, assignments: dict[tuple[str, int], str], posts: dict[tuple[str, int], str], *,
              proven: bool = False, report: bool = True) -> int | None:
        """Keep the roster if it is better; returns its version, or None when a better one is held."""
        with self._lock:
            better = self.objective is None or objective < self.objective
            if better:
                self.objective, self.assignments, self.posts = objective, assignments, posts
                self.version += 1
            if proven and objective == self.objective:
                self.proven = True
            version = self.version
        if better and report:
            self._callback.improved(objective)
        return version if better else None

    def snapshot(self) -> tuple[int, int, dict[tuple[str, int], str], dict[tuple[str, int], str]]:
        """(version, objective, assignments, posts) of the roster held (never changed in place)."""
        with self._lock:
            return self.version, self.objective or 0, self.assignments, self.posts

    def count_step(self) -> None:
        with self._lock:
            self.steps += 1

    def offer_from(self, values: cp_model.CpSolverSolutionCallback | cp_model.CpSolver, model: _Model) -> None:
        """CP-SAT's roster, read only when it beats the one held (CP-SAT's callback reports its own progress)."""
        objective = round(values.objective_value)
        if self.objective is not None and objective >= self.objective:
            return
        assignments: dict[tuple[str, int], str] = {}
        posts: dict[tuple[str, int], str] = {}
        for (sid, day, shift, post), var in model.x.items():
            if values.boolean_value(var):
                assignments[(sid, day)] = shift
                posts[(sid, day)] = post
        self.offer(objective, assignments, posts, report=False)


def _status(code: object) -> Status:
    if code == cp_model.OPTIMAL:
        return "optimal"
    if code == cp_model.FEASIBLE:
        return "feasible"
    if code == cp_model.INFEASIBLE:
        return "infeasible"
    return "unknown"


_CONSTRUCT_SHARE = 0.25  # of the time limit, at most, for the roster built person by person
_SMALL_MODEL = 2_500  # assignment variables below which CP-SAT alone runs first (its LP proves optima there)
_SMALL_MODEL_DAYS = 28  # ... on horizons up to four weeks (longer: its rosters improve too slowly to lead)
_SMALL_CPSAT_SHARE = 0.5  # of the time limit
_BIG_MODEL = 10_000  # assignment variables from which CP-SAT starts from the hint, led by a worker that follows it
_HUGE_MODEL = 200_000  # assignment variables from which CP-SAT's presolve is kept light
_HUGE_CONSTRUCT_SHARE = 0.6  # of the time limit, at most, for the roster built person by person on huge models
_CPSAT_PROBE_SHARE = 0.25  # of the time limit, after which CP-SAT on a model that is not small must show a bound
# ... on big models: their LP never finished in a minute (instances 12, 13, 20-23), and the search
# descends faster with the core (instance 12: 4,128-4,422 against 4,235-4,634; see docs/benchmarks.md)
_CPSAT_BIG_PROBE_SHARE = 0.05
_CPSAT_WEAK_BOUND = 0.5  # of the best objective: a bound below this at the probe stops CP-SAT
_BUILD_SECONDS = 1.5e-5  # per possible assignment variable, to build the CP-SAT model in Python (roughly)


def solve(
    problem: Problem,
    time_limit_s: float = 10.0,
    workers: int = 2,
    progress: Progress | None = None,
    hint: Assignments | None = None,
) -> Solution:
    """Best roster found within ``time_limit_s`` seconds on ``workers`` threads.

    ``progress(seconds, objective, bound)`` is called on every improving roster and every
    improved bound (after the first roster), from the solver's threads. ``hint`` (e.g. last week's or the published roster)
    warm-starts CP-SAT. Without a hint, a roster is first built person by person (see
    :func:`_construct`; at most a quarter of the time), and the neighbourhood search starts from it
    (with a hint, from CP-SAT's first roster); see the module's description for how CP-SAT and the
    search share the time and the workers.
    """
    started = time.perf_counter()
    if isinstance(time_limit_s, bool) or not isinstance(time_limit_s, int | float) or not time_limit_s > 0:
        raise RosterError(f"求解时限必须大于 0 秒（收到：{time_limit_s!r}）。")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise RosterError(f"求解线程数必须是不小于 1 的整数（收到：{workers!r}）。")
    idx = _index(problem)
    notes = _input_notes(idx)
    deadline = started + time_limit_s
    callback = _Callback(progress, started)
    fallback: tuple[dict[tuple[str, int], str], dict[tuple[str, int], str]] | None = None
    built: dict[tuple[str, int], str] = {}
    built_posts: dict[tuple[str, int], str] = {}
    done: set[str] = set()
    size = problem.days * len(problem.staff) * len(problem.shifts)  # at most this many assignment variables
    if hint is None:
        share = _CONSTRUCT_SHARE if size < _HUGE_MODEL else _HUGE_CONSTRUCT_SHARE
        built, built_posts, done = _construct(idx, deadline=started + time_limit_s * share)
        if len(done) == len(problem.staff):
            fallback = built, built_posts
    solver: cp_model.CpSolver | None = None
    code: object = cp_model.UNKNOWN
    best = _Best(callback)
    if fallback is not None:
        best.offer(objective_value(problem, *fallback), *fallback)
    search = len(problem.staff) > 1  # the neighbourhood search beside CP-SAT (one of the workers)
    if fallback is not None and size >= _HUGE_MODEL and deadline - time.perf_counter() < 2 * size * _BUILD_SECONDS:
        notes.append("模型过大，剩余时间不够建立和求解整体模型：在逐人构造的合法班表上逐组改进（无法证明下界）。")
        helpers = [threading.Thread(target=_improve, args=(idx, best, deadline), kwargs={"seed": n}, daemon=True)
                   for n in range(1, workers)]
        for helper in helpers:
            helper.start()
        _improve(idx, best, deadline)
        for helper in helpers:
            helper.join()
    else:
        model = _Model(idx, problem.staff, weekend_states=_weekend_states(problem))
        big = len(model.x) >= _BIG_MODEL
        # On small models CP-SAT's LP workers prove the optimum within seconds: they get every worker
        # for the first part of the time, and the search joins only if they have not finished by then.
        # Over longer horizons they prove bounds but find good rosters slowly (instance 16, 56 days:
        # 3,543 in 60 s against 3,443 twice with the search from the start).
        small = len(model.x) < _SMALL_MODEL and problem.days <= _SMALL_MODEL_DAYS
        search_from = started + time_limit_s * _SMALL_CPSAT_SHARE if small else started
        if hint is not None:
            _add_hint(model, hint, None, {sid for sid, _day in hint})
        elif big and done:
            _add_hint(model, built, built_posts, done)
        if search:
            callback.capture = lambda values: best.offer_from(values, model)
        finished = threading.Event()  # CP-SAT's run is over
        optimal = threading.Event()  # ... with a proof: the search stops too
        result: list[tuple[cp_model.CpSolver, object]] = []
        failed: list[BaseException] = []

        def whole() -> None:
            try:
                result.append(_run(model, deadline, max(1, workers - 1) if search and not small else workers, callback,
                                   follow_hint=big and (hint is not None or bool(done)),
                                   light_presolve=len(model.x) >= _HUGE_MODEL))
                if result[0][1] == cp_model.OPTIMAL:
                    optimal.set()
            except BaseException as exc:  # re-raised in the caller's thread
                failed.append(exc)
                optimal.set()
            finally:
                finished.set()

        thread = threading.Thread(target=whole, name="roster-cpsat", daemon=True)
        thread.start()
        if search:
            finished.wait(max(0.0, search_from - time.perf_counter()))
            while best.objective is None and not finished.wait(0.05):
                pass  # no legal roster to improve yet: wait for CP-SAT's first
            if best.objective is not None and not finished.is_set():
                probe: threading.Timer | None = None
                if not small:  # CP-SAT keeps its worker only while its bound promises a proof
                    probe_share = _CPSAT_BIG_PROBE_SHARE if big else _CPSAT_PROBE_SHARE
                    probe = threading.Timer(max(0.0, started + time_limit_s * probe_share - time.perf_counter()),
                                            _stop_if_weak, args=(callback, best, finished))
                    probe.daemon = True
                    probe.start()
                helpers = [threading.Thread(target=_improve, args=(idx, best, deadline),
                                            kwargs={"seed": n, "stop": optimal}, daemon=True)
                           for n in range(1, _LNS_THREADS if not small else 1)]
                for helper in helpers:
                    helper.start()
                _improve(idx, best, deadline, stop=optimal, window_share=_LNS_SMALL_WINDOW_SHARE if small else _LNS_WINDOW_SHARE)
                for helper in helpers:
                    helper.join()
                if probe is not None:
                    probe.cancel()
                if best.proven and callback.solver is not None:
                    callback.solver.stop_search()
        thread.join()
        if failed:
            raise failed[0]
        solver, code = result[0]
    if code == cp_model.MODEL_INVALID and solver is not None:
        raise RuntimeError(f"CP-SAT model invalid: {model.model.validate()}")
    status = _status(code)
    assignments: dict[tuple[str, int], str] = {}
    posts: dict[tuple[str, int], str] = {}
    bound = 0
    if status in ("optimal", "feasible") and solver is not None:
        best.offer_from(solver, model)
        bound = _bound(solver.best_objective_bound, round(solver.objective_value))
    elif solver is not None:
        bound = _bound(solver.best_objective_bound, best.objective) if best.objective is not None else 0
    if best.objective is not None:
        assignments, posts = best.assignments, best.posts
        objective = best.objective
        bound = objective if best.proven else min(bound, objective)
        status = "optimal" if status == "optimal" or bound >= objective else "feasible"
    if status in ("optimal", "feasible"):
        shortfalls = _shortfalls(idx, assignments, posts, optimal=status == "optimal",
                                 deadline=time.perf_counter() + max(1.0, time_limit_s * _EXPLAIN_SHARE))
        solution = Solution(assignments, posts, objective, bound, status, 0.0, shortfalls, notes,
                            objective_breakdown(problem, assignments, posts))
        if shortfalls:
            missing = sum(s.missing for s in shortfalls)
            solution.messages.append(f"有 {len(shortfalls)} 个班次/岗位缺员，共缺 {missing} 人次，详见缺员清单。")
        if status == "feasible":
            solution.messages.append(
                f"已在时限内找到合法班表，目标值 {objective}，已证明的下界 {bound}（差距 {solution.gap:.1%}）。")
    else:
        solution = Solution({}, {}, 0, 0, status, 0.0, [], notes)
        if status == "infeasible":
            solution.messages.append("硬性规则互相矛盾，无法排出任何合法班表。")
            solution.messages.extend(_explain_people(idx, deadline=time.perf_counter() + max(5.0, time_limit_s)))
        else:
            solution.messages.append(f"在 {time_limit_s:g} 秒内未找到合法班表，请延长求解时限。")
            culprits = _explain_people(idx, deadline=time.perf_counter() + min(10.0, time_limit_s / 4), quiet=True)
            solution.messages.extend(culprits)
    if callback.error is not None:
        solution.messages.append(f"进度回调出错：{callback.error}")
    solution.seconds = time.perf_counter() - started
    solution.search_steps = best.steps
    return solution


def _weekend_states(problem: Problem) -> int:
    """Weekend states allowed in the runs' automaton (``_Model(weekend_states=...)``) for ``problem``.

    They tighten the LP that proves small models optimal, but they multiply the automaton's flow:
    beyond small models the whole model's LP no longer finishes (instance 9: bound 179 against 406
    with flags, in 45 s), and the search's sub-models do better with flags too."""
    size = problem.days * len(problem.staff) * len(problem.shifts)
    return _AUTOMATON_WEEKEND_STATES if size < _WEEKEND_FLAGS_MODEL else 0


def _stop_if_weak(callback: _Callback, best: _Best, finished: threading.Event) -> None:
    """Stop CP-SAT on the whole model when its proven bound is still far below the best roster:
    its linear relaxation is too big to help in the time left, and the search gets its core.

    Asked again every half second until CP-SAT's run is over: a stop asked before CP-SAT's solve
    has begun (the probe is due at once when building the first roster took longer) is lost."""
    while not finished.is_set():
        solver, objective = callback.solver, best.objective
        if objective is None or (callback.bound or 0) >= _CPSAT_WEAK_BOUND * objective:
            return  # its bound promises a proof: CP-SAT keeps its worker
        if solver is not None:
            solver.stop_search()
        finished.wait(0.5)


def _bound(value: float, objective: int) -> int:
    """CP-SAT's proven lower bound as an integer between 0 (every term is non-negative) and the objective."""
    return max(0, min(objective, math.ceil(value - 1e-6))) if math.isfinite(value) else 0


def _add_hint(model: _Model, hint: Assignments, posts: Posts | None, staff: set[str]) -> None:
    for (sid, day, shift, post), var in model.x.items():
        if sid in staff:
            model.model.add_hint(var, hint.get((sid, day)) == shift and (posts is None or posts.get((sid, day)) == post))


def _run(
    model: _Model, deadline: float, workers: int, callback: _Callback, *,
    follow_hint: bool = False, light_presolve: bool = False,
) -> tuple[cp_model.CpSolver, object]:
    """One CP-SAT run on the whole model until ``deadline``.

    ``follow_hint``: lead with a worker without LP, which turns the hint into a first roster at once
    (on big models the LP workers spend the whole time limit on their relaxation).
    ``light_presolve``: one presolve pass without probing or symmetry search (big models, where
    the full presolve alone can use up the time limit)."""
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, deadline - time.perf_counter())
    solver.parameters.num_workers = workers
    if light_presolve:
        solver.parameters.max_presolve_iterations = 1
        solver.parameters.cp_model_probing_level = 0
        solver.parameters.symmetry_level = 0
    if follow_hint:
        solver.parameters.subsolvers.extend(["quick_restart_no_lp", "max_lp", "core", "default_lp"])
    elif workers == 1:
        solver.parameters.linearization_level = 2
    elif workers < 8:
        # CP-SAT's portfolio includes its strongest-LP worker (max_lp) only from 8 workers on, and on
        # rosters that worker proves the bounds; with fewer workers, take it first.
        solver.parameters.subsolvers.extend(["max_lp", "core", "quick_restart", "default_lp"])
    solver.best_bound_callback = callback.on_bound
    callback.solver = solver
    code = solver.solve(model.model, callback)
    return solver, code


class _Costs:
    """The objective of a roster, kept up to date as people's schedules change (for :func:`_improve`).

    Same definitions as :func:`objective_breakdown`: cover per demand row from the count of matching
    people there, and the personal terms (requests, fairness, continuity) per person."""

    def __init__(self, idx: _Index, by_staff: Mapping[str, Mapping[int, tuple[str, str]]]) -> None:
        p = idx.problem
        self.idx = idx
        self.rows_at: dict[tuple[int, str, str], list[int]] = defaultdict(list)
        for i, dm in enumerate(p.demand):
            if dm.under_weight or dm.over_weight:
                self.rows_at[(dm.day, dm.shift, dm.post)].append(i)
        self.count = [0] * len(p.demand)
        self.requests: dict[str, list[Request]] = defaultdict(list)
        for rq in p.requests:
            if rq.weight:
                self.requests[rq.staff].append(rq)
        self.shares: list[tuple[str, frozenset[str], int]] = []
        if p.fairness_weight:
            self.shares = [(what, frozenset(st.id for st in members), share) for what, members, share in _fairness_groups(idx)]
        self.weekend_days = frozenset(d for wk in idx.weekends for d in wk)
        for sid, sched in by_staff.items():
            for i in self.rows_of(idx.staff[sid], sched):
                self.count[i] += 1

    def rows_of(self, st: Staff, sched: Mapping[int, tuple[str, str]]) -> list[int]:
        """The demand rows ``st`` counts towards under ``sched``."""
        demand = self.idx.problem.demand
        return [i for d, (shift, post) in sched.items() for i in self.rows_at.get((d, shift, post), ())
                if _matches(st, demand[i].skill)]

    def row(self, i: int, n: int) -> int:
        dm = self.idx.problem.demand[i]
        return dm.under_weight * max(0, dm.required - n) + dm.over_weight * max(0, n - dm.required)

    def personal(self, st: Staff, sched: Mapping[int, tuple[str, str]]) -> int:
        p = self.idx.problem
        cost = 0
        for rq in self.requests.get(st.id, ()):
            got = sched.get(rq.day)
            if (got is not None and (rq.shift is None or got[0] == rq.shift)) != rq.on:
                cost += rq.weight
        for what, members, share in self.shares:
            if st.id in members:
                if what == "nights":
                    n = sum(1 for s, _ in sched.values() if self.idx.shifts[s].night)
                else:
                    n = sum(1 for d in sched if d in self.weekend_days)
                cost += p.fairness_weight * max(0, n - share)
        if p.continuity_weight:
            cost += p.continuity_weight * max(0, len({post for _, post in sched.values() if post}) - 1)
        return cost

    def delta(self, changes: Mapping[str, tuple[Mapping[int, tuple[str, str]], Mapping[int, tuple[str, str]]]]) -> int:
        """Change of the objective when each person of ``changes`` goes from the old to the new schedule."""
        moved: dict[int, int] = defaultdict(int)
        total = 0
        for sid, (old, new) in changes.items():
            st = self.idx.staff[sid]
            for i in self.rows_of(st, old):
                moved[i] -= 1
            for i in self.rows_of(st, new):
                moved[i] += 1
            total += self.personal(st, new) - self.personal(st, old)
        for i, dn in moved.items():
            if dn:
                total += self.row(i, self.count[i] + dn) - self.row(i, self.count[i])
        return total

    def apply(self, changes: Mapping[str, tuple[Mapping[int, tuple[str, str]], Mapping[int, tuple[str, str]]]]) -> None:
        for sid, (old, new) in changes.items():
            st = self.idx.staff[sid]
            for i in self.rows_of(st, old):
                self.count[i] -= 1
            for i in self.rows_of(st, new):
                self.count[i] += 1

    def off_target(self) -> list[int]:
        """Demand rows short or over their requirement (with a cost)."""
        demand = self.idx.problem.demand
        return [i for rows in self.rows_at.values() for i in rows
                if (self.count[i] < demand[i].required and demand[i].under_weight)
                or (self.count[i] > demand[i].required and demand[i].over_weight)]


_LNS_THREADS = 2  # beside CP-SAT's one worker on models that are not small
_LNS_START_PEOPLE = 3  # people re-planned together at first; grows while their sub-problems are proven fast
_LNS_STEP_SECONDS = 2.0  # at most, per sub-problem
_LNS_TARGET_SHARE = 0.5  # of the steps start from a slot short or over (when there is one)
_LNS_WINDOW_START_PEOPLE = 40  # people of a window step at first; then more people, then more days, while proven fast
_LNS_WINDOW_START_DAYS = 3
_LNS_FAST_SECONDS = 0.06  # a window step proven within this grows (many small steps beat a few big ones)
_LNS_WINDOW_SHARE = 0.5  # of the search's time goes to window steps, the rest to whole horizons
_LNS_WEEKS_SHARE = 0.3  # of the window steps' time goes to weekly steps (horizons of two to four weeks)
_LNS_WEEKS_MAX_DAYS = 28  # longer: steps over every week too slow (instances 17, 21-24 got worse; 14-16, 18 mixed)
_LNS_WEEKS_START_DAYS = 3  # days of the week of a weekly step at first; grows while proven quickly
_LNS_WEEKS_SECONDS = 4.0  # at most, per weekly step
_LNS_SMALL_WINDOW_SHARE = 0.2  # on small models, beside CP-SAT's proof (instance 7: proven in 40 s, not at 0.5)


def _improve(idx: _Index, best: _Best, deadline: float, *, seed: int = 0, stop: threading.Event | None = None,
             window_share: float = _LNS_WINDOW_SHARE) -> None:
    """Large-neighbourhood search from the best roster held in ``best`` until ``deadline`` (or ``stop``).

    Two kinds of step share the time equally. A whole-horizon step frees a few people (people who
    could staff a slot that is short or over, filled up with people who share a post with them) and
    re-plans their whole horizon. A window step frees many people (at first 40, so usually
    everybody) over a few days, often around a slot short or over, and models only those days:
    the days around are constants (see ``_Model(window=...)``), so the step is small whatever the
    horizon. On horizons of two to four weeks, a share of the window steps are weekly steps
    instead: the same people over the same days of every week (at first three, e.g. Friday to
    Sunday), the other days kept (see :func:`_hold`). They trade whole weekends between people
    across the horizon, which the horizon-wide limits (weekends, minutes) block for a window of
    consecutive days. Everybody else keeps their schedule (their cover is a constant of the
    model, see ``_Model(fixed_cover=...)``). Each step is a small CP-SAT model; its new schedules
    are kept when the whole roster's objective does not get worse, and offered to ``best`` when it
    gets better. A better roster that CP-SAT finds on the whole model meanwhile is taken over; one
    that the other search thread found while a step ran gets this step's people put into it (see
    :func:`_rebase`), so neither improvement is lost. As
    the hard rules are all personal, every step's roster is legal. The steps grow while they are
    proven optimal quickly (whole horizons: more people; windows: more people, then more days;
    weekly steps: more days of the week) and shrink when they are not: many small window steps do
    better than a few big ones. When everybody is freed over the whole horizon and proven
    optimal, so is the roster."""
    p = idx.problem
    rng = random.Random(seed)
    people = list(p.staff)
    weekend_states = _weekend_states(p)
    eligible: dict[tuple[int, str, str, str | None], list[Staff]] = {}
    related: dict[str, list[Staff]] = {}
    k = min(_LNS_START_PEOPLE, len(people))
    kw = min(_LNS_WINDOW_START_PEOPLE, len(people))  # people of a window step
    length = min(_LNS_WINDOW_START_DAYS, p.days - 1)  # days of a window step
    weekdays = min(_LNS_WEEKS_START_DAYS, 7)  # days of the week of a weekly step
    spent = {"window": 0.0, "weeks": 0.0, "horizon": 0.0}  # seconds in each kind of step
    version = -1
    by_staff: dict[str, dict[int, tuple[str, str]]] = {}
    costs: _Costs | None = None
    objective = 0
    while time.perf_counter() < deadline - 0.05 and not (stop is not None and stop.is_set()):
        if best.version != version:  # CP-SAT found a better roster (or this is the first step)
            version, objective, held, held_posts = best.snapshot()
            by_staff, _ = _schedules(idx, held, held_posts)
            costs = _Costs(idx, by_staff)
        assert costs is not None
        step_began = time.perf_counter()
        chosen: dict[str, Staff] = {}
        window: range | None = None
        week_days: frozenset[int] | None = None  # the days of a weekly step
        bad = costs.off_target() if rng.random() < _LNS_TARGET_SHARE else []
        dm = p.demand[rng.choice(bad)] if bad else None
        if p.days > 1 and (spent["window"] + spent["weeks"]) * (1 - window_share) <= spent["horizon"] * window_share:
            if 14 <= p.days <= _LNS_WEEKS_MAX_DAYS and spent["weeks"] * (1 - _LNS_WEEKS_SHARE) <= (
                    spent["window"] * _LNS_WEEKS_SHARE):
                # many people over the same days of every week (e.g. Friday to Sunday): which
                # weekends each works, traded across the whole horizon (instance 12: 4,513 to 4,309
                # in one step, where no window or whole horizon of a few people could improve)
                start = rng.randrange(7) if dm is None else (idx.weekday(dm.day) - rng.randrange(weekdays)) % 7
                week_days = _week_days(idx, start, weekdays)
            elif dm is None:  # many people over a few days: slots short on some days and over on others trade places
                window = range(first := rng.randrange(p.days - length + 1), first + length)
            else:  # around the slot short or over
                first = min(max(0, dm.day - rng.randrange(length)), p.days - length)
                window = range(first, first + length)
        many = window is not None or week_days is not None
        if dm is not None:
            key = (dm.day, dm.shift, dm.post, dm.skill)
            if key not in eligible:
                eligible[key] = [st for st in people
                                 if _matches(st, dm.skill) and _blocked(idx, st, dm.day, dm.shift, dm.post) is None]
            pool = eligible[key]
            room = kw // 2 if many else k - 1
            for st in rng.sample(pool, min(len(pool), max(1, room))):
                chosen[st.id] = st
        wanted = min(len(people), kw if many else k)
        # fill up with people who share a post with the first one (a gate team), who can trade shifts
        anchor = next(iter(chosen.values())) if chosen else rng.choice(people)
        chosen[anchor.id] = anchor
        if anchor.id not in related:
            related[anchor.id] = [st for st in people if not st.posts or not anchor.posts or st.posts & anchor.posts]
        for pool in (related[anchor.id], people):
            for st in rng.sample(pool, len(pool)):
                if len(chosen) >= wanted:
                    break
                chosen[st.id] = st
        free = list(chosen.values())
        fixed = list(costs.count)
        for st in free:
            for i in costs.rows_of(st, by_staff[st.id]):
                fixed[i] -= 1
        sub = _Model(idx, free, fixed_cover=fixed, window=window, around=by_staff, weekend_states=weekend_states)
        _hold(sub, by_staff, week_days)
        limit = min(_LNS_WEEKS_SECONDS if week_days is not None else _LNS_STEP_SECONDS, deadline - time.perf_counter())
        if limit <= 0.01:
            break
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = limit
        solver.parameters.num_workers = 1
        solver.parameters.linearization_level = 2  # the runs' automaton has a tight LP: 10x faster proofs here
        solver.parameters.random_seed = rng.randrange(1 << 30)
        began = time.perf_counter()
        code = solver.solve(sub.model)
        took = time.perf_counter() - began
        everybody = code == cp_model.OPTIMAL and len(free) == len(people) and not many
        if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            new: dict[str, dict[int, tuple[str, str]]] = {
                st.id: {} if window is None else {d: got for d, got in by_staff[st.id].items() if d not in window}
                for st in free}
            for (sid, day, shift, post), var in sub.x.items():
                if solver.boolean_value(var):
                    new[sid][day] = (shift, post)
            changes = {sid: (by_staff[sid], sched) for sid, sched in new.items()}
            change = costs.delta(changes)
            if change <= 0:
                costs.apply(changes)
                by_staff.update(new)
                objective += change
                if change < 0 and not everybody and best.version != version:
                    # the other thread's roster has moved on since this step began: put this step's
                    # people into that one rather than lose one improvement or the other
                    rebased = _rebase(idx, best, new)
                    if rebased[1] <= objective:
                        version, objective, by_staff, costs = rebased
                if change < 0 or everybody:
                    assignments = {(sid, d): shift for sid, sched in by_staff.items() for d, (shift, _post) in sched.items()}
                    posts = {(sid, d): post for sid, sched in by_staff.items() for d, (_shift, post) in sched.items()}
                    kept = best.offer(objective, assignments, posts, proven=everybody)
                    if kept is not None:
                        version = kept
        best.count_step()
        if everybody:
            break
        spent["window" if window is not None else "weeks" if week_days is not None else "horizon"] += (
            time.perf_counter() - step_began)
        if week_days is not None:  # more days of the week while proven quickly
            if code == cp_model.OPTIMAL and took < limit / 4:
                weekdays = min(6, weekdays + 1)
            elif code != cp_model.OPTIMAL:
                weekdays = max(2, weekdays - 1)
        elif window is not None:  # more people while there are others, then more days
            if code == cp_model.OPTIMAL and took < _LNS_FAST_SECONDS:
                if kw < len(people):
                    kw = min(len(people), kw + max(2, kw // 4))
                else:
                    length = min(p.days - 1, length + 1)
            elif code != cp_model.OPTIMAL:
                if length > _LNS_WINDOW_START_DAYS:
                    length -= 1
                else:
                    kw = max(2, kw - max(2, kw // 4))
        elif code == cp_model.OPTIMAL and took < limit / 4:
            k = min(len(people), k + 1)
        elif code != cp_model.OPTIMAL:
            k = max(2, k - 1)


def _rebase(idx: _Index, best: _Best, new: Mapping[str, dict[int, tuple[str, str]]],
            ) -> tuple[int, int, dict[str, dict[int, tuple[str, str]]], _Costs]:
    """(version, objective, schedules, costs) of the best roster held, with the people of ``new``
    given their new schedules when that lowers its objective. The hard rules are all personal, so
    any person's legal schedule can replace theirs in any legal roster."""
    version, objective, held, held_posts = best.snapshot()
    by_staff, _ = _schedules(idx, held, held_posts)
    costs = _Costs(idx, by_staff)
    changes = {sid: (by_staff[sid], sched) for sid, sched in new.items()}
    change = costs.delta(changes)
    if change < 0:
        costs.apply(changes)
        by_staff.update(new)
        objective += change
    return version, objective, by_staff, costs


def _week_days(idx: _Index, start: int, weekdays: int) -> frozenset[int]:
    """The days of the horizon on ``weekdays`` days of the week from weekday ``start`` (Monday = 0),
    e.g. every Friday, Saturday and Sunday: the days a weekly step frees."""
    block = {(start + i) % 7 for i in range(weekdays)}
    return frozenset(d for d in range(idx.problem.days) if idx.weekday(d) in block)


def _hold(sub: _Model, by_staff: Mapping[str, Mapping[int, tuple[str, str]]], free_days: frozenset[int] | None) -> None:
    """Start ``sub`` from the schedules held; with ``free_days`` (a weekly step), keep the other days."""
    for (sid, day, shift, post), var in sub.x.items():
        held = by_staff[sid].get(day) == (shift, post)
        if free_days is not None and day not in free_days:
            sub.model.add(var == int(held))
        else:
            sub.model.add_hint(var, held)


def _construct(idx: _Index, deadline: float) -> tuple[dict[tuple[str, int], str], dict[tuple[str, int], str], set[str]]:
    """A starting roster built person by person (the hard rules are all personal), each person
    taking the slots still short given the people before.

    Each person's schedule is first built by a greedy pass over the days that never leaves the
    legal space: a backward table over the run-and-weekend automaton (see :func:`_next_run`) gives,
    from every day and state, the fewest and the most working days still possible, so the pass
    only takes a day on or off when the total minutes can still be met. The result is re-checked
    with the same rules as :func:`check`; when it breaks one (per-shift maxima or weekly minutes,
    which the table does not follow), a small CP-SAT model of that person is solved instead.
    People not done by ``deadline`` are left out of ``done``. CP-SAT may need long to find a first
    roster on big instances; this one is its hint and, if it finds nothing, the answer."""
    p = idx.problem
    residual = {i: dm.required for i, dm in enumerate(p.demand)}
    rows: dict[tuple[int, str, str], list[int]] = defaultdict(list)
    for i, dm in enumerate(p.demand):
        rows[(dm.day, dm.shift, dm.post)].append(i)
    wishes: dict[str, dict[tuple[int, str | None], int]] = defaultdict(lambda: defaultdict(int))
    for rq in p.requests:
        wishes[rq.staff][(rq.day, rq.shift)] += rq.weight if rq.on else -rq.weight
    assignments: dict[tuple[str, int], str] = {}
    posts: dict[tuple[str, int], str] = {}
    done: set[str] = set()
    for st in p.staff:
        if time.perf_counter() >= deadline:
            break
        wish = wishes.get(st.id, {})

        def gain(d: int, sid: str, post: str, st: Staff = st, wish: Mapping[tuple[int, str | None], int] = wish) -> int:
            """What working this slot saves, against a day off, given the people before."""
            value = wish.get((d, sid), 0) + wish.get((d, None), 0)
            for i in rows.get((d, sid, post), ()):
                dm = p.demand[i]
                if _matches(st, dm.skill):
                    value += dm.under_weight if residual[i] > 0 else -dm.over_weight
            return value

        sched = None
        for push, room in ((1.0, 2), (4.0, 4), (16.0, 8), (1.0, 12)):
            sched = _greedy_person(idx, st, gain, push, room)
            if sched is not None and not _staff_violations(idx, st, sched):
                break
        if sched is None or _staff_violations(idx, st, sched):
            sched = _cpsat_person(idx, st, gain, min(deadline - time.perf_counter(), 2.0))
        if sched is None:
            continue
        done.add(st.id)
        for d, (sid, post) in sched.items():
            assignments[(st.id, d)] = sid
            posts[(st.id, d)] = post
            for i in rows.get((d, sid, post), ()):
                if _matches(st, p.demand[i].skill):
                    residual[i] -= 1
    return assignments, posts, done


def _cpsat_person(
    idx: _Index, st: Staff, gain: Callable[[int, str, str], int], seconds: float
) -> dict[int, tuple[str, str]] | None:
    """One person's best schedule for ``gain`` by a small CP-SAT model, or None if none is found in time."""
    if seconds <= 0:
        return None
    sub = _Model(idx, [st], soft=False)
    terms = [-value * var for d, sid, post, var in sub.vars_of[st.id] if (value := gain(d, sid, post))]
    if terms:
        sub.model.minimize(sum(terms))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = 1
    solver.parameters.linearization_level = 2
    solver.parameters.cp_model_presolve = False
    if solver.solve(sub.model) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return {d: (sid, post) for d, sid, post, var in sub.vars_of[st.id] if solver.boolean_value(var)}


def _greedy_person(
    idx: _Index, st: Staff, gain: Callable[[int, str, str], int], push: float = 1.0, room: int = 2
) -> dict[int, tuple[str, str]] | None:
    """One person's schedule, day by day, taking a day on when it gains and the rules still allow
    it (see :func:`_construct`); None when the pass gets stuck. ``push``: how strongly the person
    is kept on pace towards the middle of their minutes window (behind: work, and longer shifts) and
    scarce shift types to their share of the days; ``room``: the spare working days below which the
    person works whenever possible.

    The backward table follows the run lengths, the weekends worked and, for successions, the
    class of yesterday's shift (the set of shifts it forbids the next day); it ignores the
    per-shift maxima and weekly minutes, for which the pass keeps a little slack."""
    p = idx.problem
    H = p.days
    forbidden = idx.forbidden
    kmin, kmax, omin = max(1, st.min_consecutive), st.max_consecutive, max(1, st.min_consecutive_off)
    options = [[(sh.id, post) for sh in p.shifts for post in idx.posts_of(d, sh.id)
                if _blocked(idx, st, d, sh.id, post) is None] for d in range(H)]
    cap = st.max_weekends if st.max_weekends is not None and st.max_weekends < len(idx.weekends) else None
    U = cap or 0
    position = [0] * H
    if cap is not None:
        for wk in idx.weekends:
            for i, d in enumerate(wk):
                position[d] = 1 if i == 0 else 2
    # the automaton's states: (run, weekend already counted)
    Key = tuple[_Run, bool]
    start: Key = (("start", 0, True), False)
    states: dict[Key, int] = {start: 0}
    moves: dict[tuple[int, int, bool], tuple[int, int]] = {}  # (state, position, work) -> (state, weekends added)
    todo = [start]
    while todo:
        key = todo.pop()
        run, counted = key
        for pos in (0, 1, 2) if cap is not None else (0,):
            for work in (False, True):
                nrun = _next_run(run, work, kmin, kmax, omin)
                if nrun is None:
                    continue
                if pos == 0:
                    nkey, inc = (nrun, False), 0
                elif pos == 1:
                    nkey, inc = (nrun, work), int(work)
                else:
                    nkey, inc = (nrun, counted or work), int(work and not counted)
                if nkey not in states:
                    states[nkey] = len(states)
                    todo.append(nkey)
                moves[(states[key], pos, work)] = (states[nkey], inc)
    S = len(states)
    dst = np.full((3, 2, S), S, dtype=np.int64)  # S: no such move
    inc_of = np.zeros((3, 2, S), dtype=np.int64)
    for (s, pos, work), (t, inc) in moves.items():
        dst[pos, int(work), s] = t
        inc_of[pos, int(work), s] = inc
    # successions: the class of a shift is the set of (usable) shifts it forbids the next day; 0 = none / day off
    minutes_of = {sh.id: sh.minutes for sh in p.shifts}
    usable = [sh.id for sh in p.shifts if st.max_shifts.get(sh.id) != 0 and sh.requires <= st.skills]
    classes: list[frozenset[str]] = [frozenset()]
    cls_of: dict[str, int] = {}
    for sid in usable:
        after = frozenset(b for b in usable if (sid, b) in forbidden)
        if after not in classes:
            classes.append(after)
        cls_of[sid] = classes.index(after)
    C = len(classes)
    # most[d, s, c, u] / fewest[d, s, c, u]: working days still possible from day d on, entering it in
    # automaton state s after a shift of class c, with u weekends worked
    neg, big = -(10**6), 10**6
    most = np.zeros((H + 1, S, C, U + 1), dtype=np.int32)
    fewest = np.zeros((H + 1, S, C, U + 1), dtype=np.int32)
    cols = np.arange(U + 1)
    padded_most = np.full((S + 1, C, U + 2), neg, dtype=np.int32)
    padded_fewest = np.full((S + 1, C, U + 2), big, dtype=np.int32)
    gs = np.arange(C)[None, :, None]
    penalties: dict[frozenset[str], np.ndarray] = {}  # shifts open today -> [class yesterday, class today]: 0 or neg
    for d in range(H - 1, -1, -1):
        padded_most[:S, :, :U + 1] = most[d + 1]
        padded_fewest[:S, :, :U + 1] = fewest[d + 1]
        pos = position[d]
        off = dst[pos, 0]
        hi = padded_most[off, 0, :U + 1][:, None, :]
        lo = padded_fewest[off, 0, :U + 1][:, None, :]
        today = frozenset(sid for sid, _post in options[d])
        if today:
            pen = penalties.get(today)
            if pen is None:
                pen = np.full((C, C), neg, dtype=np.int32)
                for f, banned in enumerate(classes):
                    for sid in today - banned:
                        pen[f, cls_of[sid]] = 0
                penalties[today] = pen
            on = dst[pos, 1][:, None, None]
            shifted = inc_of[pos, 1][:, None, None] + cols[None, None, :]
            on_hi = padded_most[on, gs, shifted]  # (S, class today, U + 1)
            on_lo = padded_fewest[on, gs, shifted]
            best_on = (on_hi[:, None, :, :] + pen[None, :, :, None]).max(axis=2) + 1
            least_on = (on_lo[:, None, :, :] - pen[None, :, :, None]).min(axis=2) + 1
            most[d] = np.clip(np.maximum(hi, best_on), neg, big)
            fewest[d] = np.clip(np.minimum(lo, least_on), neg, big)
        else:
            most[d] = hi
            fewest[d] = lo
    max_minutes = st.max_minutes if st.max_minutes is not None else big * 1000
    n_open = sum(1 for d in range(H) if options[d])
    mean = sum(minutes_of[s] for s in usable) / len(usable) if usable else 480.0
    target = (st.min_minutes + min(max_minutes, st.min_minutes + mean * n_open)) / 2  # minutes
    seen_days = 0
    count: dict[str, int] = defaultdict(int)
    week_minutes: dict[int, int] = defaultdict(int)
    week_of = {d: n for n, week in enumerate(idx.weeks) for d in week}
    s, c, u, minutes = 0, 0, 0, 0
    for worked in _history(st):  # the run before day 0 (see _Model._automaton)
        s = moves[(s, 0, worked)][0]
    out: dict[int, tuple[str, str]] = {}
    for d in range(H):
        open_types = {sid for sid in usable if st.max_shifts.get(sid) is None or count[sid] < st.max_shifts[sid]}
        shortest = min((minutes_of[sid] for sid in open_types), default=0)
        longest = max((minutes_of[sid] for sid in open_types), default=0)

        def margin(t: int, g: int, uu: int, mins: int, after: int = d + 1,
                   shortest: int = shortest, longest: int = longest) -> int:
            """Spare working days after entering day ``after`` in state (t, g) with uu weekends and
            mins minutes: negative when the rest of the horizon cannot be completed (with the
            longest shifts; ``longest`` may be lowered to ask for more room)."""
            if t >= S or uu > U or mins > max_minutes:
                return -1
            hi, lo = int(most[after, t, g, uu]), int(fewest[after, t, g, uu])
            if hi < 0:
                return -1
            need = max(0, st.min_minutes - mins)
            need_lo = -(-need // longest) if longest else (0 if need == 0 else big)
            need_hi = (max_minutes - mins) // shortest if shortest else 0
            return min(hi, need_hi) - max(lo, need_lo)

        pos = position[d]
        t_off = int(dst[pos, 0, s])
        off_margin = margin(t_off, 0, u, minutes)
        # the table ignores per-shift maxima and weekly minutes: keep two spare days while they may bite
        tight = margin(t_off, 0, u, minutes, longest=(shortest + longest) // 2) < min(room, (H - d) // 14)
        best: tuple[int, float, int, str, str] | None = None
        t_on, u_on = int(dst[pos, 1, s]), u + int(inc_of[pos, 1, s])
        seen_days += bool(options[d])
        if options[d] and t_on < S and u_on <= U:
            pace = push * 30.0 * (target * seen_days / max(1, n_open) - minutes) / mean  # > 0: behind
            for sid, post in options[d]:
                if sid not in open_types or sid in classes[c]:
                    continue
                length = minutes_of[sid]
                if st.max_week_minutes is not None and week_minutes[week_of[d]] + length > st.max_week_minutes:
                    continue
                spare = margin(t_on, cls_of[sid], u_on, minutes + length)
                if spare < 0:
                    continue
                if d + 1 < H:  # the table assumes every shift type stays open: look one day ahead
                    last = st.max_shifts.get(sid) == count[sid] + 1
                    if not any(b in open_types and b not in classes[cls_of[sid]] and not (last and b == sid)
                               for b, _post in options[d + 1]):
                        t_next = int(dst[position[d + 1], 0, t_on])
                        if margin(t_next, 0, u_on, minutes + length, d + 2) < 0:
                            continue
                value = gain(d, sid, post) + pace * length / mean
                most_of = st.max_shifts.get(sid)
                if most_of is not None and most_of < n_open:  # a scarce shift type: keep to its share of the days
                    value -= push * 50.0 * max(0.0, (count[sid] + 1) / min(most_of, n_open) - seen_days / n_open)
                if tight:
                    value += 1000.0 + 100.0 * length / mean  # behind: work, and the longer shifts
                score = (min(spare, 2), value, -len(classes[cls_of[sid]]), sid, post)
                if best is None or score[:3] > best[:3]:
                    best = score
        if best is not None and (best[1] > 0 or off_margin < 0):
            sid, post = best[3], best[4]
            out[d] = (sid, post)
            count[sid] += 1
            minutes += minutes_of[sid]
            week_minutes[week_of[d]] += minutes_of[sid]
            s, c, u = t_on, cls_of[sid], u_on
        elif off_margin >= 0:
            s, c = t_off, 0
        else:
            return None
    return out


def _input_notes(idx: _Index) -> list[str]:
    notes: list[str] = []
    p = idx.problem
    for st in p.staff:
        if not any(_blocked(idx, st, d, sh.id, post) is None for d in range(p.days) for sh in p.shifts
                   for post in idx.posts_of(d, sh.id)):
            notes.append(f"{_who(st)}在排班期内没有任何可上的班次（休息日、不可用时段、技能或岗位限制）。")
    seen: dict[tuple[str, int, str | None], bool] = {}
    for rq in p.requests:
        key = (rq.staff, rq.day, rq.shift)
        if key in seen and seen[key] != rq.on:
            what = _shift_zh(idx, rq.shift) if rq.shift else "班"
            notes.append(f"{_who(idx.staff[rq.staff])}{_day_zh(idx, rq.day)}既申请上{what}又申请不上，"
                         "两项申请互相矛盾，必有一项无法满足。")
        seen[key] = rq.on
    return notes


def _feasible(idx: _Index, st: Staff, relax: frozenset[str], seconds: float) -> bool | None:
    model = _Model(idx, [st], relax=relax, soft=False)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = 1
    code = solver.solve(model.model)
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return True
    return False if code == cp_model.INFEASIBLE else None


def _explain_people(idx: _Index, deadline: float, *, quiet: bool = False) -> list[str]:
    """Per person (all hard rules are personal), whose rules contradict each other and what to relax.

    ``quiet``: say nothing when nobody is found (the search merely ran out of time)."""
    out: list[str] = []
    for st in idx.problem.staff:
        left = deadline - time.perf_counter()
        if left <= 0:
            out.append("诊断时间已用完，其余人员未检查。")
            break
        if _feasible(idx, st, frozenset(), min(left, 2.0)) is not False:
            continue
        fixes = [rule for rule in _RELAXABLE if _feasible(idx, st, frozenset({rule}), 1.0)]
        text = f"{_who(st)}的个人规则无法同时满足"
        if fixes:
            text += "：放宽以下任一项即可排出——" + "、".join(RULES_ZH[r] for r in fixes) + "。"
        else:
            text += "（需同时放宽多项规则）。"
        out.append(text)
    if not out and not quiet:
        out.append("未能定位到具体人员，请检查班次衔接和各项上下限设置。")
    return out


_EXPLAIN_SHARE = 0.05  # of the time limit (at least a second) for explaining shortfalls person by person


def _shortfalls(idx: _Index, assignments: Assignments, posts: Posts, *, optimal: bool,
                deadline: float | None = None) -> list[Shortfall]:
    """Every demand row short of its requirement, with why; after ``deadline`` (a roster with
    thousands of gaps) the rest are listed without going through each candidate."""
    p = idx.problem
    by_staff, _ = _schedules(idx, assignments, posts)
    present: dict[tuple[int, str, str], list[Staff]] = defaultdict(list)
    for st in p.staff:
        for day, (shift, post) in by_staff[st.id].items():
            present[(day, shift, post)].append(st)
    out: list[Shortfall] = []
    standing: dict[str, set[tuple[str, int | None]]] = {}  # each person's own violations (none in a solved roster)
    for dm in p.demand:
        have = sum(1 for st in present.get((dm.day, dm.shift, dm.post), ()) if _matches(st, dm.skill))
        if have >= dm.required:
            continue
        if deadline is not None and time.perf_counter() > deadline:
            why = f"{_need_zh(idx, dm, have)}（缺员处过多，未逐人分析原因）。"
        else:
            why = _why_short(idx, by_staff, dm, have, standing, optimal=optimal)
        out.append(Shortfall(dm.day, dm.shift, dm.post, dm.skill, dm.required, have, dm.required - have, why))
    return out


_BLOCK_ZH = {
    "days_off": "休息或不可用",
    "shift_not_allowed": "不能上此班次",
    "skill": "缺少此班次所需技能",
    "post": "不属于此岗位",
    "elsewhere": "已排在其他班次或岗位",
    "max_minutes": "已达总工时上限",
    "week_minutes": "已达每周工时上限",
    "max_shifts": "已达此班次次数上限",
    "max_consecutive": "再排会超过连续上班天数上限",
    "succession": "与前后一天的班次衔接不上（休息不足）",
    "max_weekends": "已达周末上班上限",
    "min_consecutive": "单独加一天会形成过短的连续上班段",
    "min_consecutive_off": "再排会使连续休息天数不足",
    "free": "可以排入但会违背本人申请或增加其他代价",
}


def _need_zh(idx: _Index, dm: Demand, have: int) -> str:
    """E.g. 12月01日早班需要 3 人，只排到 2 人; for a skill or kind, whom: a shift can have all its
    people and still lack its medic, so "needs 1, has 0" must say of whom."""
    who = "" if dm.skill is None else _who_matches(dm.skill)
    return f"{_slot_zh(idx, dm.day, dm.shift, dm.post)}需要{who} {dm.required} 人，只排到 {have} 人"


def _who_matches(skill: str | None) -> str:
    if skill is None:
        return "可排人员"
    if skill in KINDS:
        return KINDS[skill]
    return f"具备「{_skill_zh(skill)}」技能的人员"


def _why_short(idx: _Index, by_staff: Mapping[str, Mapping[int, tuple[str, str]]], dm: Demand, have: int,
               standing: dict[str, set[tuple[str, int | None]]], *, optimal: bool) -> str:
    """Why a demand row is short: per candidate, what keeps them from this slot (the first rule an
    extra shift here would break, tried against their whole schedule)."""
    who = _who_matches(dm.skill)
    candidates = [st for st in idx.problem.staff if _matches(st, dm.skill)]
    head = _need_zh(idx, dm, have)
    if not candidates:
        return f"{head}：没有任何{who}。"
    reasons: dict[str, list[str]] = defaultdict(list)
    for st in candidates:
        sched = by_staff[st.id]
        got = sched.get(dm.day)
        name = st.name or st.id
        if got == (dm.shift, dm.post):
            continue
        block = _blocked(idx, st, dm.day, dm.shift, dm.post)
        if block is not None:
            reasons[block].append(name)
            continue
        if got is not None:
            reasons["elsewhere"].append(f"{name}：{_shift_zh(idx, got[0])}" + (f"「{got[1]}」" if got[1] else ""))
            continue
        trial = dict(sched)
        trial[dm.day] = (dm.shift, dm.post)
        if st.id not in standing:
            standing[st.id] = {(v.rule, v.day) for v in _staff_violations(idx, st, sched)}
        new = [v.rule for v in _staff_violations(idx, st, trial) if (v.rule, v.day) not in standing[st.id]]
        reasons[next((r for r in _BLOCK_ZH if r in new), "free")].append(name)
    if not reasons:
        return f"{head}：{who}共 {len(candidates)} 人，已全部排在此处，人数不够。"
    parts = []
    for rule, names in sorted(reasons.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        listed = f"（{'，'.join(names)}）" if len(names) <= 3 else ""
        parts.append(f"{len(names)} 人{_BLOCK_ZH[rule]}{listed}")
    text = f"{head}：{who}共 {len(candidates)} 人，其中 " + "；".join(parts) + "。"
    if reasons.get("free") and not optimal:
        text += "求解时限内未能进一步优化，可延长时限再试。"
    return text
