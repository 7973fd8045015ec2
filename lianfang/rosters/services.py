"""Roster services: staff and sign-ups, shift patterns and demand, turning rows into a
lianfang.engines.roster Problem and the solution back into rows, publishing, swaps re-checked
against the rules, attendance and the service-hours ledger."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from lianfang.checkpoints.models import Gate, GateDemand
from lianfang.core import services as core_services
from lianfang.core.models import AuditEvent, SubDistrict, Village
from lianfang.engines import roster as engine
from lianfang.engines import roster_split
from lianfang.rosters.models import (
    MAX_ROSTER_DAYS,
    Assignment,
    AttendanceEvent,
    CancelledShift,
    DemandRule,
    GateStaffing,
    Kind,
    Roster,
    ServiceHours,
    ShiftPattern,
    ShiftRequest,
    SignUp,
    Skill,
    StaffMember,
    SwapRequest,
    Team,
    TeamMembership,
    Unavailability,
    default_shifts,
    minutes_zh,
    requirement_short_label,
    twelve_hour_shifts,
)

if TYPE_CHECKING:
    from lianfang.accounts.models import User

LATE_GRACE_MINUTES = 5  # clocking in later than this after the start is late
ABSENT_AFTER_MINUTES = 30  # no clock-in this long after the start: absent
CLOCK_IN_EARLY_MINUTES = 60


class RosterServiceError(Exception):
    """``errors``: every problem found, when a form's fields were checked together (the first
    one's code is ``code``)."""

    def __init__(self, code: str, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.errors = errors or [message]

    @classmethod
    def every(cls, code: str, problems: list[str]) -> RosterServiceError:
        """One error for every problem of a form, said together (``code``: the first one's)."""
        return cls(code, "；".join(problems), problems)


# --- shift patterns ---------------------------------------------------------------------------

def ensure_patterns(sub: SubDistrict) -> ShiftPattern:
    """The sub-district's default pattern (three 8-hour shifts), creating it and the 12-hour one."""
    default = ShiftPattern.objects.filter(subdistrict=sub, is_default=True).first()
    if default is None:
        default = ShiftPattern.objects.create(subdistrict=sub, name="三班倒（8小时）", shifts=default_shifts(),
                                              is_default=True)
        ShiftPattern.objects.create(subdistrict=sub, name="两班倒（12小时）", shifts=twelve_hour_shifts())
    return default


def shift_names(sub_id: int) -> dict[str, str]:
    """Shift code → name over the sub-district's patterns (the default's name wins a shared code),
    for pages that list a code on its own (leave, requests)."""
    names: dict[str, str] = {}
    for pattern in ShiftPattern.objects.filter(subdistrict_id=sub_id).order_by("-is_default", "pk"):
        for sh in pattern.shifts:
            names.setdefault(sh["code"], sh["name"])
    return names


def pattern_for(gate: Gate) -> ShiftPattern:
    staffing = GateStaffing.objects.filter(gate=gate).select_related("pattern").first()
    return staffing.pattern if staffing else ensure_patterns(gate.subdistrict)


def set_pattern(gate: Gate, pattern: ShiftPattern) -> None:
    if pattern.subdistrict_id != gate.subdistrict_id:
        raise RosterServiceError("pattern_scope", "班次模式不属于本街道")
    live = [r for r in Roster.objects.filter(gates=gate, status__in=[Roster.Status.SOLVING, Roster.Status.SOLVED,
                                                                     Roster.Status.PUBLISHED])
            if r.end_date >= timezone.localdate()]
    if live and pattern != pattern_for(gate):
        raise RosterServiceError("pattern_in_use", f"{gate.name} 的班次已排入「{live[0].name}」，排班结束前不能更换班次模式")
    codes = {s["code"] for s in pattern.shifts}
    with transaction.atomic():
        GateStaffing.objects.update_or_create(gate=gate, defaults={"pattern": pattern})
        # Demand for shifts the new pattern does not have would never be met: drop it, say so.
        DemandRule.objects.filter(gate=gate).exclude(shift_code__in=codes).delete()


def shift_label(shift: dict[str, Any]) -> str:
    start = shift["start"] % 1440
    end = (shift["start"] + shift["minutes"]) % 1440
    return f"{shift['name']} {start // 60:02d}:{start % 60:02d}–{end // 60:02d}:{end % 60:02d}"


# --- staff and teams --------------------------------------------------------------------------

def _skills(values: Iterable[str]) -> list[str]:
    known = {s.value for s in Skill}
    out = []
    for v in values:
        if v not in known:
            raise RosterServiceError("skill_unknown", f"未知技能：{v}")
        if v not in out:
            out.append(v)
    return out


def _phone(raw: str) -> dict[str, str]:
    try:
        fields = core_services.phone_fields(raw)
    except core_services.RegisterError as exc:
        raise RosterServiceError(exc.code, exc.message) from exc
    return {k: fields[k] for k in ("phone_cipher", "phone_hash", "phone_masked")}


def staff_problems(sub: SubDistrict, *, name: str, kind: str, phone: str = "", max_week_hours: int = 48,
                   max_consecutive_days: int = 6) -> list[tuple[str, str]]:
    """(code, message) of every problem with a new staff member's fields, all at once: the form is
    long on a phone, and one error at a time means one round trip per field."""
    name = name.strip()
    problems: list[tuple[str, str]] = []
    if not name:
        problems.append(("staff_name", "请填写姓名"))
    elif len(name) > 50:
        problems.append(("staff_name", "姓名不能超过 50 个字"))
    if kind not in Kind.values:
        problems.append(("staff_kind", f"未知人员类别：{kind}"))
    if not 8 <= max_week_hours <= 84:
        problems.append(("staff_hours", "每周最多工时应在 8 到 84 小时之间"))
    if not 1 <= max_consecutive_days <= 14:
        problems.append(("staff_consecutive", "最多连续上班天数应在 1 到 14 天之间"))
    try:
        phone_hash = _phone(phone)["phone_hash"]
    except RosterServiceError as exc:
        problems.append((exc.code, exc.message))
    else:
        same = StaffMember.objects.filter(subdistrict=sub, phone_hash=phone_hash).first() if phone_hash else None
        if same is not None:
            problems.append(("staff_duplicate", f"该手机号已登记为值守人员：{same.name}（{same.get_kind_display()}）"))
    return problems


def create_staff(sub: SubDistrict, *, name: str, kind: str, skills: Iterable[str] = (), phone: str = "",
                 home_village: Village | None = None, gates: Iterable[Gate] = (), max_week_hours: int = 48,
                 max_consecutive_days: int = 6, user: Any = None) -> StaffMember:
    problems = staff_problems(sub, name=name, kind=kind, phone=phone, max_week_hours=max_week_hours,
                              max_consecutive_days=max_consecutive_days)
    if problems:
        raise RosterServiceError.every(problems[0][0], [m for _c, m in problems])
    name = name.strip()
    phone_fields = _phone(phone)
    with transaction.atomic():
        staff = StaffMember.objects.create(subdistrict=sub, name=name, kind=kind, skills=_skills(skills),
                                           home_village=home_village, max_week_hours=max_week_hours,
                                           max_consecutive_days=max_consecutive_days, user=user, **phone_fields)
        staff.gates.set(list(gates))
    return staff


def sign_up(team: Team, *, name: str, phone: str, kind: str, skills: Iterable[str], village: Village | None,
            note: str, nonce: str) -> tuple[SignUp, bool]:
    """A public sign-up; a retried submission (same nonce) returns the first one."""
    if not team.signup_open:
        raise RosterServiceError("signup_closed", "该队伍暂停报名")
    existing = SignUp.objects.filter(team=team, nonce=nonce).first()
    if existing:
        return existing, False
    name = name.strip()
    if not name or len(name) > 50:
        raise RosterServiceError("signup_name", "请填写姓名（不超过 50 个字）")
    if not phone.strip():
        raise RosterServiceError("signup_phone", "请填写手机号，便于队长联系您")
    if kind not in Kind.values:
        raise RosterServiceError("staff_kind", f"未知人员类别：{kind}")
    fields = _phone(phone)
    # A second sign-up with the same number answers like the first: the public page never tells
    # whether a number is already a member or waiting (approval handles an existing member).
    pending = SignUp.objects.filter(team=team, phone_hash=fields["phone_hash"], status=SignUp.Status.PENDING).first()
    if pending:
        return pending, False
    try:
        with transaction.atomic():
            return SignUp.objects.create(team=team, name=name, kind=kind, skills=_skills(skills), village=village,
                                         note=note.strip()[:200], nonce=nonce, **fields), True
    except IntegrityError:
        return SignUp.objects.get(team=team, nonce=nonce), False


# --- teams -------------------------------------------------------------------------------------

def create_team(sub: SubDistrict, user: User, *, name: str, kind: str, parent: Team | None = None,
                village: Village | None = None, gate: Gate | None = None, duty: str = "",
                leader: User | None = None) -> Team:
    """A team or, with ``parent``, one of its groups (e.g. the squad's 夜间巡逻组). A group takes
    its squad's village; a name is not repeated among the same squad's groups or the top teams."""
    name = name.strip()
    problems: list[str] = []
    if not name or len(name) > 60:
        problems.append("请填写队伍名称（不超过 60 个字）")
    if kind not in Team.TeamKind.values:
        problems.append(f"未知队伍类型：{kind}")
    if (kind == Team.TeamKind.GROUP) != (parent is not None):
        problems.append("分组须选择所属队伍；其他类型的队伍不选所属队伍")
    if parent is not None and (parent.subdistrict_id != sub.pk or parent.parent_id is not None):
        problems.append("所属队伍须是本街道的一支队伍（分组下不再分组）")
    if leader is not None and leader.scope_subdistrict_id != sub.pk:
        problems.append("负责人须是本街道的账号")
    if problems:
        raise RosterServiceError.every("team_fields", problems)
    with transaction.atomic():
        # A double tap sends the form twice at once: creations in a sub-district go one at a time
        # (its row locked on PostgreSQL; SQLite's IMMEDIATE transactions), so the second sees the first.
        SubDistrict.objects.select_for_update().filter(pk=sub.pk).first()
        if Team.objects.filter(subdistrict=sub, parent=parent, name=name).exists():
            raise RosterServiceError("team_twin", f"已有同名队伍「{name}」")
        team = Team.objects.create(subdistrict=sub, name=name, kind=kind, parent=parent,
                                   village=parent.village if parent is not None else village, gate=gate,
                                   duty=duty.strip()[:100], leader=leader)
        AuditEvent.objects.create(user=user, action=AuditEvent.Action.CHANGE, object_type="team",
                                  object_id=str(team.pk), detail={"created": name})
    return team


def add_member(team: Team, staff: StaffMember, user: User | None) -> list[str]:
    """Put ``staff`` in ``team``; a group's member is in its squad too, and in one of its groups only
    (moving to another group leaves the old one, and its 组长 mark). Returns the groups left."""
    if staff.subdistrict_id != team.subdistrict_id:
        raise RosterServiceError("team_member", "此人不在本街道")
    left: list[str] = []
    with transaction.atomic():
        if team.parent_id is not None:
            TeamMembership.objects.get_or_create(team_id=team.parent_id, staff=staff)
            others = TeamMembership.objects.filter(team__parent_id=team.parent_id, staff=staff).exclude(team=team)
            left = list(others.values_list("team__name", flat=True))
            others.delete()
        TeamMembership.objects.get_or_create(team=team, staff=staff)
        AuditEvent.objects.create(user=user, action=AuditEvent.Action.CHANGE, object_type="team",
                                  object_id=str(team.pk), detail={"added": staff.pk, "left": left})
    return left


def change_team(team: Team, user: User, *, leader: tuple[TeamMembership, bool] | None = None,
                signup_open: bool | None = None) -> None:
    """Make a member the group's (or team's) leader or not, or open or pause sign-ups: audited like
    members. The wanted state, not a toggle: a double tap must not undo the first."""
    with transaction.atomic():
        detail: dict[str, Any] = {}
        if leader is not None:
            member, is_leader = leader
            TeamMembership.objects.filter(pk=member.pk).update(is_leader=is_leader)
            detail["leader"] = [member.staff_id, is_leader]
        if signup_open is not None:
            Team.objects.filter(pk=team.pk).update(signup_open=signup_open)
            detail["signup_open"] = signup_open
        AuditEvent.objects.create(user=user, action=AuditEvent.Action.CHANGE, object_type="team", object_id=str(team.pk),
                                  detail=detail)


def remove_member(team: Team, staff: StaffMember, user: User) -> None:
    """Take ``staff`` out of ``team`` (and out of its groups: a squad's groups are within it)."""
    with transaction.atomic():
        TeamMembership.objects.filter(Q(team=team) | Q(team__parent=team), staff=staff).delete()
        AuditEvent.objects.create(user=user, action=AuditEvent.Action.CHANGE, object_type="team",
                                  object_id=str(team.pk), detail={"removed": staff.pk})


def signup_clash(signup: SignUp) -> str | None:
    """Why a sign-up must not be approved as it is: its phone belongs to a registered person of
    another name. Approving would add that person to the team (and show them to its leader), so
    anybody knowing a phone number could pull someone in. The other person is not named: the
    leader may be of another village."""
    staff = StaffMember.objects.filter(subdistrict_id=signup.team.subdistrict_id, phone_hash=signup.phone_hash).first()
    if staff is not None and staff.name.strip() != signup.name.strip():
        return "该手机号已登记为另一位值守人员（姓名不同），不能通过：请电话核实；如确是本人，请用登记时的姓名重新报名。"
    return None


def decide_signup(signup: SignUp, user: User, approve: bool) -> tuple[SignUp, list[str]]:
    """Approve or refuse a pending sign-up (a decided one is returned as it is: a second tap does
    nothing). Returns the sign-up and the groups its person left by joining (one group per squad)."""
    left: list[str] = []
    with transaction.atomic():
        signup = SignUp.objects.select_for_update(of=("self",)).select_related("team").get(pk=signup.pk)
        if signup.status != SignUp.Status.PENDING:
            return signup, left
        if approve and (clash := signup_clash(signup)):
            raise RosterServiceError("signup_phone_taken", clash)
        signup.status = SignUp.Status.APPROVED if approve else SignUp.Status.REJECTED
        signup.decided_by = user
        signup.decided_at = timezone.now()
        if approve:
            team = signup.team
            staff = StaffMember.objects.filter(subdistrict=team.subdistrict, phone_hash=signup.phone_hash).first()
            if staff is None:
                staff = StaffMember.objects.create(
                    subdistrict=team.subdistrict, name=signup.name, kind=signup.kind, skills=signup.skills,
                    home_village=signup.village or team.village, phone_cipher=signup.phone_cipher,
                    phone_hash=signup.phone_hash, phone_masked=signup.phone_masked)
                if team.gate_id:
                    staff.gates.add(team.gate_id)
            left = add_member(team, staff, user)  # a group's sign-up joins the squad too, and one group only
            signup.staff = staff
        signup.save()
    return signup, left


def team_hours(team: Team) -> dict[int, int]:
    """Minutes of service per member of the team (the ledger, all time)."""
    out: dict[int, int] = defaultdict(int)
    for staff_id, minutes in ServiceHours.objects.filter(staff__memberships__team=team).values_list("staff_id",
                                                                                                   "minutes"):
        out[staff_id] += minutes
    return dict(out)


# --- demand -----------------------------------------------------------------------------------

_HOURS = re.compile(r"(?<!\d)(\d{1,2})(?::\d{2})?\s*[–\-~至]\s*(\d{1,2})(?::\d{2})?(?!\d)")


def _planning_window(shift_name: str) -> tuple[int, int] | None:
    """Minutes [start, end) of a lane-sizing shift such as "早班 08–16" or "夜班 00–08"."""
    m = _HOURS.search(shift_name)
    if not m:
        return None
    start, end = int(m.group(1)) * 60, int(m.group(2)) * 60
    if end <= start:
        end += 1440
    return start, end


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    best = 0
    for shift in (-1440, 0, 1440):  # a night shift 00–08 is the same hours as 24–32
        lo, hi = max(a[0], b[0] + shift), min(a[1], b[1] + shift)
        best = max(best, hi - lo)
    return best


def demand_from_planning(gate: Gate) -> list[DemandRule]:
    """Replace the gate's planning-sourced demand by the lane sizing (GateDemand) of gate planning:
    each shift of the gate's pattern needs the most staff of the sized shifts it overlaps."""
    sized = [(w, d.staff) for d in GateDemand.objects.filter(gate=gate)
             if (w := _planning_window(d.shift)) is not None]
    if not sized:
        raise RosterServiceError("no_planning", f"{gate.name} 还没有通道测算结果，请先在卡口规划中测算通道，或手工录入需求")
    rules = []
    for shift in pattern_for(gate).shifts:
        window = (shift["start"], shift["start"] + shift["minutes"])
        staff = max((n for w, n in sized if _overlap(window, w) > 0), default=0)
        if staff:
            rules.append(DemandRule(gate=gate, shift_code=shift["code"], required=staff,
                                    source=DemandRule.Source.PLANNING, note="按排队模型测算的通道数"))
    with transaction.atomic():
        DemandRule.objects.filter(gate=gate, source=DemandRule.Source.PLANNING).delete()
        DemandRule.objects.bulk_create(rules)
    return rules


def gap_labels(rosters: Iterable[Roster], gate_ids: Iterable[int], dates: Iterable[str] | None = None,
               ) -> dict[tuple[int, str, str], list[str]]:
    """The rosters' known gaps as said next to a shift, by (gate id, ISO date, shift name): 缺 2 人,
    缺医护人员 1 人 (for the briefing and the Excel file; the roster grid has its own tags)."""
    gates, days = set(gate_ids), None if dates is None else set(dates)
    out: dict[tuple[int, str, str], list[str]] = defaultdict(list)
    for roster in rosters:
        for short in roster.shortfalls:
            if short.get("gate_id") in gates and (days is None or short.get("date") in days):
                whom = requirement_short_label(short["skill"]) if short.get("skill") else ""
                out[(short["gate_id"], short["date"], short["shift"])].append(f"缺{whom} {short['missing']} 人")
    return dict(out)


def demand_beyond_total(gate: Gate, shift_code: str) -> str | None:
    """A warning when a shift's kind and skill rows add up to more than its "anybody" total on some
    weekday: they are part of the total, so the roster will staff more than the total says (with
    超员 counted against it) — usually a total that was not raised with them."""
    rules = list(DemandRule.objects.filter(gate=gate, shift_code=shift_code))
    for weekday in range(7):
        on = [r for r in rules if not r.weekdays or weekday in r.weekdays]
        total = sum(r.required for r in on if not r.skill)
        within = sum(r.required for r in on if r.skill)
        if total and within > total:
            return (f"该班次按类别/技能需要的人数合计 {within} 人（{engine.WEEKDAYS[weekday]}），多于总人数 {total} 人："
                    f"类别/技能的人数包含在总人数之内，排班会按至少 {within} 人排并计超员。请核对总人数。")
    return None


def add_demand(gate: Gate, *, shift_code: str, required: int, skill: str = "", lane_id: int | None = None,
               weekdays: Iterable[int] = (), note: str = "") -> DemandRule:
    codes = {s["code"]: s for s in pattern_for(gate).shifts}
    if shift_code not in codes:
        choices = "、".join(shift_label(s) for s in codes.values())
        raise RosterServiceError("demand_shift", f"{gate.name} 没有此班次（可选：{choices}）")
    if not 1 <= required <= 50:
        raise RosterServiceError("demand_required", "人数应在 1 到 50 之间")
    if skill and skill not in set(Kind.values) | set(Skill.values):
        raise RosterServiceError("demand_skill", f"未知的类别或技能：{skill}")
    days = sorted(set(weekdays))
    if any(not 0 <= d <= 6 for d in days):
        raise RosterServiceError("demand_weekday", "星期应为 0（周一）到 6（周日）")
    lane = gate.lanes.filter(pk=lane_id).first() if lane_id else None
    if lane_id and lane is None:
        raise RosterServiceError("demand_lane", "该通道不属于此卡口")
    return DemandRule.objects.create(gate=gate, shift_code=shift_code, required=required, skill=skill, lane=lane,
                                     weekdays=days, note=note.strip()[:100])


# --- rows to the engine and back ---------------------------------------------------------------

@dataclass
class Built:
    problem: engine.Problem
    roster: Roster
    gates: dict[str, Gate]  # post -> gate
    shifts: dict[str, dict[str, Any]]  # engine shift id -> the pattern's shift (code, name, start, minutes, night)
    staff: dict[str, StaffMember]  # engine staff id -> row
    notes: list[str] = field(default_factory=list)

    def post_of(self, gate_id: int) -> str:
        return f"g{gate_id}"

    def shift_id(self, gate: Gate, code: str) -> str | None:
        for sid, sh in self.shifts.items():
            if sh["code"] == code and sh["pattern"] == self.pattern_of[gate.pk]:
                return sid
        return None

    pattern_of: dict[int, int] = field(default_factory=dict)


def build_problem(roster: Roster, staff_ids: Iterable[int] | None = None) -> Built:
    """The roster as an engine Problem. ``staff_ids`` restricts the people (for re-checking a swap)."""
    gates = list(roster.gates.order_by("pk"))
    if not gates:
        raise RosterServiceError("roster_gates", "排班表至少要包含一个卡口")
    dates = roster.dates()
    shifts: dict[str, dict[str, Any]] = {}
    pattern_of: dict[int, int] = {}
    for gate in gates:
        pattern = pattern_for(gate)
        pattern_of[gate.pk] = pattern.pk
        for sh in pattern.shifts:
            shifts[f"{pattern.pk}.{sh['code']}"] = {**sh, "pattern": pattern.pk}
    shift_types = tuple(
        engine.ShiftType(sid, int(sh["minutes"]), start=int(sh["start"]), night=bool(sh.get("night")),
                         requires=frozenset({"night"}) if sh.get("night") and roster.night_needs_skill else frozenset(),
                         name=sh["name"])
        for sid, sh in shifts.items())
    posts = {f"g{g.pk}": g for g in gates}
    gate_ids = {g.pk for g in gates}

    demand: list[engine.Demand] = []
    rules = defaultdict(list)
    for rule in DemandRule.objects.filter(gate__in=gates):
        rules[rule.gate_id].append(rule)
    for gate in gates:
        for day_index, day in enumerate(dates):
            totals: dict[tuple[str, str], int] = defaultdict(int)
            for rule in rules[gate.pk]:
                if rule.applies_on(day):
                    totals[(rule.shift_code, rule.skill)] += rule.required
            for (code, skill), required in sorted(totals.items()):
                sid = f"{pattern_of[gate.pk]}.{code}"
                if sid not in shifts:
                    continue
                # Everybody counts for the total; a kind or skill row counts only those people and
                # never penalises extra people (they are already counted in the total).
                demand.append(engine.Demand(day_index, sid, f"g{gate.pk}", skill or None, required,
                                            under_weight=100, over_weight=0 if skill else 1))

    staff_qs = StaffMember.objects.filter(subdistrict_id=roster.subdistrict_id, active=True).prefetch_related(
        "gates", "unavailable")
    if staff_ids is not None:
        staff_qs = staff_qs.filter(pk__in=list(staff_ids))
    index_of = {d: i for i, d in enumerate(dates)}
    # What other published rosters already give people, from two weeks before this one to its end
    # (one query): days worked within it are days off here (one shift a day in all); shifts of day 0
    # too soon after the eve's shift are unavailable (rest); the days worked in a row up to the eve
    # count towards the most days in a row, the days off since the last one towards the fewest
    # days off in a row (engine.Staff.worked_before, rested_before).
    busy: dict[int, set[int]] = defaultdict(set)
    rest_after: dict[int, set[tuple[int, str]]] = defaultdict(set)
    worked_before: dict[int, set[dt.date]] = defaultdict(set)
    eve = roster.start_date - dt.timedelta(days=1)
    day0 = timezone.make_aware(dt.datetime.combine(roster.start_date, dt.time()))
    for staff_id, day, ends_at in (Assignment.objects.filter(
            roster__subdistrict_id=roster.subdistrict_id, roster__status=Roster.Status.PUBLISHED,
            date__gte=roster.start_date - dt.timedelta(days=14), date__lte=roster.end_date)
            .exclude(roster=roster).values_list("staff_id", "date", "ends_at")):
        if day >= roster.start_date:
            busy[staff_id].add(index_of[day])
            continue
        worked_before[staff_id].add(day)
        if day == eve:
            rest_after[staff_id].update(
                (0, sid) for sid, sh in shifts.items()
                if day0 + dt.timedelta(minutes=int(sh["start"])) < ends_at + dt.timedelta(hours=roster.min_rest_hours))

    def run_to_eve(staff_id: int) -> int:
        n = 0
        while roster.start_date - dt.timedelta(days=n + 1) in worked_before.get(staff_id, ()):
            n += 1
        return n

    def rest_to_eve(staff_id: int) -> int:
        """Days off in a row up to the eve after a working day (0 when unknown within two weeks)."""
        worked = worked_before.get(staff_id, set())
        for n in range(1, 15):
            if roster.start_date - dt.timedelta(days=n) in worked:
                return n - 1
        return 0

    staff: dict[str, StaffMember] = {}
    engine_staff = []
    notes: list[str] = []
    for st in staff_qs:
        allowed = {g.pk for g in st.gates.all()}
        if allowed and not allowed & gate_ids:
            continue  # serves other gates only
        sid = f"s{st.pk}"
        staff[sid] = st
        days_off: set[int] = set(busy.get(st.pk, ()))
        unavailable: set[tuple[int, str]] = set(rest_after.get(st.pk, ()))
        for u in st.unavailable.all():
            day = max(u.date_from, roster.start_date)
            while day <= min(u.date_to, roster.end_date):
                if u.shift_code:
                    unavailable.update((index_of[day], s) for s, sh in shifts.items() if sh["code"] == u.shift_code)
                else:
                    days_off.add(index_of[day])
                day += dt.timedelta(days=1)
        engine_staff.append(engine.Staff(
            sid, kind=st.kind, skills=frozenset(st.skills), max_consecutive=st.max_consecutive_days,
            min_consecutive_off=st.min_days_off_in_row, max_week_minutes=st.max_week_hours * 60,
            days_off=frozenset(days_off), unavailable=frozenset(unavailable),
            posts=frozenset(f"g{g}" for g in allowed & gate_ids), name=st.name, worked_before=run_to_eve(st.pk),
            rested_before=rest_to_eve(st.pk)))
    requests = []
    for rq in ShiftRequest.objects.filter(staff__in=[s.pk for s in staff.values()], date__gte=roster.start_date,
                                          date__lte=roster.end_date):
        targets: list[str | None] = [None]
        if rq.shift_code:
            targets = [s for s, sh in shifts.items() if sh["code"] == rq.shift_code]
            if not targets:
                notes.append(f"{rq.staff.name} 的意愿中班次 {rq.shift_code} 不在本排班表中，已忽略。")
        for target in targets:
            requests.append(engine.Request(f"s{rq.staff_id}", index_of[rq.date], target, rq.on, rq.weight))
    # Someone who can take none of the shifts that need people is almost always a data error
    # (a missing skill, the wrong gate, a leave typed over the whole period): say so by name.
    needed = {(d.day, d.shift, d.post) for d in demand}
    requires = {st.id: st.requires for st in shift_types}
    for es in engine_staff:
        if not any((not es.posts or post in es.posts) and requires[shift] <= es.skills and day not in es.days_off
                   and (day, shift) not in es.unavailable for day, shift, post in needed):
            notes.append(f"{es.name} 在排班期内没有任何可上的班次（请检查其技能、可驻卡口和不可排班时段）。")
    problem = engine.Problem(
        days=roster.days, shifts=shift_types, staff=tuple(engine_staff), demand=tuple(demand),
        requests=tuple(requests), fairness_weight=roster.fairness_weight, continuity_weight=roster.continuity_weight,
        first_weekday=roster.start_date.weekday(), min_rest_minutes=roster.min_rest_hours * 60)
    return Built(problem, roster, posts, shifts, staff, notes, pattern_of)


def progress_key(roster_id: int) -> str:
    return f"roster-progress:{roster_id}"


def read_progress(roster: Roster) -> dict[str, Any]:
    return cache.get(progress_key(roster.pk)) or {}


def request_solve(roster: Roster, user: User) -> Roster:
    if roster.status == Roster.Status.PUBLISHED:
        raise RosterServiceError("roster_published", "排班表已发布，不能重新求解；请新建排班表")
    stale = timezone.now() - dt.timedelta(seconds=roster.time_limit_s + 600)  # a worker that died
    if roster.status == Roster.Status.SOLVING and roster.solve_requested_at and roster.solve_requested_at > stale:
        raise RosterServiceError("roster_solving", "正在求解，请稍候")
    built = build_problem(roster)  # bad input is reported now, not in the background
    without = [g.name for post, g in built.gates.items() if not any(d.post == post for d in built.problem.demand)]
    if without:
        raise RosterServiceError("roster_no_demand", f"以下卡口在排班期内没有人力需求，请先录入：{'、'.join(without)}")
    now = timezone.now()
    # One solve at a time: only the request that moves the row out of its resting state enqueues.
    moved = Roster.objects.filter(pk=roster.pk).filter(
        Q(status__in=[Roster.Status.DRAFT, Roster.Status.SOLVED, Roster.Status.FAILED])
        | Q(status=Roster.Status.SOLVING, solve_requested_at__lte=stale)).update(status=Roster.Status.SOLVING,
                                                                                 solve_requested_at=now)
    if not moved:
        raise RosterServiceError("roster_solving", "正在求解，请稍候")
    roster.status = Roster.Status.SOLVING
    roster.solve_requested_at = now
    cache.set(progress_key(roster.pk), {"phase": "queued", "done": 0, "total": 1, "started": None}, 24 * 3600)
    from lianfang.rosters.tasks import solve_roster

    transaction.on_commit(lambda: solve_roster.enqueue(roster.pk))
    return roster


def run_solve(roster: Roster) -> Roster:
    """Solve (in the background task) and store the best roster found, with its shortfalls."""
    started = timezone.now()
    try:
        built = build_problem(roster)
    except (RosterServiceError, engine.RosterError) as exc:
        return _fail(roster, [getattr(exc, "message", str(exc))])

    def progress(done: int, total: int, part: engine.Solution | None) -> None:
        cache.set(progress_key(roster.pk), {"phase": "solving", "done": done, "total": total,
                                            "started": started.isoformat(),
                                            "seconds": round((timezone.now() - started).total_seconds(), 1)}, 24 * 3600)

    cache.set(progress_key(roster.pk), {"phase": "solving", "done": 0, "total": len(roster_split.parts(built.problem)),
                                        "started": started.isoformat(), "seconds": 0}, 24 * 3600)
    try:
        solution = roster_split.solve_split(built.problem, time_limit_s=float(roster.time_limit_s), workers=2,
                                            progress=progress)
    except engine.RosterError as exc:
        return _fail(roster, [str(exc)])
    if solution.status not in ("optimal", "feasible"):
        return _fail(roster, built.notes + solution.messages)
    save_solution(roster, built, solution)
    return roster


def _fail(roster: Roster, messages: list[str]) -> Roster:
    roster.status = Roster.Status.FAILED
    roster.messages = messages
    roster.solved_at = timezone.now()
    roster.save(update_fields=["status", "messages", "solved_at"])
    cache.set(progress_key(roster.pk), {"phase": "failed", "done": 1, "total": 1}, 24 * 3600)
    return roster


def _times(day: dt.date, shift: dict[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.make_aware(dt.datetime.combine(day, dt.time())) + dt.timedelta(minutes=int(shift["start"]))
    return start, start + dt.timedelta(minutes=int(shift["minutes"]))


def save_solution(roster: Roster, built: Built, solution: engine.Solution) -> None:
    dates = roster.dates()
    rows = []
    for (sid, day), shift_id in solution.assignments.items():
        sh = built.shifts[shift_id]
        post = solution.posts.get((sid, day)) or ""
        gate = built.gates.get(post)
        if gate is None:
            continue  # a person with nothing to staff that day (no demand anywhere for the shift)
        start, end = _times(dates[day], sh)
        rows.append(Assignment(roster=roster, staff=built.staff[sid], date=dates[day], gate=gate,
                               shift_code=sh["code"], shift_name=sh["name"], starts_at=start, ends_at=end))
    shortfalls = []
    for s in solution.shortfalls:
        sh = built.shifts[s.shift]
        gate = built.gates.get(s.post)
        shortfalls.append({"date": dates[s.day].isoformat(), "gate": gate.name if gate else "",
                           "gate_id": gate.pk if gate else None,
                           "shift": sh["name"], "skill": s.skill or "", "required": s.required, "assigned": s.assigned,
                           "missing": s.missing, "reason": _readable(s.reason_zh, built)})
    with transaction.atomic():
        roster.assignments.all().delete()
        Assignment.objects.bulk_create(rows, batch_size=2000)
        roster.status = Roster.Status.SOLVED
        roster.solver_status = solution.status
        roster.objective = solution.objective
        roster.bound = solution.bound
        roster.seconds = round(solution.seconds, 2)
        roster.breakdown = solution.breakdown
        roster.shortfalls = shortfalls
        roster.messages = built.notes + [_readable(m, built) for m in solution.messages]
        roster.solved_at = timezone.now()
        roster.save()
    cache.set(progress_key(roster.pk), {"phase": "done", "done": 1, "total": 1}, 24 * 3600)


def _readable(text: str, built: Built) -> str:
    """The engine names people, posts, shifts and days by their ids and numbers: give names and dates."""
    dates = built.roster.dates()

    def date_of(m: re.Match[str]) -> str:
        n = int(m.group(1))
        return f"{dates[n - 1]:%m月%d日}" if 1 <= n <= len(dates) else m.group(0)

    text = re.sub(r"第 ?(\d+) ?天(?:（周.）)?", date_of, text).rstrip("。")
    for sid, st in built.staff.items():
        text = re.sub(rf"\b{sid}\b", st.name, text)
    for post, gate in built.gates.items():
        text = re.sub(rf"\b{post}\b", gate.name, text)
    for shift_id, sh in built.shifts.items():
        text = text.replace(shift_id, sh["name"])
    return text


def overlaps(roster: Roster) -> list[str]:
    """People this roster gives a shift on a day they already work in another published roster."""
    mine = set(roster.assignments.values_list("staff_id", "date"))
    clashes = (Assignment.objects.filter(roster__subdistrict_id=roster.subdistrict_id, roster__status=Roster.Status.PUBLISHED,
                                         date__gte=roster.start_date, date__lte=roster.end_date)
               .exclude(roster=roster).select_related("staff", "roster").order_by("date"))
    return [f"{a.staff.name} {a.date:%m月%d日} 已在「{a.roster.name}」排班" for a in clashes if (a.staff_id, a.date) in mine]


def gate_overlaps(roster: Roster) -> list[str]:
    """Published rosters that already staff one of this roster's gates on one of its days, in Chinese.

    Each roster meets a gate's whole demand, so two published at one gate on one day would put twice
    the crew there (and each chief would count only their own): publishing such a roster is refused.
    """
    return rosters_at_gates(roster.subdistrict_id, dict(roster.gates.values_list("pk", "name")),
                              roster.start_date, roster.end_date, exclude=roster.pk)


def rosters_at_gates(subdistrict_id: int, gate_names: Mapping[int, str], first: dt.date, last: dt.date,
                     exclude: int | None = None, *, published: bool = True) -> list[str]:
    """Published rosters staffing any of ``gate_names`` between ``first`` and ``last``, in Chinese
    (not ``published``: the drafts and results not yet published there instead)."""
    found = []
    others = Roster.objects.filter(subdistrict_id=subdistrict_id, gates__in=list(gate_names), start_date__lte=last)
    others = (others.filter(status=Roster.Status.PUBLISHED) if published
              else others.exclude(status=Roster.Status.PUBLISHED))
    for other in others.exclude(pk=exclude or 0).distinct().prefetch_related("gates").order_by("start_date", "pk"):
        since, until = max(other.start_date, first), min(other.end_date, last)
        if since > until:
            continue
        shared = "、".join(g.name for g in other.gates.all() if g.pk in gate_names)
        span = f"{since:%m月%d日}" if since == until else f"{since:%m月%d日}至{until:%m月%d日}"
        found.append(f"{shared} {span}已由已发布的「{other.name}」排班" if published
                     else f"{shared} {span}另有未发布的「{other.name}」（{other.get_status_display()}）")
    return found


def published_until(gates: Iterable[Gate], since: dt.date) -> dict[int, dt.date]:
    """The last day each gate is staffed by a published roster, for gates staffed on ``since`` or later."""
    wanted = {g.pk for g in gates}
    until: dict[int, dt.date] = {}
    for roster in (Roster.objects.filter(status=Roster.Status.PUBLISHED, gates__in=list(wanted),
                                         start_date__gt=since - dt.timedelta(days=MAX_ROSTER_DAYS))
                   .distinct().prefetch_related("gates")):
        if roster.end_date < since:
            continue
        for gate in roster.gates.all():
            if gate.pk in wanted and roster.end_date > until.get(gate.pk, dt.date.min):
                until[gate.pk] = roster.end_date
    return until


def unstaffed_on(gates: Iterable[Gate], day: dt.date) -> list[Gate]:
    """Those of ``gates`` that no published roster staffs on ``day``."""
    wanted = list(gates)
    staffed: set[int] = set()
    for roster in (Roster.objects.filter(status=Roster.Status.PUBLISHED, gates__in=wanted, start_date__lte=day,
                                         start_date__gt=day - dt.timedelta(days=MAX_ROSTER_DAYS))
                   .distinct().prefetch_related("gates")):
        if roster.end_date >= day:
            staffed.update(g.pk for g in roster.gates.all())
    return [g for g in wanted if g.pk not in staffed]


def publish(roster: Roster, user: User) -> Roster:
    if roster.status != Roster.Status.SOLVED:
        raise RosterServiceError("roster_not_solved", "只有已求解的排班表才能发布")
    with transaction.atomic():
        locked = Roster.objects.select_for_update().get(pk=roster.pk)
        if locked.status != Roster.Status.SOLVED:
            raise RosterServiceError("roster_not_solved", "只有已求解的排班表才能发布")
        shared = gate_overlaps(roster)
        if shared:
            raise RosterServiceError("roster_gate_overlap",
                                     "同一卡口同一天只能有一份已发布的排班表：" + "；".join(shared)
                                     + "。请把本表的开始日期改到其后，或只选其他卡口；如要改排，先把已发布的表提前结束")
        clashes = overlaps(roster)
        if clashes:
            more = f"等 {len(clashes)} 处" if len(clashes) > 5 else ""
            raise RosterServiceError("roster_overlap",
                                     "与已发布的排班表冲突，请重新求解后再发布：" + "；".join(clashes[:5]) + more)
        roster.status = Roster.Status.PUBLISHED
        roster.published_by = user
        roster.published_at = timezone.now()
        roster.save(update_fields=["status", "published_by", "published_at"])
        AuditEvent.objects.create(user=user, action=AuditEvent.Action.CHANGE, object_type="roster",
                                  object_id=str(roster.pk), detail={"published": True})
    return roster


def cancelled_shifts(staff: StaffMember) -> list[CancelledShift]:
    """A person's shifts still ahead that a roster ended early took away, except those a later
    published roster gives back (the same start at the same gate): those are simply on again.

    A shift given back and then taken away again (a second early end) was cancelled twice: it is
    listed once, with the latest reason."""
    back = set(Assignment.objects.filter(staff=staff, roster__status=Roster.Status.PUBLISHED,
                                         starts_at__gte=timezone.now()).values_list("starts_at", "gate_id"))
    latest: dict[tuple[dt.datetime, int | None], CancelledShift] = {}
    for c in CancelledShift.objects.filter(staff=staff, starts_at__gte=timezone.now()).order_by("starts_at", "-pk")[:200]:
        if (c.starts_at, c.gate_id) not in back:
            latest.setdefault((c.starts_at, c.gate_id), c)
    return list(latest.values())[:100]


def delete_roster(roster: Roster, user: User) -> None:
    """Delete a roster nobody works by (a draft, a result not published, a failed solve)."""
    with transaction.atomic():
        locked = Roster.objects.select_for_update().get(pk=roster.pk)
        if locked.status == Roster.Status.PUBLISHED:
            raise RosterServiceError("roster_published", "已发布的排班表不能删除；要改排，请提前结束它")
        if locked.status == Roster.Status.SOLVING:
            raise RosterServiceError("roster_solving", "正在求解，请等求解结束后再删除")
        AuditEvent.objects.create(user=user, action=AuditEvent.Action.CHANGE, object_type="roster",
                                  object_id=str(locked.pk), detail={"deleted": locked.name, "status": locked.status,
                                                                    "start_date": locked.start_date.isoformat(),
                                                                    "days": locked.days})
        locked.delete()


def end_early(roster: Roster, first_dropped: dt.date, user: User, reason: str) -> tuple[int, int]:
    """Stop a published roster from ``first_dropped`` on, so that another can be published from that day
    (a gate has one published roster a day): its shifts from that day are removed (each person sees
    theirs as a CancelledShift), swap requests still waiting for them are voided, and the roster ends
    the day before. The days already worked stay as they are. Returns the numbers of shifts removed
    and of requests voided; the audit keeps what was removed and why."""
    reason = reason.strip()
    if not reason:
        raise RosterServiceError("end_reason", "请填写提前结束的原因（如：风险等级调整，需要重排）")
    with transaction.atomic():
        locked = Roster.objects.select_for_update().get(pk=roster.pk)
        if locked.status != Roster.Status.PUBLISHED:
            raise RosterServiceError("roster_not_published", "只有已发布的排班表才能提前结束")
        tomorrow = timezone.localdate() + dt.timedelta(days=1)
        earliest = max(tomorrow, locked.start_date + dt.timedelta(days=1))
        if not earliest <= first_dropped <= locked.end_date:
            if locked.end_date < earliest:
                raise RosterServiceError("end_date", f"本表 {locked.end_date:%m月%d日} 结束，"
                                                     f"在可停用的 {earliest:%m月%d日} 之前，无需提前结束")
            raise RosterServiceError("end_date", f"停用日期应在 {earliest:%m月%d日} 至 {locked.end_date:%m月%d日} 之间"
                                                 "（今天及以前的班次不能停用）")
        dropped = Assignment.objects.filter(roster=locked, date__gte=first_dropped)
        clocked = (AttendanceEvent.objects.filter(assignment__in=dropped).select_related("assignment__staff")
                   .order_by("at").first())
        if clocked is not None:
            a = clocked.assignment
            raise RosterServiceError("end_clocked", f"{a.staff.name} 已签到 {a.date:%m月%d日} 的{a.shift_name}，"
                                                    f"只能从 {a.date + dt.timedelta(days=1):%m月%d日} 起停用")
        ids = list(dropped.values_list("pk", flat=True))
        CancelledShift.objects.bulk_create(
            CancelledShift(staff_id=a.staff_id, roster=locked, assignment_pk=a.pk, date=a.date, shift_name=a.shift_name,
                           gate=a.gate, gate_name=a.gate.name, starts_at=a.starts_at, reason=reason[:200],
                           cancelled_by=user)
            for a in dropped.select_related("gate"))
        # Requests about these shifts stay in both people's history (their summary says what was
        # asked); those still waiting are voided, with the reason.
        swaps = SwapRequest.objects.filter(Q(give_id__in=ids) | Q(take_id__in=ids))
        voided = [f"{sw.summary}（{sw.get_status_display()}）" for sw in swaps if sw.open]
        swaps.filter(status__in=SwapRequest.OPEN_STATUSES).update(
            status=SwapRequest.Status.VOIDED, decided_by=user, decided_at=timezone.now(),
            problems=[f"{first_dropped:%m月%d日} 起的班次已删除，原因：{reason[:100]}；请按新排班重新申请"])
        dropped.delete()  # the requests' shifts become empty
        locked.days = (first_dropped - locked.start_date).days
        locked.shortfalls = [sh for sh in locked.shortfalls if sh.get("date", "") < first_dropped.isoformat()]
        locked.ended_early_at = timezone.now()
        locked.ended_early_reason = reason[:200]
        locked.save(update_fields=["days", "shortfalls", "ended_early_at", "ended_early_reason"])
        AuditEvent.objects.create(user=user, action=AuditEvent.Action.CHANGE, object_type="roster",
                                  object_id=str(locked.pk), reason=reason[:200],
                                  detail={"ended_early_from": first_dropped.isoformat(), "shifts_removed": len(ids),
                                          "swaps_voided": voided})
    roster.refresh_from_db()
    return len(ids), len(voided)


# --- swaps --------------------------------------------------------------------------------------

def swap_problems(roster: Roster, give: Assignment, take: Assignment | None, partner: StaffMember,
                  requester: StaffMember | None = None) -> list[str]:
    """Hard-rule violations the swap would cause for the two people, in Chinese ([] = allowed)."""
    requester = requester or give.staff
    problems = []
    if take is None and Assignment.objects.filter(roster=roster, staff=partner, date=give.date).exists():
        problems.append(f"{partner.name} {give.date:%m月%d日} 已有班次，不能再代班。")
    if take is not None and take.date != give.date:
        if Assignment.objects.filter(roster=roster, staff=requester, date=take.date).exists():
            problems.append(f"{requester.name} {take.date:%m月%d日} 已有班次。")
        if Assignment.objects.filter(roster=roster, staff=partner, date=give.date).exists():
            problems.append(f"{partner.name} {give.date:%m月%d日} 已有班次。")
    if problems:
        return problems
    built = build_problem(roster, staff_ids=[requester.pk, partner.pk])
    if f"s{partner.pk}" not in built.staff:
        return [f"{partner.name} 不在本排班表的可排人员中。"]
    day_of = {d: i for i, d in enumerate(roster.dates())}
    assignments: dict[tuple[str, int], str] = {}
    posts: dict[tuple[str, int], str] = {}
    shift_of = {(built.pattern_of[int(post[1:])], sh["code"]): sid
                for post in built.gates for sid, sh in built.shifts.items() if sh["pattern"] == built.pattern_of[int(post[1:])]}
    moved = {give.pk: partner.pk} | ({take.pk: requester.pk} if take else {})
    before_a: dict[tuple[str, int], str] = {}
    before_p: dict[tuple[str, int], str] = {}
    for a in Assignment.objects.filter(roster=roster, staff__in=[requester, partner]):
        shift = shift_of.get((built.pattern_of.get(a.gate_id, 0), a.shift_code), "")
        before_a[(f"s{a.staff_id}", day_of[a.date])] = shift
        before_p[(f"s{a.staff_id}", day_of[a.date])] = f"g{a.gate_id}"
        key = (f"s{moved.get(a.pk, a.staff_id)}", day_of[a.date])
        assignments[key] = shift
        posts[key] = f"g{a.gate_id}"
    # Only what the swap breaks: a rule already broken (leave recorded over a rostered day, say)
    # must not block handing over that very shift, or any other.
    already = set(engine.check(built.problem, before_a, before_p))
    return [_readable(m, built) for m in engine.check(built.problem, assignments, posts) if m not in already]


def shifts_ahead(staff: StaffMember, now: dt.datetime) -> QuerySet[Assignment]:
    """A person's published shifts not over at ``now`` (under way or to come), earliest first."""
    return (Assignment.objects.filter(staff=staff, roster__status=Roster.Status.PUBLISHED, ends_at__gt=now)
            .order_by("starts_at"))


def swap_choices(staff: StaffMember) -> tuple[QuerySet[StaffMember], QuerySet[Assignment]]:
    """Whom a person may ask to swap with, and which of their shifts: the people and future shifts of
    the gates this person serves or is rostered at, in published rosters (a volunteer never sees who
    is on duty at the other gates of the sub-district)."""
    now = timezone.now()
    mine = shifts_ahead(staff, now)
    rosters = set(mine.values_list("roster_id", flat=True))
    gates = set(staff.gates.values_list("pk", flat=True)) | set(mine.values_list("gate_id", flat=True))
    shifts = (Assignment.objects.filter(roster_id__in=rosters, gate_id__in=gates, starts_at__gt=now)
              .exclude(staff=staff))
    people = (StaffMember.objects.filter(subdistrict_id=staff.subdistrict_id, active=True)
              .filter(Q(gates__in=gates) | Q(assignments__in=shifts)).exclude(pk=staff.pk).distinct())
    return people, shifts


def request_swap(requester: StaffMember, give: Assignment, partner: StaffMember, take: Assignment | None,
                 *, reason: str, nonce: str, user: User) -> SwapRequest:
    """A swap (exchange with the partner's shift ``take``) or a hand-over (``take`` None): refused at
    once, with the rules it breaks, when it breaks any; otherwise waiting for the partner to confirm
    (a partner with an account, see :func:`answer_swap`), then for the gate chief."""
    existing = SwapRequest.objects.filter(requester=requester, nonce=nonce).first()
    if existing:
        return existing
    roster = give.roster
    if give.staff_id != requester.pk:
        raise RosterServiceError("swap_not_yours", "只能让出自己的班次")
    if roster.status != Roster.Status.PUBLISHED:
        raise RosterServiceError("swap_unpublished", "排班表尚未发布")
    if partner.pk == requester.pk:
        raise RosterServiceError("swap_self", "请选择另一位人员")
    if partner.subdistrict_id != requester.subdistrict_id:
        raise RosterServiceError("swap_partner", "对方不在本街道")
    if take is not None and (take.roster_id != roster.pk or take.staff_id != partner.pk):
        raise RosterServiceError("swap_take", "换来的班次必须是对方在同一排班表中的班次")
    now = timezone.now()
    if give.starts_at <= now or (take is not None and take.starts_at <= now):
        raise RosterServiceError("swap_past", "已开始或已结束的班次不能再换")
    summary = f"{requester.name} 让出 {give.date:%m月%d日} {give.shift_name}（{give.gate.name}）" + (
        f"，换 {partner.name} 的 {take.date:%m月%d日} {take.shift_name}（{take.gate.name}）" if take
        else f"，由 {partner.name} 代班")
    try:
        with transaction.atomic():
            # Two requests for the same shift at the same moment (two tabs) must not both wait: the
            # shifts' rows are locked on PostgreSQL; SQLite's IMMEDIATE transactions run one at a time.
            list(Assignment.objects.select_for_update().filter(pk__in=[give.pk] + ([take.pk] if take else [])))
            waiting = SwapRequest.objects.filter(Q(give=give) | Q(take=give), status__in=SwapRequest.OPEN_STATUSES)
            if take is not None:
                waiting |= SwapRequest.objects.filter(Q(give=take) | Q(take=take), status__in=SwapRequest.OPEN_STATUSES)
            if waiting.exists():
                raise RosterServiceError("swap_waiting", "该班次已有一份换班申请在等待确认或审批，请等处理后再申请")
            problems = swap_problems(roster, give, take, partner, requester)
            if problems:
                status = SwapRequest.Status.REFUSED
            else:
                status = SwapRequest.Status.PARTNER if partner.user_id else SwapRequest.Status.PENDING
            return SwapRequest.objects.create(roster=roster, requester=requester, give=give, gate_id=give.gate_id,
                                              partner=partner, take=take,
                                              reason=reason.strip()[:200], status=status, problems=problems,
                                              summary=summary, nonce=nonce, created_by=user)
    except IntegrityError:  # the same request sent twice at once: the first one stands
        return SwapRequest.objects.get(requester=requester, nonce=nonce)


def answer_swap(swap: SwapRequest, user: User, accept: bool) -> SwapRequest:
    """The partner's answer: accepting re-checks the rules (the roster may have changed since the
    request) and passes the request to the gate chief; declining closes it."""
    with transaction.atomic():
        swap = SwapRequest.objects.select_for_update(of=("self",)).select_related("give", "take", "partner", "requester",
                                                                      "roster").get(pk=swap.pk)
        if swap.partner.user_id != user.pk:
            raise RosterServiceError("swap_not_partner", "只有被邀请换班的对方可以确认")
        if swap.status != SwapRequest.Status.PARTNER:
            raise RosterServiceError("swap_answered", f"该申请已处理（{swap.get_status_display()}）")
        if swap.expired:
            raise RosterServiceError("swap_past", "班次已开始，不能再换")
        swap.partner_answered_at = timezone.now()
        if not accept:
            swap.status = SwapRequest.Status.DECLINED
        elif swap.give is None:  # cannot happen: requests lose their shifts only when voided
            raise RosterServiceError("swap_answered", "该申请的班次已删除")
        elif problems := swap_problems(swap.roster, swap.give, swap.take, swap.partner, swap.requester):
            swap.status = SwapRequest.Status.REFUSED
            swap.problems = problems
        else:
            swap.status = SwapRequest.Status.PENDING
        swap.save()
    return swap


def withdraw_swap(swap: SwapRequest, user: User) -> SwapRequest:
    """The requester takes back a request still waiting for the partner or the gate chief (plans
    changed): it closes, and the shift is free for another request. Withdrawing twice is refused."""
    with transaction.atomic():
        swap = SwapRequest.objects.select_for_update(of=("self",)).select_related("requester", "give", "take").get(
            pk=swap.pk)
        if swap.requester.user_id != user.pk:
            raise RosterServiceError("swap_not_requester", "只有申请人本人可以撤回")
        if not swap.open:
            raise RosterServiceError("swap_closed", f"该申请已处理（{swap.get_status_display()}），不能撤回")
        if swap.expired:
            raise RosterServiceError("swap_past", "班次已开始，这份申请已失效，无需撤回")
        swap.status = SwapRequest.Status.WITHDRAWN
        swap.decided_at = timezone.now()
        swap.save(update_fields=["status", "decided_at"])
    AuditEvent.objects.create(user=user, action=AuditEvent.Action.CHANGE, object_type="roster_swap",
                              object_id=str(swap.pk), detail={"roster": swap.roster_id, "withdrawn": True})
    return swap


def decide_swap(swap: SwapRequest, user: User, approve: bool, note: str = "") -> SwapRequest:
    """The gate chief's decision; approving re-checks the rules against the roster as it is now.
    ``note``: why not, for the requester (kept with the request's problems, which they are shown)."""
    with transaction.atomic():
        swap = SwapRequest.objects.select_for_update(of=("self",)).select_related("give", "take", "partner", "requester",
                                                                      "roster").get(pk=swap.pk)
        if swap.status == SwapRequest.Status.PARTNER:
            raise RosterServiceError("swap_partner_first", f"{swap.partner.name} 尚未确认换班，确认后才能审批")
        if swap.status != SwapRequest.Status.PENDING:
            raise RosterServiceError("swap_decided", f"该申请已处理（{swap.get_status_display()}）")
        swap.decided_by = user
        swap.decided_at = timezone.now()
        if not approve:
            swap.status = SwapRequest.Status.REJECTED
            if note.strip():
                swap.problems = [f"审批意见：{note.strip()[:200]}"]
            swap.save()
            return swap
        if swap.give_id is None:  # cannot happen: requests lose their shifts only when voided
            raise RosterServiceError("swap_decided", "该申请的班次已删除")
        ids = [swap.give_id] + ([swap.take_id] if swap.take_id else [])
        rows = {a.pk: a for a in Assignment.objects.select_for_update().filter(pk__in=ids).prefetch_related("attendance")}
        give, take = rows[swap.give_id], rows.get(swap.take_id) if swap.take_id else None
        problems = []
        if give.staff_id != swap.requester_id or (take is not None and take.staff_id != swap.partner_id):
            problems.append("班次已不在申请人或对方名下（可能已换给他人），申请作废。")
        elif give.starts_at <= swap.decided_at or (take is not None and take.starts_at <= swap.decided_at) or any(
                a.attendance.all() for a in rows.values()):
            problems.append("班次已开始或已签到，不能再换。")
        else:
            problems = swap_problems(swap.roster, give, take, swap.partner, swap.requester)
        if problems:
            swap.status = SwapRequest.Status.REFUSED
            swap.problems = problems
            swap.save()
            return swap
        if take is None:
            Assignment.objects.filter(pk=give.pk).update(staff=swap.partner)
        elif take.date != give.date:
            Assignment.objects.filter(pk=give.pk).update(staff=swap.partner)
            Assignment.objects.filter(pk=take.pk).update(staff=swap.requester)
        else:
            # Same day: a row is unique per (roster, person, day), so exchange what the rows hold.
            fields = ("gate_id", "shift_code", "shift_name", "starts_at", "ends_at")
            give_values = {f: getattr(give, f) for f in fields}
            Assignment.objects.filter(pk=give.pk).update(**{f: getattr(take, f) for f in fields})
            Assignment.objects.filter(pk=take.pk).update(**give_values)
        swap.status = SwapRequest.Status.APPROVED
        swap.save()
        # Other requests waiting on these shifts were made for a roster that no longer is.
        SwapRequest.objects.filter(Q(give_id__in=ids) | Q(take_id__in=ids), status__in=SwapRequest.OPEN_STATUSES).exclude(
            pk=swap.pk).update(status=SwapRequest.Status.REFUSED, problems=["该班次已按另一份申请换班，本申请作废。"],
                               decided_by=user, decided_at=swap.decided_at)
    AuditEvent.objects.create(user=user, action=AuditEvent.Action.CHANGE, object_type="roster_swap",
                              object_id=str(swap.pk), detail={"roster": swap.roster_id})
    return swap


# --- attendance ----------------------------------------------------------------------------------

def clock(assignment: Assignment, user: User, action: str, nonce: str, at: dt.datetime | None = None) -> AttendanceEvent:
    """签到/签退. A retry with the same nonce returns the first event; a second clock-in is refused."""
    existing = AttendanceEvent.objects.filter(assignment=assignment, nonce=nonce).first()
    if existing:
        return existing
    now = at or timezone.now()
    if action not in AttendanceEvent.Action.values:
        raise RosterServiceError("clock_action", "只能签到或签退")
    done = {e.action: e for e in assignment.attendance.all()}
    if action == AttendanceEvent.Action.IN:
        if AttendanceEvent.Action.IN in done:
            raise RosterServiceError("clock_twice", f"{assignment.staff.name} 已于 "
                                     f"{timezone.localtime(done['in'].at):%H:%M} 签到")
        if now < assignment.starts_at - dt.timedelta(minutes=CLOCK_IN_EARLY_MINUTES):
            raise RosterServiceError("clock_early", f"班次 {timezone.localtime(assignment.starts_at):%m-%d %H:%M} "
                                     f"开始，最早提前 {CLOCK_IN_EARLY_MINUTES} 分钟签到")
        if now > assignment.ends_at:
            raise RosterServiceError("clock_over", "班次已结束，不能再签到")
        late = _late_minutes(assignment, now)
    else:
        if AttendanceEvent.Action.IN not in done:
            raise RosterServiceError("clock_no_in", "尚未签到，不能签退")
        if AttendanceEvent.Action.OUT in done:
            raise RosterServiceError("clock_twice", "已签退")
        if now < assignment.starts_at:  # an early clock-in is allowed; signing out of a shift not begun is a slip
            raise RosterServiceError("clock_out_early", f"班次 {timezone.localtime(assignment.starts_at):%m-%d %H:%M} "
                                     "才开始，开始前不能签退（签到有误请联系卡口长）")
        late = 0
    try:
        with transaction.atomic():
            return _record_clock(assignment, user, action, nonce, now, late, done)
    except IntegrityError:  # a concurrent retry or a second clock-in won the race
        first = AttendanceEvent.objects.filter(assignment=assignment).filter(Q(nonce=nonce) | Q(action=action)).first()
        if first is None:
            raise
        return first


def _late_minutes(assignment: Assignment, came: dt.datetime) -> int:
    """Minutes late arriving at ``came`` (0 within the grace)."""
    late = max(0, int((came - assignment.starts_at).total_seconds() // 60))
    return late if late > LATE_GRACE_MINUTES else 0


LATE_RECORD_DAYS = 7  # a forgotten sign-in may be recorded by the chief for this long after the shift


def record_missed(assignment: Assignment, user: User, came: dt.datetime, left: dt.datetime, reason: str,
                  nonce: str) -> AttendanceEvent:
    """补登: the chief records a shift worked without signing in (a phone out of battery at 3 a.m.),
    with when the person came and left and why, once the shift has begun. Lateness and service
    hours are counted as for a sign-in at those times; the record says who made it (recorded_by)
    and the reason is audited. A retry with the same nonce returns the first sign-in."""
    existing = AttendanceEvent.objects.filter(assignment=assignment, nonce=f"{nonce}-in").first()
    if existing:
        return existing
    now = timezone.now()
    problems = []
    if not reason.strip():
        problems.append("请填写补登原因（如：手机没电未能签到）")
    if assignment.attendance.exists():
        problems.append(f"{assignment.staff.name} 本班已有签到记录，不能补登")
    if now < assignment.starts_at:
        problems.append("班次尚未开始，不能补登")
    if now > assignment.ends_at + dt.timedelta(days=LATE_RECORD_DAYS):
        problems.append(f"只能补登 {LATE_RECORD_DAYS} 天内的班次")
    if not assignment.starts_at - dt.timedelta(minutes=CLOCK_IN_EARLY_MINUTES) <= came <= assignment.ends_at:
        problems.append(f"到岗时间应在班次时间内（{timezone.localtime(assignment.starts_at):%m-%d %H:%M}–"
                        f"{timezone.localtime(assignment.ends_at):%H:%M}）")
    if not came < left <= min(now, assignment.ends_at + dt.timedelta(hours=12)):
        problems.append("离岗时间应晚于到岗时间，且不晚于现在")
    if problems:
        raise RosterServiceError.every("record_missed", problems)
    late = _late_minutes(assignment, came)
    try:
        with transaction.atomic():
            first = _record_clock(assignment, user, AttendanceEvent.Action.IN, f"{nonce}-in", came, late, {})
            _record_clock(assignment, user, AttendanceEvent.Action.OUT, f"{nonce}-out", left, 0, {"in": first})
            AuditEvent.objects.create(user=user, action=AuditEvent.Action.CHANGE, object_type="roster_attendance",
                                      object_id=str(assignment.pk), reason=reason.strip()[:100],
                                      detail={"missed": [came.isoformat(), left.isoformat()]})
    except IntegrityError:  # a concurrent retry, or a sign-in meanwhile
        raise RosterServiceError("record_missed", f"{assignment.staff.name} 本班已有签到记录，不能补登") from None
    return first


def _record_clock(assignment: Assignment, user: User, action: str, nonce: str, now: dt.datetime, late: int,
                  done: dict[str, AttendanceEvent]) -> AttendanceEvent:
    event = AttendanceEvent.objects.create(assignment=assignment, action=action, at=now, late_minutes=late,
                                           recorded_by=user, nonce=nonce)
    if action == AttendanceEvent.Action.OUT:
        # Service hours: the time on duty within the shift (arriving early and staying on are thanked,
        # not counted).
        worked = int((min(now, assignment.ends_at) - max(done["in"].at, assignment.starts_at)).total_seconds() // 60)
        team = Team.objects.filter(memberships__staff=assignment.staff).order_by("pk").first()
        ServiceHours.objects.create(staff=assignment.staff, team=team, assignment=assignment,
                                    date=assignment.date, minutes=max(0, worked), note=assignment.gate.name)
    return event


@dataclass
class AttendanceRow:
    assignment: Assignment
    state: str  # upcoming / on_duty / late / absent / done
    label: str
    clock_in: dt.datetime | None
    clock_out: dt.datetime | None
    late_minutes: int
    can_clock_in: bool = False  # within the window clock() accepts
    can_clock_out: bool = False
    left_early_minutes: int = 0  # signed out this long before the shift's end (beyond the grace)
    early_if_out_now: int = 0  # signing out now would be this early (beyond the grace): asked to confirm

    @property
    def early_if_out_now_zh(self) -> str:
        return minutes_zh(self.early_if_out_now)

    @property
    def flagged(self) -> bool:
        """Late, absent or gone early: for the chief's counts and the next morning's briefing."""
        return self.state in ("late", "absent") or self.late_minutes > 0 or self.left_early_minutes > 0


def on_leave(assignments: Iterable[Assignment]) -> dict[int, str]:
    """Shifts (by pk) whose person has since been recorded unavailable that day (leave, illness),
    with the reason: the roster still has them there until someone swaps or covers, so the chief's
    board and briefing must say so rather than expect them."""
    shifts = list(assignments)
    if not shifts:
        return {}
    came = set(AttendanceEvent.objects.filter(assignment__in=shifts, action="in").values_list("assignment_id", flat=True))
    shifts = [a for a in shifts if a.pk not in came]  # they came after all: nobody to cover
    if not shifts:
        return {}
    days = [a.date for a in shifts]
    leave = Unavailability.objects.filter(staff_id__in={a.staff_id for a in shifts}, date_from__lte=max(days),
                                          date_to__gte=min(days))
    by_staff: dict[int, list[Assignment]] = defaultdict(list)
    for a in shifts:
        by_staff[a.staff_id].append(a)
    out: dict[int, str] = {}
    for u in leave:
        for a in by_staff[u.staff_id]:
            if u.date_from <= a.date <= u.date_to and u.shift_code in ("", a.shift_code):
                out[a.pk] = u.reason or "不可排班"
    return out


def attendance(assignments: Iterable[Assignment], now: dt.datetime | None = None) -> list[AttendanceRow]:
    now = now or timezone.now()
    rows = []
    assignments = list(assignments)
    away = on_leave(assignments)
    for a in assignments:
        events = {e.action: e for e in a.attendance.all()}
        cin, cout = events.get("in"), events.get("out")
        early = max(0, int((a.ends_at - cout.at).total_seconds() // 60)) if cout else 0
        early = early if early > LATE_GRACE_MINUTES else 0
        if cout:  # what happened on arrival and departure stays visible after signing out
            state, label = "done", "已签退" + "".join(
                ([f"，迟到 {minutes_zh(cin.late_minutes)}"] if cin and cin.late_minutes else [])
                + ([f"，早退 {minutes_zh(early)}"] if early else []))
        elif cin and cin.late_minutes:
            state, label = "late", f"迟到 {minutes_zh(cin.late_minutes)}"
        elif cin:
            state, label = "on_duty", "在岗"
        elif a.pk in away:
            state, label = "leave", f"已请假（{away[a.pk]}），需安排顶岗"
        elif now > a.starts_at + dt.timedelta(minutes=ABSENT_AFTER_MINUTES):
            state, label = "absent", "缺勤" if now > a.ends_at else "未到岗"
        elif now > a.starts_at + dt.timedelta(minutes=LATE_GRACE_MINUTES):
            state, label = "late", "已过开始时间未签到"
        else:
            state, label = "upcoming", "待上岗"
        rows.append(AttendanceRow(
            a, state, label, cin.at if cin else None, cout.at if cout else None, cin.late_minutes if cin else 0,
            can_clock_in=cin is None and a.starts_at - dt.timedelta(minutes=CLOCK_IN_EARLY_MINUTES) <= now <= a.ends_at,
            can_clock_out=cin is not None and cout is None and now >= a.starts_at, left_early_minutes=early,
            early_if_out_now=max(0, int((a.ends_at - now).total_seconds() // 60)) if cin and not cout
            and a.ends_at - now > dt.timedelta(minutes=LATE_GRACE_MINUTES) else 0))
    return rows
