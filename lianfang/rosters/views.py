"""Roster pages: rosters (build, solve with progress, publish, per gate and per person, print and
export), my shifts on the phone (clock in/out, swaps), swap approval, attendance, staff, teams and
their public sign-up page, demand per gate, and the morning briefing."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lianfang.accounts.models import User
from lianfang.checkpoints.models import Gate
from lianfang.core.access import denied
from lianfang.core.http import AuthedRequest, xlsx_response
from lianfang.core.models import AuditEvent, Village
from lianfang.rosters import access, briefing, exports, services
from lianfang.rosters.models import (
    MAX_ROSTER_DAYS,
    Assignment,
    DemandRule,
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
    requirement_choices,
    requirement_label,
    requirement_short_label,
)


def _error(request: HttpRequest, exc: services.RosterServiceError) -> None:
    messages.error(request, exc.message)


def _int(value: Any, default: int = 0) -> int:
    """A number from a form field; ``default`` (0 matches no row) when it is not one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _date(request: HttpRequest, default: dt.date) -> dt.date:
    """The ``date`` of the query string, within a year of ``default``; else ``default``, saying so
    when a date was asked for (a mistyped link must not pass for the day asked). A file (PDF) has
    no page to say it on: it is named by the day it shows."""
    value = request.GET.get("date")
    if not value:
        return default
    say = request.GET.get("format") != "pdf"
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        if say:
            messages.warning(request, f"日期「{value[:20]}」无法识别（应为 2022-12-01 这样的格式），已显示 {default:%m月%d日}")
        return default
    if abs((day - default).days) > 366:
        if say:
            messages.warning(request, f"日期 {day:%Y年%m月%d日} 超出前后一年的范围，已显示 {default:%m月%d日}")
        return default
    return day


# --- rosters ---------------------------------------------------------------------------------

PEOPLE_SHIFT_DAYS = 7  # of their people's shifts on the roster home of a cadre or team leader
TWIN_SECONDS = 30  # a team of the same name made this recently: a form sent twice, answered with that team
LEDGER_ROWS = 60  # latest service-hours entries on a person's page
SWAP_DAYS_AROUND = 7  # colleagues' shifts offered for an exchange: within this many days of one's own
SWAP_SHIFTS_LISTED = 2000  # at most (a bound on the page's size, far above a gate's fortnight)


@login_required
@require_GET
def home(request: AuthedRequest) -> HttpResponse:
    user = request.user
    rosters = access.rosters_for_user(user).annotate(gate_count=Count("gates", distinct=True))
    if user.role in ("volunteer", "gate_staff") and StaffMember.objects.filter(user=user).exists():
        return redirect("my_shifts")  # people on duty start from their own shifts
    gate = Gate.objects.filter(pk=user.scope_gate_id).first() if user.scope_gate_id else None
    pending_swaps = access.swaps_to_decide(user).count()
    today = timezone.localdate()
    people_shifts: list[dict[str, Any]] | None = None
    if not access.may_view_all(user) and not user.scope_gate_id:
        # A cadre or a team leader sees no roster, but where their own people are on duty in the
        # days ahead: a day, then one line per shift and gate with the people on it.
        by_day: dict[dt.date, dict[tuple[dt.datetime, str, str], list[StaffMember]]] = defaultdict(dict)
        for a in (Assignment.objects.filter(
                staff__in=access.staff_for_user(user), roster__status=Roster.Status.PUBLISHED,
                ends_at__gt=timezone.now(),  # from the shifts under way (this morning's night shift is over)
                date__lt=today + dt.timedelta(days=PEOPLE_SHIFT_DAYS)).select_related("staff", "gate")
                .order_by("date", "starts_at", "gate_id", "staff__name")[:1000]):
            by_day[a.date].setdefault((a.starts_at, a.shift_name, a.gate.name), []).append(a.staff)
        people_shifts = [{"date": day, "lines": [{"starts_at": at, "shift": shift, "gate": gate, "people": people}
                                                 for (at, shift, gate), people in lines.items()]}
                         for day, lines in by_day.items()]
    return render(request, "rosters/home.html", {
        "people_shifts": people_shifts, "people_shift_days": PEOPLE_SHIFT_DAYS,
        "rosters": rosters, "may_manage": access.may_manage_rosters(user), "gate": gate,
        "pending_swaps": pending_swaps, "today": today,
        "staff_count": access.staff_for_user(user).filter(active=True).count(),
        "team_count": access.teams_for_user(user).count(),
        "gates": access.gates_for_user(user).order_by("pk")[:200]})


@login_required
@require_http_methods(["GET", "POST"])
def roster_new(request: AuthedRequest) -> HttpResponse:
    user = request.user
    if not access.may_manage_rosters(user):
        raise PermissionDenied("只有指挥部可以编排排班表")
    gates = access.gates_for_user(user).order_by("pk")
    with_demand = set(DemandRule.objects.filter(gate__in=gates).values_list("gate_id", flat=True))
    today = timezone.localdate()
    covered = services.published_until(gates, since=today)
    # A gate has one published roster a day: a new roster starts on the first day a gate with
    # demand has none, with the gates free that day (others are published further ahead).
    tomorrow = today + dt.timedelta(days=1)
    free_from = {g: max(tomorrow, covered[g] + dt.timedelta(days=1)) if g in covered else tomorrow for g in with_demand}
    start_at = min(free_from.values(), default=tomorrow)
    ticked = {g for g, free in free_from.items() if free <= start_at}
    zones = {g.zone.name if g.zone is not None else "" for g in gates.select_related("zone") if g.pk in ticked}
    zone = f"{zones.pop()} " if len(zones) == 1 and "" not in zones else ""  # one zone's rosters read apart in the list
    form: dict[str, Any] = {"name": f"{zone}{start_at:%m月%d日}起排班", "start_date": start_at.isoformat(), "days": 28,
                            "time_limit_s": 60, "min_rest_hours": 8, "gates": ticked}
    errors: list[str] = []
    planned: list[str] = []  # unpublished rosters of the suggested gates and days: open one rather than plan twice
    if request.method == "GET" and ticked and user.scope_subdistrict is not None:
        planned = services.rosters_at_gates(user.scope_subdistrict.pk, {g.pk: g.name for g in gates if g.pk in ticked},
                                              start_at, start_at + dt.timedelta(days=form["days"] - 1), published=False)
    if request.method == "POST":
        form = {"name": request.POST.get("name", "").strip(), "start_date": request.POST.get("start_date", ""),
                "days": _int(request.POST.get("days")), "time_limit_s": _int(request.POST.get("time_limit_s")),
                "min_rest_hours": _int(request.POST.get("min_rest_hours"), -1),
                "gates": {g for g in (_int(x) for x in request.POST.getlist("gates")) if g}}
        start = None
        try:
            start = dt.date.fromisoformat(form["start_date"])
            if abs((start - today).days) > 366:
                errors.append("开始日期应在一年之内")
                start = None
        except ValueError:
            errors.append("请填写开始日期")
        if not form["name"]:
            errors.append("请填写名称")
        if not form["days"] or not 1 <= form["days"] <= MAX_ROSTER_DAYS:
            errors.append(f"天数应在 1 到 {MAX_ROSTER_DAYS} 天之间")
        if not form["time_limit_s"] or not 5 <= form["time_limit_s"] <= 600:
            errors.append("求解时限应在 5 到 600 秒之间")
        if not 0 <= form["min_rest_hours"] <= 24:
            errors.append("最少休息应在 0 到 24 小时之间")
        chosen = list(gates.filter(pk__in=form["gates"]))
        if not chosen:
            errors.append("请至少选择一个卡口")
        no_demand = [g.name for g in chosen if g.pk not in with_demand]
        if no_demand:
            errors.append(f"以下卡口还没有人力需求，请先录入：{'、'.join(no_demand)}")
        if not errors and start is not None and user.scope_subdistrict is not None:
            taken = services.rosters_at_gates(user.scope_subdistrict.pk, {g.pk: g.name for g in chosen}, start,
                                                start + dt.timedelta(days=form["days"] - 1))
            if taken:
                errors.append("同一卡口同一天只能有一份已发布的排班表：" + "；".join(taken)
                              + "。请把开始日期改到其后，或不选这些卡口")
        if not errors and start is not None and user.scope_subdistrict is not None:
            with transaction.atomic():
                roster = Roster.objects.create(subdistrict=user.scope_subdistrict, name=form["name"][:60],
                                               start_date=start, days=form["days"], time_limit_s=form["time_limit_s"],
                                               min_rest_hours=form["min_rest_hours"], created_by=user)
                roster.gates.set(chosen)
            gaps = [f"{g.name}（{covered[g.pk] + dt.timedelta(days=1):%m-%d} 至 {start - dt.timedelta(days=1):%m-%d}）"
                    for g in chosen if g.pk in covered and covered[g.pk] + dt.timedelta(days=1) < start]
            if gaps:
                messages.warning(request, "注意：以下卡口在本表开始前有几天没有已发布的排班：" + "、".join(gaps))
            drafts = services.rosters_at_gates(user.scope_subdistrict.pk, {g.pk: g.name for g in chosen}, start,
                                                 roster.end_date, exclude=roster.pk, published=False)
            if drafts:  # allowed (only one can be published), but likely a plan made twice
                messages.warning(request, "注意：" + "；".join(drafts) + "。两份只能发布其一，多余的请删除")
            return redirect("roster_detail", roster.pk)
    return render(request, "rosters/roster_new.html", {"form": form, "errors": errors, "gates": gates, "planned": planned,
                                                        "with_demand": with_demand,
                                                        "gate_rows": [(g, covered.get(g.pk)) for g in gates]})


def _grid(roster: Roster, gate: Gate, assignments: list[Assignment]) -> dict[str, Any]:
    shifts = services.pattern_for(gate).shifts
    cells: dict[tuple[dt.date, str], list[Assignment]] = defaultdict(list)
    for a in assignments:
        if a.gate_id == gate.pk:
            cells[(a.date, a.shift_code)].append(a)
    short: dict[tuple[str, str], int] = defaultdict(int)
    short_of: dict[tuple[str, str], list[str]] = defaultdict(list)  # e.g. 缺交警 1 (the total may be met)
    for s in roster.shortfalls:
        if s.get("gate_id") != gate.pk:
            continue
        if s.get("skill"):
            short_of[(s["date"], s["shift"])].append(f"缺{requirement_short_label(s['skill'])} {s['missing']}")
        else:
            short[(s["date"], s["shift"])] += s["missing"]
    away = services.on_leave(a for crew in cells.values() for a in crew) if roster.status == Roster.Status.PUBLISHED else {}
    rows = []
    for day in roster.dates():
        rows.append({"date": day, "weekend": day.weekday() >= 5, "cells": [
            {"people": cells.get((day, sh["code"]), []), "short": short.get((day.isoformat(), sh["name"]), 0),
             "short_of": short_of.get((day.isoformat(), sh["name"]), [])}
            for sh in shifts]})
    return {"gate": gate, "shifts": [{**sh, "label": services.shift_label(sh)} for sh in shifts], "rows": rows,
            "away": away}


@login_required
@require_GET
def roster_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    user = request.user
    roster = access.get_roster_for_user(user, pk)
    gate_ids = access.visible_gate_ids(user, roster)
    gates = list(Gate.objects.filter(pk__in=gate_ids).order_by("pk"))
    gate = next((g for g in gates if g.pk == _int(request.GET.get("gate"))), gates[0] if gates else None)
    assignments = list(roster.assignments.filter(gate=gate).select_related("staff")) if gate else []
    per_day: dict[dt.date, int] = defaultdict(int)
    for a in roster.assignments.filter(gate_id__in=gate_ids).values("date").annotate(n=Count("pk")):
        per_day[a["date"]] = a["n"]
    short_day: dict[str, int] = defaultdict(int)
    short_skill_day: dict[str, int] = defaultdict(int)
    for s in roster.shortfalls:
        if s.get("gate_id") in gate_ids:
            (short_skill_day if s.get("skill") else short_day)[s["date"]] += s["missing"]
    chart = {"dates": [f"{d:%m-%d}" for d in roster.dates()], "assigned": [per_day[d] for d in roster.dates()],
             "short": [short_day[d.isoformat()] for d in roster.dates()],
             "short_skill": [short_skill_day[d.isoformat()] for d in roster.dates()]}
    shortfalls = [{**s, "skill": requirement_label(s["skill"]) if s.get("skill") else ""} for s in roster.shortfalls
                  if s.get("gate_id") in gate_ids]
    first_to_end = max(timezone.localdate(), roster.start_date) + dt.timedelta(days=1)  # the first day it may stop
    parts = {"cover_under": "缺员（含缺类别/技能）", "cover_over": "超员", "requests": "未满足的意愿",
             "fairness": "夜班/周末超出均摊", "continuity": "跨卡口调配"}
    return render(request, "rosters/roster_detail.html", {
        "full_view": len(gate_ids) == roster.gates.count(),
        "breakdown": [(label, roster.breakdown.get(key, 0)) for key, label in parts.items()],
        "roster": roster, "gates": gates, "gate": gate, "grid": _grid(roster, gate, assignments) if gate else None,
        "may_manage": access.may_manage_rosters(user), "progress": services.read_progress(roster),
        "gate_clashes": services.gate_overlaps(roster) if roster.status != Roster.Status.PUBLISHED else [],
        "may_end_early": roster.status == Roster.Status.PUBLISHED and roster.end_date >= first_to_end,
        "tomorrow": first_to_end,
        # after an early end, until another roster staffs its gates from the next day: the next step
        "follow_from": roster.end_date + dt.timedelta(days=1),
        "needs_follow_up": bool(roster.ended_early_at) and access.may_manage_rosters(user) and bool(
            services.unstaffed_on(roster.gates.all(), max(roster.end_date + dt.timedelta(days=1), first_to_end))),
        "end_typed": {"from": request.GET.get("end_from", ""), "reason": request.GET.get("end_reason", "")[:200]},
        "chart": chart, "shortfalls": shortfalls[:300], "shortfall_count": len(shortfalls),
        "missing_total": sum(s["missing"] for s in shortfalls if not s["skill"]),
        "missing_skill": sum(s["missing"] for s in shortfalls if s["skill"]),  # within a total that may be met
        "staff_count": roster.assignments.values("staff").distinct().count()})


@login_required
@require_GET
def roster_progress(request: AuthedRequest, pk: int) -> HttpResponse:
    roster = access.get_roster_for_user(request.user, pk)
    response = render(request, "rosters/_progress.html", {"roster": roster, "progress": services.read_progress(roster)})
    if roster.status != Roster.Status.SOLVING:
        response["HX-Refresh"] = "true"  # the result is in: show the whole page
    return response


def _managed_roster(request: AuthedRequest, pk: int, doing: str) -> Roster:
    """The roster, for the command centre only (others who may see it get a 403 saying who may)."""
    roster = access.get_roster_for_user(request.user, pk)
    if not access.may_manage_rosters(request.user):
        raise PermissionDenied(f"只有指挥部可以{doing}排班表")
    return roster


@login_required
@require_POST
def roster_solve(request: AuthedRequest, pk: int) -> HttpResponse:
    roster = _managed_roster(request, pk, "求解")
    try:
        services.request_solve(roster, request.user)
    except services.RosterServiceError as exc:
        _error(request, exc)
    return redirect("roster_detail", roster.pk)


@login_required
@require_POST
def roster_publish(request: AuthedRequest, pk: int) -> HttpResponse:
    roster = _managed_roster(request, pk, "发布")
    try:
        services.publish(roster, request.user)
        messages.success(request, "排班表已发布，值守人员可以在手机上看到自己的班次")
    except services.RosterServiceError as exc:
        _error(request, exc)
    return redirect("roster_detail", roster.pk)


@login_required
@require_POST
def roster_delete(request: AuthedRequest, pk: int) -> HttpResponse:
    roster = _managed_roster(request, pk, "删除")
    try:
        services.delete_roster(roster, request.user)
    except services.RosterServiceError as exc:
        _error(request, exc)
        return redirect("roster_detail", roster.pk)
    messages.success(request, f"已删除「{roster.name}」")
    return redirect("roster_home")


@login_required
@require_POST
def roster_end_early(request: AuthedRequest, pk: int) -> HttpResponse:
    roster = _managed_roster(request, pk, "提前结束")
    try:
        try:
            first = dt.date.fromisoformat(request.POST.get("from_date", ""))
        except ValueError:
            raise services.RosterServiceError("end_date", "请选择从哪一天起停用") from None
        removed, voided = services.end_early(roster, first, request.user, request.POST.get("reason", ""))
        swaps = f"，{voided} 份待处理的换班申请已作废" if voided else ""
        messages.success(request, f"已从 {first:%m月%d日} 起停用本表，删除 {removed} 个班次{swaps}。"
                                  "请新建排班表，从该日接续（值守人员的手机上会看到班次已取消）")
    except services.RosterServiceError as exc:
        _error(request, exc)  # back to the form, open, with what was typed
        typed = urlencode({"end_from": request.POST.get("from_date", ""), "end_reason": request.POST.get("reason", "")})
        return redirect(f"{reverse('roster_detail', args=[roster.pk])}?{typed}")  # the error shows at the top
    return redirect("roster_detail", roster.pk)


def _export_gates(request: AuthedRequest, roster: Roster) -> list[Gate]:
    ids = access.visible_gate_ids(request.user, roster)
    wanted = _int(request.GET.get("gate"))
    if wanted:
        if wanted not in ids:  # not on this roster, or not theirs: not an empty file that reads as "nobody on duty"
            raise denied(request.user, "gate", wanted)
        ids = [wanted]
    return list(Gate.objects.filter(pk__in=ids).order_by("pk"))


def _suffix(gates: list[Gate]) -> str:
    return f"-gate{gates[0].pk}" if len(gates) == 1 else ""


def _audit_export(request: AuthedRequest, roster: Roster, fmt: str, gates: list[Gate], phones: bool = False) -> None:
    AuditEvent.objects.create(user=request.user, action=AuditEvent.Action.EXPORT, object_type="roster",
                              object_id=str(roster.pk), fields="phone" if phones else "",
                              reason="值班通讯录" if phones else "", detail={"format": fmt, "gates": [g.pk for g in gates]},
                              ip=request.META.get("REMOTE_ADDR"))


@login_required
@require_GET
def roster_pdf(request: AuthedRequest, pk: int) -> HttpResponse:
    roster = access.get_roster_for_user(request.user, pk)
    gates = _export_gates(request, roster)
    grids = [_grid(roster, g, list(roster.assignments.filter(gate=g).select_related("staff"))) for g in gates]
    data = exports.pdf("rosters/print_roster.html", {"roster": roster, "grids": grids, "printed_at": timezone.now()})
    _audit_export(request, roster, "pdf", gates)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="roster-{roster.pk}{_suffix(gates)}.pdf"'
    return response


@login_required
@require_GET
def roster_xlsx(request: AuthedRequest, pk: int) -> HttpResponse:
    roster = access.get_roster_for_user(request.user, pk)
    gates = _export_gates(request, roster)
    phones = access.may_see_contacts(request.user)
    data = exports.roster_xlsx(roster, gates, with_phones=phones)
    _audit_export(request, roster, "xlsx", gates, phones)
    return xlsx_response(data, f"roster-{roster.pk}{_suffix(gates)}.xlsx")


@login_required
@require_GET
def roster_ics(request: AuthedRequest, pk: int) -> HttpResponse:
    roster = access.get_roster_for_user(request.user, pk)
    gates = _export_gates(request, roster)
    qs = roster.assignments.filter(gate__in=gates).select_related("staff", "gate")
    _audit_export(request, roster, "ics", gates)
    response = HttpResponse(exports.ical(qs, f"{roster.name}"), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="roster-{roster.pk}{_suffix(gates)}.ics"'
    return response


@login_required
@require_GET
def roster_person(request: AuthedRequest, pk: int, staff_pk: int) -> HttpResponse:
    roster = access.get_roster_for_user(request.user, pk)
    staff = access.get_staff_for_user(request.user, staff_pk)
    shifts = roster.assignments.filter(staff=staff, gate_id__in=access.visible_gate_ids(request.user, roster)
                                       ).select_related("gate")
    return render(request, "rosters/person.html", {"roster": roster, "staff": staff, "shifts": shifts,
                                                   "minutes": sum((a.ends_at - a.starts_at).seconds // 60 for a in shifts)})


# --- my shifts (the phone of the person on duty) ----------------------------------------------

def _my_staff(request: AuthedRequest) -> StaffMember:
    staff = StaffMember.objects.filter(user=request.user).first()
    if staff is None:
        if access.may_decide_any_swap(request.user):  # a chief or the command centre: point to their own pages
            raise PermissionDenied("「我的班次」是值守人员本人的页面，您的账号没有关联值守人员档案。"
                                   "查看班表请进入「排班」，审批换班请进入「换班审批」。")
        raise PermissionDenied("您的账号没有关联值守人员档案，请联系卡口长或指挥部")
    return staff


@login_required
@require_GET
def my_shifts(request: AuthedRequest) -> HttpResponse:
    staff = _my_staff(request)
    now = timezone.now()
    mine = list(Assignment.objects.filter(staff=staff, roster__status=Roster.Status.PUBLISHED,
                                          ends_at__gte=now - dt.timedelta(hours=12))
                .select_related("gate", "roster").prefetch_related("attendance").order_by("starts_at")[:60])
    rows = services.attendance(mine, now)
    upcoming = [a for a in mine if a.starts_at > now]
    people, shifts = services.swap_choices(staff)
    colleagues = people.order_by("name")
    # Colleagues' shifts within a week of one of theirs (the form lists, by default, three days
    # around the one given away): a month of a gate's shifts must not be cut at an arbitrary count.
    near = {a.date + dt.timedelta(days=k) for a in upcoming for k in range(-SWAP_DAYS_AROUND, SWAP_DAYS_AROUND + 1)}
    partner_shifts = shifts.filter(date__in=near).select_related("staff", "gate").order_by("starts_at")[:SWAP_SHIFTS_LISTED]
    swaps = SwapRequest.objects.filter(Q(requester=staff) | (Q(partner=staff) & ~SwapRequest.never_sent())).select_related(
        "give__gate", "take__gate", "partner", "requester")[:20]
    to_answer = access.swaps_to_answer(request.user).select_related("requester")
    swapping = {pk for s in SwapRequest.objects.filter(Q(give__in=mine) | Q(take__in=mine), status__in=SwapRequest.OPEN_STATUSES)
                for pk in (s.give_id, s.take_id)}  # my shifts with a request open on them
    hours = ServiceHours.objects.filter(staff=staff).aggregate(m=Sum("minutes"))["m"] or 0
    cancelled = services.cancelled_shifts(staff)
    reasons = {c.reason for c in cancelled}
    return render(request, "rosters/my_shifts.html", {
        "cancelled": cancelled, "cancelled_reason": reasons.pop() if len(reasons) == 1 else "",  # said once
        "staff": staff, "rows": rows, "upcoming": upcoming, "colleagues": colleagues, "partner_shifts": partner_shifts,
        "swaps": swaps, "to_answer": to_answer, "swapping": swapping, "hours": round(hours / 60, 1),
        "nonce": uuid.uuid4().hex, "now": now})


@login_required
@require_GET
def my_shifts_ics(request: AuthedRequest) -> HttpResponse:
    staff = _my_staff(request)
    qs = Assignment.objects.filter(staff=staff, roster__status=Roster.Status.PUBLISHED).select_related("gate", "staff")
    response = HttpResponse(exports.ical(qs, f"{staff.name}的班次", with_person=False,
                                         cancelled=services.cancelled_shifts(staff)),
                            content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="my-shifts.ics"'
    return response


@login_required
@require_POST
def clock(request: AuthedRequest, pk: int) -> HttpResponse:
    assignment = access.get_assignment_for_attendance(request.user, pk)
    action = request.POST.get("action", "")
    try:
        event = services.clock(assignment, request.user, action, request.POST.get("nonce") or uuid.uuid4().hex)
        note = f"（迟到 {services.minutes_zh(event.late_minutes)}）" if event.late_minutes else ""
        messages.success(request, f"{assignment.staff.name} {event.get_action_display()}成功 "
                                  f"{timezone.localtime(event.at):%H:%M}{note}")
    except services.RosterServiceError as exc:
        _error(request, exc)
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return redirect(target)
    return redirect("my_shifts")


@login_required
@require_POST
def record_missed(request: AuthedRequest, pk: int) -> HttpResponse:
    """补登 by the chief of the gate or the command centre (not by the person themselves)."""
    assignment = access.get_assignment_for_attendance(request.user, pk)
    if not (request.user.is_command or access.chief_gate_id(request.user) == assignment.gate_id):
        raise PermissionDenied("只有本卡口卡口长或指挥部可以补登考勤")
    day = assignment.date
    try:
        came = timezone.make_aware(dt.datetime.combine(day, dt.time.fromisoformat(request.POST.get("came", ""))))
        left = timezone.make_aware(dt.datetime.combine(day, dt.time.fromisoformat(request.POST.get("left", ""))))
        if came < assignment.starts_at - dt.timedelta(hours=12):  # a night shift's times run past midnight
            came += dt.timedelta(days=1)
        if left <= came:
            left += dt.timedelta(days=1)
        services.record_missed(assignment, request.user, came, left, request.POST.get("reason", ""),
                               request.POST.get("nonce") or uuid.uuid4().hex)
        messages.success(request, f"已为 {assignment.staff.name} 补登 {came:%H:%M}–{timezone.localtime(left):%H:%M}"
                                  "（计入服务时长）")
    except ValueError:
        messages.error(request, "请填写到岗和离岗时间（如 08:05）")
    except services.RosterServiceError as exc:
        _error(request, exc)
    return redirect(f"{reverse('attendance_board')}?gate={assignment.gate_id}&date={day.isoformat()}")


@login_required
@require_POST
def swap_request(request: AuthedRequest) -> HttpResponse:
    staff = _my_staff(request)
    nonce = request.POST.get("nonce") or uuid.uuid4().hex
    earlier = SwapRequest.objects.filter(requester=staff, nonce=nonce).first()
    if earlier is not None:  # the same form sent again (a retry, or the back button): say where it stands
        messages.info(request, f"这份换班申请此前已提交：{earlier.summary}，现在{earlier.status_label}")
        return redirect("my_shifts")
    give = Assignment.objects.filter(pk=_int(request.POST.get("give")), staff=staff).select_related("roster").first()
    take_value = request.POST.get("take", "")
    people, shifts = services.swap_choices(staff)
    take = None
    partner = None
    if take_value.startswith("a"):  # exchange with this shift of a colleague
        take = shifts.filter(pk=_int(take_value[1:])).select_related("staff").first()
        partner = take.staff if take else None
        chosen = people.filter(pk=_int(request.POST.get("partner"))).first()
        if take is not None and chosen is not None and chosen.pk != take.staff_id:
            messages.error(request, f"请只选一种：互换 {take.staff.name} 的班次，或请 {chosen.name} 代班")
            return redirect("my_shifts")
    else:  # hand over to this colleague
        partner = people.filter(pk=_int(request.POST.get("partner"))).first()
    if give is None or partner is None:
        messages.error(request, "请选择要让出的班次，以及换班的对方（或对方的班次）")
        return redirect("my_shifts")
    try:
        swap = services.request_swap(staff, give, partner, take, reason=request.POST.get("reason", ""),
                                     nonce=nonce, user=request.user)
    except services.RosterServiceError as exc:
        _error(request, exc)
        return redirect("my_shifts")
    if swap.status == SwapRequest.Status.REFUSED:
        messages.error(request, "换班不符合排班规则，系统未发出（对方和卡口长不会收到）：" + "；".join(swap.problems))
    elif swap.status == SwapRequest.Status.PARTNER:
        messages.success(request, f"换班申请已提交，等待 {swap.partner.name} 确认，再由卡口长审批")
    else:
        messages.success(request, "换班申请已提交，等待卡口长审批（对方没有账号，由卡口长与对方确认）")
    return redirect("my_shifts")


@login_required
@require_POST
def swap_answer(request: AuthedRequest, pk: int) -> HttpResponse:
    swap = access.get_swap_for_partner(request.user, pk)
    try:
        swap = services.answer_swap(swap, request.user, request.POST.get("answer") == "accept")
    except services.RosterServiceError as exc:
        _error(request, exc)
        return redirect("my_shifts")
    if swap.status == SwapRequest.Status.REFUSED:
        messages.error(request, "班表已变化，换班不再符合排班规则：" + "；".join(swap.problems))
    elif swap.status == SwapRequest.Status.PENDING:
        messages.success(request, f"已同意与 {swap.requester.name} 换班，等待卡口长审批")
    else:
        messages.success(request, f"已谢绝 {swap.requester.name} 的换班申请")
    return redirect("my_shifts")


@login_required
@require_POST
def swap_withdraw(request: AuthedRequest, pk: int) -> HttpResponse:
    swap = access.get_swap_for_requester(request.user, pk)
    try:
        swap = services.withdraw_swap(swap, request.user)
    except services.RosterServiceError as exc:
        _error(request, exc)
        return redirect("my_shifts")
    messages.success(request, f"已撤回换班申请：{swap.summary}")
    return redirect("my_shifts")


@login_required
@require_http_methods(["GET", "POST"])
def swap_list(request: AuthedRequest) -> HttpResponse:
    user = request.user
    swaps = access.swaps_for_user(user).select_related("give__gate", "take__gate", "partner", "requester", "roster")
    if request.method == "POST":
        swap = get_object_or_404(swaps, pk=_int(request.POST.get("swap")))
        if not access.may_decide_swap(user, swap):
            raise PermissionDenied("只有该卡口的卡口长或指挥部可以审批换班")
        try:
            swap = services.decide_swap(swap, user, request.POST.get("decision") == "approve",
                                        note=request.POST.get("note", ""))
            if swap.status == SwapRequest.Status.REFUSED:
                messages.error(request, "复核未通过，已退回：" + "；".join(swap.problems))
            else:
                messages.success(request, f"{swap.get_status_display()}：{swap.summary}")
        except services.RosterServiceError as exc:
            _error(request, exc)
        return redirect("swap_list")
    pending = list(swaps.filter(access.not_begun_swaps(), status=SwapRequest.Status.PENDING))
    for s in pending:
        s.may_decide = access.may_decide_swap(user, s)  # type: ignore[attr-defined]
    return render(request, "rosters/swaps.html", {
        "pending": pending, "with_partner": swaps.filter(access.not_begun_swaps(), status=SwapRequest.Status.PARTNER),
        # answered, decided, withdrawn, and the ones still waiting whose shift has begun (shown as lapsed)
        # latest first by when they were closed (decided, answered or withdrawn; lapsed: when asked)
        "recent": swaps.exclude(access.not_begun_swaps(), status__in=SwapRequest.OPEN_STATUSES).exclude(
            SwapRequest.never_sent()).annotate(
            closed_at=Coalesce("decided_at", "partner_answered_at", "created_at")).order_by("-closed_at", "-pk")[:50],
        "may_decide_any": access.may_decide_any_swap(user)})


@login_required
@require_GET
def attendance_board(request: AuthedRequest) -> HttpResponse:
    user = request.user
    gates = access.gates_for_user(user).order_by("pk")
    asked = _int(request.GET.get("gate"))
    if asked and not gates.filter(pk=asked).exists():
        raise denied(user, "gate", asked)
    gate = gates.filter(pk=asked).first() or gates.filter(
        pk=user.scope_gate_id or 0).first() or gates.filter(assignments__roster__status=Roster.Status.PUBLISHED).first()
    if gate is None:
        raise PermissionDenied("您没有可查看考勤的卡口")
    day = _date(request, timezone.localdate())
    qs = (Assignment.objects.filter(gate=gate, date=day, roster__status=Roster.Status.PUBLISHED)
          .select_related("staff").prefetch_related("attendance").order_by("starts_at", "staff__name"))
    rows = services.attendance(qs)
    # The tiles add up to those expected (待上岗 + 在岗 + 已签退 + 未到岗); lateness is counted apart,
    # as "of whom late", since a late arrival is also on duty or signed out.
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        counts["done" if r.clock_out else "on_duty" if r.clock_in else r.state if r.state in ("upcoming", "leave")
               else "absent"] += 1
        if r.late_minutes:
            counts["late"] += 1
    return render(request, "rosters/attendance.html", {
        "gate": gate, "gates": gates if access.may_view_all(user) else [], "day": day, "rows": rows,
        "counts": dict(counts), "may_clock": user.is_command or access.chief_gate_id(user) == gate.pk,
        "nonce": uuid.uuid4().hex,
        "prev": day - dt.timedelta(days=1), "next": day + dt.timedelta(days=1)})


# --- staff -----------------------------------------------------------------------------------

@login_required
@require_http_methods(["GET", "POST"])
def staff_list(request: AuthedRequest) -> HttpResponse:
    user = request.user
    qs = access.staff_for_user(user).select_related("home_village").prefetch_related("gates")
    kind = request.GET.get("kind", "")
    if kind in Kind.values:
        qs = qs.filter(kind=kind)
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(name__contains=q)
    may_add = bool(user.is_command or user.role == "cadre")
    villages = Village.objects.filter(subdistrict_id=user.scope_subdistrict_id or 0).order_by("code")
    if user.role == "cadre":
        villages = villages.filter(pk=user.scope_village_id or 0)
    gates = access.gates_for_user(user) if user.is_command else Gate.objects.none()
    # a cadre registers people of their own village: it is chosen for them
    form: dict[str, Any] = {"name": "", "kind": Kind.VOLUNTEER, "phone": "", "skills": set(), "gates": set(),
                            "home_village": villages[0].pk if user.role == "cadre" and len(villages) == 1 else 0,
                            "max_week_hours": 48, "max_consecutive_days": 6}
    errors: list[str] = []
    if request.method == "POST":
        if not may_add:
            raise PermissionDenied("您的角色不能登记值守人员")
        form = {"name": request.POST.get("name", ""), "kind": request.POST.get("kind", ""),
                "phone": request.POST.get("phone", ""), "skills": set(request.POST.getlist("skills")),
                "gates": {g for g in (_int(x) for x in request.POST.getlist("gates")) if g},
                "home_village": _int(request.POST.get("home_village")),
                "max_week_hours": _int(request.POST.get("max_week_hours", 48), -1),
                "max_consecutive_days": _int(request.POST.get("max_consecutive_days", 6), -1)}
        village = villages.filter(pk=form["home_village"]).first()
        assert user.scope_subdistrict is not None  # staff_for_user would have shown nothing
        if user.role == "cadre" and village is None:  # said with the fields' own problems, all at once
            errors = ["请选择所属村/社区"] + [message for _code, message in services.staff_problems(
                user.scope_subdistrict, name=form["name"], kind=form["kind"], phone=form["phone"],
                max_week_hours=form["max_week_hours"], max_consecutive_days=form["max_consecutive_days"])]
        else:
            try:
                staff = services.create_staff(
                    user.scope_subdistrict, name=form["name"], kind=form["kind"], skills=form["skills"],
                    phone=form["phone"], home_village=village, gates=gates.filter(pk__in=form["gates"]),
                    max_week_hours=form["max_week_hours"], max_consecutive_days=form["max_consecutive_days"])
            except services.RosterServiceError as exc:  # every problem of the fields at once
                errors.extend(exc.errors)
            else:
                messages.success(request, f"已登记 {staff.name}")
                return redirect("staff_detail", staff.pk)
    counts = dict(StaffMember.objects.filter(pk__in=access.staff_for_user(user).values("pk")).order_by()
                  .values_list("kind").annotate(n=Count("pk")).values_list("kind", "n"))
    return render(request, "rosters/staff_list.html", {
        "staff": qs.order_by("kind", "pk")[:500], "kinds": Kind.choices, "skills": Skill.choices, "kind": kind,
        "q": q, "may_add": may_add, "villages": villages, "gates": gates.order_by("pk"),
        "counts": [(label, counts.get(value, 0)) for value, label in Kind.choices], "form": form, "errors": errors},
        status=400 if errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def staff_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    user = request.user
    staff = access.get_staff_for_user(user, pk)
    may_edit = access.may_edit_staff(user, staff) or staff.user_id == user.pk
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied("您不能修改此人员")
        what = request.POST.get("what")
        try:
            if what == "unavailable":
                start = dt.date.fromisoformat(request.POST.get("date_from", ""))
                end = dt.date.fromisoformat(request.POST.get("date_to") or request.POST.get("date_from", ""))
                if end < start:
                    raise services.RosterServiceError("unavailable_dates", "结束日期不能早于开始日期")
                today = timezone.localdate()
                if end < today - dt.timedelta(days=31) or start > today + dt.timedelta(days=366):
                    raise services.RosterServiceError("unavailable_dates", "不可排班时段应在近一个月到一年之内，请检查年份")
                if (end - start).days > 366:
                    raise services.RosterServiceError("unavailable_dates", "不可排班时段最长一年，请分段登记")
                code = request.POST.get("shift_code", "")[:8]
                Unavailability.objects.create(staff=staff, date_from=start, date_to=end, shift_code=code,
                                              reason=request.POST.get("reason", "")[:100])
                messages.success(request, "已登记不可排班时段（下次求解时生效）")
                clashes = Assignment.objects.filter(staff=staff, roster__status=Roster.Status.PUBLISHED, date__gte=start,
                                                    date__lte=end).select_related("gate")
                if code:
                    clashes = clashes.filter(shift_code=code)
                if clashes:
                    messages.warning(request, "已发布的排班中此期间仍有班次，请安排换班或代班："
                                     + "；".join(f"{a.date:%m月%d日} {a.shift_name} {a.gate.name}" for a in clashes[:10]))
            elif what == "request":
                day = dt.date.fromisoformat(request.POST.get("date", ""))
                ShiftRequest.objects.update_or_create(
                    staff=staff, date=day, shift_code=request.POST.get("shift_code", "")[:8],
                    defaults={"on": request.POST.get("on") == "1", "note": request.POST.get("note", "")[:100]})
                messages.success(request, "已登记排班意愿（下次求解时考虑）")
            elif what == "delete_unavailable":
                Unavailability.objects.filter(staff=staff, pk=_int(request.POST.get("id"))).delete()
            elif what == "active" and access.may_edit_staff(user, staff):
                staff.active = request.POST.get("active") == "1"
                staff.save(update_fields=["active"])
        except ValueError:
            messages.error(request, "请填写正确的日期")
        except services.RosterServiceError as exc:
            _error(request, exc)
        return redirect("staff_detail", staff.pk)
    hours = ServiceHours.objects.filter(staff=staff).aggregate(m=Sum("minutes"))["m"] or 0
    phone = staff.phone_masked
    if access.may_see_contacts(user) and staff.phone_cipher:
        phone = staff.phone_number()  # the command centre and the gate chief call people in; audited
        AuditEvent.objects.create(user=user, action=AuditEvent.Action.REVEAL, object_type="roster_staff",
                                  object_id=str(staff.pk), fields="phone", reason="值班联系",
                                  ip=request.META.get("REMOTE_ADDR"))
    upcoming = (Assignment.objects.filter(staff=staff, roster__status=Roster.Status.PUBLISHED,
                                          date__gte=timezone.localdate()).select_related("gate")[:14])
    names = services.shift_names(staff.subdistrict_id)  # leave and requests name a shift by its code
    ledger = (ServiceHours.objects.filter(staff=staff).select_related("assignment__gate", "team")
              .order_by("-date", "-pk")[:LEDGER_ROWS])
    return render(request, "rosters/staff_detail.html", {
        "ledger": ledger, "ledger_rows": LEDGER_ROWS,
        "staff": staff, "may_edit": may_edit,
        "unavailable": [(u, names.get(u.shift_code, u.shift_code) or "全天")
                        for u in staff.unavailable.order_by("-date_from")[:30]],
        "requests": [(r, names.get(r.shift_code, r.shift_code) or "任意班次")
                     for r in staff.shift_requests.order_by("-date")[:30]], "hours": round(hours / 60, 1),
        "away": services.on_leave(upcoming),
        "teams": Team.objects.filter(memberships__staff=staff), "upcoming": upcoming,
        "openable_teams": set(access.teams_for_user(user).values_list("pk", flat=True)), "phone": phone})


# --- teams and sign-up -----------------------------------------------------------------------

@login_required
@require_http_methods(["GET", "POST"])
def team_list(request: AuthedRequest) -> HttpResponse:
    user = request.user
    may_create = access.may_create_team(user)
    villages = Village.objects.filter(subdistrict_id=user.scope_subdistrict_id or 0).order_by("code")
    if not user.is_command:
        villages = villages.filter(pk=user.scope_village_id or 0)
    leaders = User.objects.filter(scope_subdistrict_id=user.scope_subdistrict_id or 0, is_active=True).order_by("username")
    if not user.is_command:  # a cadre leads the teams they set up (the form offers no one else)
        leaders = leaders.filter(pk=user.pk)
    gates = access.gates_for_user(user).order_by("pk") if user.is_command else Gate.objects.none()
    form: dict[str, Any] = {"kind": Team.TeamKind.VILLAGE if not user.is_command else Team.TeamKind.SQUAD,
                            "village": villages[0].pk if not user.is_command and villages else 0}
    errors: list[str] = []
    if request.method == "POST":
        if not may_create:
            raise PermissionDenied("只有指挥部或村干部可以新建队伍")
        form = {"name": request.POST.get("name", ""), "kind": request.POST.get("kind", ""),
                "village": _int(request.POST.get("village")), "duty": request.POST.get("duty", ""),
                "leader": _int(request.POST.get("leader")), "gate": _int(request.POST.get("gate"))}
        village = villages.filter(pk=form["village"]).first()
        if not user.is_command and (village is None or form["kind"] not in (Team.TeamKind.VILLAGE,)):
            errors.append("村干部只能为本村新建村志愿者队（分组在队伍页面里添加）")
        elif form["kind"] == Team.TeamKind.GROUP:
            errors.append("分组请在所属队伍的页面里添加")
        gate = gates.filter(pk=form["gate"]).first() if form["kind"] == Team.TeamKind.GATE else None  # gate teams only
        if form["kind"] == Team.TeamKind.GATE and gate is None:
            errors.append("卡口班组请选择所属卡口")
        if not errors:
            assert user.scope_subdistrict is not None
            try:
                team = services.create_team(user.scope_subdistrict, user, name=form["name"], kind=form["kind"],
                                            village=village, duty=form["duty"], gate=gate,
                                            leader=leaders.filter(pk=form["leader"]).first())
            except services.RosterServiceError as exc:
                twin = Team.objects.filter(subdistrict=user.scope_subdistrict, parent=None, name=form["name"].strip(),
                                           created_at__gte=timezone.now() - dt.timedelta(seconds=TWIN_SECONDS)).first()
                if exc.code == "team_twin" and twin is not None:  # the same form sent twice (a double tap): show the one made
                    messages.info(request, f"「{twin.name}」刚刚已新建，这是它的页面")
                    return redirect("team_detail", twin.pk)
                errors.extend(exc.errors)
            else:
                messages.success(request, f"已新建「{team.name}」：可在此添加队员、分组，或把报名链接发到群里")
                return redirect("team_detail", team.pk)
    teams = (access.teams_for_user(user).select_related("parent", "village", "leader")
             .annotate(members=Count("memberships", distinct=True),
                       pending=Count("signups", filter=Q(signups__status=SignUp.Status.PENDING), distinct=True))
             .order_by(Coalesce("parent_id", "pk"), F("parent_id").asc(nulls_first=True), "pk"))  # groups under their squad
    kinds = [(v, label) for v, label in Team.TeamKind.choices if v != Team.TeamKind.GROUP
             and (user.is_command or v == Team.TeamKind.VILLAGE)]
    return render(request, "rosters/team_list.html", {
        "teams": teams, "may_create": may_create, "kinds": kinds, "villages": villages,
        "leaders": leaders, "gates": gates, "form": form, "errors": errors},
        status=400 if errors else 200)


def _left_zh(groups: list[str]) -> str:
    """The groups a person left on joining another of the squad's: said, as the move is silent otherwise."""
    return f"（已离开「{'、'.join(groups)}」）" if groups else ""


@login_required
@require_http_methods(["GET", "POST"])
def team_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    user = request.user
    team = access.get_team_for_user(user, pk)
    may_lead = access.may_lead_team(user, team)
    if request.method == "POST":
        if not may_lead:
            raise PermissionDenied("只有队长、本村干部或指挥部可以管理队伍")
        what = request.POST.get("what", "signup")
        try:
            if what == "signup":
                signup = get_object_or_404(SignUp, pk=_int(request.POST.get("signup")), team=team)
                signup, left = services.decide_signup(signup, user, request.POST.get("decision") == "approve")
                messages.success(request, f"{signup.name}：{signup.get_status_display()}{_left_zh(left)}")
            elif what in ("add", "move"):  # someone they may see, into this team or one of its groups
                staff = access.get_staff_for_user(user, _int(request.POST.get("staff")))
                into = team if what == "add" else get_object_or_404(Team, pk=_int(request.POST.get("group")), parent=team)
                left = services.add_member(into, staff, user)
                messages.success(request, f"已将 {staff.name} 加入「{into.name}」{_left_zh(left)}")
            elif what == "remove":
                member = get_object_or_404(TeamMembership, team=team, staff_id=_int(request.POST.get("staff")))
                services.remove_member(team, member.staff, user)
                messages.success(request, f"已将 {member.staff.name} 移出「{team.name}」")
            elif what == "leader":
                member = get_object_or_404(TeamMembership, team=team, staff_id=_int(request.POST.get("staff")))
                services.change_team(team, user, leader=(member, request.POST.get("leader") == "1"))
                messages.success(request, f"已{'设' if request.POST.get('leader') == '1' else '取消'} {member.staff.name} "
                                          f"为「{team.name}」的{'组长' if team.parent_id else '队长'}")
            elif what == "group" and team.parent_id is not None:
                raise services.RosterServiceError("team_fields", "分组下不再分组：请在上级队伍的页面里添加分组")
            elif what == "group":
                assert user.scope_subdistrict is not None
                group = services.create_team(user.scope_subdistrict, user, name=request.POST.get("name", ""),
                                             kind=Team.TeamKind.GROUP, parent=team, duty=request.POST.get("duty", ""))
                messages.success(request, f"已添加分组「{group.name}」")
            elif what == "signup_open":
                services.change_team(team, user, signup_open=request.POST.get("open") == "1")
                team.refresh_from_db()
                messages.success(request, "已开放报名" if team.signup_open else "已暂停报名（报名链接显示“该队伍暂停报名”）")
        except services.RosterServiceError as exc:
            _error(request, exc)
        back = reverse("team_detail", args=[team.pk])
        if what == "add" and request.POST.get("find"):  # keep the search, to add the next one
            back += "?" + urlencode({"find": request.POST.get("find", "")[:20]})
        return redirect(back)
    found: list[StaffMember] = []
    find = request.GET.get("find", "").strip()[:20]
    if may_lead and find:  # people to add: by name, among those this user may see
        found = list(access.staff_for_user(user).filter(name__contains=find, active=True)
                     .exclude(memberships__team=team).select_related("home_village").order_by("name")[:20])
    hours = services.team_hours(team)
    group_of = dict(TeamMembership.objects.filter(team__parent=team).values_list("staff_id", "team_id"))  # a squad's
    group_names = dict(team.groups.values_list("pk", "name"))
    members = [{"m": m, "hours": round(hours.get(m.staff_id, 0) / 60, 1), "group": group_of.get(m.staff_id),
                "group_name": group_names.get(group_of.get(m.staff_id, 0), "")}
               for m in TeamMembership.objects.filter(team=team).select_related("staff", "staff__home_village")]
    join_url = request.build_absolute_uri(reverse("team_join", args=[team.signup_token]))
    import segno

    qr = segno.make(join_url, error="m").svg_inline(scale=4)
    return render(request, "rosters/team_detail.html", {
        "team": team, "may_lead": may_lead, "members": members, "groups": team.groups.annotate(n=Count("memberships")),
        "pending": [(s, services.signup_clash(s)) for s in team.signups.filter(status=SignUp.Status.PENDING)
                    .select_related("village", "team")] if may_lead else [],
        "find": find, "found": found, "subgroups": list(team.groups.order_by("pk")) if may_lead else [],
        "total_hours": round(sum(hours.values()) / 60, 1), "join_url": join_url, "qr": qr})


@require_http_methods(["GET", "POST"])
def team_join(request: HttpRequest, token: str) -> HttpResponse:
    """The public sign-up page of a team (no login): a QR code in the village's WeChat group."""
    team = get_object_or_404(Team, signup_token=token)
    villages = Village.objects.filter(subdistrict=team.subdistrict).order_by("code")
    done = None
    error = None
    form: dict[str, Any] = {"nonce": uuid.uuid4().hex, "kind": Kind.VOLUNTEER}
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in ("name", "phone", "kind", "note", "nonce", "village")}
        form["skills"] = request.POST.getlist("skills")
        try:
            done, _created = services.sign_up(
                team, name=form["name"], phone=form["phone"], kind=form["kind"] or Kind.VOLUNTEER,
                skills=form["skills"], village=villages.filter(pk=_int(form["village"])).first(), note=form["note"],
                nonce=form["nonce"] or uuid.uuid4().hex)
        except services.RosterServiceError as exc:
            error = exc.message
    return render(request, "rosters/join.html", {"team": team, "villages": villages, "kinds": Kind.choices,
                                                 "skills": Skill.choices, "form": form, "done": done, "error": error})


# --- demand per gate -------------------------------------------------------------------------

@login_required
@require_http_methods(["GET", "POST"])
def gate_demand(request: AuthedRequest, gate_pk: int) -> HttpResponse:
    user = request.user
    gate = access.gates_for_user(user).filter(pk=gate_pk).first()
    if gate is None:
        raise denied(user, "gate", gate_pk)
    may_edit = bool(user.is_command or access.chief_gate_id(user) == gate.pk)
    patterns = ShiftPattern.objects.filter(subdistrict_id=gate.subdistrict_id)
    typed: dict[str, Any] = {"required": 1, "weekdays": []}  # the add form, kept when a row is refused
    refused = False
    add_error = ""
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied("只有指挥部或本卡口卡口长可以修改人力需求")
        what = request.POST.get("what")
        try:
            if what == "pattern":
                pattern = patterns.filter(pk=_int(request.POST.get("pattern"))).first()
                if pattern is None:
                    raise services.RosterServiceError("pattern", "请选择班次模式")
                services.set_pattern(gate, pattern)
                messages.success(request, f"已改为{pattern.name}")
            elif what == "planning":
                created = services.demand_from_planning(gate)
                messages.success(request, f"已按通道测算生成 {len(created)} 条需求")
                manual = DemandRule.objects.filter(gate=gate, source=DemandRule.Source.MANUAL, skill="",
                                                   shift_code__in=[r.shift_code for r in created])
                if manual.exists():
                    messages.warning(request, "同一班次还有手工录入的“任何人”需求，两者会相加；如重复请删除手工的一条")
            elif what == "delete":
                DemandRule.objects.filter(gate=gate, pk=_int(request.POST.get("id"))).delete()
            else:
                services.add_demand(gate, shift_code=request.POST.get("shift_code", ""),
                                    required=_int(request.POST.get("required")) or 0,
                                    skill=request.POST.get("skill", ""), lane_id=_int(request.POST.get("lane")),
                                    weekdays=[_int(x, -1) for x in request.POST.getlist("weekdays")],
                                    note=request.POST.get("note", ""))
                messages.success(request, "已添加需求")
                beyond = services.demand_beyond_total(gate, request.POST.get("shift_code", ""))
                if beyond:
                    messages.warning(request, beyond)
        except services.RosterServiceError as exc:
            refused = what not in ("pattern", "planning", "delete")
            if not refused:
                _error(request, exc)
            else:  # said at the form, at the foot of a long page, not at its top
                add_error = exc.message
                typed = {"shift_code": request.POST.get("shift_code", ""), "skill": request.POST.get("skill", ""),
                         "required": request.POST.get("required", ""), "lane": _int(request.POST.get("lane")),
                         "weekdays": [_int(x, -1) for x in request.POST.getlist("weekdays")],
                         "note": request.POST.get("note", "")}
        if not refused:
            return redirect("gate_demand", gate.pk)
    services.ensure_patterns(gate.subdistrict)
    pattern = services.pattern_for(gate)
    shift_names = {s["code"]: services.shift_label(s) for s in pattern.shifts}
    rules: list[dict[str, Any]] = [{"r": r, "skill": requirement_label(r.skill),
                                    "shift": shift_names.get(r.shift_code, r.shift_code),
              "days": "每天" if not r.weekdays else "、".join("一二三四五六日"[d] for d in r.weekdays)}
             for r in DemandRule.objects.filter(gate=gate).select_related("lane")]
    return render(request, "rosters/demand.html", {
        "gate": gate, "pattern": pattern, "patterns": patterns, "rules": rules, "may_edit": may_edit,
        "shifts": [{**s, "label": services.shift_label(s)} for s in pattern.shifts], "lanes": gate.lanes.all(),
        "skill_choices": requirement_choices(), "planning": gate.demands.all(), "typed": typed,
        "add_error": add_error}, status=400 if refused else 200)


# --- the morning briefing --------------------------------------------------------------------

@login_required
@require_GET
def briefing_page(request: AuthedRequest, gate_pk: int) -> HttpResponse:
    user = request.user
    gate = access.gates_for_user(user).filter(pk=gate_pk).first()
    if gate is None:
        raise denied(user, "gate", gate_pk)
    day = _date(request, timezone.localdate())
    context = {"b": briefing.build(gate, day), "gate": gate, "day": day,
               "prev": day - dt.timedelta(days=1), "next": day + dt.timedelta(days=1)}
    if request.GET.get("format") == "pdf":
        data = exports.pdf("rosters/print_briefing.html", context)
        response = HttpResponse(data, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="briefing-{gate.pk}-{day}.pdf"'
        return response
    return render(request, "rosters/briefing.html", context)
