"""Pages of the key-person pipeline. Thin: access helpers choose the rows, services act."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lianfang.accounts.models import User
from lianfang.control import access, importer, services
from lianfang.control.forms import (
    AdvanceForm,
    CaseOpenForm,
    EditionCopyForm,
    EditionForm,
    GateRulesForm,
    InboxUpdateForm,
    RuleFormSet,
    SopForm,
    TransferForm,
    UploadForm,
)
from lianfang.control.models import (
    OPEN_STAGES,
    AssistList,
    InboxItem,
    IsolationStay,
    ProtocolEdition,
    RiskArea,
    Sop,
    Stage,
)
from lianfang.core import access as core_access
from lianfang.core import importer as core_importer
from lianfang.core.http import AuthedRequest, xlsx_response
from lianfang.core.models import Village
from lianfang.engines import protocol


def _require(flag: bool, message: str = "您的角色无权进行此操作") -> None:
    if not flag:
        raise PermissionDenied(message)


def _sub_id(user: User) -> int:
    if user.scope_subdistrict_id is None:
        raise PermissionDenied("您的账号没有所属街道，请联系指挥部设置")
    return user.scope_subdistrict_id


def _flash_error(request: AuthedRequest, exc: services.ControlError) -> None:
    messages.error(request, exc.message)


# --- the board ------------------------------------------------------------------------------

@login_required
@require_GET
def case_board(request: AuthedRequest) -> HttpResponse:
    user = request.user
    _require(user.can_view_cases, "您的角色无权查看重点人员")
    if user.is_command and user.scope_subdistrict:
        services.escalate_overdue(user.scope_subdistrict)
    cases = access.cases_for_user(user)
    village_id = request.GET.get("village", "")
    if village_id.isdigit():
        cases = cases.filter(village_id=int(village_id))
    data = services.board(cases)
    stage = request.GET.get("stage", "")
    rows = [r for r in data["rows"] if not stage or r.case.stage == stage]
    chart = {
        "villages": list(data["by_village"]),
        "series": [{"name": s.label, "data": [data["by_village"][v][s.value] for v in data["by_village"]]}
                   for s in OPEN_STAGES],
    }
    since = timezone.now() - dt.timedelta(days=7)
    return render(request, "control/board.html", {
        "data": data, "rows": rows, "stages": [(s.value, s.label, data["by_stage"][s.value]) for s in OPEN_STAGES],
        "stage": stage, "village_id": village_id, "chart": chart,
        "villages": core_access.villages_for_user(user).order_by("code") if user.can_view_register else [],
        "speed": services.stage_speed(access.cases_for_user(user), since), "now": timezone.now(),
        "closed_today": access.cases_for_user(user).filter(closed_at__date=timezone.localdate()).count(),
    })


@login_required
@require_http_methods(["GET", "POST"])
def case_new(request: AuthedRequest) -> HttpResponse:
    user = request.user
    _require(user.is_command, "只有指挥部可以登记重点人员")
    villages = core_access.villages_for_user(user).order_by("code")
    form = CaseOpenForm(request.POST or None, villages=villages)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        assert user.scope_subdistrict is not None
        try:
            case, created = services.open_case(
                user.scope_subdistrict, services.Subject(name=d["name"], doc_type=d["doc_type"],
                                                         doc_number=d["doc_number"], phone=d["phone"]),
                source=d["source"], category=d["category"], exposure_date=d["exposure_date"],
                reference=d["reference"], user=user, village=d["village"], address=d["address"])
        except services.ControlError as exc:
            form.add_error("phone" if exc.code.startswith("phone") else None, exc.message)
        else:
            messages.success(request, "已登记" if created else "该人员已有在办案件：本次来源已并入")
            return redirect("case_detail", pk=case.pk)
    return render(request, "control/case_new.html", {"form": form})


@login_required
@require_GET
def case_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    user = request.user
    case = access.get_case_for_user(user, pk)
    limits = services.stage_limits(case.subdistrict_id)
    due = services.deadline(case, limits)
    next_stage = services.NEXT_STAGE.get(Stage(case.stage)) if case.is_open else None
    villages = core_access.villages_for_user(user).order_by("code") if user.is_command else Village.objects.none()
    return render(request, "control/case_detail.html", {
        "case": case, "deadline": due, "overdue": bool(due and timezone.now() > due),
        "next_stage": next_stage, "next_label": Stage(next_stage).label if next_stage else "",
        "may_advance": next_stage is not None and services.can_act(user, case, next_stage),
        "receipt": services.received(case) if case.stage == Stage.HANDOFF else None,
        "may_transfer": user.can_manage_cases or user.can_run_transfers,
        "advance_form": AdvanceForm(villages=villages, initial={"village": case.village_id}),
        "transfer_form": TransferForm(sites=access.sites_for_user(user), initial={
            "pickup_place": case.current_address or (case.person.household.address if case.person and
                                                     case.person.household else "")}),
        "sources": case.sources.all(), "events": case.events.select_related("user"),
        "transfers": case.transfers.select_related("destination", "assigned_to"),
        "stay": case.stays.filter(released_at__isnull=True).select_related("site", "room").first(),
        "sops": Sop.objects.filter(subdistrict_id=case.subdistrict_id, applies_to=f"stage:{case.stage}"),
        "limit": limits.get(case.stage), "today": timezone.localdate(),
    })


@login_required
@require_POST
def case_receive(request: AuthedRequest, pk: int) -> HttpResponse:
    case = access.get_case_for_user(request.user, pk)
    try:
        receipt = services.receive_handoff(case, request.user)
        messages.success(request, f"已签收（{timezone.localtime(receipt.at):%H:%M}，{receipt.user or '系统'}）")
    except services.ControlError as exc:
        _flash_error(request, exc)
    return redirect("case_detail", pk=case.pk)


@login_required
@require_POST
def case_reveal(request: AuthedRequest, pk: int) -> HttpResponse:
    """The case's full ID or phone, for the cadre who must call or find a person not in the register:
    checked and audited as a register person's reveal."""
    from lianfang.core.views import reveal_response

    return reveal_response(request, access.get_case_for_user(request.user, pk), object_type="case")


@login_required
@require_POST
def case_advance(request: AuthedRequest, pk: int) -> HttpResponse:
    user = request.user
    case = access.get_case_for_user(user, pk)
    villages = core_access.villages_for_user(user)
    form = AdvanceForm(request.POST, villages=villages)
    if form.is_valid():
        try:
            services.advance(case, user, form.cleaned_data["to_stage"], note=form.cleaned_data["note"],
                             village=form.cleaned_data["village"])
            messages.success(request, f"已转入“{Stage(form.cleaned_data['to_stage']).label}”")
        except services.ControlError as exc:
            _flash_error(request, exc)
    else:
        messages.error(request, "办理信息有误：请重新选择")
    return redirect("case_detail", pk=case.pk)


@login_required
@require_POST
def case_close(request: AuthedRequest, pk: int) -> HttpResponse:
    case = access.get_case_for_user(request.user, pk)
    try:
        services.close_not_key_person(case, request.user, request.POST.get("reason", ""))
        messages.success(request, "已排除")
    except services.ControlError as exc:
        _flash_error(request, exc)
    return redirect("case_detail", pk=case.pk)


@login_required
@require_POST
def case_relink(request: AuthedRequest, pk: int) -> HttpResponse:
    case = access.get_case_for_user(request.user, pk)
    _require(request.user.can_manage_cases)
    try:
        if services.relink_to_register(case, request.user):
            messages.success(request, "已与名册人员匹配")
        else:
            messages.error(request, "名册中仍没有这个证件号码：请先登记（人员导入），再重新匹配")
    except services.ControlError as exc:
        _flash_error(request, exc)
    return redirect("case_detail", pk=case.pk)


@login_required
@require_POST
def case_transfer(request: AuthedRequest, pk: int) -> HttpResponse:
    user = request.user
    case = access.get_case_for_user(user, pk)
    _require(user.can_manage_cases or user.can_run_transfers)
    form = TransferForm(request.POST, sites=access.sites_for_user(user))
    if form.is_valid():
        d = form.cleaned_data
        try:
            services.create_transfer(case, user, pickup_place=d["pickup_place"], destination=d["destination"],
                                     vehicle=d["vehicle"], team=d["team"])
            messages.success(request, "已派转运任务")
        except services.ControlError as exc:
            _flash_error(request, exc)
    else:
        messages.error(request, "转运信息有误：请填写接人地点")
    return redirect("case_detail", pk=case.pk)


# --- transfers, isolation, home watch -------------------------------------------------------

@login_required
@require_GET
def transfer_list(request: AuthedRequest) -> HttpResponse:
    user = request.user
    _require(user.can_view_cases)
    tasks = access.transfers_for_user(user).select_related("case", "destination", "assigned_to").order_by(
        "status", "planned_at")
    limits = services.stage_limits(user.scope_subdistrict_id) if user.scope_subdistrict_id else {}
    rows: list[dict[str, Any]] = [
        {"task": t, "deadline": services.deadline(t.case, limits) if t.case.stage == Stage.TRANSFER else None}
        for t in tasks]
    now = timezone.now()
    for r in rows:
        r["overdue"] = bool(r["deadline"] and now > r["deadline"])
    return render(request, "control/transfers.html", {"rows": rows, "flow": services.TRANSFER_FLOW})


@login_required
@require_POST
def transfer_status(request: AuthedRequest, pk: int) -> HttpResponse:
    user = request.user
    _require(user.can_run_transfers, "只有转运专班或指挥部可以更新转运任务")
    task = access.get_transfer_for_user(user, pk)
    try:
        if task.assigned_to_id is None and not user.is_command:
            task.assigned_to = user
            task.save(update_fields=["assigned_to"])
        services.update_transfer(task, user, request.POST.get("status", ""), vehicle=request.POST.get("vehicle", ""))
        messages.success(request, "已更新")
    except services.ControlError as exc:
        _flash_error(request, exc)
    return redirect("transfer_list")


@login_required
@require_GET
def isolation_sites(request: AuthedRequest) -> HttpResponse:
    user = request.user
    _require(user.can_view_cases)
    services.release_finished_stays(_sub_id(user))
    sites = access.sites_for_user(user).annotate(
        occupied_n=Count("stays", filter=Q(stays__released_at__isnull=True))).order_by("name")
    today = timezone.localdate()
    stays = IsolationStay.objects.filter(site__in=sites, released_at__isnull=True,
                                         case__in=access.cases_for_user(user)).select_related("case", "room", "site")
    arrivals = IsolationStay.objects.filter(site__in=sites, arrived_at__date=today).count()
    releases = IsolationStay.objects.filter(site__in=sites, released_at__date=today).count()
    chart = {"names": [s.name for s in sites], "occupied": [s.occupied_n for s in sites],
             "free": [max(s.capacity - s.occupied_n, 0) for s in sites]}
    return render(request, "control/isolation.html", {"sites": sites, "stays": stays, "chart": chart,
                                                      "arrivals": arrivals, "releases": releases})


@login_required
@require_GET
def home_watch(request: AuthedRequest) -> HttpResponse:
    """For the village and the building steward: who is at home under which measure, tests due today."""
    user = request.user
    _require(user.can_view_cases)
    services.release_finished_stays(_sub_id(user))
    today = timezone.localdate()
    rows: list[dict[str, Any]] = []
    for case in access.cases_for_user(user).filter(closed_at__isnull=True, stage=Stage.CONTROL).select_related(
            "village", "person__household__building", "person__grid"):
        measure = case.measure_on(today)
        if measure and measure != protocol.CENTRALIZED:
            rows.append({"case": case, "measure": protocol.MEASURES.get(measure, measure),
                         "test_today": case.tests_due(today)})
    rows.sort(key=lambda r: (not r["test_today"], r["case"].village.name if r["case"].village else ""))
    return render(request, "control/home_watch.html", {"rows": rows, "today": today,
                                                       "due": sum(r["test_today"] for r in rows)})


# --- district lists and risk areas ----------------------------------------------------------

def _save_upload(upload: Any) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="lianfang-upload-")) / Path(upload.name).name
    with tmp.open("wb") as f:
        for chunk in upload.chunks():
            f.write(chunk)
    return tmp


@login_required
@require_http_methods(["GET", "POST"])
def assist_lists(request: AuthedRequest) -> HttpResponse:
    user = request.user
    _require(user.is_command, "只有指挥部（数据专班）可以导入协查名单")
    form = UploadForm(request.POST or None, request.FILES or None)
    errors: list[core_importer.RowError] = []
    if request.method == "POST" and form.is_valid():
        path = _save_upload(form.cleaned_data["file"])
        try:
            result = importer.import_assist_list(path, form.cleaned_data["file"].name, user,
                                                 form.cleaned_data["reference"])
        except core_importer.ImportFileError as exc:
            form.add_error("file", exc.message)
        else:
            if result.assist_list is not None:
                al = result.assist_list
                messages.success(request, f"已导入 {al.rows_total} 人：新建 {al.opened}，并入已有 {al.merged}，"
                                          f"名册未匹配 {al.unmatched}")
                return redirect("assist_detail", pk=al.pk)
            errors = result.errors
        finally:
            path.unlink(missing_ok=True)  # the list holds ID numbers in clear: keep no copy
    lists = AssistList.objects.filter(subdistrict_id=_sub_id(user))[:20]
    return render(request, "control/assist_lists.html", {"form": form, "errors": errors, "lists": lists})


@login_required
@require_GET
def assist_template(request: AuthedRequest) -> HttpResponse:
    data = core_importer.template_xlsx(importer.ASSIST_COLUMNS, [
        "张三", "居民身份证", core_importer.EXAMPLE_DOC, "13800000000", "密接", "2022-07-05", "新围村3组45号", ""],
        sheet="协查名单", text_columns=("C", "D"))
    return xlsx_response(data, "assist-list-template.xlsx")


@login_required
@require_GET
def assist_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    _require(request.user.is_command)
    al = get_object_or_404(AssistList, pk=pk, subdistrict_id=_sub_id(request.user))
    rows = al.rows.select_related("case__village")
    return render(request, "control/assist_detail.html", {"al": al, "rows": rows,
                                                          "unmatched": [r for r in rows if not r.case.person_id]})


@login_required
@require_http_methods(["GET", "POST"])
def risk_areas(request: AuthedRequest) -> HttpResponse:
    user = request.user
    _require(user.can_view_cases)
    form = UploadForm(request.POST or None, request.FILES or None)
    errors: list[core_importer.RowError] = []
    if request.method == "POST":
        _require(user.is_command, "只有指挥部可以维护风险地区")
        if form.is_valid():
            path = _save_upload(form.cleaned_data["file"])
            try:
                n, errors = importer.import_risk_areas(path, form.cleaned_data["file"].name, user)
                if not errors:
                    messages.success(request, f"已导入 {n} 个风险地区")
                    return redirect("risk_areas")
            except core_importer.ImportFileError as exc:
                form.add_error("file", exc.message)
            finally:
                path.unlink(missing_ok=True)
    today = timezone.localdate()
    areas = RiskArea.objects.filter(subdistrict_id=_sub_id(user))
    current = areas.filter(valid_from__lte=today).filter(Q(valid_to__isnull=True) | Q(valid_to__gte=today))
    return render(request, "control/risk_areas.html", {"form": form, "errors": errors, "areas": areas[:500],
                                                       "current": current.count()})


# --- protocol editions ----------------------------------------------------------------------

def _edition(request: AuthedRequest, pk: int) -> ProtocolEdition:
    return get_object_or_404(ProtocolEdition, pk=pk, subdistrict_id=_sub_id(request.user))


@login_required
@require_GET
def protocol_list(request: AuthedRequest) -> HttpResponse:
    _require(request.user.can_view_cases)
    editions = ProtocolEdition.objects.filter(subdistrict_id=_sub_id(request.user)).prefetch_related("rules")
    today = timezone.localdate()
    engine = services.engine_editions(request.user.scope_subdistrict_id or 0)
    in_force = []
    for key, label in protocol.CATEGORIES.items():
        e = protocol.edition_in_force(engine, key, today)
        in_force.append({"label": label, "edition": e.name if e else "—",
                         "summary": protocol.Plan(e.key, e.name, key, today, tuple(
                             protocol.PlannedPhase(p.measure, today, today + dt.timedelta(days=p.days - 1), ())
                             for p in e.rules[key].phases)).summary() if e else "无规定"})
    return render(request, "control/protocol_list.html", {"editions": editions, "in_force": in_force})


@login_required
@require_GET
def protocol_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    _require(request.user.can_view_cases)
    edition = _edition(request, pk)
    rules = [{"category": r.get_category_display(), "phases": [
        {"measure": protocol.MEASURES.get(m, m), "days": d, "tests": "、".join(str(t) for t in tests) or "—"}
        for m, d, tests in r.phases]} for r in edition.rules.all()]
    from lianfang.engines import screening

    gate = edition.gate_rules
    gate_rows = []
    if gate:
        o = screening.OUTCOMES
        gate_rows = [("发热", f"≥{gate['fever_threshold_c']}℃ → {o[gate.get('fever_outcome', 'fever_clinic')]}"),
                     ("健康码", f"黄码 → {o[gate['code_outcomes']['yellow']]}；红码 → {o[gate['code_outcomes']['red']]}")]
        level = {"high": "高", "medium": "中", "low": "低"}
        gate_rows += [(f"{level[r['level']]}风险地区", f"{r['within_days']} 天内到过 → {o[r['outcome']]}")
                      for r in gate.get("origin_rules", [])]
        gate_rows.append(("行程卡星号", o[gate["star_outcome"]] if gate.get("star_outcome") else "不作为依据"))
        hours = gate.get("test_required_hours")
        gate_rows.append(("核酸证明", f"须 {hours} 小时内阴性，否则{o[gate['missing_test_outcome']]}" if hours else "不要求"))
    return render(request, "control/protocol_detail.html", {
        "edition": edition, "rules": rules, "gate_rows": gate_rows, "revisions": edition.revisions.select_related("user"),
        "copy_form": EditionCopyForm(initial={"name": f"{edition.name}（修订）", "key": f"{edition.key}-r",
                                              "effective_from": timezone.localdate()})})


@login_required
@require_POST
def protocol_copy(request: AuthedRequest, pk: int) -> HttpResponse:
    _require(request.user.can_edit_protocols, "只有指挥部可以修改防控方案")
    edition = _edition(request, pk)
    form = EditionCopyForm(request.POST)
    if form.is_valid():
        try:
            new = services.copy_edition(edition, request.user, **form.cleaned_data)
            return redirect("protocol_edit", pk=new.pk)
        except services.ControlError as exc:
            _flash_error(request, exc)
    else:
        messages.error(request, "请填写编号（英文、数字、横线）、名称和生效日期")
    return redirect("protocol_detail", pk=edition.pk)


@login_required
@require_http_methods(["GET", "POST"])
def protocol_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    _require(request.user.can_edit_protocols, "只有指挥部可以修改防控方案")
    edition = _edition(request, pk)
    if edition.status == ProtocolEdition.Status.PUBLISHED:
        messages.error(request, "已发布的版本不能直接修改：请复制为新版本")
        return redirect("protocol_detail", pk=edition.pk)
    existing = {r.category: r.phases for r in edition.rules.all()}
    initial = []
    for key in protocol.CATEGORIES:
        phases = existing.get(key)
        row: dict[str, Any] = {"category": key, "enabled": bool(phases)}
        for i, (m, d, tests) in enumerate(phases or [], start=1):
            row.update({f"measure{i}": m, f"days{i}": d, f"tests{i}": ",".join(str(t) for t in tests)})
        initial.append(row)
    form = EditionForm(request.POST or None, initial={"name": edition.name, "effective_from": edition.effective_from})
    formset = RuleFormSet(request.POST or None, initial=initial, prefix="rules")
    gate_form = GateRulesForm(request.POST or None, prefix="gate", initial=GateRulesForm.initial_from(edition.gate_rules))
    if request.method == "POST" and form.is_valid() and formset.is_valid() and gate_form.is_valid():
        try:
            rules = {}
            for f in formset:
                phases = f.phases()
                if phases:
                    rules[f.cleaned_data["category"]] = phases
            precedence = edition.gate_rules.get("precedence") if edition.gate_rules else None
            services.update_edition(edition, request.user, rules=rules, gate_rules=gate_form.to_rules(precedence),
                                    **form.cleaned_data)
        except (services.ControlError, Exception) as exc:
            form.add_error(None, getattr(exc, "message", None) or "检测日请填数字，用逗号分隔，如 1,4,7")
        else:
            messages.success(request, "已保存。已发布的方案修改后，请到“重新计算”确认在办人员的方案变化")
            return redirect("protocol_detail", pk=edition.pk)
    labels = dict(protocol.CATEGORIES)
    return render(request, "control/protocol_edit.html", {
        "edition": edition, "form": form, "formset": formset, "gate_form": gate_form,
        "rows": [(labels[f.initial["category"]], f) for f in formset]})


@login_required
@require_POST
def protocol_publish(request: AuthedRequest, pk: int) -> HttpResponse:
    _require(request.user.can_edit_protocols, "只有指挥部可以发布防控方案")
    services.publish_edition(_edition(request, pk), request.user)
    messages.success(request, "已发布。请确认在办人员的方案是否需要重新计算")
    return redirect("protocol_replan")


@login_required
@require_http_methods(["GET", "POST"])
def protocol_replan(request: AuthedRequest) -> HttpResponse:
    user = request.user
    _require(user.can_edit_protocols, "只有指挥部可以重新计算在办人员的方案")
    assert user.scope_subdistrict_id is not None
    if request.method == "POST":
        confirmed = {}
        for value in request.POST.getlist("case"):
            pk, _, digest = value.partition(":")
            if pk.isdigit():
                confirmed[int(pk)] = digest
        n = services.replan_apply(user.scope_subdistrict_id, user, confirmed)
        messages.success(request, f"已重新计算 {n} 人的方案")
        return redirect("protocol_replan")
    return render(request, "control/replan.html", {"items": services.replan_preview(user.scope_subdistrict_id)})


@login_required
@require_http_methods(["GET", "POST"])
def stage_limits(request: AuthedRequest) -> HttpResponse:
    user = request.user
    _require(user.can_view_cases)
    assert user.scope_subdistrict_id is not None
    limits = services.stage_limits(user.scope_subdistrict_id)
    if request.method == "POST":
        _require(user.is_command, "只有指挥部可以修改时限")
        for stage, limit in limits.items():
            hours = request.POST.get(f"hours_{stage}", "").strip()
            owner = request.POST.get(f"owner_{stage}", "").strip()
            try:
                value = float(hours) if hours else None
                if value is not None and not (0 < value <= 720):  # NaN fails both comparisons
                    raise ValueError
                limit.limit_hours = value
            except ValueError:
                messages.error(request, f"“{limit.get_stage_display()}”的时限须为 0–720 之间的小时数")
                return redirect("stage_limits")
            if owner:
                limit.owner = owner[:50]
            limit.save()
        messages.success(request, "时限已保存")
        return redirect("stage_limits")
    return render(request, "control/limits.html", {"limits": [limits[s.value] for s in OPEN_STAGES]})


# --- inbox and SOPs -------------------------------------------------------------------------

@login_required
@require_GET
def inbox(request: AuthedRequest) -> HttpResponse:
    user = request.user
    if user.is_command and user.scope_subdistrict:
        services.escalate_overdue(user.scope_subdistrict)
    items = access.inbox_for_user(user).select_related("case", "village", "assignee")
    status = request.GET.get("status", "open")
    if status in InboxItem.Status.values:
        items = items.filter(status=status)
    counts = dict(access.inbox_for_user(user).values_list("status").annotate(n=Count("pk")))
    return render(request, "control/inbox.html", {"items": items[:200], "status": status,
                                                  "statuses": [(v, lbl, counts.get(v, 0))
                                                               for v, lbl in InboxItem.Status.choices]})


@login_required
@require_http_methods(["GET", "POST"])
def inbox_item(request: AuthedRequest, pk: int) -> HttpResponse:
    user = request.user
    item = access.get_inbox_item_for_user(user, pk)
    users = User.objects.filter(scope_subdistrict_id=item.subdistrict_id, is_active=True).order_by("role", "username")
    form = InboxUpdateForm(request.POST or None, users=users, initial={"status": item.status,
                                                                       "assignee": item.assignee_id})
    may_handle = access.may_handle_inbox_item(user, item)
    if request.method == "POST" and not may_handle:
        raise PermissionDenied("只有指挥部或承办人可以办理此事项")
    if request.method == "POST" and form.is_valid():
        try:
            services.update_inbox(item, user, status=form.cleaned_data["status"] or None,
                                  assignee=form.cleaned_data["assignee"], comment=form.cleaned_data["comment"])
            messages.success(request, "已更新")
            return redirect("inbox_item", pk=item.pk)
        except services.ControlError as exc:
            form.add_error(None, exc.message)
    sops = Sop.objects.filter(subdistrict_id=item.subdistrict_id, applies_to=f"inbox:{item.kind}")
    return render(request, "control/inbox_item.html", {"item": item, "form": form, "sops": sops,
                                                      "may_handle": may_handle,
                                                      "events": item.events.select_related("user")})


@login_required
@require_http_methods(["GET", "POST"])
def sop_list(request: AuthedRequest) -> HttpResponse:
    user = request.user
    _require(user.can_view_cases)
    form = SopForm(request.POST or None)
    if request.method == "POST":
        _require(user.is_command, "只有指挥部可以维护处置规范")
        if form.is_valid():
            sop = form.save(commit=False)
            sop.subdistrict_id = _sub_id(user)
            sop.updated_by = user
            sop.save()
            messages.success(request, "已添加")
            return redirect("sop_list")
    sops = Sop.objects.filter(subdistrict_id=_sub_id(user))
    return render(request, "control/sops.html", {"sops": sops, "form": form})

