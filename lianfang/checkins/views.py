"""Roll-call pages: the board, a group's round (links, paste, settle, phone answers), the member's
reply page (no login, a signed link), anomalies, notices and questions."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lianfang.accounts.roles import Role
from lianfang.checkins import access, services
from lianfang.checkins.models import Anomaly, GroupMember, Notice, PendingEntry, Question, Reply
from lianfang.core.http import AuthedRequest
from lianfang.engines import protocol


def _may_lead(user: Any) -> bool:
    return bool(user.is_command or user.role in {Role.CADRE, Role.GRID_WORKER, Role.GROUP_LEADER})


@login_required
@require_GET
def board(request: AuthedRequest) -> HttpResponse:
    groups = access.groups_for_user(request.user)
    if not groups.exists() and request.user.role not in access.ROLES:
        raise PermissionDenied("您的角色不参与接龙")
    day = timezone.localdate()
    rows = services.board(groups.select_related("village"), day)
    by_village: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in rows:
        v = by_village[(r.group.village.name, r.group.village_id)]
        v[0] += r.members
        v[1] += r.answered
        v[2] += r.proxy
    villages = [{"name": name, "pk": pk, "members": v[0], "answered": v[1], "proxy": v[2],
                 "rate": round(100 * v[1] / v[0], 1) if v[0] else 0} for (name, pk), v in sorted(by_village.items())]
    total = sum(r.members for r in rows)
    # Many groups (the command centre's 33): one village's at a time, or the ones answering least first.
    village_id = int(request.GET["village"]) if request.GET.get("village", "").isdigit() else None
    shown = [r for r in rows if village_id is None or r.group.village_id == village_id]
    if village_id is None and len(villages) > 1:
        shown.sort(key=lambda r: (r.rate, r.group.name))
    answered = sum(r.answered for r in rows)
    anomalies = Anomaly.objects.filter(reply__round__group__in=groups, outcome=Anomaly.Outcome.OPEN).select_related(
        "reply__member", "reply__round__group")
    questions = Question.objects.filter(member__group__in=groups, answered_at__isnull=True).select_related(
        "member__group")
    answered_q = Question.objects.filter(member__group__in=groups, answered_at__isnull=False).select_related(
        "member__group").order_by("-answered_at")[:10]
    return render(request, "checkins/board.html", {
        "rows": shown, "village_id": village_id, "villages": villages, "total": total, "answered": answered,
        "rate": round(100 * answered / total, 1) if total else 0, "proxy": sum(r.proxy for r in rows),
        "anomalies": anomalies, "questions": questions, "answered_questions": answered_q, "day": day,
        "now": timezone.now(),
        "chart": {"names": [v["name"] for v in villages], "rates": [v["rate"] for v in villages]}})


@login_required
@require_http_methods(["GET", "POST"])
def group_round(request: AuthedRequest, pk: int) -> HttpResponse:
    user = request.user
    group = access.get_group_for_user(user, pk)
    rnd = services.open_round(group)
    if request.method == "POST":
        if not _may_lead(user):
            raise PermissionDenied("只有小组长、网格员或村干部可以登记接龙")
        action = request.POST.get("action")
        try:
            if action == "paste":
                result = services.paste_chain(rnd, request.POST.get("text", ""), user)
                messages.success(request, f"识别 {result.entries} 条：新增 {result.added} 条，已有 {result.already} 条，"
                                          f"待确认 {len([p for p in result.pending if not p.settled_at])} 条")
            elif action == "settle":
                pending = get_object_or_404(PendingEntry, pk=request.POST.get("pending") or 0, round=rnd)
                chosen = request.POST.get("member", "")
                if chosen == "dismiss":  # someone not of this group (a neighbour's relative, a wrong chain)
                    services.dismiss(pending)
                    messages.success(request, f"第 {pending.number} 条已标为不是本群成员，不登记")
                elif not chosen:
                    raise services.CheckinError("settle_member", "请选择这条接龙是哪位成员的，或选“不是本群成员”")
                else:
                    member = get_object_or_404(GroupMember, pk=chosen if chosen.isdigit() else 0, group=group)
                    services.settle(pending, member, user)
                    messages.success(request, f"已确认为 {member.display_name}")
            elif action == "phone":
                member = get_object_or_404(GroupMember, pk=request.POST.get("member") or 0, group=group)
                at_home = request.POST.get("at_home")
                services.record_reply(rnd, member, status=request.POST.get("status", ""), text=request.POST.get("text", ""),
                                      at_home=int(at_home) if at_home else None, via=Reply.Via.PHONE, user=user,
                                      nonce=request.POST.get("nonce") or uuid.uuid4().hex)
                messages.success(request, f"已记录 {member.display_name} 的电话答复")
        except services.CheckinError as exc:
            messages.error(request, exc.message)
        except ValueError:
            messages.error(request, "在家人数须为数字")
        return redirect("checkin_group", pk=group.pk)
    latest = services.latest_replies(rnd)
    members = []
    for m in group.members.filter(active=True).select_related("person", "helper"):
        members.append({"m": m, "reply": latest.get(m.pk),
                        "link": request.build_absolute_uri(reverse("checkin_reply", args=[services.member_link(m, rnd)])),
                        "proxy_link": request.build_absolute_uri(
                            reverse("checkin_reply", args=[services.member_link(m, rnd, proxy=True)])) if m.helper_id else ""})
    notice_text = services.notice_text(rnd.notice, group) if rnd.notice else ""
    return render(request, "checkins/group.html", {
        "group": group, "round": rnd, "members": members, "answered": len(latest),
        "pending": rnd.pending.filter(settled_at__isnull=True).prefetch_related("candidates"),
        "statuses": Reply.Status.choices, "notice_text": notice_text, "may_lead": _may_lead(user),
        "nonce": uuid.uuid4().hex})


@require_http_methods(["GET", "POST"])
def reply(request: HttpRequest, token: str) -> HttpResponse:
    """The member's page: no login, a link signed for this member and this round."""
    try:
        target = services.read_link(token)
    except services.CheckinError as exc:
        return render(request, "checkins/reply.html", {"error": exc.message}, status=400)
    member, rnd = target.member, target.round
    done = None
    error = ""
    if request.method == "POST":
        try:
            if request.POST.get("question"):
                services.ask(member, request.POST.get("question", ""))
                messages.success(request, "问题已送达联村干部，会尽快一对一答复")
            else:
                at_home = request.POST.get("at_home")
                done, _ = services.record_reply(
                    rnd, member, status=request.POST.get("status", ""), text=request.POST.get("text", ""),
                    at_home=int(at_home) if at_home else None,
                    via=Reply.Via.PROXY if target.proxy else Reply.Via.LINK, nonce=request.POST.get("nonce") or "")
        except services.CheckinError as exc:
            error = exc.message
        except ValueError:
            error = "在家人数须为数字"
    latest = services.latest_replies(rnd).get(member.pk)
    answers = Question.objects.filter(member=member, answered_at__isnull=False).order_by("-answered_at")[:3]
    return render(request, "checkins/reply.html", {
        "member": member, "round": rnd, "proxy": target.proxy, "done": done or latest, "error": error,
        "statuses": Reply.Status.choices, "nonce": uuid.uuid4().hex, "answers": answers,
        "household": member.household_id is not None}, status=400 if error else 200)


@login_required
@require_http_methods(["GET", "POST"])
def anomaly(request: AuthedRequest, pk: int) -> HttpResponse:
    user = request.user
    item = get_object_or_404(Anomaly.objects.select_related("reply__member__person", "reply__round__group"), pk=pk,
                             reply__round__group__in=access.groups_for_user(user))
    if request.method == "POST":
        if not _may_lead(user):
            raise PermissionDenied("只有村干部或网格员可以登记核实结果")
        try:
            services.follow_up(item, user, request.POST.get("outcome", ""), request.POST.get("note", ""),
                               subject_name=request.POST.get("subject_name", ""),
                               subject_id=request.POST.get("subject_id", ""),
                               category=request.POST.get("category") or "high_risk_arrival")
            messages.success(request, "已记录核实结果" + ("，已转入重点人员流程" if item.case_id else ""))
            return redirect("checkin_board")
        except services.CheckinError as exc:
            messages.error(request, exc.message)
            # what was typed comes back as it was: never a fresh form that defaults to "no risk"
            return render(request, "checkins/anomaly.html", {
                "item": item, "outcomes": Anomaly.Outcome.choices[1:], "form": request.POST,
                "categories": ANOMALY_CATEGORIES, "category": request.POST.get("category", "")}, status=400)
    category = "fever" if item.reply.status == Reply.Status.SYMPTOM else "high_risk_arrival"  # what the reply reported
    return render(request, "checkins/anomaly.html", {"item": item, "outcomes": Anomaly.Outcome.choices[1:],
                                                     "form": {}, "categories": ANOMALY_CATEGORIES, "category": category})


ANOMALY_CATEGORIES = [(k, protocol.CATEGORIES[k]) for k in ("high_risk_arrival", "medium_risk_arrival",
                                                              "close_contact", "fever")]


@login_required
@require_http_methods(["GET", "POST"])
def notices(request: AuthedRequest) -> HttpResponse:
    user = request.user
    if user.scope_subdistrict_id is None:
        raise PermissionDenied("您的账号没有所属街道")
    sub_id: int = user.scope_subdistrict_id
    if request.method == "POST":
        if not user.is_command:
            raise PermissionDenied("只有指挥部可以发布通知")
        title, body = request.POST.get("title", "").strip(), request.POST.get("body", "").strip()
        if title and body:
            Notice.objects.create(subdistrict_id=sub_id, title=title[:100], body=body, created_by=user)
            messages.success(request, "通知已发布：各群下一轮接龙将以此开头")
            return redirect("checkin_notices")
        messages.error(request, "请填写标题和内容")
    items = Notice.objects.filter(subdistrict_id=sub_id)[:20]
    prefill = ""
    q = request.GET.get("from_question", "")
    if q.isdigit():
        question = Question.objects.filter(pk=int(q), member__group__in=access.groups_for_user(user)).first()
        if question:
            prefill = f"问：{question.text}\n答：{question.answer}"
    return render(request, "checkins/notices.html", {"items": items, "prefill": prefill})


@login_required
@require_POST
def answer_question(request: AuthedRequest, pk: int) -> HttpResponse:
    question = get_object_or_404(Question, pk=pk, member__group__in=access.groups_for_user(request.user))
    if not _may_lead(request.user):
        raise PermissionDenied("只有联村干部可以答复")
    try:
        services.answer(question, request.user, request.POST.get("answer", ""))
        messages.success(request, "已答复")
    except services.CheckinError as exc:
        messages.error(request, exc.message)
    return redirect("checkin_board")

