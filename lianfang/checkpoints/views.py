"""Gate planning pages: road network import, the zone planner with its map, applying a plan, lanes."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lianfang.accounts.roles import Role
from lianfang.checkpoints import services
from lianfang.checkpoints.access import gates_for_user
from lianfang.checkpoints.models import GatePlan
from lianfang.core.http import AuthedRequest
from lianfang.core.models import Road, Zone

MAX_NETWORK_BYTES = 200 * 1024 * 1024
ROAD_CLASS_LABELS = {"motorway": "高速公路", "trunk": "快速路", "primary": "主干路", "secondary": "次干路",
                     "tertiary": "支路", "residential": "居住区道路", "unclassified": "其他道路", "service": "服务道路",
                     "living_street": "生活街道", "track": "机耕路", "road": "道路"}


def _command(user: Any) -> int:
    if not user.is_command or user.scope_subdistrict_id is None:
        raise PermissionDenied("只有指挥部可以规划卡口")
    return int(user.scope_subdistrict_id)


@login_required
@require_GET
def gate_list(request: AuthedRequest) -> HttpResponse:
    gates = gates_for_user(request.user).select_related("zone", "village", "assessment_lot").prefetch_related("demands")
    if not gates.exists() and not request.user.is_command:
        raise PermissionDenied("您没有可查看的卡口")
    return render(request, "checkpoints/gates.html", {"gates": gates, "shifts": services.SHIFTS})


@login_required
@require_http_methods(["GET", "POST"])
def road_import(request: AuthedRequest) -> HttpResponse:
    sub_id = _command(request.user)
    error = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        nodes, edges = request.FILES.get("nodes"), request.FILES.get("edges")
        try:
            if nodes and edges:
                net = services.read_network_csv(nodes.read().decode("utf-8-sig"), edges.read().decode("utf-8-sig"))
            elif upload:
                if upload.size and upload.size > MAX_NETWORK_BYTES:
                    raise services.CheckpointError("file_too_big", "文件过大：请裁剪到本街道范围后再导入")
                tmp = Path(tempfile.mkdtemp(prefix="lianfang-roads-")) / Path(upload.name or "roads").name
                with tmp.open("wb") as f:
                    for chunk in upload.chunks():
                        f.write(chunk)
                try:
                    net = services.read_network_file(tmp, upload.name or "")
                finally:
                    tmp.unlink(missing_ok=True)
            else:
                raise services.CheckpointError("no_file", "请选择路网文件（OSM/GeoJSON），或同时选择 CSV 节点表和路段表")
            assert request.user.scope_subdistrict is not None
            n = services.replace_roads(request.user.scope_subdistrict, net)
            comps = len(net.components())
            messages.success(request, f"已导入 {n} 条路段、{len(net.nodes)} 个路口"
                                      + (f"；路网分成 {comps} 个互不连通的部分，请确认是否缺路" if comps > 1 else ""))
            return redirect("road_import")
        except UnicodeDecodeError:
            error = "CSV 文件须为 UTF-8 编码"
        except services.CheckpointError as exc:
            error = exc.message
    roads = Road.objects.filter(subdistrict_id=sub_id)
    by_class = roads.values("road_class").annotate(n=Count("pk")).order_by("-n")
    return render(request, "checkpoints/roads.html", {"error": error, "count": roads.count(), "by_class": by_class,
                                                      "synthetic": roads.filter(synthetic=True).exists()})


@login_required
@require_http_methods(["GET", "POST"])
def plan_new(request: AuthedRequest) -> HttpResponse:
    sub_id = _command(request.user)
    zones = Zone.objects.filter(subdistrict_id=sub_id).order_by("name")
    classes = list(Road.objects.filter(subdistrict_id=sub_id).values_list("road_class", flat=True).distinct())
    error = ""
    if request.method == "POST":
        zone = get_object_or_404(Zone, pk=request.POST.get("zone") or 0, subdistrict_id=sub_id)
        def ids(name: str) -> tuple[str, ...]:
            text = request.POST.get(name, "").replace("，", ",").replace("\n", ",")
            return tuple(x.strip() for x in text.split(",") if x.strip())

        try:
            req = services.PlanRequest(
                mode="edge" if request.POST.get("mode") == "edge" else "junction",
                allowed_classes=tuple(c for c in request.POST.getlist("classes") if c in classes),
                allowed=ids("allowed"), forbidden=ids("forbidden"), zone_junctions=ids("zone_junctions"),
                costs=services.parse_costs(request.POST.get("costs", "")),
                solver="networkx" if request.POST.get("solver") == "networkx" else "scipy")
            plan = services.plan_zone(zone, request.user, req)
            return redirect("plan_detail", pk=plan.pk)
        except services.CheckpointError as exc:
            error = exc.message
    return render(request, "checkpoints/plan_new.html", {
        "zones": zones, "classes": [(c, ROAD_CLASS_LABELS.get(c, c)) for c in sorted(classes)], "error": error,
        "plans": GatePlan.objects.filter(subdistrict_id=sub_id).select_related("zone")[:10]})


@login_required
@require_GET
def plan_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    sub_id = _command(request.user)
    plan = get_object_or_404(GatePlan, pk=pk, subdistrict_id=sub_id)
    return render(request, "checkpoints/plan_detail.html", {"plan": plan, "baseline": sorted(plan.baseline.items())})


@login_required
@require_GET
def plan_geojson(request: AuthedRequest, pk: int) -> JsonResponse:
    sub_id = _command(request.user)
    plan = get_object_or_404(GatePlan, pk=pk, subdistrict_id=sub_id)
    sites = plan.result.get("sites", [])
    entry = {str(r) for r in plan.result.get("entry_roads", [])}
    lons = [s["lon"] for s in sites] or [0.0]
    lats = [s["lat"] for s in sites] or [0.0]
    pad_x = (max(lons) - min(lons)) * 0.6 + 1e-3
    pad_y = (max(lats) - min(lats)) * 0.6 + 1e-3
    box = (min(lons) - pad_x, min(lats) - pad_y, max(lons) + pad_x, max(lats) + pad_y)
    roads = []
    for r in Road.objects.filter(subdistrict_id=sub_id).only("pk", "name", "road_class", "geometry").iterator():
        coords = r.geometry["coordinates"]
        if any(box[0] <= c[0] <= box[2] and box[1] <= c[1] <= box[3] for c in coords) or str(r.pk) in entry:
            roads.append({"type": "Feature", "geometry": r.geometry, "properties": {
                "id": r.pk, "name": r.name, "road_class": r.road_class, "entry": str(r.pk) in entry}})
    zone_geo = [v.geometry for v in plan.zone.current_villages() if v.geometry]
    return JsonResponse({
        "roads": {"type": "FeatureCollection", "features": roads},
        "villages": {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": g, "properties": {}} for g in zone_geo]},
        "sites": {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [s["lon"], s["lat"]]},
             "properties": {"id": s["id"], "existing": s["existing"],
                            "seals": "、".join(x["name"] or f"路段{x['id']}" for x in s["seals"])}} for s in sites]},
    })


@login_required
@require_POST
def plan_apply(request: AuthedRequest, pk: int) -> HttpResponse:
    sub_id = _command(request.user)
    plan = get_object_or_404(GatePlan, pk=pk, subdistrict_id=sub_id)
    try:
        created = services.apply_plan(plan, request.user)
        messages.success(request, f"已在卡口登记中新建 {len(created)} 个卡口")
    except services.CheckpointError as exc:
        messages.error(request, exc.message)
    return redirect("gate_list")


@login_required
@require_POST
def gate_lanes(request: AuthedRequest, pk: int) -> HttpResponse:
    gate = get_object_or_404(gates_for_user(request.user), pk=pk)
    if not (request.user.is_command or request.user.role == Role.GATE_CHIEF):
        raise PermissionDenied("只有指挥部或卡口长可以测算通道")
    try:
        arrivals = float(request.POST.get("arrivals", ""))
        service = float(request.POST.get("service", ""))
        target = float(request.POST.get("target", "") or 300)
        demand = services.size_lanes(gate, request.POST.get("shift", services.SHIFTS[0]), arrivals, service, target)
        messages.success(request, f"{gate.name} {demand.shift}：需 {demand.lanes} 条检查通道、{demand.staff} 人，"
                                  f"预计平均等待 {demand.expected_wait_seconds:.0f} 秒")
    except ValueError:
        messages.error(request, "请填写数字：每小时到达量、平均查验秒数、目标等待秒数")
    except services.CheckpointError as exc:
        messages.error(request, exc.message)
    return redirect("gate_list")


# --- scanning, the assessment lot, the gate board -------------------------------------------

@login_required
@require_GET
def scan_page(request: AuthedRequest, pk: int) -> HttpResponse:
    from lianfang.checkpoints.access import gates_for_user, get_gate_for_user, may_scan
    from lianfang.checkpoints.models import Lane
    from lianfang.control.models import Sop

    if not may_scan(request.user) and gates_for_user(request.user).filter(pk=pk).exists():
        raise PermissionDenied("查验由卡口人员办理：您可以在卡口看板查看该卡口的查验情况")  # sees the gate, does not scan
    gate = get_gate_for_user(request.user, pk, to_scan=True)
    return render(request, "checkpoints/scan.html", {
        "gate": gate, "lanes": Lane.objects.filter(gate=gate),
        "sops": Sop.objects.filter(subdistrict_id=gate.subdistrict_id, applies_to="inbox:gate")})


@require_GET
def service_worker(request: AuthedRequest) -> HttpResponse:
    from django.conf import settings

    body = (Path(settings.BASE_DIR) / "static" / "js" / "sw.js").read_text(encoding="utf-8")
    response = HttpResponse(body, content_type="application/javascript")
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def manifest(request: AuthedRequest) -> JsonResponse:
    return JsonResponse({"name": "联防 · 卡口查验", "short_name": "卡口查验", "start_url": "/gates/",
                         "scope": "/gates/", "display": "standalone", "background_color": "#ffffff",
                         "theme_color": "#b22222", "lang": "zh-CN",
                         "icons": [{"src": "/static/img/icon.svg", "sizes": "any", "type": "image/svg+xml"}]})


@login_required
@require_http_methods(["GET", "POST"])
def assessment_queue(request: AuthedRequest) -> HttpResponse:
    from lianfang.checkpoints import scanning
    from lianfang.checkpoints.access import assessments_for_user
    from lianfang.checkpoints.models import Assessment
    from lianfang.core.access import villages_for_user

    user = request.user
    qs = assessments_for_user(user).select_related("scan", "gate", "destination", "case")
    if request.method == "POST":
        if not (user.is_command or user.role in {Role.GATE_CHIEF, Role.GATE_STAFF}):
            raise PermissionDenied("只有研判点工作人员或指挥部可以研判")
        item = get_object_or_404(qs, pk=request.POST.get("assessment") or 0)
        from lianfang.core.models import Village

        village = Village.objects.filter(pk=request.POST.get("destination") or 0,
                                         subdistrict_id=user.scope_subdistrict_id or 0).first()
        try:
            scanning.decide(item, user, request.POST.get("decision", ""), destination=village,
                            note=request.POST.get("note", ""), category=request.POST.get("category") or "medium_risk_arrival")
            messages.success(request, "已研判" + ("，已转入重点人员流程" if item.case_id else ""))
        except scanning.ScanError as exc:
            messages.error(request, exc.message)
        return redirect("assessment_queue")
    waiting = qs.filter(decided_at__isnull=True).order_by("created_at")
    decided = qs.filter(decided_at__isnull=False).order_by("-decided_at")[:30]
    context = {"waiting": waiting, "decided": decided, "decisions": Assessment.Decision.choices,
               "villages": villages_for_user(user).order_by("code") if user.is_command or user.scope_gate_id else []}
    if request.headers.get("HX-Request"):
        return render(request, "checkpoints/_assessment_waiting.html", context)
    return render(request, "checkpoints/assessments.html", context)


@login_required
@require_GET
def gate_board(request: AuthedRequest) -> HttpResponse:
    """Live counts by lane and hour, verdicts, the lot's queue; one gate or the whole sub-district."""
    import datetime as dt

    from django.db.models.functions import ExtractHour
    from django.utils import timezone

    from lianfang.checkpoints import scanning
    from lianfang.checkpoints.access import assessments_for_user, scans_for_user

    user = request.user
    gates = gates_for_user(user)
    gate_id = request.GET.get("gate", "")
    scans = scans_for_user(user)
    if gate_id.isdigit():
        gates = gates.filter(pk=int(gate_id))
        scans = scans.filter(gate_id=int(gate_id))
    if not gates.exists():
        raise PermissionDenied("您没有可查看的卡口")
    day = request.GET.get("day") or timezone.localdate().isoformat()
    try:
        start = timezone.make_aware(dt.datetime.combine(dt.date.fromisoformat(day), dt.time.min))
    except ValueError:
        messages.warning(request, f"日期“{day[:20]}”无法识别（格式如 2022-05-01），已显示今天")
        start = timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time.min))
    today = scans.filter(device_time__gte=start, device_time__lt=start + dt.timedelta(days=1))
    by_outcome = dict(today.values_list("outcome").annotate(n=Count("pk")))
    hour = ExtractHour("device_time", tzinfo=timezone.get_current_timezone())
    hours = today.annotate(h=hour).values("h", "lane__name").annotate(n=Count("pk"))
    lanes = sorted({h["lane__name"] or "未分通道" for h in hours})
    series = {lane: [0] * 24 for lane in lanes}
    for h in hours:
        series[h["lane__name"] or "未分通道"][h["h"]] += h["n"]
    per_gate = today.values("gate__name").annotate(n=Count("pk"), redirected=Count("pk", filter=~Q(outcome="pass")))
    return render(request, "checkpoints/board.html", {
        "gates": gates, "gate_id": gate_id, "day": start.date(), "total": today.count(),
        "outcomes": [(scanning.outcome_label(k, short=True), v)
                     for k, v in sorted(by_outcome.items(), key=lambda kv: -kv[1])],
        "chart": {"hours": list(range(24)), "series": [{"name": k, "data": v} for k, v in series.items()]},
        "per_gate": per_gate, "waiting": assessments_for_user(user).filter(decided_at__isnull=True).count(),
        "recent": [(s, scanning.outcome_label(s.outcome, short=True))
                   for s in today.select_related("gate", "lane").order_by("-device_time")[:20]],
        "offline": today.filter(offline=True).count(), "late": today.filter(late=True).count()})


@login_required
@require_GET
def pass_print(request: AuthedRequest, code: str) -> HttpResponse:
    """A zone pass to print or show again: the QR code and whose it is."""
    import segno

    from lianfang.checkpoints import scanning
    from lianfang.checkpoints.models import ZonePass

    zp = get_object_or_404(ZonePass, code=code, subdistrict_id=request.user.scope_subdistrict_id)
    if not (request.user.is_command or gates_for_user(request.user).filter(zone_id=zp.zone_id).exists()):
        raise PermissionDenied("无权查看这张通行证")
    token = scanning.pass_token(zp)
    qr = segno.make(token, error="m").svg_inline(scale=6)
    return render(request, "checkpoints/pass.html", {"zp": zp, "qr": qr, "valid": zp.revoked_at is None})
