"""Reading road networks from OSM, GeoJSON and CSV."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from lianfang.engines import roadnet
from lianfang.engines.roadnet import Edge, Network, RoadNetError
from tests.shared_data import SHARED

CUMCM = SHARED / "benchmarks" / "road-networks" / "cumcm2011b"
OSM = SHARED / "data" / "osm"


def osm_xml(nodes: dict[int, tuple[float, float]], ways: list[tuple[int, list[int], dict[str, str]]]) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for nid, (lon, lat) in nodes.items():
        lines.append(f'  <node id="{nid}" version="1" lat="{lat}" lon="{lon}"/>')
    for wid, refs, tags in ways:
        lines.append(f'  <way id="{wid}" version="1">')
        lines.extend(f'    <nd ref="{r}"/>' for r in refs)
        lines.extend(f'    <tag k="{k}" v="{v}"/>' for k, v in tags.items())
        lines.append("  </way>")
    lines.append("</osm>")
    return "\n".join(lines) + "\n"


NODES = {i: (24.0 + i * 0.001, 60.0) for i in range(1, 10)}


Way = tuple[int, list[int], dict[str, str]]


def write_osm(tmp_path: Path, ways: list[Way], nodes: dict[int, tuple[float, float]] | None = None) -> Path:
    path = tmp_path / "roads.osm"
    path.write_text(osm_xml(NODES if nodes is None else nodes, ways), encoding="utf-8")
    return path


# --- CSV ------------------------------------------------------------------------------------------


def test_cumcm_csv_reads_582_junctions_and_928_roads() -> None:
    net = roadnet.read_csv((CUMCM / "nodes.csv").read_text(), (CUMCM / "edges.csv").read_text())
    assert (len(net.nodes), len(net.edges)) == (582, 928)
    assert net.nodes["1"] == (413.0, 359.0)
    assert net.edges[0] == Edge("e1", "1", "75")
    assert len(net.components()) == 1


def test_csv_keeps_oneway_class_and_name_and_reverses_minus_one() -> None:
    net = roadnet.read_csv("id,x,y\na,0,0\nb,1,0\nc,2,0\n",
                           "u,v,oneway,road_class,name\na,b,yes,primary,长河路\nb,c,-1,residential,\nc,a,,,\n")
    assert net.edges[0] == Edge("e1", "a", "b", True, "primary", "长河路")
    assert (net.edges[1].u, net.edges[1].v, net.edges[1].oneway) == ("c", "b", True)
    assert not net.edges[2].oneway


@pytest.mark.parametrize(
    ("nodes", "edges", "needle"),
    [
        ("id,x,y\na,0,0\nb,1,0\n", "u,v\na,b\nb,zz\n", "道路文件第 3 行：未知的路口编号“zz”"),
        ("id,x,y\na,0,0\nb,east,0\n", "u,v\na,b\n", "路口文件第 3 行：x 不是数字：“east”"),
        ("id,x,y\na,0,0\na,1,0\n", "u,v\na,a\n", "路口文件第 3 行：路口编号 a 重复"),
        ("id,x\na,0\n", "u,v\na,a\n", "路口文件缺少列：y"),
        ("id,x,y\na,0,0\nb,1,0\n", "u,v,oneway\na,b,sometimes\n", "道路文件第 2 行：单行标记无法识别"),
        ("id,x,y\na,0,0\n", "u,v\n", "道路文件中没有道路"),
        ("", "u,v\n", "路口文件是空的"),
    ],
)
def test_csv_errors_name_the_row(nodes: str, edges: str, needle: str) -> None:
    with pytest.raises(RoadNetError) as err:
        roadnet.read_csv(nodes, edges)
    assert needle in err.value.message


# --- OSM ------------------------------------------------------------------------------------------


def test_helsinki_extract_imports_roads_only() -> None:
    net = roadnet.read_osm(OSM / "Helsinki.osm.pbf")
    classes = Counter(e.road_class for e in net.edges)
    assert len(net.edges) > 1000
    assert {"primary", "secondary", "residential", "service"} <= set(classes)
    assert not {"footway", "cycleway", "path", "steps", "pedestrian"} & set(classes)
    assert all(n.startswith("n") for n in net.nodes)
    assert any(e.oneway for e in net.edges) and any(e.name for e in net.edges)
    for e in net.edges[:50]:
        assert len(e.coords) >= 2
        assert e.coords[0] == net.nodes[e.u] and e.coords[-1] == net.nodes[e.v]
        assert 24.8 < e.coords[0][0] < 25.1 and 60.1 < e.coords[0][1] < 60.3
    with_paths = roadnet.read_osm(OSM / "Helsinki.osm.pbf", roadnet.DEFAULT_ROAD_CLASSES | {"footway", "cycleway"})
    assert len(with_paths.edges) > len(net.edges)
    assert "footway" in {e.road_class for e in with_paths.edges}


def test_second_extract_imports() -> None:
    net = roadnet.read_osm(OSM / "test.osm.pbf")
    assert len(net.edges) > 100


def test_osm_ways_split_at_junctions_and_ends(tmp_path: Path) -> None:
    path = write_osm(tmp_path, [
        (10, [1, 2, 3, 4], {"highway": "primary", "name": "主路"}),
        (11, [5, 3, 6], {"highway": "residential"}),  # crosses way 10 at node 3
        (12, [6, 7], {"highway": "footway"}),  # not a road
    ])
    net = roadnet.read_osm(path)
    assert sorted((e.id, e.u, e.v) for e in net.edges) == [
        ("w10-0", "n1", "n3"), ("w10-1", "n3", "n4"), ("w11-0", "n5", "n3"), ("w11-1", "n3", "n6")]
    first = next(e for e in net.edges if e.id == "w10-0")
    assert first.coords == (NODES[1], NODES[2], NODES[3]) and first.name == "主路" and first.road_class == "primary"
    assert "n2" not in net.nodes and "n7" not in net.nodes


def test_osm_oneway_tags(tmp_path: Path) -> None:
    path = write_osm(tmp_path, [
        (1, [1, 2], {"highway": "secondary", "oneway": "yes"}),
        (2, [2, 3], {"highway": "secondary", "oneway": "-1"}),
        (3, [3, 4], {"highway": "secondary", "oneway": "1"}),
        (4, [4, 5, 6, 4], {"highway": "tertiary", "junction": "roundabout"}),
        (5, [6, 7], {"highway": "tertiary", "oneway": "no"}),
        (6, [7, 8], {"highway": "motorway"}),
        (7, [8, 9], {"highway": "motorway", "oneway": "no"}),
    ])
    edges = {e.id: e for e in roadnet.read_osm(path).edges}
    assert edges["w1"].oneway and (edges["w1"].u, edges["w1"].v) == ("n1", "n2")
    assert edges["w2"].oneway and (edges["w2"].u, edges["w2"].v) == ("n3", "n2")
    assert edges["w2"].coords == (NODES[3], NODES[2])
    assert edges["w3"].oneway
    assert [(edges[k].u, edges[k].v, edges[k].oneway) for k in ("w4-0", "w4-1")] == [("n4", "n6", True), ("n6", "n4", True)]
    assert not edges["w5"].oneway
    assert edges["w6"].oneway and not edges["w7"].oneway


def test_osm_way_leaving_the_extract_is_cut_at_the_border(tmp_path: Path) -> None:
    nodes = {k: v for k, v in NODES.items() if k != 3}
    path = write_osm(tmp_path, [(1, [1, 2, 3, 4, 5], {"highway": "primary"})], nodes)
    net = roadnet.read_osm(path)
    assert sorted((e.u, e.v) for e in net.edges) == [("n1", "n2"), ("n4", "n5")]
    assert len(net.components()) == 2


def test_osm_without_roads(tmp_path: Path) -> None:
    path = write_osm(tmp_path, [(1, [1, 2], {"highway": "footway"}), (2, [3, 4], {"building": "yes"})])
    with pytest.raises(RoadNetError) as err:
        roadnet.read_osm(path)
    assert err.value.code == "no_roads" and "没有" in err.value.message


def test_broken_or_missing_osm_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.osm.pbf"
    bad.write_bytes(b"\x00\x01 this is not a protobuf file" * 20)
    with pytest.raises(RoadNetError) as err:
        roadnet.read_osm(bad)
    assert err.value.code == "file_broken" and "broken.osm.pbf" in err.value.message
    with pytest.raises(RoadNetError) as err:
        roadnet.read_osm(tmp_path / "missing.osm.pbf")
    assert err.value.code == "file_broken"


# --- GeoJSON --------------------------------------------------------------------------------------


def line(coords: list[tuple[float, float]], **props: object) -> dict[str, object]:
    return {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [list(c) for c in coords]},
            "properties": props}


def test_geojson_snaps_endpoints_and_splits_at_shared_vertices() -> None:
    data = {"type": "FeatureCollection", "features": [
        line([(120.0, 30.0), (120.001, 30.0), (120.002, 30.0)], id="r1", highway="primary", name="一号路"),
        # starts a hair away from r1's middle vertex: snapped onto it
        line([(120.00100000004, 30.00000000003), (120.001, 30.001)], id="r2", road_class="residential", oneway="-1"),
        {"type": "Feature", "geometry": {"type": "MultiLineString", "coordinates": [
            [[120.002, 30.0], [120.003, 30.0]], [[121.0, 31.0], [121.001, 31.0]]]}, "properties": {"oneway": True}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [120.0, 30.0]}, "properties": {}},
    ]}
    net = roadnet.read_geojson(data)
    edges = {e.id: e for e in net.edges}
    assert set(edges) == {"r1-0", "r1-1", "r2", "f3.0", "f3.1"}
    mid = edges["r1-0"].v
    assert edges["r1-1"].u == mid
    assert edges["r2"].v == mid and edges["r2"].oneway  # reversed: drawn from the junction, travels into it
    assert edges["r1-0"].road_class == "primary" and edges["r1-0"].name == "一号路"
    assert edges["r2"].road_class == "residential"
    assert edges["f3.0"].u == edges["r1-1"].v and edges["f3.0"].oneway
    assert len(net.nodes) == 7
    assert [len(c) for c in net.components()] == [5, 2]


@pytest.mark.parametrize("data", [{"type": "FeatureCollection", "features": []}, {"type": "Point", "coordinates": [0, 0]}])
def test_geojson_without_lines(data: dict[str, object]) -> None:
    with pytest.raises(RoadNetError):
        roadnet.read_geojson(data)


def test_geojson_bad_coordinates() -> None:
    with pytest.raises(RoadNetError) as err:
        roadnet.read_geojson({"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0, 0], ["x", 1]]}, "properties": {}}]})
    assert err.value.code == "bad_geojson" and "第 1 个要素" in err.value.message


# --- the model ------------------------------------------------------------------------------------


def test_components_and_geojson_round_trip() -> None:
    net = Network({"a": (0, 0), "b": (1, 0), "c": (5, 5), "d": (6, 5), "e": (9, 9)},
                  [Edge("ab", "a", "b", road_class="primary", name="甲路"), Edge("cd", "c", "d", oneway=True)])
    assert net.components() == [{"a", "b"}, {"c", "d"}, {"e"}]
    fc = net.to_geojson()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 2
    f = fc["features"][0]
    assert f["geometry"] == {"type": "LineString", "coordinates": [[0, 0], [1, 0]]}
    assert {k: f["properties"][k] for k in ("id", "road_class", "oneway", "name")} == {
        "id": "ab", "road_class": "primary", "oneway": False, "name": "甲路"}
    back = roadnet.read_geojson(fc)
    assert sorted((e.id, e.oneway, e.road_class) for e in back.edges) == [("ab", False, "primary"), ("cd", True, "")]
