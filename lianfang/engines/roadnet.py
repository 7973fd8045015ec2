"""Road networks for gate planning: a small graph model and readers for OSM, GeoJSON and CSV.

Pure Python (no Django). A :class:`Network` is a set of junctions (node id -> coordinates) and a
list of road segments (:class:`Edge`) between junctions. Segments keep the road class, the one-way
flag and the name, plus their polyline so they can be drawn on a map.

Readers:

- :func:`read_osm` reads ``.osm.pbf`` / ``.osm`` files with pyosmium. Only highway ways of the
  chosen classes are kept; each way is split into edges at junctions (nodes shared by two or more
  highway ways, or used twice by the same way) and at its ends. Nodes missing from the extract
  (ways cut at the extract border) split the way too. Node ids are ``n<osm id>``; edge ids are
  ``w<way id>`` for a way that needed no split, else ``w<way id>-<k>`` (``w<id>.<j>-<k>`` for the
  pieces of a way cut by the border). ``oneway=yes/1/true`` keeps the drawing direction, ``oneway=-1`` reverses
  it; roundabouts and motorways are one-way unless tagged ``oneway=no``.
- :func:`read_geojson` reads LineString / MultiLineString features. Coordinates are snapped by
  rounding to 1e-6 (about 0.1 m in degrees); endpoints and vertices shared between lines become
  junctions.
- :func:`read_csv` reads node and edge lists (text contents), reporting the offending row.

Errors are :class:`RoadNetError` with a code and a Chinese message for the page.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Coord = tuple[float, float]

DEFAULT_ROAD_CLASSES: frozenset[str] = frozenset(
    {
        "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
        "secondary", "secondary_link", "tertiary", "tertiary_link", "unclassified", "residential",
        "service", "living_street", "track", "road",
    }
)
"""Highway classes that carry vehicles; footway, cycleway, path, steps etc. only when asked."""

ROAD_CLASS_LABELS: dict[str, str] = {
    "motorway": "高速公路", "trunk": "快速路", "primary": "主干道", "secondary": "次干道",
    "tertiary": "支路", "unclassified": "一般道路", "residential": "居住区道路", "service": "内部道路",
    "living_street": "生活街道", "track": "机耕路", "road": "道路",
}

_TRUE = {"yes", "1", "true"}
_REVERSE = {"-1", "reverse"}
SNAP_DIGITS = 6


class RoadNetError(ValueError):
    """A road network that cannot be read; ``message`` is shown to the user (Chinese)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Edge:
    """A road segment between two junctions; one-way edges run from ``u`` to ``v``."""

    id: str
    u: str
    v: str
    oneway: bool = False
    road_class: str = ""
    name: str = ""
    coords: tuple[Coord, ...] = ()  # lon/lat (or x/y) polyline from u to v


@dataclass
class Network:
    nodes: dict[str, Coord]
    edges: list[Edge]

    def components(self) -> list[set[str]]:
        """Connected components (roads taken both ways), largest first; isolated junctions included."""
        parent: dict[str, str] = {n: n for n in self.nodes}

        def find(x: str) -> str:
            root = x
            while parent[root] != root:
                root = parent[root]
            while parent[x] != root:
                parent[x], x = root, parent[x]
            return root

        for e in self.edges:
            for n in (e.u, e.v):
                parent.setdefault(n, n)
            ru, rv = find(e.u), find(e.v)
            if ru != rv:
                parent[ru] = rv
        groups: dict[str, set[str]] = {}
        for n in parent:
            groups.setdefault(find(n), set()).add(n)
        return sorted(groups.values(), key=lambda g: (-len(g), min(g)))

    def edge_coords(self, edge: Edge) -> tuple[Coord, ...]:
        return edge.coords if len(edge.coords) >= 2 else (self.nodes[edge.u], self.nodes[edge.v])

    def to_geojson(self) -> dict[str, Any]:
        """FeatureCollection of LineStrings with properties id, road_class, oneway, name (and u, v)."""
        features = [
            {
                "type": "Feature",
                "id": e.id,
                "geometry": {"type": "LineString", "coordinates": [list(c) for c in self.edge_coords(e)]},
                "properties": {"id": e.id, "road_class": e.road_class, "oneway": e.oneway, "name": e.name,
                               "u": e.u, "v": e.v},
            }
            for e in self.edges
        ]
        return {"type": "FeatureCollection", "features": features}

    def summary(self) -> dict[str, int]:
        return {"nodes": len(self.nodes), "edges": len(self.edges), "components": len(self.components())}


# ---------------------------------------------------------------------------------------------
# splitting polylines at junctions (shared by the OSM and GeoJSON readers)


@dataclass
class _Line:
    key: str
    refs: list[str]
    coords: list[Coord]
    oneway: bool
    road_class: str
    name: str


def _junction_refs(lines: Sequence[_Line]) -> set[str]:
    """Vertices used by two or more lines, or twice by one line (a closed ring's end counted once)."""
    uses: Counter[str] = Counter()
    for line in lines:
        refs = line.refs[:-1] if len(line.refs) > 2 and line.refs[0] == line.refs[-1] else line.refs
        uses.update(refs)
    return {r for r, n in uses.items() if n >= 2}


def _split_lines(lines: Sequence[_Line]) -> Network:
    junctions = _junction_refs(lines)
    nodes: dict[str, Coord] = {}
    edges: list[Edge] = []
    for line in lines:
        start = 0
        k = 0
        last = len(line.refs) - 1
        for i in range(1, last + 1):
            if i != last and line.refs[i] not in junctions:
                continue
            u, v = line.refs[start], line.refs[i]
            seg = tuple(line.coords[start : i + 1])
            nodes.setdefault(u, seg[0])
            nodes.setdefault(v, seg[-1])
            edges.append(Edge(f"{line.key}-{k}", u, v, line.oneway, line.road_class, line.name, seg))
            k += 1
            start = i
        if k == 1:  # a line that needed no split keeps its own id
            e = edges[-1]
            edges[-1] = Edge(line.key, e.u, e.v, e.oneway, e.road_class, e.name, e.coords)
    return Network(nodes, edges)


def _oneway(value: object, road_class: str = "", roundabout: bool = False) -> tuple[bool, bool]:
    """(oneway, reversed) from a oneway tag value."""
    text = str(value).strip().lower() if value is not None else ""
    if isinstance(value, bool):
        text = "yes" if value else "no"
    if text in _REVERSE:
        return True, True
    if text in _TRUE:
        return True, False
    if text in {"no", "false", "0"}:
        return False, False
    return (roundabout or road_class == "motorway"), False


# ---------------------------------------------------------------------------------------------
# OpenStreetMap


def read_osm(path: str | Path, road_classes: AbstractSet[str] | None = None) -> Network:
    """Highway ways of ``road_classes`` (default :data:`DEFAULT_ROAD_CLASSES`) from an OSM file."""
    import osmium

    classes = frozenset(road_classes) if road_classes is not None else DEFAULT_ROAD_CLASSES
    p = Path(path)
    if not p.is_file():
        raise RoadNetError("file_broken", f"找不到地图文件：{p.name}")
    lines: list[_Line] = []
    try:
        processor = (
            osmium.FileProcessor(str(p), osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
            .with_filter(osmium.filter.KeyFilter("highway"))
        )
        for way in processor:
            if not isinstance(way, osmium.osm.Way):
                continue
            tags = way.tags
            highway = tags.get("highway", "")
            if highway not in classes or tags.get("area", "no") == "yes":
                continue
            oneway, rev = _oneway(tags.get("oneway"), highway, tags.get("junction", "") in {"roundabout", "circular"})
            name = tags.get("name") or tags.get("ref") or ""
            # nodes missing from the extract split the way into pieces
            pieces: list[tuple[list[str], list[Coord]]] = [([], [])]
            for nd in way.nodes:
                loc = nd.location
                if not loc.valid():
                    if pieces[-1][0]:
                        pieces.append(([], []))
                    continue
                ref = f"n{nd.ref}"
                if pieces[-1][0] and pieces[-1][0][-1] == ref:
                    continue
                pieces[-1][0].append(ref)
                pieces[-1][1].append((loc.lon, loc.lat))
            pieces = [pc for pc in pieces if len(pc[0]) >= 2]
            for j, (refs, coords) in enumerate(pieces):
                if rev:
                    refs, coords = refs[::-1], coords[::-1]
                key = f"w{way.id}" if len(pieces) == 1 else f"w{way.id}.{j}"
                lines.append(_Line(key, refs, coords, oneway, highway, name))
    except RoadNetError:
        raise
    except Exception as exc:  # osmium reports unreadable data as RuntimeError (and friends)
        raise RoadNetError("file_broken", f"无法读取地图文件 {p.name}：文件损坏或不是 OSM 格式（{exc}）") from exc
    if not lines:
        raise RoadNetError("no_roads", f"地图文件 {p.name} 中没有可通行车辆的道路（highway）。")
    return _split_lines(lines)


# ---------------------------------------------------------------------------------------------
# GeoJSON


def _features(data: object) -> Iterator[tuple[int, dict[str, Any]]]:
    if isinstance(data, list):
        items: list[Any] = data
    elif isinstance(data, dict) and data.get("type") == "FeatureCollection":
        items = data.get("features") or []
    elif isinstance(data, dict) and data.get("type") == "Feature":
        items = [data]
    elif isinstance(data, dict) and data.get("type") in {"LineString", "MultiLineString"}:
        items = [{"type": "Feature", "geometry": data, "properties": {}}]
    else:
        raise RoadNetError("bad_geojson", "GeoJSON 格式不正确：应为 FeatureCollection、Feature 或线要素。")
    if not isinstance(items, list):
        raise RoadNetError("bad_geojson", "GeoJSON 格式不正确：features 应为列表。")
    for i, f in enumerate(items):
        if not isinstance(f, dict):
            raise RoadNetError("bad_geojson", f"GeoJSON 第 {i + 1} 个要素格式不正确。")
        yield i, f


def _point(value: object, where: str) -> Coord:
    if not isinstance(value, list | tuple) or len(value) < 2:
        raise RoadNetError("bad_geojson", f"{where}：坐标格式不正确。")
    try:
        x, y = float(value[0]), float(value[1])
    except (TypeError, ValueError) as exc:
        raise RoadNetError("bad_geojson", f"{where}：坐标不是数字。") from exc
    if not (math.isfinite(x) and math.isfinite(y)):
        raise RoadNetError("bad_geojson", f"{where}：坐标不是有限数字。")
    return x, y


def read_geojson(data: dict[str, Any]) -> Network:
    """Roads from GeoJSON lines; vertices snapped to 1e-6 become shared junctions."""
    ids: dict[tuple[float, float], str] = {}
    lines: list[_Line] = []
    used_keys: Counter[str] = Counter()
    for i, feature in _features(data):
        geom = feature.get("geometry") or {}
        props = feature.get("properties") or {}
        gtype = geom.get("type") if isinstance(geom, dict) else None
        if gtype == "LineString":
            parts = [geom.get("coordinates") or []]
        elif gtype == "MultiLineString":
            parts = list(geom.get("coordinates") or [])
        else:
            continue  # points, polygons: not roads
        road_class = str(props.get("road_class") or props.get("highway") or props.get("class") or "")
        oneway, rev = _oneway(props.get("oneway"), road_class, str(props.get("junction", "")) == "roundabout")
        name = str(props.get("name") or "")
        base = str(props.get("id") or feature.get("id") or f"f{i + 1}")
        used_keys[base] += 1
        if used_keys[base] > 1:
            base = f"{base}#{used_keys[base]}"
        pieces: list[_Line] = []
        for j, part in enumerate(parts):
            if not isinstance(part, list):
                raise RoadNetError("bad_geojson", f"GeoJSON 第 {i + 1} 个要素：线坐标格式不正确。")
            refs: list[str] = []
            coords: list[Coord] = []
            for pt in part:
                x, y = _point(pt, f"GeoJSON 第 {i + 1} 个要素")
                key = (round(x, SNAP_DIGITS), round(y, SNAP_DIGITS))
                ref = ids.get(key)
                if ref is None:
                    ref = ids[key] = f"g{len(ids) + 1}"
                if refs and refs[-1] == ref:
                    continue
                refs.append(ref)
                coords.append(key)
            if len(refs) >= 2:
                if rev:
                    refs, coords = refs[::-1], coords[::-1]
                pieces.append(_Line(f"{base}.{j}" if len(parts) > 1 else base, refs, coords, oneway, road_class, name))
        lines.extend(pieces)
    if not lines:
        raise RoadNetError("no_roads", "GeoJSON 中没有道路线要素（LineString / MultiLineString）。")
    return _split_lines(lines)


# ---------------------------------------------------------------------------------------------
# CSV


def _rows(text: str, what: str, required: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not header:
        raise RoadNetError("bad_csv", f"{what}是空的。")
    missing = [c for c in required if c not in header]
    if missing:
        raise RoadNetError("bad_csv", f"{what}缺少列：{'、'.join(missing)}（第 1 行应为表头）。")
    reader.fieldnames = header
    for row in reader:
        values = {k: (v or "").strip() for k, v in row.items() if k is not None and isinstance(v, str | type(None))}
        if not any(values.values()):
            continue
        yield reader.line_num, values


def _number(value: str, what: str, line: int, column: str) -> float:
    try:
        x = float(value)
    except ValueError:
        x = math.nan
    if not math.isfinite(x):
        raise RoadNetError("bad_csv", f"{what}第 {line} 行：{column} 不是数字：“{value}”。")
    return x


def read_csv(nodes_csv: str, edges_csv: str) -> Network:
    """Nodes ``id,x,y[,...]`` and edges ``u,v[,oneway,road_class,name,id]`` as CSV text."""
    nodes: dict[str, Coord] = {}
    for line, row in _rows(nodes_csv, "路口文件", ("id", "x", "y")):
        nid = row["id"]
        if not nid:
            raise RoadNetError("bad_csv", f"路口文件第 {line} 行：缺少编号。")
        if nid in nodes:
            raise RoadNetError("bad_csv", f"路口文件第 {line} 行：路口编号 {nid} 重复。")
        nodes[nid] = (_number(row["x"], "路口文件", line, "x"), _number(row["y"], "路口文件", line, "y"))
    if not nodes:
        raise RoadNetError("bad_csv", "路口文件中没有路口。")
    edges: list[Edge] = []
    seen: set[str] = set()
    for line, row in _rows(edges_csv, "道路文件", ("u", "v")):
        u, v = row["u"], row["v"]
        for end in (u, v):
            if end not in nodes:
                raise RoadNetError("bad_csv", f"道路文件第 {line} 行：未知的路口编号“{end}”。")
        eid = row.get("id") or f"e{len(edges) + 1}"
        if eid in seen:
            raise RoadNetError("bad_csv", f"道路文件第 {line} 行：道路编号 {eid} 重复。")
        seen.add(eid)
        oneway_text = row.get("oneway", "")
        if oneway_text.lower() not in _TRUE | _REVERSE | {"", "no", "false", "0"}:
            raise RoadNetError("bad_csv", f"道路文件第 {line} 行：单行标记无法识别：“{oneway_text}”（应为 yes/no/-1）。")
        oneway, rev = _oneway(oneway_text)
        if rev:
            u, v = v, u
        edges.append(Edge(eid, u, v, oneway, row.get("road_class", ""), row.get("name", "")))
    if not edges:
        raise RoadNetError("no_roads", "道路文件中没有道路。")
    return Network(nodes, edges)


def nodes_on_road_classes(net: Network, classes: Iterable[str]) -> frozenset[str]:
    """Junctions touched by a road of one of ``classes`` (to allow gates only on such roads)."""
    wanted = set(classes)
    out: set[str] = set()
    for e in net.edges:
        if e.road_class in wanted:
            out.add(e.u)
            out.add(e.v)
    return frozenset(out)
