"""Roster solver: Curtois & Qu benchmark instances, an independent objective and rule check, gate examples."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from ortools.sat.python import cp_model

from lianfang.engines import nrp_format, roster
from lianfang.engines.nrp_format import NrpFormatError
from lianfang.engines.roster import Demand, Problem, Request, RosterError, ShiftType, Staff

_SHARED = Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "shift-scheduling"
DATA = _SHARED if (_SHARED / "Instance1.txt").exists() else Path(__file__).resolve().parents[1] / "data" / "shift-scheduling"
BEST = nrp_format.read_best_known(DATA / "best_known.csv")


def instance(n: int) -> Problem:
    return nrp_format.read_instance(DATA / f"Instance{n}.txt")


# ------------------------------------------------------------------ reading the benchmark format

# days, staff, shift types, days-off entries, on requests, off requests, cover rows (README table)
SIZES = {1: (14, 8, 1, 8, 21, 5, 14), 2: (14, 14, 2, 14, 50, 12, 28), 3: (14, 20, 3, 20, 39, 25, 42),
         4: (28, 10, 2, 20, 52, 19, 56)}


@pytest.mark.parametrize("n", sorted(SIZES))
def test_reads_instances_one_to_four(n: int) -> None:
    p = instance(n)
    days_off = sum(len(st.days_off) for st in p.staff)
    on = sum(1 for r in p.requests if r.on)
    off = sum(1 for r in p.requests if not r.on)
    assert (p.days, len(p.staff), len(p.shifts), days_off, on, off, len(p.demand)) == SIZES[n]
    assert all(d.under_weight == 100 and d.over_weight == 1 and d.post == "" and d.skill is None for d in p.demand)


def test_reads_every_field_of_instance_three() -> None:
    p = instance(3)
    shifts = {sh.id: sh for sh in p.shifts}
    assert shifts["L"].minutes == 480 and shifts["L"].forbidden_next == {"E", "D"}
    assert shifts["D"].forbidden_next == {"E"} and shifts["E"].forbidden_next == frozenset()
    a = p.staff[0]
    assert a.id == "A" and set(a.max_shifts) == {"E", "D", "L"}
    assert isinstance(a.max_minutes, int) and a.max_minutes >= a.min_minutes > 0
    assert a.max_consecutive and a.min_consecutive >= 1 and a.min_consecutive_off >= 1 and a.max_weekends is not None
    assert p.requests[0] == Request("B", 0, "D", True, 1)
    assert Request("A", 9, "E", False, 2) in p.requests and p.demand[1] == Demand(0, "D", required=3)


def test_malformed_instance_is_explained_in_chinese() -> None:
    text = (DATA / "Instance1.txt").read_text().replace("A,D=14,4320", "A,D=x,4320")
    with pytest.raises(NrpFormatError, match="班次上限"):
        nrp_format.parse(text)
    with pytest.raises(NrpFormatError, match="缺少段落 SECTION_STAFF"):
        nrp_format.parse("SECTION_HORIZON\n14\n\nSECTION_SHIFTS\nD,480,\n")


# ------------------------------------------------------------------ solving the benchmark


@pytest.mark.parametrize("n", [1, 2, 3])
def test_reaches_the_best_known_value(n: int) -> None:
    p = instance(n)
    best, lower = BEST[f"Instance{n}"]
    sol = roster.solve(p, time_limit_s=60, workers=2)
    assert sol.status == "optimal"  # in about a second on 2 cores
    assert sol.objective == best == lower == sol.bound
    assert roster.objective_value(p, sol.assignments, sol.posts) == sol.objective
    assert roster.check(p, sol.assignments, sol.posts) == []
    assert sum(sol.breakdown.values()) == sol.objective


def test_progress_reports_improving_rosters_and_bounds() -> None:
    seen: list[tuple[float, int, int]] = []
    sol = roster.solve(instance(2), time_limit_s=60, progress=lambda s, obj, bound: seen.append((s, obj, bound)))
    assert seen
    assert all(s >= 0 and bound <= obj for s, obj, bound in seen)
    objectives = [obj for _s, obj, _b in seen]
    assert objectives == sorted(objectives, reverse=True)
    assert seen[-1][1] == sol.objective == 828


def test_hint_warm_starts_from_a_previous_roster() -> None:
    p = instance(1)
    first = roster.solve(p, time_limit_s=30)
    again = roster.solve(p, time_limit_s=30, hint=first.assignments)
    assert again.objective == first.objective == 607


# ------------------------------------------------------------------ the independent check


def test_check_finds_violations_in_a_broken_roster() -> None:
    p = instance(3)
    sol = roster.solve(p, time_limit_s=30)
    broken = dict(sol.assignments)
    a = p.staff[0]
    day_off = min(a.days_off)
    broken[(a.id, day_off)] = next(s for s, most in a.max_shifts.items() if most)
    for d in range(p.days):  # B works every day on the last shift it may work
        broken[(p.staff[1].id, d)] = "L" if p.staff[1].max_shifts.get("L") else next(iter(p.staff[1].max_shifts))
    errors = roster.check(p, broken)
    assert any("「A」" in e and "休息日" in e for e in errors)
    assert any("「B」" in e and "连续上班" in e and "超过上限" in e for e in errors)
    assert any("「B」" in e and "总工时" in e for e in errors)
    assert roster.check(p, {("nobody", 0): "D"})[0] == "排班表中有未知人员：nobody。"


def small(**staff_rules: object) -> Problem:
    shifts = (ShiftType("E", 480, forbidden_next=frozenset(), start=6 * 60, name="早班"),
              ShiftType("L", 480, forbidden_next=frozenset({"E"}), start=14 * 60, name="晚班"))
    return Problem(days=7, shifts=shifts, staff=(Staff("p", **staff_rules),))  # type: ignore[arg-type]


def test_check_explains_each_rule() -> None:
    assert "次日不能接早班" in roster.check(small(), {("p", 0): "L", ("p", 1): "E"})[0]
    p = small(min_consecutive=2, min_consecutive_off=2, max_weekends=0)
    # a 1-day run touching the first day is fine (what came before is unknown); one inside is not
    assert roster.check(p, {("p", 0): "E"}) == []
    assert "只连续上班 1 天" in roster.check(p, {("p", 2): "E"})[0]
    assert "只休息 1 天" in roster.check(p, {("p", 0): "E", ("p", 2): "E", ("p", 3): "E"})[0]
    assert "周末上班" in " ".join(roster.check(p, {("p", 5): "E", ("p", 6): "E"}))
    two = (ShiftType("A", 480, start=16 * 60, name="中班"), ShiftType("M", 480, start=8 * 60, name="早班"))
    rest = Problem(days=2, shifts=two, staff=(Staff("p"),), min_rest_minutes=12 * 60)
    assert "休息不足 12 小时" in roster.check(rest, {("p", 0): "A", ("p", 1): "M"})[0]
    weekly = small(max_week_minutes=16 * 60)  # a week is named by its days, not "week 1"
    assert roster.check(weekly, {("p", d): "E" for d in range(3)}) == [
        "「p」第 1 天（周一）至第 7 天（周日）这一周工时 24 小时，超过每周上限 16 小时。"]


def every_day_problem(days: int = 7, **staff_rules: object) -> Problem:
    """One person and an early shift each day that wants them (a missing person costs 100)."""
    p = small(**staff_rules)
    demand = tuple(Demand(d, "E", required=1, under_weight=100, over_weight=0) for d in range(days))
    return Problem(days=days, shifts=p.shifts, staff=p.staff, demand=demand)


def test_days_worked_before_the_roster_count_towards_the_most_in_a_row() -> None:
    p = every_day_problem(max_consecutive=5, worked_before=3)
    explained = roster.check(p, {("p", d): "E" for d in range(3)})
    assert len(explained) == 1 and "排班前已连续上班 3 天" in explained[0] and "共 6 天" in explained[0]
    assert roster.check(p, {("p", d): "E" for d in (0, 1, 3, 4, 5, 6)}) == []
    sol = roster.solve(p, time_limit_s=10)
    # two days to end the run begun before, one off, then five: six of seven days
    assert sol.status == "optimal" and sol.objective == 100 and ("p", 2) not in sol.assignments
    assert roster.check(p, sol.assignments) == []
    # worked as many days as they may: day 0 is off
    sol = roster.solve(every_day_problem(max_consecutive=5, worked_before=5), time_limit_s=10)
    assert ("p", 0) not in sol.assignments and len(sol.assignments) == 5
    with pytest.raises(roster.RosterError):
        roster.solve(every_day_problem(worked_before=-1))


def test_days_off_before_the_roster_count_towards_the_fewest_in_a_row() -> None:
    p = every_day_problem(min_consecutive_off=3, rested_before=1)
    explained = roster.check(p, {("p", d): "E" for d in (1, 2)})
    assert len(explained) == 1 and "排班前已连续休息 1 天" in explained[0] and "共只休息 2 天" in explained[0]
    assert roster.check(p, {("p", d): "E" for d in range(2, 7)}) == []
    sol = roster.solve(p, time_limit_s=10)
    # two more days off to complete the rest begun before, then five days' work
    assert sol.status == "optimal" and sol.objective == 200 and set(sol.assignments) == {("p", d) for d in range(2, 7)}
    assert roster.check(p, sol.assignments) == []
    # rested long enough already (or never worked before it): no constraint
    assert roster.check(every_day_problem(min_consecutive_off=3, rested_before=3), {("p", 0): "E"}) == []
    with pytest.raises(roster.RosterError, match="不能既连续上班又连续休息"):
        roster.solve(every_day_problem(worked_before=2, rested_before=1))


def earliest_work(p: Problem, relax: frozenset[str]) -> list[bool]:
    """Per day, whether the one person works, working as early as the rules allow (one CP-SAT model
    of the person, with ``relax`` left out); their roster built person by person must be legal too."""

    idx = roster._index(p)
    model = roster._Model(idx, p.staff, relax=relax, soft=False)
    model.model.maximize(sum(2 ** (p.days - day) * v for (_sid, day, _shift, _post), v in model.x.items()))
    solver = cp_model.CpSolver()
    assert solver.solve(model.model) == cp_model.OPTIMAL
    built, posts, done = roster._construct(idx, deadline=time.perf_counter() + 5)
    assert done == {"p"} and roster.check(p, built, posts) == []
    return [any(solver.boolean_value(v) for (_sid, day, _shift, _post), v in model.x.items() if day == d)
            for d in range(p.days)]


@pytest.mark.parametrize("relax", [frozenset(), frozenset({"min_consecutive"})])
def test_the_days_before_the_roster_bind_the_automaton_the_clauses_and_the_first_roster(relax: frozenset[str]) -> None:
    """The runs' automaton and, with a run rule relaxed, the sliding windows and clauses all start
    from the days worked (or rested) before; so does the roster built person by person."""
    for before in range(0, 7):
        worked = earliest_work(every_day_problem(max_consecutive=4, worked_before=before), relax)
        assert worked.index(False) == max(0, 4 - before)  # the run must end there
    for before in range(0, 5):
        worked = earliest_work(every_day_problem(min_consecutive_off=4, rested_before=before), relax)
        assert worked.index(True) == (4 - before if 0 < before < 4 else 0)  # the rest must last till there


# ------------------------------------------------------------------ gates: posts, kinds, skills

THREE_SHIFTS = (
    ShiftType("M", 480, start=8 * 60, name="早班"),
    ShiftType("A", 480, start=16 * 60, name="中班"),
    ShiftType("N", 480, start=0, night=True, requires=frozenset({"night"}), name="夜班"),
)


def gate_problem(staff: tuple[Staff, ...], days: int = 3) -> Problem:
    demand = []
    for d in range(days):
        for sh in THREE_SHIFTS:
            demand.append(Demand(d, sh.id, post="高速出口", skill="medical", required=1, under_weight=1000, over_weight=0))
            demand.append(Demand(d, sh.id, post="高速出口", skill="police", required=1, under_weight=1000, over_weight=0))
    return Problem(days=days, shifts=THREE_SHIFTS, staff=staff, demand=tuple(demand), min_rest_minutes=12 * 60)


def test_demand_nobody_can_meet_is_a_reported_shortfall_not_an_empty_roster() -> None:
    staff = (
        Staff("p1", kind="police", skills=frozenset({"night"}), name="王警官"),
        Staff("p2", kind="police", skills=frozenset({"night"}), name="刘警官"),
        Staff("p3", kind="police", skills=frozenset({"night"}), name="陈警官"),
        Staff("v1", kind="volunteer", skills=frozenset({"driver"}), name="李志愿"),  # no medical skill, no nights
    )
    p = gate_problem(staff)
    sol = roster.solve(p, time_limit_s=10)
    assert sol.status == "optimal" and sol.assignments
    medical = [s for s in sol.shortfalls if s.skill == "medical"]
    assert len(medical) == 9 and all(s.missing == 1 and "没有任何医护人员" in s.reason_zh for s in medical)
    assert not [s for s in sol.shortfalls if s.skill == "police"]  # three police cover three shifts a day
    assert sol.objective == 9 * 1000 == roster.objective_value(p, sol.assignments, sol.posts)
    assert any("缺员" in m for m in sol.messages)
    assert roster.check(p, sol.assignments, sol.posts) == []


def test_thousands_of_gaps_are_all_listed_but_explained_only_while_time_allows() -> None:
    """A roster with gaps everywhere (a year of instance 20 left empty) lists every gap; once the
    time for explanations is used up the rest say so instead of going through each candidate."""
    p = instance(20)
    idx = roster._index(p)
    detailed = roster._shortfalls(idx, {}, {}, optimal=False, deadline=time.perf_counter() + 0.3)
    short = [s for s in detailed if "未逐人分析原因" in s.reason_zh]
    assert len(detailed) == sum(1 for dm in p.demand if dm.required) > 1000
    assert short and len(short) < len(detailed)  # some explained in full, the rest briefly
    assert all(s.missing == s.required and f"需要 {s.required} 人，只排到 0 人" in s.reason_zh for s in short)
    assert "未逐人分析原因" not in detailed[0].reason_zh and "共" in detailed[0].reason_zh


def test_shortfall_reasons_name_who_is_off_or_lacks_the_skill() -> None:
    staff = (
        Staff("p1", kind="police", skills=frozenset({"night"}), name="王警官"),
        Staff("p2", kind="police", skills=frozenset({"night"}), name="刘警官"),
        Staff("p3", kind="police", skills=frozenset({"night"}), name="陈警官"),
        Staff("m1", kind="medical", days_off=frozenset({1}), name="赵医生"),  # not night-capable
        Staff("v1", kind="volunteer", name="李志愿"),
    )
    sol = roster.solve(gate_problem(staff), time_limit_s=10)
    reasons = {(s.day, s.shift, s.skill): s.reason_zh for s in sol.shortfalls}
    assert "休息或不可用（赵医生）" in reasons[(1, "M", "medical")]
    assert "第 2 天（周二）早班「高速出口」需要医护人员 1 人，只排到 0 人" in reasons[(1, "M", "medical")]  # of whom
    assert "缺少此班次所需技能（赵医生）" in reasons[(0, "N", "medical")]
    assert any("已排在其他班次或岗位（赵医生：" in r for r in reasons.values())
    night = roster.check(gate_problem(staff), {("v1", 0): "N"})
    assert night == ["「李志愿」第 1 天（周一）：夜班需要「夜班」资质，此人不具备。"]


def test_everyone_at_max_hours_is_the_reason() -> None:
    staff = tuple(Staff(f"m{i}", kind="medical", skills=frozenset({"night"}), max_minutes=480, name=f"医生{i}") for i in range(2))
    p = Problem(days=2, shifts=THREE_SHIFTS[:1], staff=staff,
                demand=tuple(Demand(d, "M", post="卡口", skill="medical", required=2) for d in range(2)))
    sol = roster.solve(p, time_limit_s=10)
    assert sum(s.missing for s in sol.shortfalls) == 2  # each may work one 8-hour shift: two of four places filled
    assert all("2 人已达总工时上限（医生0，医生1）" in s.reason_zh for s in sol.shortfalls)


def test_over_constrained_person_is_named_with_the_rule_to_relax() -> None:
    p = Problem(days=7, shifts=THREE_SHIFTS[:1], staff=(
        Staff("ok", name="张三"),
        Staff("x", name="李四", min_minutes=5 * 480, days_off=frozenset({0, 1, 2, 3})),
    ))
    sol = roster.solve(p, time_limit_s=10)
    assert sol.status == "infeasible" and sol.assignments == {}
    text = " ".join(sol.messages)
    assert "「李四」的个人规则无法同时满足" in text and "总工时下限" in text and "休息日" in text
    assert "张三" not in text


def test_bad_input_raises_a_chinese_error() -> None:
    base = gate_problem((Staff("v1", kind="volunteer"),))
    with pytest.raises(RosterError, match="未知班次：X"):
        roster.solve(Problem(days=1, shifts=THREE_SHIFTS, staff=base.staff, demand=(Demand(0, "X"),)))
    with pytest.raises(RosterError, match="人员编号重复"):
        roster.check(Problem(days=1, shifts=THREE_SHIFTS, staff=base.staff * 2), {})
    with pytest.raises(RosterError, match="超出排班范围"):
        roster.solve(Problem(days=1, shifts=THREE_SHIFTS, staff=base.staff, requests=(Request("v1", 3, None, False),)))
    with pytest.raises(RosterError, match="求解时限"):
        roster.solve(base, time_limit_s=0)
    notes = roster.solve(Problem(days=1, shifts=THREE_SHIFTS, staff=(Staff("v1", name="李志愿", days_off=frozenset({0})),),
                                 requests=(Request("v1", 0, "M", True), Request("v1", 0, "M", False))), time_limit_s=5).messages
    assert any("没有任何可上的班次" in n for n in notes) and any("互相矛盾" in n for n in notes)


# ------------------------------------------------------------------ model and recomputation agree


def random_problem(rng: random.Random) -> Problem:
    days = rng.choice([7, 9, 10])
    shifts = (*THREE_SHIFTS, ShiftType("D", 600, forbidden_next=frozenset({"M"}), name="白班"))
    kinds = ["local", "police", "volunteer", "medical"]
    staff = []
    for i in range(rng.randint(3, 5)):
        staff.append(Staff(
            f"s{i}", kind=rng.choice(kinds), skills=frozenset(rng.sample(["night", "driver", "party"], rng.randint(0, 2))),
            max_shifts={sh.id: rng.choice([0, 2, 3, days]) for sh in shifts if rng.random() < 0.5},
            min_minutes=rng.choice([0, 960]), max_minutes=rng.choice([None, 2400, 3600]),
            max_consecutive=rng.choice([None, 2, 3, 4]), min_consecutive=rng.choice([1, 2]),
            min_consecutive_off=rng.choice([1, 2]), max_weekends=rng.choice([None, 0, 1]),
            days_off=frozenset(rng.sample(range(days), 1)), unavailable=frozenset({(rng.randrange(days), "M")}),
            posts=frozenset(rng.sample(["东卡口", "西卡口"], rng.randint(1, 2))) if rng.random() < 0.5 else frozenset(),
            max_week_minutes=rng.choice([None, 2400]),
            worked_before=rng.choice([0, 0, 0, 1, 2, 3]) if (history := rng.random()) < 0.5 else 0,
            rested_before=rng.choice([1, 2]) if history > 0.75 else 0,
        ))
    demand = [Demand(d, sh.id, post=rng.choice(["东卡口", "西卡口"]), skill=rng.choice([None, None, "police", "night"]),
                     required=rng.randint(0, 2), under_weight=rng.choice([10, 100]), over_weight=rng.choice([0, 1, 3]))
              for d in range(days) for sh in shifts if rng.random() < 0.6]
    requests = [Request(st.id, rng.randrange(days), rng.choice([None, "M", "N"]), rng.random() < 0.5, rng.randint(1, 5))
                for st in staff for _ in range(2)]
    return Problem(days=days, shifts=shifts, staff=tuple(staff), demand=tuple(demand), requests=tuple(requests),
                   fairness_weight=rng.choice([0, 2]), continuity_weight=rng.choice([0, 3]),
                   first_weekday=rng.randrange(7), min_rest_minutes=rng.choice([0, 11 * 60]))


@pytest.mark.parametrize("seed", range(12))
def test_solver_objective_equals_the_recomputed_one_on_random_problems(seed: int) -> None:
    p = random_problem(random.Random(seed))
    sol = roster.solve(p, time_limit_s=20)
    if sol.status == "infeasible":
        assert any("个人规则无法同时满足" in m for m in sol.messages)
        return
    assert sol.status == "optimal"
    assert roster.check(p, sol.assignments, sol.posts) == []
    assert roster.objective_breakdown(p, sol.assignments, sol.posts) == sol.breakdown
    assert roster.objective_value(p, sol.assignments, sol.posts) == sol.objective == sol.bound


def tiny_problem(rng: random.Random) -> Problem:
    days = 6
    shifts = (ShiftType("E", 480, name="早班"), ShiftType("L", 600, forbidden_next=frozenset({"E"}), name="晚班"))
    staff = tuple(Staff(
        f"s{i}", kind=rng.choice(["police", "medical"]), max_shifts={"L": rng.choice([1, 2, 6])},
        min_minutes=rng.choice([0, 960]), max_minutes=rng.choice([None, 2400]), max_consecutive=rng.choice([None, 2, 3]),
        min_consecutive=rng.choice([1, 2, 3]), min_consecutive_off=rng.choice([1, 2]), max_weekends=rng.choice([None, 0, 1]),
        days_off=frozenset(rng.sample(range(days), rng.randint(0, 1))),
    ) for i in range(2))
    demand = tuple(Demand(d, sh.id, skill=rng.choice([None, "police"]), required=rng.randint(0, 2),
                          under_weight=rng.choice([7, 20]), over_weight=rng.choice([0, 1, 3]))
                   for d in range(days) for sh in shifts)
    requests = tuple(Request(st.id, rng.randrange(days), rng.choice([None, "E", "L"]), rng.random() < 0.5, rng.randint(1, 9))
                     for st in staff for _ in range(3))
    return Problem(days=days, shifts=shifts, staff=staff, demand=demand, requests=requests,
                   first_weekday=rng.randrange(7), fairness_weight=rng.choice([0, 5]))


@pytest.mark.parametrize("seed", range(6))
def test_solver_matches_exhaustive_search_on_tiny_problems(seed: int) -> None:
    """Every roster of two people over six days, filtered by check() and scored by objective_value()."""
    p = tiny_problem(random.Random(seed))
    options: list[str | None] = [None, "E", "L"]
    legal: list[list[dict[tuple[str, int], str]]] = []
    for st in p.staff:
        alone = Problem(days=p.days, shifts=p.shifts, staff=(st,), first_weekday=p.first_weekday)
        scheds = []
        for code in range(3**p.days):
            sched: dict[tuple[str, int], str] = {}
            for d in range(p.days):
                code, pick = divmod(code, 3)
                shift = options[pick]
                if shift is not None:
                    sched[(st.id, d)] = shift
            if not roster.check(alone, sched):
                scheds.append(sched)
        legal.append(scheds)
    sol = roster.solve(p, time_limit_s=20)
    if not all(legal):
        assert sol.status == "infeasible"
        return
    best = min(roster.objective_value(p, a | b) for a in legal[0] for b in legal[1])
    assert sol.status == "optimal" and sol.objective == best
    assert roster.check(p, sol.assignments) == []


# ------------------------------------------------------------------ the neighbourhood search


def _fixed_cover(p: Problem, roster_: dict[tuple[str, int], str], posts: dict[tuple[str, int], str],
                 others: set[str]) -> list[int]:
    """Per demand row, the people of ``others`` counted there (written out here, not taken from the engine)."""
    staff = {st.id: st for st in p.staff}
    out = []
    for dm in p.demand:
        out.append(sum(1 for (sid, d), shift in roster_.items()
                       if sid in others and d == dm.day and shift == dm.shift and posts[(sid, d)] == dm.post
                       and (dm.skill is None or dm.skill in staff[sid].skills or staff[sid].kind == dm.skill)))
    return out


def rosterable_problem(rng: random.Random) -> tuple[Problem, roster._Index, dict[tuple[str, int], str],
                                                   dict[tuple[str, int], str]]:
    """A random problem whose people can all be rostered (contradictions are tested elsewhere), with
    its index and the roster built person by person."""
    for _draw in range(20):
        p = random_problem(rng)
        idx = roster._index(p)
        built, posts, done = roster._construct(idx, deadline=time.perf_counter() + 10)
        if len(done) == len(p.staff):
            return p, idx, built, posts
    raise AssertionError("no rosterable problem in 20 draws")


@pytest.mark.parametrize("seed", range(8))
def test_sub_model_with_the_others_fixed_scores_changes_like_the_whole_roster(seed: int) -> None:
    """Re-planning two people while the rest keep their shifts: the sub-model's objective moves exactly
    as the whole roster's recomputed objective does (cover, requests, fairness, continuity)."""
    from ortools.sat.python import cp_model

    rng = random.Random(seed)
    p, idx, built, posts = rosterable_problem(rng)
    free = rng.sample(list(p.staff), 2)
    ids = {st.id for st in free}
    fixed = _fixed_cover(p, built, posts, {st.id for st in p.staff} - ids)

    def sub_optimum(keep_current: bool) -> tuple[int, dict[tuple[str, int], str], dict[tuple[str, int], str]]:
        sub = roster._Model(idx, free, fixed_cover=fixed)
        for (sid, d, shift, post), var in sub.x.items():
            if keep_current:
                sub.model.add(var == int(built.get((sid, d)) == shift and posts.get((sid, d)) == post))
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        assert solver.solve(sub.model) == cp_model.OPTIMAL
        mine = {(sid, d): shift for (sid, d, shift, _post), var in sub.x.items() if solver.boolean_value(var)}
        where = {(sid, d): post for (sid, d, _shift, post), var in sub.x.items() if solver.boolean_value(var)}
        return round(solver.objective_value), mine, where

    before, _, _ = sub_optimum(keep_current=True)
    after, mine, where = sub_optimum(keep_current=False)
    rest = {k: v for k, v in built.items() if k[0] not in ids}
    new_roster = rest | mine
    new_posts = {k: v for k, v in posts.items() if k[0] not in ids} | where
    assert roster.check(p, new_roster, new_posts) == []
    assert after <= before
    assert (roster.objective_value(p, new_roster, new_posts) - roster.objective_value(p, built, posts)
            == after - before)


@pytest.mark.parametrize(("seed", "weekends_in_automaton"), [(seed, seed % 3 != 0) for seed in range(30)])
def test_window_model_equals_the_whole_horizon_with_the_days_around_fixed(
        seed: int, weekends_in_automaton: bool) -> None:
    """A window sub-model (only its days are variables; the runs' automaton starts and ends in the
    states the fixed days around it allow) has the same optimum as the whole-horizon sub-model with
    those days fixed, and its objective moves exactly as the whole roster's recomputed objective."""
    from ortools.sat.python import cp_model

    # without: weekends counted by flags beside the automaton, as on models that are not small
    states = roster._AUTOMATON_WEEKEND_STATES if weekends_in_automaton else 0
    rng = random.Random(100 + seed)
    p, idx, built, posts = rosterable_problem(rng)
    by_staff, _ = roster._schedules(idx, built, posts)
    free = rng.sample(list(p.staff), rng.randint(2, len(p.staff)))
    ids = {st.id for st in free}
    fixed = _fixed_cover(p, built, posts, {st.id for st in p.staff} - ids)
    length = rng.randint(1, p.days - 1)
    window = range(rng.randint(0, p.days - length), p.days)[:length]

    def optimum(sub: roster._Model, keep: Callable[[int], bool]) -> tuple[int, dict[tuple[str, int], tuple[str, str]]]:
        for (sid, d, shift, post), var in sub.x.items():
            if keep(d):
                sub.model.add(var == int(by_staff[sid].get(d) == (shift, post)))
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        assert solver.solve(sub.model) == cp_model.OPTIMAL
        return round(solver.objective_value), {(sid, d): (shift, post) for (sid, d, shift, post), var in sub.x.items()
                                               if solver.boolean_value(var)}

    def windowed() -> roster._Model:
        return roster._Model(idx, free, fixed_cover=fixed, window=window, around=by_staff, weekend_states=states)

    whole_before, _ = optimum(roster._Model(idx, free, fixed_cover=fixed, weekend_states=states), lambda _d: True)
    whole_after, _ = optimum(roster._Model(idx, free, fixed_cover=fixed, weekend_states=states), lambda d: d not in window)
    before, _ = optimum(windowed(), lambda _d: True)
    after, got = optimum(windowed(), lambda _d: False)
    assert after - before == whole_after - whole_before <= 0
    new_roster = {k: v for k, v in built.items() if k[0] not in ids or k[1] not in window}
    new_posts = {k: v for k, v in posts.items() if k[0] not in ids or k[1] not in window}
    new_roster.update({k: shift for k, (shift, _post) in got.items()})
    new_posts.update({k: post for k, (_shift, post) in got.items()})
    assert roster.check(p, new_roster, new_posts) == []
    assert (roster.objective_value(p, new_roster, new_posts) - roster.objective_value(p, built, posts)
            == after - before)


@pytest.mark.parametrize("seed", range(12))
def test_weekends_by_flags_and_in_the_automaton_have_the_same_optimum(seed: int) -> None:
    """Models that are not small count weekends by flags (see _weekend_states): both encodings of
    the whole model reach the same optimum, and the flags' roster keeps every rule."""
    from ortools.sat.python import cp_model

    rng = random.Random(200 + seed)
    p, idx, _built, _posts = rosterable_problem(rng)
    found = []
    for states in (roster._AUTOMATON_WEEKEND_STATES, 0):
        model = roster._Model(idx, p.staff, weekend_states=states)
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        assert solver.solve(model.model) == cp_model.OPTIMAL
        got = {(sid, d): (shift, post) for (sid, d, shift, post), var in model.x.items() if solver.boolean_value(var)}
        found.append((round(solver.objective_value), got))
    (automaton, _), (flags, got) = found
    assert flags == automaton
    shifts = {k: shift for k, (shift, _post) in got.items()}
    posts = {k: post for k, (_shift, post) in got.items()}
    assert roster.check(p, shifts, posts) == []
    assert roster.objective_value(p, shifts, posts) == flags


def test_weekends_leave_the_automaton_from_mid_sized_models() -> None:
    assert roster._weekend_states(instance(3)) == roster._AUTOMATON_WEEKEND_STATES
    assert roster._weekend_states(instance(12)) == 0


@pytest.mark.parametrize("seed", range(6))
def test_kept_objective_follows_schedule_changes(seed: int) -> None:
    """The search's running objective (_Costs.delta) equals the recomputed one after arbitrary changes."""
    rng = random.Random(seed)
    p = random_problem(rng)
    idx = roster._index(p)
    current: dict[tuple[str, int], str] = {}
    posts: dict[tuple[str, int], str] = {}
    by_staff, _ = roster._schedules(idx, current, posts)
    costs = roster._Costs(idx, by_staff)
    objective = roster.objective_value(p, current, posts)
    for _step in range(15):
        changes = {}
        for st in rng.sample(list(p.staff), rng.randint(1, len(p.staff))):
            new = {d: (sh.id, rng.choice(idx.posts_of(d, sh.id))) for d in range(p.days)
                   if rng.random() < 0.5 for sh in [rng.choice(p.shifts)]}
            changes[st.id] = (by_staff[st.id], new)
        objective += costs.delta(changes)
        costs.apply(changes)
        for sid, (_old, new) in changes.items():
            by_staff[sid] = new
        current = {(sid, d): sh for sid, sched in by_staff.items() for d, (sh, _post) in sched.items()}
        posts = {(sid, d): post for sid, sched in by_staff.items() for d, (_sh, post) in sched.items()}
        assert objective == roster.objective_value(p, current, posts)


def test_neighbourhood_search_improves_the_built_roster_and_keeps_every_rule() -> None:
    """Instance 12 (60 people, 10 shift types): a few seconds of search cut the built roster's objective
    by more than a quarter (about 40 % in 8 s on one core); every intermediate roster offered is legal and scored right."""
    p = instance(12)
    idx = roster._index(p)
    built, posts, done = roster._construct(idx, deadline=time.perf_counter() + 30)
    assert done == {st.id for st in p.staff}
    start = roster.objective_value(p, built, posts)
    seen: list[int] = []
    best = roster._Best(roster._Callback(lambda _s, objective, _b: seen.append(objective), time.perf_counter()))
    best.offer(start, built, posts)
    roster._improve(idx, best, deadline=time.perf_counter() + 8)
    assert best.objective is not None and best.objective < start * 3 / 4
    assert seen == sorted(seen, reverse=True) and seen[-1] == best.objective
    assert roster.check(p, best.assignments, best.posts) == []
    assert roster.objective_value(p, best.assignments, best.posts) == best.objective
    assert best.objective >= BEST["Instance12"][0]


def test_window_steps_on_a_long_horizon_keep_every_rule() -> None:
    """Instance 20 (182 days, 50 people): window steps model a few days of a half-year horizon with
    the days around as constants; the rosters they offer stay legal and scored right."""
    p = instance(20)
    idx = roster._index(p)
    built, posts, done = roster._construct(idx, deadline=time.perf_counter() + 30)
    assert done == {st.id for st in p.staff}
    start = roster.objective_value(p, built, posts)
    best = roster._Best(roster._Callback(None, time.perf_counter()))
    best.offer(start, built, posts)
    roster._improve(idx, best, deadline=time.perf_counter() + 6, window_share=1.0)
    assert best.objective is not None and best.objective < start
    assert roster.check(p, best.assignments, best.posts) == []
    assert roster.objective_value(p, best.assignments, best.posts) == best.objective


def weekend_problem() -> tuple[Problem, dict[tuple[str, int], str]]:
    """Two people who may each work one weekend both took a day of the first: the second is empty."""
    people = (Staff("A", max_weekends=1), Staff("B", max_weekends=1))
    demand = tuple(Demand(d, "E", required=1, under_weight=100, over_weight=0) for d in (2, 5, 6, 9, 12, 13))
    p = Problem(days=14, shifts=small().shifts, staff=people, demand=demand)
    return p, {("A", 2): "E", ("A", 5): "E", ("B", 6): "E", ("B", 9): "E"}


def test_a_weekly_step_frees_the_same_days_of_every_week_and_keeps_the_others() -> None:
    p, start = weekend_problem()
    idx = roster._index(p)
    assert roster.objective_value(p, start) == 200
    weekends = roster._week_days(idx, 5, 2)
    assert weekends == {5, 6, 12, 13} and roster._week_days(idx, 6, 3) == {0, 1, 6, 7, 8, 13}
    by_staff, _ = roster._schedules(idx, start, None)
    sub = roster._Model(idx, p.staff, fixed_cover=[0] * len(p.demand), weekend_states=0)
    roster._hold(sub, by_staff, weekends)
    solver = cp_model.CpSolver()
    assert solver.solve(sub.model) == cp_model.OPTIMAL and solver.objective_value == 0
    got = {(sid, d): shift for (sid, d, shift, _post), var in sub.x.items() if solver.boolean_value(var)}
    assert got[("A", 2)] == got[("B", 9)] == "E"  # the Wednesdays were kept
    assert sorted(sorted(d for (who, d) in got if who == sid and d in weekends) for sid in "AB") == [[5, 6], [12, 13]]
    # Within one week, or with the weekend fixed, no step can fill the second weekend.
    for free in (frozenset(range(7, 14)), roster._week_days(idx, 0, 5)):
        sub = roster._Model(idx, p.staff, fixed_cover=[0] * len(p.demand), weekend_states=0)
        roster._hold(sub, by_staff, free)
        assert solver.solve(sub.model) == cp_model.OPTIMAL and solver.objective_value == 200


def test_weekly_steps_alone_trade_whole_weekends_between_people(monkeypatch: pytest.MonkeyPatch) -> None:
    p, start = weekend_problem()
    monkeypatch.setattr(roster, "_LNS_WEEKS_SHARE", 1.0)  # weekly steps only
    best = roster._Best(roster._Callback(None, time.perf_counter()))
    best.offer(200, dict(start), {})
    roster._improve(roster._index(p), best, deadline=time.perf_counter() + 2, window_share=1.0)
    assert best.objective == 0 and roster.check(p, best.assignments, best.posts) == []


def test_a_step_on_an_older_roster_is_put_into_the_one_the_other_thread_improved() -> None:
    """Two search threads: one has improved the shared roster (A now covers day 2) while the other
    re-planned B on the older copy (B now covers day 4). B's new schedule is put into the newer
    roster instead of one improvement being lost; a schedule that does not help there is left out."""
    people = (Staff("A", max_consecutive=7), Staff("B", max_consecutive=7))
    demand = tuple(Demand(d, "E", required=1, under_weight=100, over_weight=0) for d in (2, 4))
    p = Problem(days=7, shifts=small().shifts, staff=people, demand=demand)
    idx = roster._index(p)
    best = roster._Best(roster._Callback(None, time.perf_counter()))
    best.offer(200, {}, {})
    best.offer(100, {("A", 2): "E"}, {("A", 2): ""})  # the other thread's step
    version, objective, by_staff, costs = roster._rebase(idx, best, {"B": {4: ("E", "")}})
    merged = {(sid, d): shift for sid, sched in by_staff.items() for d, (shift, _post) in sched.items()}
    assert version == best.version and merged == {("A", 2): "E", ("B", 4): "E"}
    assert objective == roster.objective_value(p, merged, None) == 0 and roster.check(p, merged) == []
    assert costs.off_target() == []
    # B's step took day 2, which A already covers in the newer roster: nothing to gain, kept as held
    _version, objective, by_staff, _costs = roster._rebase(idx, best, {"B": {2: ("E", "")}})
    assert objective == 100 and by_staff["B"] == {} and by_staff["A"] == {2: ("E", "")}


def test_roster_built_person_by_person_is_legal() -> None:
    """The fallback start used on big models (when CP-SAT finds nothing early) breaks no rule."""
    p = instance(4)
    built, posts, done = roster._construct(roster._index(p), deadline=time.perf_counter() + 30)
    assert done == {st.id for st in p.staff}
    assert roster.check(p, built, posts) == []
    assert roster.objective_value(p, built, posts) >= BEST["Instance4"][0]


@pytest.mark.parametrize("n", [12, 20])
def test_roster_built_person_by_person_on_longer_instances(n: int) -> None:
    """Half a year, per-shift maxima and tight minutes windows: everyone still gets a legal schedule."""
    p = instance(n)
    built, posts, done = roster._construct(roster._index(p), deadline=time.perf_counter() + 60)
    assert done == {st.id for st in p.staff}
    assert roster.check(p, built, posts) == []


@pytest.mark.parametrize(("bound", "stopped"), [(None, True), (100, True), (499, True), (500, False), (900, False)])
def test_cpsat_is_stopped_when_its_bound_is_weak_at_the_probe(bound: int | None, stopped: bool) -> None:
    """At the probe, CP-SAT on the whole model gives its core to the search unless its bound is at
    least half the best roster's objective."""
    calls: list[str] = []
    finished = threading.Event()  # CP-SAT's run is over

    class Solver:
        def stop_search(self) -> None:
            calls.append("stop")
            finished.set()

    callback = roster._Callback(None, time.perf_counter())
    callback.solver = Solver()  # type: ignore[assignment]
    callback.bound = bound
    best = roster._Best(callback)
    best.offer(1000, {}, {}, report=False)
    roster._stop_if_weak(callback, best, finished)
    assert calls == (["stop"] if stopped else [])


def test_a_stop_asked_before_cpsat_has_begun_is_asked_again() -> None:
    """The probe is due at once when building the first roster took long; a stop asked before
    CP-SAT's solve has begun is lost, so it is asked again until CP-SAT's run is over."""
    calls: list[str] = []
    finished = threading.Event()

    class Solver:
        def stop_search(self) -> None:
            calls.append("stop")
            if len(calls) == 2:  # the first came too early and was lost
                finished.set()

    callback = roster._Callback(None, time.perf_counter())
    callback.solver = Solver()  # type: ignore[assignment]
    best = roster._Best(callback)
    best.offer(1000, {}, {}, report=False)
    roster._stop_if_weak(callback, best, finished)
    assert calls == ["stop", "stop"]
