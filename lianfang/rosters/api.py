"""The roster API: rosters and their shifts (per the same access rules as the pages), my shifts,
clocking in and out (with a nonce, so a retried request never records twice), swap requests, and my
shifts taken away when a roster ended early."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from ninja import Router, Schema

from lianfang.core.http import AuthedRequest
from lianfang.core.services import RegisterError
from lianfang.rosters import access, services
from lianfang.rosters.models import Assignment, Roster, StaffMember

router = Router(tags=["rosters"])


class ShiftOut(Schema):
    id: int
    roster_id: int
    date: dt.date
    gate_id: int
    gate: str
    shift_code: str
    shift_name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    staff_id: int
    staff: str
    kind: str

    @staticmethod
    def resolve_gate(obj: Assignment) -> str:
        return obj.gate.name

    @staticmethod
    def resolve_staff(obj: Assignment) -> str:
        return obj.staff.name

    @staticmethod
    def resolve_kind(obj: Assignment) -> str:
        return obj.staff.kind


class RosterOut(Schema):
    id: int
    name: str
    start_date: dt.date
    days: int
    status: str
    solver_status: str
    objective: int | None
    bound: int | None
    gate_ids: list[int]
    shortfalls: list[dict[str, Any]]

    @staticmethod
    def resolve_gate_ids(obj: Roster) -> list[int]:
        return list(getattr(obj, "visible_gates", []))


class ClockIn(Schema):
    action: str
    nonce: str


class ClockOut(Schema):
    id: int
    action: str
    at: dt.datetime
    late_minutes: int


class SwapIn(Schema):
    give_id: int
    partner_id: int | None = None
    take_id: int | None = None
    reason: str = ""
    nonce: str


class SwapOut(Schema):
    id: int
    status: str
    status_label: str  # Chinese, "已过期（班次已开始）" for a request still waiting whose shift has begun
    expired: bool
    problems: list[str]
    summary: str


class SwapAnswerIn(Schema):
    accept: bool


def _error(exc: services.RosterServiceError) -> RegisterError:
    return RegisterError(exc.code, exc.message)  # the API's error handler answers 400 {code, message}


def _scoped(request: AuthedRequest, roster: Roster) -> Roster:
    """What of a roster this user sees: a gate chief only their gate's shortfalls, no totals."""
    all_gates = [g.pk for g in roster.gates.all()]
    visible = all_gates if access.may_view_all(request.user) else [g for g in all_gates if g == request.user.scope_gate_id]
    roster.shortfalls = [s for s in roster.shortfalls if s.get("gate_id") in visible]
    if len(visible) < len(all_gates):
        roster.objective = roster.bound = None
    roster.visible_gates = visible  # type: ignore[attr-defined]
    return roster


@router.get("/", response=list[RosterOut])
def list_rosters(request: AuthedRequest) -> Any:
    return [_scoped(request, r) for r in access.rosters_for_user(request.user).prefetch_related("gates")[:100]]


@router.get("/mine", response=list[ShiftOut])
def my_shifts(request: AuthedRequest, days: int = 14) -> Any:
    staff = StaffMember.objects.filter(user=request.user).first()
    if staff is None:
        return []
    now = timezone.now()
    return (services.shifts_ahead(staff, now).filter(starts_at__lte=now + dt.timedelta(days=max(1, min(days, 60))))
            .select_related("gate", "staff"))


class CancelledShiftOut(Schema):
    date: dt.date
    shift_name: str
    gate_name: str
    starts_at: dt.datetime
    reason: str


@router.get("/mine/cancelled", response=list[CancelledShiftOut])
def my_cancelled_shifts(request: AuthedRequest) -> Any:
    """My shifts still ahead that were taken away when their roster ended early (with the reason)."""
    staff = StaffMember.objects.filter(user=request.user).first()
    if staff is None:
        return []
    return services.cancelled_shifts(staff)


@router.get("/{int:roster_id}", response=RosterOut)
def get_roster(request: AuthedRequest, roster_id: int) -> Any:
    roster = Roster.objects.prefetch_related("gates").get(pk=access.get_roster_for_user(request.user, roster_id).pk)
    return _scoped(request, roster)


@router.get("/{int:roster_id}/shifts", response=list[ShiftOut])
def roster_shifts(request: AuthedRequest, roster_id: int, date: dt.date | None = None) -> Any:
    roster = access.get_roster_for_user(request.user, roster_id)
    qs = roster.assignments.filter(gate_id__in=access.visible_gate_ids(request.user, roster)).select_related("gate", "staff")
    return qs.filter(date=date) if date else qs


@router.post("/shifts/{assignment_id}/clock", response={200: ClockOut, 400: dict[str, str]})
def clock(request: AuthedRequest, assignment_id: int, payload: ClockIn) -> Any:
    assignment = access.get_assignment_for_attendance(request.user, assignment_id)
    try:
        return services.clock(assignment, request.user, payload.action, payload.nonce)
    except services.RosterServiceError as exc:
        raise _error(exc) from exc


@router.post("/swaps", response={200: SwapOut, 400: dict[str, str]})
def request_swap(request: AuthedRequest, payload: SwapIn) -> Any:
    staff = StaffMember.objects.filter(user=request.user).first()
    if staff is None:
        raise RegisterError("swap_input", "您的账号没有关联值守人员档案")
    people, shifts = services.swap_choices(staff)
    give = Assignment.objects.filter(pk=payload.give_id, staff=staff).select_related("roster", "gate").first()
    take = shifts.filter(pk=payload.take_id).select_related("staff", "gate").first() if payload.take_id else None
    partner = take.staff if take else people.filter(pk=payload.partner_id or 0).first()
    if give is None or partner is None or (payload.take_id and take is None):
        raise RegisterError("swap_input", "请给出自己的班次（give_id），以及本卡口的对方（partner_id）或对方的班次（take_id）")
    try:
        return services.request_swap(staff, give, partner, take, reason=payload.reason, nonce=payload.nonce,
                                     user=request.user)
    except services.RosterServiceError as exc:
        raise _error(exc) from exc


@router.get("/swaps/to-answer", response=list[SwapOut])
def swaps_to_answer(request: AuthedRequest) -> Any:
    """Swap requests waiting for this user's answer as the partner."""
    return access.swaps_to_answer(request.user).select_related("give", "take")


@router.get("/swaps/mine", response=list[SwapOut])
def my_swaps(request: AuthedRequest) -> Any:
    """This user's latest swap requests, made or asked to take part in (with their ids, to withdraw one)."""
    return access.own_swaps(request.user).select_related("give", "take")[:50]


@router.post("/swaps/{swap_id}/answer", response={200: SwapOut, 400: dict[str, str]})
def answer_swap(request: AuthedRequest, swap_id: int, payload: SwapAnswerIn) -> Any:
    """The partner's answer (repeating it is refused: the request is no longer waiting)."""
    swap = access.get_swap_for_partner(request.user, swap_id)
    try:
        return services.answer_swap(swap, request.user, payload.accept)
    except services.RosterServiceError as exc:
        raise _error(exc) from exc


@router.post("/swaps/{swap_id}/withdraw", response={200: SwapOut, 400: dict[str, str]})
def withdraw_swap(request: AuthedRequest, swap_id: int) -> Any:
    """The requester takes back a request still waiting (withdrawing twice is refused)."""
    swap = access.get_swap_for_requester(request.user, swap_id)
    try:
        return services.withdraw_swap(swap, request.user)
    except services.RosterServiceError as exc:
        raise _error(exc) from exc
