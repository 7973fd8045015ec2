"""Gate planning: road networks in the register, the zone's minimum cut beside the villages'
baseline, applying a plan as gates, and inspection lanes per gate from Erlang C."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import transaction

from lianfang.checkpoints.models import Gate, GateDemand, GatePlan
from lianfang.core.models import Road, SubDistrict, Village, Zone
from lianfang.engines import cutplan, lanes, roadnet

if TYPE_CHECKING:
    from lianfang.accounts.models import User


class CheckpointError(Exception):
    def __init__(self, code: str, message: str, open_roads: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.open_roads = open_roads or []


# --- road networks --------------------------------------------------------------------------

def read_network_file(path: Path, filename: str) -> roadnet.Network:
    import json

    suffix = filename.lower()
    try:
        if suffix.endswith((".osm.pbf", ".pbf", ".osm")):
            return roadnet.read_osm(path)
        if suffix.endswith((".geojson", ".json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8-sig"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise CheckpointError("file_broken", "GeoJSON 文件无法解析：请确认是 UTF-8 编码的 GeoJSON") from exc
            return roadnet.read_geojson(data)
    except roadnet.RoadNetError as exc:
        raise CheckpointError(exc.code, exc.message) from exc
    raise CheckpointError("file_type", "请上传 .osm.pbf、.osm 或 .geojson 文件；CSV 路网请同时上传节点表和路段表")


def read_network_csv(nodes_text: str, edges_text: str) -> roadnet.Network:
    try:
        return roadnet.read_csv(nodes_text, edges_text)
    except roadnet.RoadNetError as exc:
        raise CheckpointError(exc.code, exc.message) from exc


@transaction.atomic
def replace_roads(subdistrict: SubDistrict, net: roadnet.Network) -> int:
    """The sub-district's road network becomes ``net`` (all or nothing)."""
    if not net.edges:
        raise CheckpointError("no_roads", "文件中没有道路")
    Road.objects.filter(subdistrict=subdistrict).delete()
    rows = []
    for e in net.edges:
        coords = list(e.coords) or [net.nodes[e.u], net.nodes[e.v]]
        rows.append(Road(subdistrict=subdistrict, name=e.name[:80], road_class=e.road_class[:20] or "road",
                         oneway=e.oneway, start_node=e.u[:40], end_node=e.v[:40], synthetic=False,
                         geometry={"type": "LineString", "coordinates": [list(c) for c in coords]}))
    Road.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def network_for(subdistrict_id: int) -> roadnet.Network:
    nodes: dict[str, tuple[float, float]] = {}
    edges: list[roadnet.Edge] = []
    for r in Road.objects.filter(subdistrict_id=subdistrict_id).order_by("pk").values(
            "pk", "start_node", "end_node", "oneway", "road_class", "name", "geometry"):
        coords = [tuple(c) for c in r["geometry"]["coordinates"]]
        u, v = r["start_node"] or f"r{r['pk']}a", r["end_node"] or f"r{r['pk']}b"
        nodes.setdefault(u, (float(coords[0][0]), float(coords[0][1])))
        nodes.setdefault(v, (float(coords[-1][0]), float(coords[-1][1])))
        edges.append(roadnet.Edge(str(r["pk"]), u, v, r["oneway"], r["road_class"], r["name"],
                                  tuple((float(x), float(y)) for x, y in coords)))
    return roadnet.Network(nodes, edges)


def _ring(geometry: dict[str, Any] | None) -> list[tuple[float, float]]:
    if not geometry:
        return []
    coords = geometry["coordinates"]
    if geometry["type"] == "MultiPolygon":
        coords = coords[0]
    return [(float(x), float(y)) for x, y in coords[0]]


def village_junctions(net: roadnet.Network, village: Village) -> set[str]:
    return cutplan.zone_from_polygon(net, _ring(village.geometry)) if village.geometry else set()


def zone_junctions(net: roadnet.Network, zone: Zone) -> tuple[set[str], dict[str, set[str]]]:
    """The zone's junctions (its polygon, or the union of its villages'), and each village's."""
    villages = {v.name: village_junctions(net, v) for v in zone.current_villages().order_by("code")}
    names = {n for name, ns in villages.items() for n in ns}
    if zone.geometry:
        names = cutplan.zone_from_polygon(net, _ring(zone.geometry))
    return names, villages


def overlapping_villages(villages: dict[str, set[str]]) -> list[tuple[str, str]]:
    names = sorted(villages)
    return [(a, b) for i, a in enumerate(names) for b in names[i + 1:] if villages[a] & villages[b]]


# --- planning -------------------------------------------------------------------------------

@dataclass
class PlanRequest:
    mode: str = "junction"
    allowed_classes: tuple[str, ...] = ()  # junctions touching a road of these classes may host a gate
    allowed: tuple[str, ...] = ()  # a hand-drawn set of junctions (or roads) that may host a gate
    forbidden: tuple[str, ...] = ()
    costs: dict[str, float] | None = None  # cost per site (default 1)
    zone_junctions: tuple[str, ...] = ()  # the zone as a set of junctions instead of its polygons
    solver: str = "scipy"


def parse_costs(text: str) -> dict[str, float]:
    """'J03-07=2' per line (or comma-separated) → {'J03-07': 2.0}; bad lines are refused."""
    costs: dict[str, float] = {}
    for n, part in enumerate(text.replace("，", ",").replace("\n", ",").split(","), start=1):
        part = part.strip()
        if not part:
            continue
        key, _, value = part.partition("=")
        try:
            cost = float(value)
            if not key.strip() or not (0 < cost < 1e6):
                raise ValueError
        except ValueError:
            raise CheckpointError("cost", f"成本第 {n} 项“{part}”格式有误：请写成 路口编号=正数，如 J03-07=2") from None
        costs[key.strip()] = cost
    return costs


def plan_zone(zone: Zone, user: User | None, request: PlanRequest) -> GatePlan:
    net = network_for(zone.subdistrict_id)
    if not net.edges:
        raise CheckpointError("no_roads", "本街道还没有路网：请先导入道路（OSM、GeoJSON 或 CSV）")
    nodes, villages = zone_junctions(net, zone)
    if request.zone_junctions:
        unknown = [j for j in request.zone_junctions if j not in net.nodes]
        if unknown:
            raise CheckpointError("unknown_nodes", f"路网中没有这些路口：{'、'.join(unknown[:10])}")
        nodes = set(request.zone_junctions)
    if not nodes:
        raise CheckpointError("zone_empty", f"“{zone.name}”范围内没有路口：请检查防区或村的边界")
    overlaps = overlapping_villages(villages)
    if overlaps:
        pairs = "、".join(f"{a}与{b}" for a, b in overlaps)
        raise CheckpointError("overlap", f"村界重叠（{pairs}）：同一路口不能属于两个村，请先修正村界")
    for other in Zone.objects.filter(subdistrict_id=zone.subdistrict_id).exclude(pk=zone.pk):
        shared = nodes & zone_junctions(net, other)[0]
        if shared:
            raise CheckpointError("zones_overlap", f"“{zone.name}”与“{other.name}”范围重叠（共有 {len(shared)} 个路口）："
                                                   "一个路口只能属于一个防区，请先修正防区或村界")
    # A gate planned on an earlier road import may sit on a junction this network no longer has.
    existing = {g.junction for g in Gate.objects.filter(zone=zone) if g.junction in net.nodes}
    allowed: frozenset[str] | None = None
    if request.allowed_classes:
        allowed = frozenset(n for e in net.edges if e.road_class in request.allowed_classes for n in (e.u, e.v))
    if request.allowed:
        allowed = frozenset(request.allowed) if allowed is None else allowed & frozenset(request.allowed)
    costs = request.costs or {}
    options = cutplan.PlanOptions(
        mode="edge" if request.mode == "edge" else "junction",
        allowed_nodes=allowed if request.mode == "junction" else None,
        allowed_edges=allowed if request.mode == "edge" and request.allowed else None,
        node_cost=costs if request.mode == "junction" else {}, edge_cost=costs if request.mode == "edge" else {},
        forbidden_nodes=frozenset(request.forbidden) if request.mode == "junction" else frozenset(),
        forbidden_edges=frozenset(request.forbidden) if request.mode == "edge" else frozenset(),
        existing_nodes=frozenset(existing) if request.mode == "junction" else frozenset(),
        solver=request.solver,  # type: ignore[arg-type]
    )
    started = time.perf_counter()
    try:
        cut = cutplan.plan_zone(net, nodes, options)
    except cutplan.PlanningError as exc:
        roads = {e.id: e for e in net.edges}
        names = [roads[r].name or f"路段{r}" for r in exc.open_roads if r in roads]
        raise CheckpointError(exc.code, exc.message + (f"（仍然敞开：{'、'.join(names[:20])}）" if names else ""),
                              exc.open_roads) from exc
    baseline = {name: n for name, n in cutplan.baseline_each_village(net, villages).items()}
    edges = {e.id: e for e in net.edges}
    sites = []
    for site in cut.sites:
        if request.mode == "junction":
            lon, lat = net.nodes[site]
        else:
            e = edges[site]
            (x1, y1), (x2, y2) = net.nodes[e.u], net.nodes[e.v]
            lon, lat = (x1 + x2) / 2, (y1 + y2) / 2
        sealed = cut.seals.get(site, [])
        sites.append({"id": site, "lon": lon, "lat": lat, "existing": site in existing,
                      "seals": [{"id": r, "name": edges[r].name if r in edges else ""} for r in sealed]})
    plan = GatePlan.objects.create(
        subdistrict_id=zone.subdistrict_id, zone=zone, mode=request.mode, created_by=user,
        options={"allowed_classes": list(request.allowed_classes), "allowed": list(request.allowed),
                 "forbidden": list(request.forbidden), "costs": costs,
                 "zone_junctions": len(request.zone_junctions), "solver": request.solver},
        result={"sites": sites, "entry_roads": cut.entry_edges, "cost": cut.cost, "solver": cut.solver,
                "seconds": round(time.perf_counter() - started, 4), "zone_junctions": len(nodes)},
        baseline=baseline)
    return plan


@transaction.atomic
def apply_plan(plan: GatePlan, user: User | None) -> list[Gate]:
    """Create a gate for every chosen site that has none yet; existing gates are kept."""
    if plan.applied_at is not None:
        raise CheckpointError("applied", "该规划已应用过")
    from django.utils import timezone

    have = set(Gate.objects.filter(zone=plan.zone).values_list("junction", flat=True))
    from lianfang.core.models import PointOfInterest

    lots = list(PointOfInterest.objects.filter(subdistrict_id=plan.subdistrict_id, kind=PointOfInterest.Kind.ASSESSMENT_LOT))

    def nearest_lot(lon: float, lat: float) -> PointOfInterest | None:
        def dist(p: PointOfInterest) -> float:
            x, y = p.geometry["coordinates"][:2]
            return float((x - lon) ** 2 + (y - lat) ** 2)

        return min(lots, key=dist, default=None)

    n = Gate.objects.filter(zone=plan.zone).count()
    created = []
    for site in plan.result.get("sites", []):
        if site["id"] in have:
            continue
        n += 1
        sealed = "、".join(s["name"] for s in site["seals"] if s["name"])
        created.append(Gate.objects.create(
            subdistrict_id=plan.subdistrict_id, zone=plan.zone, name=f"{plan.zone.name}{n}号卡口"[:80],
            kind=Gate.Kind.ROAD, junction=site["id"][:40], assessment_lot=nearest_lot(site["lon"], site["lat"]),
            geometry={"type": "Point", "coordinates": [site["lon"], site["lat"]], "seals": sealed[:200]}))
    plan.applied_at = timezone.now()
    plan.save(update_fields=["applied_at"])
    return created


# --- lanes ----------------------------------------------------------------------------------

SHIFTS = ["早班 08–16", "中班 16–24", "夜班 00–08"]


def size_lanes(gate: Gate, shift: str, arrivals_per_hour: float, service_seconds: float,
               target_wait_seconds: float = 300, staff_per_lane: int = 2) -> GateDemand:
    try:
        sizing = lanes.lanes_needed(arrivals_per_hour, service_seconds, target_wait_seconds)
    except ValueError as exc:
        raise CheckpointError("lanes_input", str(exc)) from exc
    demand, _ = GateDemand.objects.update_or_create(gate=gate, shift=shift[:20], defaults={
        "arrivals_per_hour": arrivals_per_hour, "service_seconds": service_seconds,
        "target_wait_seconds": target_wait_seconds, "lanes": sizing.lanes,
        "staff": lanes.staff_per_shift(sizing, staff_per_lane),
        "expected_wait_seconds": round(sizing.expected_wait_seconds, 1)})
    return demand
