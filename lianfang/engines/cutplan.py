"""Gate planning: the fewest checkpoints that seal a defence zone, by a minimum cut.

Pure Python (no Django). A zone is a set of junction ids of a :class:`~roadnet.Network`. It is
sealed when every road path from a junction outside the zone to a junction inside passes a
checkpoint. Checkpoints sit at junctions (``mode="junction"``: a gate at a junction controls
every road through it) or on road segments (``mode="edge"``).

Formulation (a real max-flow; SciPy's Dinic or networkx's preflow-push):

- a super source *S* joined to every junction outside the zone, a super sink *T* joined from
  every junction inside, both with infinite capacity;
- every road is two directed arcs (one for a one-way road, in its direction of travel), so a
  one-way road leaving the zone needs no gate;
- junction mode splits each junction *v* into ``v_in -> v_out`` with capacity = its site cost
  (default 1; infinite where a gate may not stand: forbidden, or outside ``allowed_nodes``);
  road arcs ``u_out -> v_in`` have infinite capacity. Junctions on **both** sides of the
  boundary may be cut: a gate just outside the zone that feeds several entry roads seals them
  all at once, and a gate just inside seals every entry road meeting there;
- edge mode keeps junctions whole and gives each road arc the road's cost (infinite if the road
  may not be used);
- gates that exist already are free and always kept: they are pre-cut (removed from the graph)
  and added to the sites.

Infinity is a big-M one above the cost of a trivial finite cut, and costs are scaled to
integers (x1000) because SciPy wants int32 capacities; both solvers get the same integer graph,
so they return the same cut size. The cut is read from the residual graph: the sites are the
split arcs (or road arcs) from a node reachable from *S* to one that is not. That minimal source
side is unique for every maximum flow, so both solvers also return the same sites.

Because every outside junction hangs on *S* and every inside junction on *T*, the cut always lies
on the boundary: each entry road is sealed at one of its two ends. Junction mode is therefore a
minimum-weight vertex cover of the bipartite graph of entry roads (König), edge mode simply
takes every entry road. On CUMCM 2011 B District A (92 junctions, 15 entry roads): edge mode 15;
junction mode 12 with gates allowed on both sides of the boundary, because outside junction 29
feeds two entry roads (to 239 and 370), inside junction 459 meets two (from 14 and 21), and the
three entry roads 22-372, 372-23, 23-383 form a chain that two junctions cover (372 with 383 or
with 23): 15 - 1 - 1 - 1 = 12. Restricting gates to junctions inside the zone
(``allowed_nodes=zone``) gives 13, one per inside end of an entry road: the contest's "13 access
junctions" of District A. Gates only outside the zone would also need 13.

If an entry road can be reached from outside and leads into the zone through junctions (or
roads) that may not host a gate, the zone cannot be sealed: :class:`PlanningError` with code
``cannot_seal`` lists those roads in ``open_roads``. This is checked on the infinite arcs before
any flow is run.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from lianfang.engines.roadnet import Edge, Network

Mode = Literal["junction", "edge"]
Solver = Literal["scipy", "networkx"]

SCALE = 1000  # costs are scaled to integers (1 = 1000)
MAX_CAP = 2**29  # headroom below int32 for SciPy (parallel arcs are clipped to the big-M)
MAX_LISTED = 8


class PlanningError(ValueError):
    """A zone that cannot be planned; ``message`` is shown to the user (Chinese)."""

    def __init__(self, code: str, message: str, open_roads: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.open_roads: list[str] = list(open_roads)


@dataclass(frozen=True)
class PlanOptions:
    mode: Mode = "junction"
    allowed_nodes: frozenset[str] | None = None  # None = any junction may host a gate
    forbidden_nodes: frozenset[str] = frozenset()
    existing_nodes: frozenset[str] = frozenset()  # gates already standing: free, always kept
    node_cost: Mapping[str, float] = field(default_factory=dict)  # default 1 per site
    allowed_edges: frozenset[str] | None = None
    forbidden_edges: frozenset[str] = frozenset()
    existing_edges: frozenset[str] = frozenset()
    edge_cost: Mapping[str, float] = field(default_factory=dict)
    solver: Solver = "scipy"


DEFAULT_OPTIONS = PlanOptions()


@dataclass
class CutPlan:
    sites: list[str]  # node ids (junction mode) or edge ids (edge mode), existing gates included
    seals: dict[str, list[str]]  # site -> entry road ids it closes
    entry_edges: list[str]  # roads that carry traffic across the boundary into the zone
    cost: float  # cost of the new sites (existing gates are free)
    solver: str
    seconds: float
    mode: str = "junction"
    existing: list[str] = field(default_factory=list)

    @property
    def new_sites(self) -> list[str]:
        kept = set(self.existing)
        return [s for s in self.sites if s not in kept]


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort ``n2`` before ``n10``."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", text) if p)


def _listed(ids: Iterable[str]) -> str:
    items = sorted(ids, key=natural_key)
    more = f" 等 {len(items)} 个" if len(items) > MAX_LISTED else ""
    return "、".join(items[:MAX_LISTED]) + more


def entry_edges(net: Network, zone: set[str]) -> list[Edge]:
    """Roads crossing the zone boundary that can carry traffic into the zone.

    A one-way road leaving the zone is not an entry."""
    out: list[Edge] = []
    for e in net.edges:
        u_in, v_in = e.u in zone, e.v in zone
        if u_in == v_in:
            continue
        if e.oneway and u_in:
            continue  # one-way out of the zone
        out.append(e)
    return out


# ---------------------------------------------------------------------------------------------
# validation


def _check_zone(net: Network, zone: set[str], what: str = "该区域") -> None:
    if not net.edges:
        raise PlanningError("empty_network", "路网中没有道路，无法规划卡口。请先导入道路。")
    if not zone:
        raise PlanningError("empty_zone", f"{what}不包含任何路口。请先选择或绘制区域。")
    unknown = [n for n in zone if n not in net.nodes]
    if unknown:
        raise PlanningError("unknown_nodes", f"{what}中有 {len(unknown)} 个路口不在路网中：{_listed(unknown)}。")


def _check_ids(ids: Iterable[str] | None, known: Mapping[str, object] | set[str], what: str) -> None:
    if ids is None:
        return
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise PlanningError("unknown_sites", f"{what}中有不在路网中的编号：{_listed(unknown)}。")


def _check_costs(costs: Mapping[str, float], known: Mapping[str, object] | set[str], what: str) -> None:
    _check_ids(costs.keys(), known, what)
    bad = [k for k, c in costs.items() if not (isinstance(c, int | float) and math.isfinite(c) and c >= 0)]
    if bad:
        raise PlanningError("bad_cost", f"{what}必须是非负数：{_listed(bad)}。")


# ---------------------------------------------------------------------------------------------
# the flow graph


@dataclass
class FlowGraph:
    """Directed arcs with integer capacities; ``inf`` marks arcs that may not be cut."""

    size: int
    source: int
    sink: int
    tails: NDArray[np.int64]
    heads: NDArray[np.int64]
    caps: NDArray[np.int64]  # scaled costs; big-M where inf
    inf: NDArray[np.bool_]
    big_m: int


@dataclass
class _Build:
    graph: FlowGraph
    mode: Mode
    node_ids: list[str]  # active node index -> id
    cuttable: list[tuple[int, int, str, float]]  # (tail, head, site id, raw cost) for every finite arc that is a site
    entry_arcs: list[tuple[int, int, str, bool]]  # (tail, head, entry id, arc is infinite) for entries still in the graph


def _arrays(tails: list[int], heads: list[int], caps: list[int], inf: list[bool], big_m: int) -> tuple[
        NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    t = np.asarray(tails, dtype=np.int64)
    h = np.asarray(heads, dtype=np.int64)
    inf_a = np.asarray(inf, dtype=np.bool_)
    c = np.asarray(caps, dtype=np.int64)
    c[inf_a] = big_m
    return t, h, c, inf_a


def _scale(raw_bound: float) -> float:
    """Integer scale for costs so that the trivial cut stays far below int32."""
    if raw_bound * SCALE < MAX_CAP // 2:
        return float(SCALE)
    return (MAX_CAP // 2) / max(raw_bound, 1.0)


def build_flow_graph(net: Network, zone: set[str], options: PlanOptions) -> _Build:
    """The node-split (junction mode) or plain (edge mode) flow network of the formulation."""
    if options.mode == "junction":
        return _build_junction(net, zone, options)
    return _build_edge(net, zone, options)


def _build_junction(net: Network, zone: set[str], o: PlanOptions) -> _Build:
    removed = o.existing_nodes
    node_ids = [n for n in net.nodes if n not in removed]
    index = {n: i for i, n in enumerate(node_ids)}
    count = len(node_ids)
    source, sink = 2 * count, 2 * count + 1

    def can_host(n: str) -> bool:
        return n not in o.forbidden_nodes and (o.allowed_nodes is None or n in o.allowed_nodes)

    costs = [float(o.node_cost.get(n, 1.0)) for n in node_ids]
    hosts = [can_host(n) for n in node_ids]
    entries = [e for e in entry_edges(net, zone) if e.u not in removed and e.v not in removed]
    bound = 0.0  # cost of a trivial finite cut: the cheaper end of every entry road
    for e in entries:
        ends = [costs[index[x]] for x in (e.u, e.v) if hosts[index[x]]]
        bound += min(ends) if ends else 0.0
    scale = _scale(bound)
    big_m = math.ceil(bound * scale) + 1

    tails: list[int] = []
    heads: list[int] = []
    caps: list[int] = []
    inf: list[bool] = []
    cuttable: list[tuple[int, int, str, float]] = []
    for i, n in enumerate(node_ids):
        tails.append(2 * i)
        heads.append(2 * i + 1)
        if hosts[i]:
            caps.append(round(costs[i] * scale))
            inf.append(False)
            cuttable.append((2 * i, 2 * i + 1, n, costs[i]))
        else:
            caps.append(0)
            inf.append(True)
        if n in zone:
            tails.append(2 * i + 1)
            heads.append(sink)
        else:
            tails.append(source)
            heads.append(2 * i)
        caps.append(0)
        inf.append(True)
    for e in net.edges:
        iu, iv = index.get(e.u), index.get(e.v)
        if iu is None or iv is None or iu == iv:
            continue
        tails.append(2 * iu + 1)
        heads.append(2 * iv)
        caps.append(0)
        inf.append(True)
        if not e.oneway:
            tails.append(2 * iv + 1)
            heads.append(2 * iu)
            caps.append(0)
            inf.append(True)
    entry_arcs = []
    for e in entries:
        iu, iv = index[e.u], index[e.v]
        if e.v in zone:
            entry_arcs.append((2 * iu + 1, 2 * iv, e.id, True))
        else:
            entry_arcs.append((2 * iv + 1, 2 * iu, e.id, True))
    t, h, c, f = _arrays(tails, heads, caps, inf, big_m)
    graph = FlowGraph(2 * count + 2, source, sink, t, h, c, f, big_m)
    return _Build(graph, "junction", node_ids, cuttable, entry_arcs)


def _build_edge(net: Network, zone: set[str], o: PlanOptions) -> _Build:
    removed = o.existing_edges
    node_ids = list(net.nodes)
    index = {n: i for i, n in enumerate(node_ids)}
    count = len(node_ids)
    source, sink = count, count + 1

    def can_host(e: Edge) -> bool:
        return e.id not in o.forbidden_edges and (o.allowed_edges is None or e.id in o.allowed_edges)

    entries = [e for e in entry_edges(net, zone) if e.id not in removed]
    bound = sum(float(o.edge_cost.get(e.id, 1.0)) for e in entries if can_host(e))
    scale = _scale(bound)
    big_m = math.ceil(bound * scale) + 1

    tails: list[int] = []
    heads: list[int] = []
    caps: list[int] = []
    inf: list[bool] = []
    cuttable: list[tuple[int, int, str, float]] = []
    for i, n in enumerate(node_ids):
        if n in zone:
            tails.append(i)
            heads.append(sink)
        else:
            tails.append(source)
            heads.append(i)
        caps.append(0)
        inf.append(True)
    for e in net.edges:
        if e.id in removed or e.u == e.v:
            continue
        iu, iv = index[e.u], index[e.v]
        host = can_host(e)
        cost = float(o.edge_cost.get(e.id, 1.0))
        cap = round(cost * scale) if host else 0
        arcs = [(iu, iv)] if e.oneway else [(iu, iv), (iv, iu)]
        for a, b in arcs:
            tails.append(a)
            heads.append(b)
            caps.append(cap)
            inf.append(not host)
            if host:
                cuttable.append((a, b, e.id, cost))
    entry_arcs = []
    for e in entries:
        iu, iv = index[e.u], index[e.v]
        infinite = not can_host(e)
        entry_arcs.append((iu, iv, e.id, infinite) if e.v in zone else (iv, iu, e.id, infinite))
    t, h, c, f = _arrays(tails, heads, caps, inf, big_m)
    graph = FlowGraph(count + 2, source, sink, t, h, c, f, big_m)
    return _Build(graph, "edge", node_ids, cuttable, entry_arcs)


# ---------------------------------------------------------------------------------------------
# solving


def _reach(size: int, tails: NDArray[np.int64], heads: NDArray[np.int64], start: int) -> NDArray[np.bool_]:
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import breadth_first_order

    m = csr_matrix((np.ones(len(tails), dtype=np.int8), (tails, heads)), shape=(size, size))
    order = breadth_first_order(m, start, directed=True, return_predecessors=False)
    out = np.zeros(size, dtype=np.bool_)
    out[np.asarray(order, dtype=np.int64)] = True
    return out


def open_roads(build: _Build) -> list[str]:
    """Entry roads on a path from outside into the zone that no allowed site can cut."""
    g = build.graph
    t, h = g.tails[g.inf], g.heads[g.inf]
    forward = _reach(g.size, t, h, g.source)
    if not forward[g.sink]:
        return []
    backward = _reach(g.size, h, t, g.sink)
    return [eid for a, b, eid, infinite in build.entry_arcs if infinite and forward[a] and backward[b]]


def _capacity_matrix(g: FlowGraph) -> Any:
    from scipy.sparse import csr_matrix

    m = csr_matrix((g.caps, (g.tails, g.heads)), shape=(g.size, g.size), dtype=np.int64)
    m.sum_duplicates()  # parallel arcs add up; an infinite one stays infinite
    m.data = np.minimum(m.data, g.big_m).astype(np.int32)
    return m


def _solve_scipy(g: FlowGraph) -> tuple[int, NDArray[np.bool_]]:
    from scipy.sparse.csgraph import breadth_first_order, maximum_flow

    cap = _capacity_matrix(g)
    result = maximum_flow(cap, g.source, g.sink, method="dinic")
    residual = (cap - result.flow).tocsr()
    residual.data = (residual.data > 0).astype(np.int8)
    residual.eliminate_zeros()
    order = breadth_first_order(residual, g.source, directed=True, return_predecessors=False)
    reach = np.zeros(g.size, dtype=np.bool_)
    reach[np.asarray(order, dtype=np.int64)] = True
    return int(result.flow_value), reach


def _solve_networkx(g: FlowGraph) -> tuple[int, NDArray[np.bool_]]:
    import networkx as nx
    from networkx.algorithms.flow import preflow_push

    cap = _capacity_matrix(g).tocoo()
    graph = nx.DiGraph()
    graph.add_nodes_from(range(g.size))
    graph.add_weighted_edges_from(zip(cap.row.tolist(), cap.col.tolist(), cap.data.tolist(), strict=True),
                                  weight="capacity")
    # preflow_push is what nx.minimum_cut runs by default; its partition is taken from the sink
    # side, so the cut is read here from the source side of the residual network instead.
    residual = preflow_push(graph, g.source, g.sink, capacity="capacity")
    value = int(residual.graph["flow_value"])
    reach = np.zeros(g.size, dtype=np.bool_)
    reach[g.source] = True
    stack = [g.source]
    succ = residual.succ
    while stack:
        u = stack.pop()
        for v, attr in succ[u].items():
            if not reach[v] and attr["capacity"] - attr["flow"] > 0:
                reach[v] = True
                stack.append(v)
    return value, reach


def solve(build: _Build, solver: Solver) -> tuple[int, list[tuple[str, float]]]:
    """Max-flow value and the cut sites (id, raw cost) read from the residual graph."""
    g = build.graph
    if solver == "scipy":
        value, reach = _solve_scipy(g)
    elif solver == "networkx":
        value, reach = _solve_networkx(g)
    else:
        raise PlanningError("bad_options", f"未知的求解器：{solver}")
    sites: dict[str, float] = {}
    for a, b, sid, cost in build.cuttable:
        if reach[a] and not reach[b]:
            sites[sid] = cost
    return value, list(sites.items())


# ---------------------------------------------------------------------------------------------
# the planner


def _check_options(net: Network, o: PlanOptions) -> None:
    if o.mode not in ("junction", "edge"):
        raise PlanningError("bad_options", f"未知的设卡方式：{o.mode}")
    if o.mode == "junction":
        _check_ids(o.existing_nodes, net.nodes, "现有卡口")
        _check_ids(o.forbidden_nodes, net.nodes, "禁止设卡的路口")
        _check_ids(o.allowed_nodes, net.nodes, "允许设卡的路口")
        _check_costs(o.node_cost, net.nodes, "路口设卡成本")
        clash = o.existing_nodes & o.forbidden_nodes
        if clash:
            raise PlanningError("bad_options", f"这些路口既是现有卡口又被禁止设卡：{_listed(clash)}。")
    else:
        known = {e.id for e in net.edges}
        _check_ids(o.existing_edges, known, "现有卡口路段")
        _check_ids(o.forbidden_edges, known, "禁止设卡的路段")
        _check_ids(o.allowed_edges, known, "允许设卡的路段")
        _check_costs(o.edge_cost, known, "路段设卡成本")
        clash = o.existing_edges & o.forbidden_edges
        if clash:
            raise PlanningError("bad_options", f"这些路段既是现有卡口又被禁止设卡：{_listed(clash)}。")


def plan_zone(net: Network, zone: set[str], options: PlanOptions = DEFAULT_OPTIONS) -> CutPlan:
    """The cheapest set of sites sealing ``zone``; see the module docstring for the formulation."""
    o = options
    started = time.perf_counter()
    zone = set(zone)
    _check_zone(net, zone)
    _check_options(net, o)
    if len(zone) == len(net.nodes):
        raise PlanningError("no_entry", "区域包含了路网中的全部路口，没有“区域外”可言，无需设卡。")
    entries = entry_edges(net, zone)
    if not entries:
        raise PlanningError(
            "no_entry",
            "没有从区域外进入该区域的道路：区域已经是封闭的，或与路网其他部分不连通（请检查路网是否完整）。无需设卡。",
        )
    junction = o.mode == "junction"
    existing = sorted(o.existing_nodes if junction else o.existing_edges, key=natural_key)

    build = build_flow_graph(net, zone, o)
    new_sites: list[tuple[str, float]] = []
    if build.entry_arcs:
        blocked = open_roads(build)
        if blocked:
            where = "路口" if junction else "路段"
            raise PlanningError(
                "cannot_seal",
                f"在允许的{where}范围内无法封闭该区域：以下 {len(blocked)} 条道路仍可进入——{_listed(blocked)}。"
                f"请允许在这些道路两端的{where}设卡，或取消相应的禁止。",
                blocked,
            )
        _value, new_sites = solve(build, o.solver)

    sites = existing + sorted((s for s, _c in new_sites if s not in set(existing)), key=natural_key)
    seals: dict[str, list[str]] = {s: [] for s in sites}
    for e in entries:
        if junction:
            for end in (e.u, e.v):
                if end in seals:
                    seals[end].append(e.id)
        elif e.id in seals:
            seals[e.id].append(e.id)
    cost = float(sum(c for _s, c in new_sites))
    return CutPlan(
        sites=sites,
        seals=seals,
        entry_edges=[e.id for e in entries],
        cost=cost,
        solver=o.solver,
        seconds=time.perf_counter() - started,
        mode=o.mode,
        existing=existing,
    )


# ---------------------------------------------------------------------------------------------
# baseline and zones


def baseline_each_village(net: Network, villages: Mapping[str, set[str]]) -> dict[str, int]:
    """Gates needed if each village guards every road crossing its own boundary (sum = baseline)."""
    seen: dict[str, str] = {}
    for name, nodes in villages.items():
        _check_zone(net, set(nodes), f"村“{name}”")
        for n in nodes:
            other = seen.get(n)
            if other is not None and other != name:
                shared = sorted((set(villages[other]) & set(nodes)), key=natural_key)
                raise PlanningError("overlap", f"村“{other}”与村“{name}”的范围重叠（共有路口 {_listed(shared)}），请修正边界。")
            seen[n] = name
    return {name: len(entry_edges(net, set(nodes))) for name, nodes in villages.items()}


def reduction_percent(planned: int, baseline: int) -> float:
    """How much fewer gates the plan needs than the baseline, in per cent."""
    return 0.0 if baseline <= 0 else round(100.0 * (baseline - planned) / baseline, 1)


def _inside(xs: NDArray[np.float64], ys: NDArray[np.float64], ring: Sequence[tuple[float, float]]) -> NDArray[np.bool_]:
    pts = [(float(p[0]), float(p[1])) for p in ring]
    if len(pts) >= 2 and pts[0] == pts[-1]:
        pts = pts[:-1]
    if len(pts) < 3:
        raise PlanningError("bad_polygon", "区域多边形至少需要 3 个顶点。")
    inside = np.zeros(len(xs), dtype=np.bool_)
    j = len(pts) - 1
    for i in range(len(pts)):
        xi, yi = pts[i]
        xj, yj = pts[j]
        if yi != yj:
            crosses = (yi > ys) != (yj > ys)
            x_at = (xj - xi) * (ys - yi) / (yj - yi) + xi
            inside ^= crosses & (xs < x_at)
        j = i
    return inside


def zone_from_polygon(net: Network, polygon: Sequence[tuple[float, float]]) -> set[str]:
    """Junctions inside a polygon ring (ray casting), in the network's coordinates."""
    ids = list(net.nodes)
    if not ids:
        return set()
    xy = np.asarray([net.nodes[n] for n in ids], dtype=np.float64)
    mask = _inside(xy[:, 0], xy[:, 1], polygon)
    return {ids[i] for i in np.flatnonzero(mask)}


def zone_from_geojson(net: Network, geometry: Mapping[str, object]) -> set[str]:
    """Junctions inside a GeoJSON Polygon or MultiPolygon (holes excluded)."""
    gtype = geometry.get("type")
    coords = geometry.get("coordinates")
    if gtype == "Polygon":
        polygons = [coords]
    elif gtype == "MultiPolygon" and isinstance(coords, list):
        polygons = list(coords)
    else:
        raise PlanningError("bad_polygon", "区域必须是多边形（Polygon 或 MultiPolygon）。")
    ids = list(net.nodes)
    if not ids:
        return set()
    xy = np.asarray([net.nodes[n] for n in ids], dtype=np.float64)
    mask = np.zeros(len(ids), dtype=np.bool_)
    for poly in polygons:
        if not isinstance(poly, list) or not poly:
            raise PlanningError("bad_polygon", "区域多边形坐标格式不正确。")
        part = _inside(xy[:, 0], xy[:, 1], poly[0])
        for hole in poly[1:]:
            part &= ~_inside(xy[:, 0], xy[:, 1], hole)
        mask |= part
    return {ids[i] for i in np.flatnonzero(mask)}
