"""Mass-testing pages: rounds (planning with Dorfman advice), a round's board, the sampling page,
home sampling, exemptions, results with their import progress, coverage with the untested list and
the district report, and the lab's bag hand-over. Thin: the work is in services and results."""

from __future__ import annotations

import datetime as dt
import io
import math
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lianfang.accounts.models import User
from lianfang.accounts.roles import Role
from lianfang.core import access as core_access
from lianfang.core import services as register
from lianfang.core.http import AuthedRequest, xlsx_response
from lianfang.core.importer import ImportFileError, safe_cell
from lianfang.core.models import Person
from lianfang.engines import pooling
from lianfang.masstesting import access, results, services
from lianfang.masstesting.models import (
    Bag,
    Exemption,
    HomeRequest,
    Lane,
    PoolRule,
    ResultImport,
    Retest,
    Sample,
    Tube,
)
from lianfang.masstesting.services import MassTestError

TWIN_SECONDS = 30  # a round of the same name made this recently by the same person: a form sent twice


def _prevalence(raw: str | None, default: float = 0.1, *, clamp: bool = True) -> float:
    """A prevalence typed in percent, as a fraction; unreadable is ``default``, out of 0–100 clamped
    (``clamp=False``: kept, so a form can tell it was out of range)."""
    try:
        value = float(raw) if raw not in (None, "") else default
    except ValueError:
        value = default
    if not math.isfinite(value):
        value = default
    return (min(max(value, 0.0), 100.0) if clamp else value) / 100.0


def _advice(p: float, people: int) -> dict[str, Any]:
    a = pooling.advise(p)
    return {"advice": a, "table": [(k, e, pooling.size_round(people, k, p)) for k, e in a.by_allowed_size],
            "people": people}


@login_required
@require_http_methods(["GET", "POST"])
def round_list(request: AuthedRequest) -> HttpResponse:
    user = request.user
    if user.role not in access.ROUND_ROLES:
        raise PermissionDenied("您的角色不参与全员核酸")
    villages = core_access.villages_for_user(user).order_by("code") if access.may_plan(user) else []
    if request.method == "POST":
        if not access.may_plan(user) or user.scope_subdistrict is None:
            raise PermissionDenied("只有指挥部可以发起全员核酸")
        chosen = list(core_access.villages_for_user(user).filter(pk__in=[
            int(v) for v in request.POST.getlist("villages") if v.isdigit()]))
        longest = services.ROUND_LONGEST.days * 24
        try:
            starts = dt.datetime.fromisoformat(request.POST.get("starts_at") or "")
            hours = float(request.POST.get("hours") or 24)
            if not 0 < hours <= longest:
                raise ValueError(hours)
        except ValueError:
            messages.error(request, f"请填写开始时间和时限（1 到 {longest} 小时）")
            return redirect("mt_rounds")
        starts = timezone.make_aware(starts) if timezone.is_naive(starts) else starts
        prevalence = request.POST.get("prevalence")
        if not 0 <= _prevalence(prevalence, clamp=False) <= 1:
            messages.error(request, "估计阳性率须在 0 到 100（%）之间")
            return redirect("mt_rounds")
        name = request.POST.get("name", "")
        try:
            rnd = services.create_round(
                user.scope_subdistrict, user, name=name, villages=chosen, starts_at=starts,
                deadline=starts + dt.timedelta(hours=hours),
                default_pool_size=int(request.POST.get("default_pool_size") or 10),
                estimated_prevalence=_prevalence(prevalence))
        except (MassTestError, ValueError) as exc:
            twin = access.rounds_for_user(user).filter(
                name=name.strip()[:80], created_by=user,
                created_at__gte=timezone.now() - dt.timedelta(seconds=TWIN_SECONDS)).first()
            if getattr(exc, "code", "") == "round_twin" and twin is not None:  # the form sent twice: the one made
                messages.info(request, f"“{twin.name}”刚刚已发起，这是它的页面")
                return redirect("mt_round", pk=twin.pk)
            messages.error(request, getattr(exc, "message", "请检查填写内容"))
            return redirect("mt_rounds")
        seeded = services.seed_home_requests(rnd)
        isolated = services.exempt_isolated(rnd, user)
        messages.success(request, f"已发起“{rnd.name}”：名册中行动不便的 {seeded} 人已生成上门采样申请，"
                                  f"集中隔离中的 {isolated} 人已登记免检")
        overlap = services.overlapping_rounds(rnd)
        if overlap:
            shown = "；".join(f"{village}（{other}）" for village, other in overlap[:5])
            messages.warning(request, f"注意：{len(overlap)} 个村/社区同时在另一进行中的轮次里：{shown}"
                                      f"{' 等' if len(overlap) > 5 else ''}。同一时段两轮会分散采样、覆盖率两边都不准，"
                                      "如是重复发起，请结束其中一轮")
        return redirect("mt_round", pk=rnd.pk)
    rounds = access.rounds_for_user(user).annotate(n_villages=Count("villages", distinct=True)).order_by("-starts_at")
    p = _prevalence(request.GET.get("prevalence"))
    people = Person.objects.filter(village__in=villages).count() if villages else 0
    return render(request, "masstesting/rounds.html", {
        "rounds": rounds, "villages": villages, "may_plan": access.may_plan(user), "prevalence": round(p * 100, 3),
        "now": timezone.localtime().strftime("%Y-%m-%dT%H:%M"), "pool_sizes": pooling.ALLOWED_POOL_SIZES,
        **_advice(p, people)})


@login_required
@require_GET
def advice(request: AuthedRequest) -> HttpResponse:
    """The Dorfman advice for a prevalence and a set of villages, for the planning form (htmx)."""
    p = _prevalence(request.GET.get("prevalence"))
    ids = [int(v) for v in request.GET.getlist("villages") if v.isdigit()]
    villages = core_access.villages_for_user(request.user).filter(pk__in=ids)
    people = Person.objects.filter(village__in=villages).count() if ids else 0
    return render(request, "masstesting/_advice.html", _advice(p, people))


@login_required
@require_http_methods(["GET", "POST"])
def round_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    user = request.user
    rnd = access.get_round_for_user(user, pk)
    if request.method == "POST":
        if not access.may_plan(user):
            raise PermissionDenied("只有指挥部可以调整轮次")
        action = request.POST.get("action")
        try:
            village = rnd.villages.filter(pk=int(request.POST.get("village") or 0)).first()
            if action in {"rule", "site"} and village is None:
                raise MassTestError("village", "请选择本轮范围内的村/社区")
            assert village is not None or action not in {"rule", "site"}
            if action == "rule" and village is not None:
                grid = request.POST.get("grid") or ""
                rule = services.set_rule(rnd, village, kind=request.POST.get("kind", ""),
                                         pool_size=int(request.POST.get("pool_size") or 10),
                                         grid_id=int(grid) if grid.isdigit() else None, note=request.POST.get("note", ""))
                messages.success(request, f"{village.name}：{rule.label}")
            elif action == "site" and village is not None:
                lanes = [("1号通道", Lane.Kind.GENERAL)]
                if request.POST.get("student"):
                    lanes.append(("学生绿色通道", Lane.Kind.STUDENT))
                if request.POST.get("elderly"):
                    lanes.append(("老人通道", Lane.Kind.ELDERLY))
                lanes.append(("单管通道", Lane.Kind.SINGLE))
                staff = User.objects.filter(scope_subdistrict_id=rnd.subdistrict_id,
                                            pk__in=request.POST.getlist("staff"))
                lead = User.objects.filter(scope_subdistrict_id=rnd.subdistrict_id, role=Role.SAMPLING_LEAD,
                                           pk=request.POST.get("lead") or 0).first()
                site = services.create_site(rnd, village, name=request.POST.get("name", ""),
                                            address=request.POST.get("address", ""),
                                            opens_at=request.POST.get("opens_at") or "06:00",
                                            closes_at=request.POST.get("closes_at") or "22:00", lead=lead, staff=staff,
                                            samplers=int(request.POST.get("samplers") or 2), lanes=lanes)
                messages.success(request, f"已设采样点 {site.name}")
            elif action == "close":
                services.close_round(rnd)
                messages.success(request, "本轮已结束，可导出区级报告")
        except MassTestError as exc:
            messages.error(request, exc.message)
        except ValueError:
            messages.error(request, "请检查填写内容")
        return redirect("mt_round", pk=rnd.pk)
    sites = access.sites_for_user(user, rnd).select_related("village", "lead").prefetch_related("lanes", "staff") \
        .annotate(n_tubes=Count("tubes", distinct=True),
                  n_waiting=Count("tubes", filter=Q(tubes__status=Tube.Status.CLOSED, tubes__bag__isnull=True),
                                  distinct=True))
    site_rows = [{"site": s, "may_sample": access.may_sample_at(user, s), "tubes": s.n_tubes, "waiting": s.n_waiting}
                 for s in sites]
    scope = access.scope_for(user, rnd)
    cov = services.total(services.coverage(rnd, scope)) if scope.village_ids else None
    villages = list(rnd.villages.order_by("code"))
    return render(request, "masstesting/round.html", {
        "round": rnd, "sites": site_rows, "stats": services.round_stats(rnd, access.stats_scope(user, rnd)),
        "coverage": cov,
        "villages": villages, "rules": rnd.rules.select_related("village", "grid").order_by("village__code"),
        "plan": services.site_plan(rnd) if access.may_plan(user) else [],
        "may_plan": access.may_plan(user), "may_coverage": access.may_see_coverage(user),
        "may_exempt": access.may_exempt(user), "advice": pooling.advise(rnd.estimated_prevalence),
        "rule_kinds": PoolRule.Kind.choices, "pool_sizes": pooling.ALLOWED_POOL_SIZES[1:],
        "grids": [(g.pk, f"{g.village.name}{g.name}") for g in core_access.grids_for_user(user).filter(
            village__in=villages).select_related("village")] if access.may_plan(user) else [],
        "staff_choices": User.objects.filter(scope_subdistrict_id=rnd.subdistrict_id, role__in=[
            Role.VOLUNTEER, Role.SAMPLING_LEAD]).order_by("username") if access.may_plan(user) else [],
    })


@login_required
@require_GET
def sample_page(request: AuthedRequest, pk: int, site_id: int) -> HttpResponse:
    user = request.user
    rnd = access.get_round_for_user(user, pk)
    site = access.get_site_for_user(user, rnd, site_id)
    if not access.may_sample_at(user, site):
        raise PermissionDenied("您不是该采样点的工作人员")
    lanes = list(site.lanes.all())
    lane = next((lane for lane in lanes if str(lane.pk) == request.GET.get("lane")), lanes[0] if lanes else None)
    default = services.site_default_size(rnd, site)
    return render(request, "masstesting/sample.html", {
        "round": rnd, "site": site, "lanes": lanes, "lane": lane, "home": None, "default_size": default,
        "pool_sizes": pooling.ALLOWED_POOL_SIZES, "device": uuid.uuid4().hex[:12],
        "waiting": services.unbagged(rnd, site, user).count(), "per_bag": services.TUBES_PER_BAG})


@login_required
@require_http_methods(["GET", "POST"])
def home_list(request: AuthedRequest, pk: int) -> HttpResponse:
    user = request.user
    rnd = access.get_round_for_user(user, pk)
    reqs = access.home_requests_for_user(user, rnd)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "request":
                if not access.may_exempt(user):
                    raise PermissionDenied("只有村/社区干部或网格员可以申请上门采样")
                person = core_access.get_person_for_user(user, int(request.POST.get("person") or 0))
                services.request_home(rnd, person, user, reason=request.POST.get("reason", ""))
                messages.success(request, f"已为 {person.name} 申请上门采样")
            elif action == "assign":
                if not access.may_dispatch(user):
                    raise PermissionDenied("您的角色不能派单")
                req = access.get_home_request_for_user(user, rnd, int(request.POST.get("request") or 0))
                members = access.dispatchable_staff(user, rnd).filter(pk__in=request.POST.getlist("assignees"))
                services.assign_home(req, request.POST.get("team", ""), members)
                messages.success(request, f"已派单：{req.person.name} → {req.team}")
            elif action == "cancel":
                req = access.get_home_request_for_user(user, rnd, int(request.POST.get("request") or 0))
                if not access.may_dispatch(user):
                    raise PermissionDenied("您的角色不能取消")
                services.cancel_home(req)
                messages.success(request, f"已取消 {req.person.name} 的上门采样")
            elif action == "seed" and access.may_plan(user):
                messages.success(request, f"新增 {services.seed_home_requests(rnd)} 条（名册行动不便人员）")
        except MassTestError as exc:
            messages.error(request, exc.message)
        except ValueError:
            messages.error(request, "请检查填写内容")
        return redirect("mt_home", pk=rnd.pk)
    status = request.GET.get("status", "")
    shown = reqs.filter(status=status) if status in HomeRequest.Status.values else reqs
    q = request.GET.get("q", "").strip()
    found: list[Person] = []
    if q and access.may_exempt(user):
        try:
            found = list(register.search_persons(core_access.persons_for_user(user).filter(
                village__in=rnd.villages.all()), q).select_related("household__building")[:10])
        except register.RegisterError as exc:
            messages.error(request, exc.message)
    counts = dict(reqs.values_list("status").annotate(n=Count("pk")).order_by())
    rows = list(shown.select_related("person__household__building", "village").prefetch_related("assignees")
                .order_by("status", "requested_at")[:300])
    return render(request, "masstesting/home.html", {
        "round": rnd, "requests": rows,
        "tabs": [(k, label, counts.get(k, 0)) for k, label in HomeRequest.Status.choices], "status": status,
        "q": q, "found": found,
        "may_request": access.may_exempt(user), "may_dispatch": access.may_dispatch(user),
        "team_choices": access.dispatchable_staff(user, rnd),
        "user_may_visit": {r.pk for r in rows if access.may_home_sample(user, r)}})


@login_required
@require_GET
def home_sample(request: AuthedRequest, pk: int, request_id: int) -> HttpResponse:
    user = request.user
    rnd = access.get_round_for_user(user, pk)
    req = access.get_home_request_for_user(user, rnd, request_id)
    if not access.may_home_sample(user, req):
        raise PermissionDenied("您不在该上门采样小组")
    return render(request, "masstesting/sample.html", {
        "round": rnd, "site": None, "lanes": [], "lane": None, "home": req, "default_size": 1,
        "pool_sizes": pooling.ALLOWED_POOL_SIZES, "device": uuid.uuid4().hex[:12],
        "waiting": services.unbagged(rnd, None, user).count(), "per_bag": services.TUBES_PER_BAG})


@login_required
@require_http_methods(["GET", "POST"])
def exemptions(request: AuthedRequest, pk: int) -> HttpResponse:
    user = request.user
    rnd = access.get_round_for_user(user, pk)
    if not access.may_exempt(user):
        raise PermissionDenied("只有村/社区干部、网格员或指挥部可以登记免检")
    persons = core_access.persons_for_user(user).filter(village__in=rnd.villages.all())
    if request.method == "POST" and request.POST.get("action") == "isolated":
        if not access.may_plan(user):
            raise PermissionDenied("只有指挥部可以批量登记")
        messages.success(request, f"已登记集中隔离中的 {services.exempt_isolated(rnd, user)} 人免检")
        return redirect("mt_exemptions", pk=rnd.pk)
    if request.method == "POST":
        try:
            person = core_access.get_person_for_user(user, int(request.POST.get("person") or 0))
            services.add_exemption(rnd, person, user, request.POST.get("reason", ""), request.POST.get("note", ""))
            messages.success(request, f"已登记 {person.name} 免检")
        except MassTestError as exc:
            messages.error(request, exc.message)
        except ValueError:
            messages.error(request, "请选择人员")
        return redirect("mt_exemptions", pk=rnd.pk)
    q = request.GET.get("q", "").strip()
    found: list[Person] = []
    if q:
        try:
            found = list(register.search_persons(persons, q).select_related("household__building")[:10])
        except register.RegisterError as exc:
            messages.error(request, exc.message)
    items = Exemption.objects.filter(round=rnd, person__in=persons).select_related("person__village")[:500]
    return render(request, "masstesting/exemptions.html", {"round": rnd, "items": items, "found": found, "q": q,
                                                           "reasons": Exemption.Reason.choices})


@login_required
@require_http_methods(["GET", "POST"])
def results_page(request: AuthedRequest, pk: int) -> HttpResponse:
    user = request.user
    rnd = access.get_round_for_user(user, pk)
    if not access.may_see_results(user):
        raise PermissionDenied("您的角色不查看检测结果")
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, "请选择结果文件（.xlsx 或 .csv）")
            return redirect("mt_results", pk=rnd.pk)
        try:
            job = results.start_import(rnd, user, upload, request.POST.get("lab", ""))
        except ImportFileError as exc:
            messages.error(request, exc.message)
            return redirect("mt_results", pk=rnd.pk)
        return redirect("mt_import", pk=rnd.pk, job_id=job.pk)
    scope = access.scope_for(user, rnd)
    persons = scope.persons()
    retests = (Retest.objects.filter(round=rnd, person__in=persons)
               .select_related("person__household__building", "source_tube", "retest_tube", "case", "village")
               .order_by("status", "created_at"))
    flagged = (Sample.objects.filter(round=rnd, person__in=persons, tube__result__result__in=["positive", "invalid"])
               .select_related("person", "tube__result").order_by("tube__barcode", "pk"))
    alerts = Sample.objects.filter(round=rnd, person__in=persons).filter(~Q(alert="") | Q(duplicate=True)) \
        .select_related("person", "tube").order_by("-server_time")[:100]
    imports = ResultImport.objects.filter(round=rnd).order_by("-created_at")[:10] if access.may_plan(user) else []
    # One person's samples and results this round: for the people of this user's scope only.
    q = request.GET.get("q", "").strip()
    lookups: list[dict[str, Any]] = []
    if q:
        try:
            found = list(register.search_persons(persons, q).select_related("village")[:20])
        except register.RegisterError as exc:
            messages.error(request, exc.message)
            found = []
        by_person: dict[int, list[Sample]] = {}
        for smp in Sample.objects.filter(round=rnd, person__in=found).select_related("tube__result", "site") \
                .order_by("server_time"):
            by_person.setdefault(smp.person_id, []).append(smp)
        lookups = [{"person": p, "samples": by_person.get(p.pk, [])} for p in found]
    return render(request, "masstesting/results.html", {
        "round": rnd, "retests": retests, "flagged": flagged, "alerts": alerts, "imports": imports,
        "may_import": access.may_plan(user), "stats": services.round_stats(rnd, access.stats_scope(user, rnd)), "q": q,
        "lookups": lookups})


@login_required
@require_GET
def import_job(request: AuthedRequest, pk: int, job_id: int) -> HttpResponse:
    rnd = access.get_round_for_user(request.user, pk)
    job = ResultImport.objects.filter(pk=job_id, round=rnd, created_by=request.user).first()
    if job is None:
        raise core_access.denied(request.user, "result_import", job_id)
    progress = results.read_progress(job.pk)
    done, total = int(progress.get("done", 0)), int(progress.get("total", 0))
    fraction = min(done / total, 1.0) if total else 0.0
    percent = 100 if job.finished else (min(99, 50 + round(50 * fraction)) if progress.get("phase") == "writing"
                                       else round(50 * fraction))
    context = {"round": rnd, "job": job, "percent": percent, "done": done, "total": total, "progress": progress}
    if request.headers.get("HX-Request"):
        return render(request, "masstesting/_import_status.html", context)
    return render(request, "masstesting/import_job.html", context)


@login_required
@require_GET
def results_template(request: AuthedRequest, pk: int) -> HttpResponse:
    from lianfang.core.importer import template_xlsx

    access.get_round_for_user(request.user, pk)
    data = template_xlsx(results.RESULT_COLUMNS, example=["HZ0000001", "阴性", "2022-05-01 14:30", "杭州迪安医学检验中心"],
                         sheet="检测结果", text_columns=("A", "C"))
    return xlsx_response(data, "results-template.xlsx")


@login_required
@require_GET
def import_errors(request: AuthedRequest, pk: int, job_id: int) -> HttpResponse:
    from lianfang.core.importer import RowError, error_report_xlsx

    rnd = access.get_round_for_user(request.user, pk)
    job = ResultImport.objects.filter(pk=job_id, round=rnd, created_by=request.user).first()
    if job is None or not job.errors:
        raise Http404("该任务没有错误报告")
    data = error_report_xlsx([RowError(**e) for e in job.errors])
    return xlsx_response(data, f"result-errors-{job.pk}.xlsx")


@login_required
@require_GET
def coverage_page(request: AuthedRequest, pk: int) -> HttpResponse:
    user = request.user
    rnd = access.get_round_for_user(user, pk)
    if not access.may_see_coverage(user):
        raise PermissionDenied("您的角色不查看覆盖情况")
    base, scope, where = _coverage_scope(user, rnd, request.GET)
    village_id, grid_id = _place_ids(request.GET)
    if grid_id is not None:
        levels = [("building", "楼栋"), ("household", "户")]
    elif village_id is not None or len(base.village_ids) == 1 or base.grid_ids is not None:
        levels = [("grid", "网格/村民小组")]
    else:
        levels = [("village", "村/社区")]
    tables = [(label, level, services.coverage(rnd, scope, level)) for level, label in levels]
    overall = services.total(tables[0][2]) if tables else None
    if request.headers.get("HX-Request"):  # the live figures, refreshed by the page every 30 s
        return render(request, "masstesting/_coverage_stats.html", {"overall": overall, "now": timezone.now()})
    page = Paginator(services.untested(rnd, scope), 100).get_page(request.GET.get("page"))
    helpers = services.helpers_of([p.pk for p in page])
    for p in page:
        p.helper_name = helpers.get(p.pk, "")  # shown beside the phone
    first = tables[0][2] if tables else []
    chart = {"names": [r.label for r in first][:60], "rates": [r.rate for r in first][:60]}
    return render(request, "masstesting/coverage.html", {
        "round": rnd, "tables": tables, "overall": overall, "page": page, "village_id": village_id, "where": where,
        "grid_id": grid_id, "chart": chart, "may_reveal": user.can_reveal, "may_export": user.can_export,
        "now": timezone.now(),
        "drill": levels[0][0] in {"village", "grid"}})


@login_required
@require_POST
def coverage_export(request: AuthedRequest, pk: int) -> HttpResponse:
    """The report: coverage by village and grid, and the untested list, masked; audited. Sent from a
    village's (or grid's) page, it is that village's report: the cadre chasing its untested people."""
    from openpyxl import Workbook

    user = request.user
    rnd = access.get_round_for_user(user, pk)
    if not (access.may_see_coverage(user) and user.can_export):
        raise PermissionDenied("您的角色不能导出")
    _base, scope, where = _coverage_scope(user, rnd, request.POST)
    wb = Workbook(write_only=True)
    for title, level in (("按村社区", "village"), ("按网格", "grid")):
        ws = wb.create_sheet(title)
        head = ["村/社区"] if level == "grid" else []  # grids of different villages share names
        ws.append([*head, "名称", "名册人数", "免检", "应检", "已检", "未检", "覆盖率%"])
        rows = services.coverage(rnd, scope, level)
        for r in [*rows, services.total(rows)]:
            village = [safe_cell(r.village)] if level == "grid" else []
            ws.append([*village, safe_cell(r.label), r.registered, r.exempt, r.expected, r.sampled, r.untested, r.rate])
    ws = wb.create_sheet("未检人员")
    ws.append(["村/社区", "网格", "住址", "姓名", "证件号码", "手机号"])
    count = 0
    for p in services.untested(rnd, scope).iterator(chunk_size=2000):
        ws.append([p.village.name, p.grid.name if p.grid else "", safe_cell(p.household.address if p.household else ""),
                   safe_cell(p.name), p.doc_masked, p.phone_masked])
        count += 1
    stats = wb.create_sheet("轮次")
    stats.append(["轮次", safe_cell(rnd.name)])
    stats.append(["范围", safe_cell(where or "本人可见的全部村/社区")])
    stats_scope = scope if where else access.stats_scope(user, rnd)
    for k, v in services.round_stats(rnd, stats_scope).items():
        stats.append([services.STAT_LABELS.get(k, k), v])
    buf = io.BytesIO()
    wb.save(buf)
    register.audit_export(user, "test_round_report", count, unmasked=False, reason=request.POST.get("reason", "区级报告"),
                          filters={"round": rnd.pk, "scope": where}, ip=request.META.get("REMOTE_ADDR"))
    return xlsx_response(buf.getvalue(), f"{rnd.name}-{where or '报告'}-未检名单.xlsx")


def _place_ids(data: Any) -> tuple[int | None, int | None]:
    """The village and grid a coverage page or its report was asked for."""
    return (int(data["village"]) if str(data.get("village", "")).isdigit() else None,
            int(data["grid"]) if str(data.get("grid", "")).isdigit() else None)


def _coverage_scope(user: User, rnd: Any, data: Any) -> tuple[services.Scope, services.Scope, str]:
    """The user's part of the round, that part narrowed to the village or grid asked for (a foreign
    one is refused and audited), and the name of what it was narrowed to ("" for all)."""
    base = access.scope_for(user, rnd)
    village_id, grid_id = _place_ids(data)
    grid = core_access.grids_for_user(user).select_related("village").filter(pk=grid_id).first() if grid_id else None
    if (village_id is not None and village_id not in base.village_ids) or (grid_id is not None and grid is None):
        raise core_access.denied(user, "coverage_scope", village_id or grid_id)
    if grid is not None:
        where = f"{grid.village.name}{grid.name}"
    elif village_id is not None:
        where = str(core_access.villages_for_user(user).filter(pk=village_id).values_list("name", flat=True).first() or "")
    else:
        where = ""
    return base, base.narrowed(village_id, grid_id), where


@login_required
@require_http_methods(["GET", "POST"])
def handover(request: AuthedRequest) -> HttpResponse:
    user = request.user
    if not access.may_hand_over(user) or not user.scope_subdistrict_id:
        raise PermissionDenied("只有采样人员或指挥部可以交接转运袋")
    bag = None
    if request.method == "POST":
        try:
            bag = services.hand_over(user.scope_subdistrict_id, request.POST.get("code", ""), user,
                                     request.POST.get("lab", ""))
            messages.success(request, f"转运袋 {bag.code}（{bag.tubes.count()} 管）已交接给 {bag.lab}")
        except MassTestError as exc:
            messages.error(request, exc.message)
    recent = Bag.objects.filter(round__subdistrict_id=user.scope_subdistrict_id, status=Bag.Status.HANDED_OVER) \
        .annotate(n=Count("tubes")).order_by("-handed_over_at")[:20]
    return render(request, "masstesting/handover.html", {"recent": recent, "lab": request.POST.get("lab", "")})
