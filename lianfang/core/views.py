"""Pages of the register. Thin: access helpers pick the rows, services do the work."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lianfang.core import access, exports, importer, services
from lianfang.core.forms import ImportForm, PersonEditForm, PersonFilterForm, RevealForm
from lianfang.core.http import AuthedRequest, xlsx_response
from lianfang.core.models import AuditEvent, ImportJob, Person
from lianfang.rosters import access as roster_access
from lianfang.rosters import services as roster_services

PAGE_SIZE = 50


def client_ip(request: AuthedRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _require(flag: bool, message: str) -> None:
    if not flag:
        raise PermissionDenied(message)


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    user = request.user
    villages = list(access.villages_for_user(user).order_by("code"))
    persons = access.persons_for_user(user)
    # "Needs help": the people a roll-call or sweep must reach by phone or in person.
    flag_q = Q(elderly_alone=True) | Q(no_smartphone=True) | Q(limited_mobility=True)
    by_village = {
        row["village_id"]: row for row in persons.values("village_id").annotate(
            persons=Count("pk"), flagged=Count("pk", filter=flag_q),
            elderly_alone=Count("pk", filter=Q(elderly_alone=True)),
            no_smartphone=Count("pk", filter=Q(no_smartphone=True)),
        )
    }
    households = dict(
        access.households_for_user(user).values("village_id").annotate(n=Count("pk")).values_list("village_id", "n")
    )
    by_grid: dict[int, list[dict[str, Any]]] = {}
    grid_counts = dict(persons.values("grid_id").annotate(n=Count("pk")).values_list("grid_id", "n"))
    grid_households = dict(
        access.households_for_user(user).values("grid_id").annotate(n=Count("pk")).values_list("grid_id", "n"))
    for g in access.grids_for_user(user).order_by("village_id", "pk"):
        by_grid.setdefault(g.village_id, []).append(
            {"grid": g, "persons": grid_counts.get(g.pk, 0), "households": grid_households.get(g.pk, 0)})
    tree = []
    totals = {"households": 0, "persons": 0, "flagged": 0, "elderly_alone": 0, "no_smartphone": 0}
    for v in villages:
        row = by_village.get(v.pk, {})
        item = {
            "village": v, "households": households.get(v.pk, 0), "persons": row.get("persons", 0),
            "flagged": row.get("flagged", 0), "elderly_alone": row.get("elderly_alone", 0),
            "no_smartphone": row.get("no_smartphone", 0), "grids": by_grid.get(v.pk, []),
        }
        for k in totals:
            totals[k] += item[k]
        tree.append(item)
    chart = {
        "labels": [t["village"].name for t in tree],
        "persons": [t["persons"] for t in tree],
        "flagged": [t["flagged"] for t in tree],
    }
    # A person on a duty roster (a volunteer, a gate's staff) opens the app for their next shift.
    staff = getattr(user, "staff_member", None)
    now = timezone.now()
    next_shift = (roster_services.shifts_ahead(staff, now).select_related("gate").first()
                  if staff is not None else None)
    # What waits for them: a colleague's swap to confirm; for a gate chief, swaps to decide and the day's sheets.
    to_answer = roster_access.swaps_to_answer(user).count() if staff is not None else 0
    chief_gate = roster_access.chief_gate_id(user)
    to_decide = roster_access.swaps_to_decide(user).count() if chief_gate else 0
    from lianfang.control import services as control

    return render(request, "core/home.html", {
        "handoffs": control.handoffs_for(user),
        "staff": staff, "next_shift": next_shift, "now": now, "to_answer": to_answer,
        "chief_gate": chief_gate, "to_decide": to_decide,
        "tree": tree, "totals": totals, "chart": chart,
        "recent_imports": ImportJob.objects.filter(created_by=user)[:5] if user.can_import else [],
    })


def _filtered_persons(request: AuthedRequest) -> tuple[PersonFilterForm, QuerySet[Person], dict[str, str]]:
    user = request.user
    villages = access.villages_for_user(user).order_by("code")
    grids = access.grids_for_user(user)
    form = PersonFilterForm(request.GET or None, villages=villages, grids=grids)
    qs = access.persons_for_user(user)
    used: dict[str, str] = {}
    if form.is_valid():
        data = form.cleaned_data
        if data["village"]:
            qs = qs.filter(village=data["village"])
        if data["grid"]:
            qs = qs.filter(grid=data["grid"])
        if data["population_type"]:
            qs = qs.filter(population_type=data["population_type"])
        if data["flag"]:
            qs = qs.filter(**{data["flag"]: True})
        if data["q"]:
            try:
                qs = services.search_persons(qs, data["q"])
            except services.RegisterError as exc:
                form.add_error("q", exc.message)
                qs = qs.none()
        used = {k: str(request.GET[k]) for k in form.fields if request.GET.get(k)}
    elif request.GET:
        qs = qs.none()
    return form, qs, used


@login_required
@require_GET
def person_list(request: AuthedRequest) -> HttpResponse:
    _require(request.user.can_view_register, "您的角色无权查看人员名册")
    form, qs, used = _filtered_persons(request)
    qs = qs.select_related("village", "grid", "household__building").order_by("village_id", "household_id", "pk")
    paginator = Paginator(qs, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "core/person_list.html", {
        "form": form, "page": page, "query": urlencode(used), "filters": used,
    })


@login_required
@require_GET
def person_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    person = access.get_person_for_user(request.user, pk)
    members = (
        access.persons_for_user(request.user).filter(household_id=person.household_id).exclude(pk=person.pk)
        if person.household_id else Person.objects.none()
    )
    return render(request, "core/person_detail.html", {
        "person": person, "members": members, "reveal_form": RevealForm(),
    })


@login_required
@require_http_methods(["GET", "POST"])
def person_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    _require(request.user.can_edit_register, "您的角色无权修改人员信息")
    person = access.get_person_for_user(request.user, pk)
    grids = access.grids_for_user(request.user).filter(village_id=person.village_id)
    initial = {f: getattr(person, f) for f in services.EDITABLE_FIELDS}
    form = PersonEditForm(request.POST or None, initial=initial, grids=grids)
    if request.method == "POST" and form.is_valid():
        try:
            changed = services.update_person(request.user, person, form.cleaned_data, client_ip(request))
        except services.RegisterError as exc:
            form.add_error("phone" if exc.code.startswith("phone") else None, exc.message)
        else:
            messages.success(request, "已保存" if changed else "没有修改")
            return redirect("person_detail", pk=person.pk)
    flag_fields = [form[f] for f in Person.FLAG_FIELDS]
    return render(request, "core/person_edit.html", {"person": person, "form": form, "flag_fields": flag_fields})


@login_required
@require_POST
def person_reveal(request: AuthedRequest, pk: int) -> HttpResponse:
    return reveal_response(request, access.get_person_for_user(request.user, pk), object_type="person")


def reveal_response(request: AuthedRequest, subject: services.Revealable, *, object_type: str) -> HttpResponse:
    """The htmx answer to a reveal form (a register person's, a key-person case's): the full number,
    after the role and reason checks and the audit of services.reveal, or why not."""
    form = RevealForm(request.POST)
    error = ""
    revealed = None
    if form.is_valid():
        try:
            revealed = services.reveal(request.user, subject, form.cleaned_data["field"],
                                       form.cleaned_data["reason"], client_ip(request), object_type=object_type)
        except services.RegisterError as exc:
            error = exc.message
        if revealed is not None and not revealed.value:
            revealed, error = None, "没有登记这一项"
    else:
        error = "请选择要查看的项目并填写查看事由"
    response = render(request, "core/_reveal_result.html", {"revealed": revealed, "error": error},
                      status=200 if revealed else 400)
    add_never_cache_headers(response)  # a revealed number must not linger in any cache
    return response


@login_required
@require_http_methods(["GET", "POST"])
def person_export(request: AuthedRequest) -> HttpResponse:
    _require(request.user.can_export, "您的角色无权导出名单")
    _form, qs, used = _filtered_persons(request)
    unmasked = request.method == "POST" and request.POST.get("unmasked") == "1"
    reason = request.POST.get("reason", "") if request.method == "POST" else ""
    try:
        data = exports.persons_xlsx(request.user, qs, unmasked=unmasked, reason=reason, filters=used,
                                    ip=client_ip(request))
    except services.RegisterError as exc:
        return render(request, "core/error.html", {"message": exc.message}, status=400)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = xlsx_response(data, f"人员名单{'（含完整号码）' if unmasked else ''}-{stamp}.xlsx")
    add_never_cache_headers(response)
    return response


@login_required
@require_GET
def household_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    household = access.get_household_for_user(request.user, pk)
    members = access.persons_for_user(request.user).filter(household=household).order_by("pk")
    return render(request, "core/household_detail.html", {"household": household, "members": members})


# --- import ---------------------------------------------------------------------------------

@login_required
@require_http_methods(["GET", "POST"])
def import_upload(request: AuthedRequest) -> HttpResponse:
    _require(request.user.can_import, "您的角色无权导入人员")
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = importer.start_import(request.user, form.cleaned_data["file"])
        except importer.ImportFileError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("import_job", pk=job.pk)
    jobs = ImportJob.objects.filter(created_by=request.user)[:10]
    return render(request, "core/import_upload.html", {"form": form, "jobs": jobs})


def _get_job(request: AuthedRequest, pk: int) -> ImportJob:
    job = ImportJob.objects.filter(pk=pk, created_by=request.user).first()
    if job is None:
        raise Http404("没有这个导入任务")
    return job


@login_required
@require_GET
def import_job(request: AuthedRequest, pk: int) -> HttpResponse:
    job = _get_job(request, pk)
    progress = importer.read_progress(job.pk)
    done, total = int(progress.get("done", 0)), int(progress.get("total", 0))
    # One bar for both passes: validation fills the first half, writing the second.
    fraction = min(done / total, 1.0) if total else 0.0
    if job.finished:
        percent = 100
    elif progress.get("phase") == "writing":
        percent = min(99, 50 + round(50 * fraction))
    else:
        percent = round(50 * fraction)
    context = {"job": job, "progress": progress, "percent": percent, "done": done, "total": total}
    if request.headers.get("HX-Request"):
        return render(request, "core/_import_status.html", context)
    return render(request, "core/import_job.html", context)


@login_required
@require_GET
def import_job_json(request: AuthedRequest, pk: int) -> JsonResponse:
    job = _get_job(request, pk)
    return JsonResponse({"id": job.pk, "status": job.status, "progress": importer.read_progress(job.pk),
                         "persons_created": job.persons_created, "error_count": job.error_count})


@login_required
@require_GET
def import_error_report(request: AuthedRequest, pk: int) -> FileResponse:
    job = _get_job(request, pk)
    if not job.error_report:
        if not job.errors:
            raise Http404("该任务没有错误报告")
        data = importer.error_report_xlsx([importer.RowError(**e) for e in job.errors])
        job.error_report.save(f"errors-{job.pk}.xlsx", ContentFile(data))
    return FileResponse(job.error_report.open("rb"), as_attachment=True, filename=f"导入错误报告-{job.pk}.xlsx")


@login_required
@require_GET
def import_template(request: AuthedRequest) -> HttpResponse:
    return xlsx_response(importer.template_xlsx(), "人员导入模板.xlsx")


# --- map and audit --------------------------------------------------------------------------

@login_required
@require_GET
def map_page(request: AuthedRequest) -> HttpResponse:
    return render(request, "core/map.html")


@login_required
@require_GET
def audit_list(request: AuthedRequest) -> HttpResponse:
    _require(request.user.can_view_audit, "您的角色无权查看审计日志")
    qs = AuditEvent.objects.select_related("user")
    if request.user.scope_subdistrict_id:
        qs = qs.filter(Q(user__scope_subdistrict_id=request.user.scope_subdistrict_id) | Q(user__isnull=True))
    action = request.GET.get("action", "")
    if action in AuditEvent.Action.values:
        qs = qs.filter(action=action)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    person_ids = [int(e.object_id) for e in page if e.object_type == "person" and e.object_id.isdigit()]
    names = dict(Person.objects.filter(pk__in=person_ids).values_list("pk", "name"))
    rows = [{"event": e, "object": AUDIT_OBJECTS.get(e.object_type, "其他"),
             "name": names.get(int(e.object_id)) if e.object_type == "person" and e.object_id.isdigit() else "",
             "fields": "、".join(AUDIT_FIELDS.get(f, f) for f in e.fields.split(",") if f),
             "summary": _audit_summary(e)} for e in page]
    return render(request, "core/audit_list.html", {"page": page, "rows": rows, "actions": AuditEvent.Action.choices,
                                                    "action": action})


AUDIT_OBJECTS = {  # every object_type the apps audit, as the audit page names it
    "person": "人员", "household": "户", "village": "村/社区", "import_job": "导入任务", "case": "重点人员",
    "transfer": "转运任务", "inbox": "待办", "gate": "卡口", "checkin_group": "接龙群", "roster": "排班表",
    "roster_assignment": "班次", "roster_attendance": "考勤", "roster_staff": "值守人员", "roster_swap": "换班申请",
    "team": "队伍", "test_round": "核酸轮次", "test_round_report": "核酸报告", "test_results": "检测结果",
    "result_import": "检测结果导入", "coverage_scope": "核酸覆盖范围", "home_request": "上门采样申请",
    "sampling_site": "采样点", "sampling_lane": "采样通道", "tube": "试管"}
AUDIT_FIELDS = {"doc": "证件号码", "phone": "手机号", "name": "姓名", "relation": "与户主关系", "grid": "网格",
                "population_type": "人口类型", "elderly_alone": "独居老人", "no_smartphone": "无智能手机",
                "limited_mobility": "行动不便", "student": "学生", "party_member": "党员"}


def _audit_summary(e: AuditEvent) -> str:
    d = e.detail or {}
    if e.action == AuditEvent.Action.EXPORT:
        return f"{d.get('rows', 0)} 行{'（含完整号码）' if d.get('unmasked') else '（脱敏）'}"
    if e.action == AuditEvent.Action.IMPORT:
        if d.get("status") == "done":
            return f"成功导入 {d.get('persons', 0)} 人 · {d.get('file', '')}"
        return f"未导入，{d.get('errors', 0)} 处错误 · {d.get('file', '')}"
    return ""
