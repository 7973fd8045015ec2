"""Minimum-cut gate planning, checked against CUMCM 2011 B District A and hand-made networks."""

from __future__ import annotations

import csv
import io

import pytest

from lianfang.engines import cutplan, roadnet
from lianfang.engines.cutplan import PlanningError, PlanOptions
from lianfang.engines.roadnet import Edge, Network
from tests.shared_data import SHARED

CUMCM = SHARED / "benchmarks" / "road-networks" / "cumcm2011b"
OSM = SHARED / "data" / "osm"
SOLVERS = ["scipy", "networkx"]


@pytest.fixture(scope="module")
def cumcm() -> tuple[Network, set[str]]:
    nodes_text = (CUMCM / "nodes.csv").read_text()
    net = roadnet.read_csv(nodes_text, (CUMCM / "edges.csv").read_text())
    district_a = {row["id"] for row in csv.DictReader(io.StringIO(nodes_text)) if row["district"] == "1"}
    return net, district_a


def covers_every_entry(plan: cutplan.CutPlan) -> bool:
    sealed = [r for roads in plan.seals.values() for r in roads]
    return set(sealed) == set(plan.entry_edges)


# --- known answers: CUMCM 2011 B, District A -----------------------------------------------------


def test_district_a_has_15_entry_roads(cumcm: tuple[Network, set[str]]) -> None:
    net, zone = cumcm
    assert len(zone) == 92
    assert len(cutplan.entry_edges(net, zone)) == 15


@pytest.mark.parametrize("solver", SOLVERS)
def test_district_a_edge_cut_is_15(cumcm: tuple[Network, set[str]], solver: str) -> None:
    net, zone = cumcm
    plan = cutplan.plan_zone(net, zone, PlanOptions(mode="edge", solver=solver))  # type: ignore[arg-type]
    assert len(plan.sites) == 15 and plan.cost == 15
    assert sorted(plan.sites) == sorted(plan.entry_edges)
    assert covers_every_entry(plan) and plan.solver == solver


@pytest.mark.parametrize("solver", SOLVERS)
def test_district_a_junction_cut_is_12(cumcm: tuple[Network, set[str]], solver: str) -> None:
    net, zone = cumcm
    plan = cutplan.plan_zone(net, zone, PlanOptions(solver=solver))  # type: ignore[arg-type]
    assert len(plan.sites) == 12 and plan.cost == 12
    assert covers_every_entry(plan)
    # 29 (outside) closes two entry roads, 459 (inside) meets two
    assert {"29", "459"} <= set(plan.sites)
    assert sorted(plan.seals["29"]) == sorted(e.id for e in net.edges if {e.u, e.v} in ({"29", "239"}, {"29", "370"}))


def test_both_solvers_choose_the_same_district_a_sites(cumcm: tuple[Network, set[str]]) -> None:
    net, zone = cumcm
    for mode in ("junction", "edge"):
        a = cutplan.plan_zone(net, zone, PlanOptions(mode=mode, solver="scipy"))
        b = cutplan.plan_zone(net, zone, PlanOptions(mode=mode, solver="networkx"))
        assert a.sites == b.sites and a.cost == b.cost


@pytest.mark.parametrize("solver", SOLVERS)
def test_district_a_with_gates_only_inside_needs_the_contests_13(cumcm: tuple[Network, set[str]], solver: str) -> None:
    net, zone = cumcm
    plan = cutplan.plan_zone(net, zone, PlanOptions(allowed_nodes=frozenset(zone), solver=solver))  # type: ignore[arg-type]
    assert len(plan.sites) == 13 and set(plan.sites) <= zone
    assert covers_every_entry(plan)


def test_district_a_cheaper_outside_sites_win(cumcm: tuple[Network, set[str]]) -> None:
    net, zone = cumcm
    # a gate at 459 costs 3: closing its two entry roads at their outer ends (14, 21) is cheaper
    plan = cutplan.plan_zone(net, zone, PlanOptions(node_cost={"459": 3.0}))
    assert "459" not in plan.sites and {"14", "21"} <= set(plan.sites)
    assert len(plan.sites) == 13 and plan.cost == 13


# --- a hand-made network ---------------------------------------------------------------------------
#
#   far -- hub ==> a, b, c (zone)   hub feeds three entry roads
#   far -- side -- d (zone)         one more entry road
#   a - b - c - d inside the zone; d -> out (one-way, leaving the zone)


def star(extra: list[Edge] | None = None) -> tuple[Network, set[str]]:
    nodes = {n: (float(i), 0.0) for i, n in enumerate(["far", "hub", "side", "out", "a", "b", "c", "d"])}
    edges = [
        Edge("far-hub", "far", "hub"), Edge("far-side", "far", "side"),
        Edge("hub-a", "hub", "a"), Edge("hub-b", "hub", "b"), Edge("hub-c", "hub", "c"), Edge("side-d", "side", "d"),
        Edge("a-b", "a", "b"), Edge("b-c", "b", "c"), Edge("c-d", "c", "d"),
        Edge("d-out", "d", "out", oneway=True), Edge("out-far", "out", "far"),
    ]
    return Network(nodes, edges + (extra or [])), {"a", "b", "c", "d"}


@pytest.mark.parametrize("solver", SOLVERS)
def test_one_outside_junction_feeding_three_entries_is_one_gate(solver: str) -> None:
    net, zone = star()
    assert sorted(e.id for e in cutplan.entry_edges(net, zone)) == ["hub-a", "hub-b", "hub-c", "side-d"]
    junction = cutplan.plan_zone(net, zone, PlanOptions(solver=solver))  # type: ignore[arg-type]
    edge = cutplan.plan_zone(net, zone, PlanOptions(mode="edge", solver=solver))  # type: ignore[arg-type]
    assert "hub" in junction.sites and len(junction.sites) == 2
    assert sorted(junction.seals["hub"]) == ["hub-a", "hub-b", "hub-c"]
    assert len(edge.sites) == 4
    assert len(junction.sites) - 1 < len(edge.sites) - 1  # the hub: 1 gate instead of 3 road blocks


def test_oneway_road_leaving_the_zone_needs_no_gate() -> None:
    net, zone = star()
    plan = cutplan.plan_zone(net, zone)
    assert "d-out" not in plan.entry_edges
    assert not any("d-out" in roads for roads in plan.seals.values())
    # turned around, the same road is an entry and needs closing
    flipped = Network(net.nodes, [Edge("out-d", "out", "d", oneway=True) if e.id == "d-out" else e for e in net.edges])
    plan = cutplan.plan_zone(flipped, zone)
    assert "out-d" in plan.entry_edges and covers_every_entry(plan)
    assert len(plan.sites) == 2 and "d" in plan.sites  # d closes side-d and out-d


def test_existing_gates_are_kept_and_free() -> None:
    net, zone = star()
    plan = cutplan.plan_zone(net, zone, PlanOptions(existing_nodes=frozenset({"a"})))
    assert plan.sites[0] == "a" and plan.existing == ["a"]
    assert plan.seals["a"] == ["hub-a"]
    assert len(plan.sites) == 3 and plan.cost == 2  # a (kept) + hub + d or side
    assert covers_every_entry(plan)
    assert plan.new_sites == plan.sites[1:]
    # edge mode too
    plan = cutplan.plan_zone(net, zone, PlanOptions(mode="edge", existing_edges=frozenset({"hub-a"})))
    assert plan.existing == ["hub-a"] and len(plan.sites) == 4 and plan.cost == 3


@pytest.mark.parametrize("solver", SOLVERS)
def test_forbidden_junctions_are_not_used(solver: str) -> None:
    net, zone = star()
    plan = cutplan.plan_zone(net, zone, PlanOptions(forbidden_nodes=frozenset({"hub"}), solver=solver))  # type: ignore[arg-type]
    assert "hub" not in plan.sites
    assert {"a", "b", "c"} <= set(plan.sites) and len(plan.sites) == 4
    assert covers_every_entry(plan)


def test_forbidden_road_in_edge_mode() -> None:
    net, zone = star()
    with pytest.raises(PlanningError) as err:
        cutplan.plan_zone(net, zone, PlanOptions(mode="edge", forbidden_edges=frozenset({"side-d"})))
    assert err.value.code == "cannot_seal" and err.value.open_roads == ["side-d"]


@pytest.mark.parametrize("solver", SOLVERS)
def test_allowed_set_that_cannot_seal_names_the_open_roads(solver: str) -> None:
    net, zone = star()
    with pytest.raises(PlanningError) as err:
        cutplan.plan_zone(net, zone, PlanOptions(allowed_nodes=frozenset({"hub", "far"}), solver=solver))  # type: ignore[arg-type]
    assert err.value.code == "cannot_seal"
    assert err.value.open_roads == ["side-d"]
    assert "side-d" in err.value.message and "无法封闭" in err.value.message


def test_node_costs_steer_the_choice() -> None:
    net, zone = star()
    dear = cutplan.plan_zone(net, zone, PlanOptions(node_cost={"hub": 3.5}))
    assert "hub" not in dear.sites and dear.cost == 4  # a, b, c at 1 each + d or side
    cheap = cutplan.plan_zone(net, zone, PlanOptions(node_cost={"hub": 2.5}))
    assert "hub" in cheap.sites and cheap.cost == pytest.approx(3.5)


def test_disconnected_network_is_fine() -> None:
    island = [Edge("x-y", "x", "y")]
    net, zone = star()
    net = Network(net.nodes | {"x": (50.0, 50.0), "y": (51.0, 50.0)}, net.edges + island)
    assert len(net.components()) == 2
    assert len(cutplan.plan_zone(net, zone).sites) == 2


# --- bad input -------------------------------------------------------------------------------------


def test_zone_without_a_road_in() -> None:
    net, _ = star([Edge("x-y", "x", "y")])
    net.nodes.update({"x": (50.0, 50.0), "y": (51.0, 50.0)})
    with pytest.raises(PlanningError) as err:
        cutplan.plan_zone(net, {"x", "y"})
    assert err.value.code == "no_entry" and "不连通" in err.value.message
    # only a one-way road out: nothing can drive in
    net = Network({"p": (0.0, 0.0), "q": (1.0, 0.0)}, [Edge("p-q", "p", "q", oneway=True)])
    with pytest.raises(PlanningError) as err:
        cutplan.plan_zone(net, {"p"})
    assert err.value.code == "no_entry"


@pytest.mark.parametrize(
    ("zone", "code"),
    [(set(), "empty_zone"), ({"a", "nowhere"}, "unknown_nodes"), ({"far", "hub", "side", "out", "a", "b", "c", "d"}, "no_entry")],
)
def test_bad_zones(zone: set[str], code: str) -> None:
    net, _ = star()
    with pytest.raises(PlanningError) as err:
        cutplan.plan_zone(net, zone)
    assert err.value.code == code and err.value.message


def test_network_without_roads() -> None:
    with pytest.raises(PlanningError) as err:
        cutplan.plan_zone(Network({"a": (0, 0)}, []), {"a"})
    assert err.value.code == "empty_network"


def test_bad_options() -> None:
    net, zone = star()
    for options, code in [
        (PlanOptions(existing_nodes=frozenset({"ghost"})), "unknown_sites"),
        (PlanOptions(existing_nodes=frozenset({"a"}), forbidden_nodes=frozenset({"a"})), "bad_options"),
        (PlanOptions(node_cost={"a": -1.0}), "bad_cost"),
    ]:
        with pytest.raises(PlanningError) as err:
            cutplan.plan_zone(net, zone, options)
        assert err.value.code == code


# --- baseline, villages and polygons --------------------------------------------------------------


def grid(k: int) -> Network:
    nodes = {f"{i}_{j}": (float(i), float(j)) for i in range(k) for j in range(k)}
    edges = [Edge(f"h{i}_{j}", f"{i}_{j}", f"{i + 1}_{j}") for i in range(k - 1) for j in range(k)]
    edges += [Edge(f"v{i}_{j}", f"{i}_{j}", f"{i}_{j + 1}") for i in range(k) for j in range(k - 1)]
    return Network(nodes, edges)


def test_polygon_zone_selection() -> None:
    net = grid(10)
    zone = cutplan.zone_from_polygon(net, [(2.5, 2.5), (6.5, 2.5), (6.5, 6.5), (2.5, 6.5)])
    assert zone == {f"{i}_{j}" for i in range(3, 7) for j in range(3, 7)}
    triangle = cutplan.zone_from_polygon(net, [(-0.5, -0.5), (3.5, -0.5), (-0.5, 3.5), (-0.5, -0.5)])
    assert triangle == {f"{i}_{j}" for i in range(4) for j in range(4) if i + j <= 2}
    ring = {"type": "Polygon", "coordinates": [
        [[0.5, 0.5], [8.5, 0.5], [8.5, 8.5], [0.5, 8.5], [0.5, 0.5]],
        [[3.5, 3.5], [5.5, 3.5], [5.5, 5.5], [3.5, 5.5], [3.5, 3.5]]]}
    donut = cutplan.zone_from_geojson(net, ring)
    assert len(donut) == 64 - 4 and "4_4" not in donut and "1_1" in donut


@pytest.mark.parametrize("solver", SOLVERS)
def test_grid_block(solver: str) -> None:
    net = grid(12)
    zone = cutplan.zone_from_polygon(net, [(3.5, 3.5), (7.5, 3.5), (7.5, 7.5), (3.5, 7.5)])
    junction = cutplan.plan_zone(net, zone, PlanOptions(solver=solver))  # type: ignore[arg-type]
    edge = cutplan.plan_zone(net, zone, PlanOptions(mode="edge", solver=solver))  # type: ignore[arg-type]
    assert len(edge.sites) == 16
    assert len(junction.sites) == 12  # the four inside corners close two roads each
    assert covers_every_entry(junction)


def test_merged_villages_need_fewer_gates_than_each_guarding_itself() -> None:
    net = grid(12)
    def square(x0: float, y0: float) -> list[tuple[float, float]]:
        return [(x0 - 0.5, y0 - 0.5), (x0 + 2.5, y0 - 0.5), (x0 + 2.5, y0 + 2.5), (x0 - 0.5, y0 + 2.5)]

    villages = {f"村{n}": cutplan.zone_from_polygon(net, square(x0, y0))
                for n, (x0, y0) in enumerate([(3, 3), (6, 3), (3, 6), (6, 6)], start=1)}
    baseline = cutplan.baseline_each_village(net, villages)
    assert baseline == {"村1": 12, "村2": 12, "村3": 12, "村4": 12}
    merged = set().union(*villages.values())
    plan = cutplan.plan_zone(net, merged)
    assert len(plan.sites) == 20  # a 6x6 block: 24 entry roads, 4 corners close two
    assert cutplan.reduction_percent(len(plan.sites), sum(baseline.values())) == pytest.approx(58.3)


def test_overlapping_villages_are_refused() -> None:
    net = grid(6)
    with pytest.raises(PlanningError) as err:
        cutplan.baseline_each_village(net, {"东村": {"1_1", "1_2"}, "西村": {"1_2", "2_2"}})
    assert err.value.code == "overlap" and "东村" in err.value.message and "1_2" in err.value.message


# --- real street geometry --------------------------------------------------------------------------


def test_helsinki_imports_and_plans() -> None:
    net = roadnet.read_osm(OSM / "Helsinki.osm.pbf")
    xs = sorted(x for x, _ in net.nodes.values())
    ys = sorted(y for _, y in net.nodes.values())
    cx, cy = xs[len(xs) // 2], ys[len(ys) // 2]
    dx, dy = (xs[-1] - xs[0]) / 6, (ys[-1] - ys[0]) / 6
    zone = cutplan.zone_from_polygon(net, [(cx - dx, cy - dy), (cx + dx, cy - dy), (cx + dx, cy + dy), (cx - dx, cy + dy)])
    assert len(zone) > 50
    a = cutplan.plan_zone(net, zone, PlanOptions(solver="scipy"))
    b = cutplan.plan_zone(net, zone, PlanOptions(solver="networkx"))
    assert a.sites == b.sites and 0 < len(a.sites) <= len(a.entry_edges)
    assert covers_every_entry(a)
    edge = cutplan.plan_zone(net, zone, PlanOptions(mode="edge"))
    assert len(edge.sites) == len(a.entry_edges)
