"""Tests for lianfang.engines.demo_world (pure Python, no Django needed).

Run with ``-p no:django``.
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict, deque
from itertools import pairwise
from pathlib import Path

import pytest
from stdnum.cn import ric

from lianfang.engines.demo_world import (
    REFERENCE_DATE,
    SYNTHETIC_NOTICE,
    ZONE_CODES,
    Geography,
    Population,
    VillageSpec,
    age_on,
    birth_date_from_id,
    build_geography,
    build_population,
    display_name,
    load_divisions,
    polygon_bbox,
)

CSV = Path(__file__).resolve().parents[2] / "lianfang" / "core" / "data" / "hezhuang-330114003.csv"
XINWEI = "330114003215"
PERSONS = 20_000


def _fallback_villages() -> list[VillageSpec]:
    names = ["城隍庙", "知行", "东沙湖", "田城", "学府"]
    out = [VillageSpec(f"330114003{i + 1:03d}", f"{n}社区", "community") for i, n in enumerate(names)]
    # fmt: off
    villages = ["建设", "同一", "同二", "蜀南", "向公", "民主", "建一", "新和", "群建", "群欢",
                "向前", "向红", "闸北", "三联", "文伟", "新围", "围中", "新创", "新江", "江东"]
    # fmt: on
    out += [VillageSpec(f"330114003{200 + i}", f"{n}村", "village") for i, n in enumerate(villages)]
    return out


@pytest.fixture(scope="module")
def villages() -> list[VillageSpec]:
    if CSV.exists():
        return load_divisions(CSV)[2]
    return _fallback_villages()


@pytest.fixture(scope="module")
def geo(villages: list[VillageSpec]) -> Geography:
    return build_geography(villages, set(ZONE_CODES))


@pytest.fixture(scope="module")
def pop(villages: list[VillageSpec], geo: Geography) -> Population:
    return build_population(villages, geo, persons=PERSONS)


def _area(ring: list[list[float]]) -> float:
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in pairwise(ring)) / 2


def _edges(ring: list[list[float]]) -> set[frozenset[tuple[float, float]]]:
    return {frozenset({(a[0], a[1]), (b[0], b[1])}) for a, b in pairwise(ring)}


# --------------------------------------------------------------------------
# Divisions
# --------------------------------------------------------------------------


def test_load_divisions() -> None:
    code, name, villages = load_divisions(CSV)
    assert (code, name) == ("330114003", "河庄街道")
    assert len(villages) == 25
    kinds = Counter(v.kind for v in villages)
    assert kinds == {"village": 20, "community": 5}
    by_code = {v.code: v for v in villages}
    assert by_code[XINWEI].name == "新围村"
    assert by_code["330114003219"].name == "江东村"
    assert by_code["330114003001"].name == "城隍庙社区"
    assert all(not v.name.endswith("委会") for v in villages)


def test_display_name() -> None:
    assert display_name("新围村委会") == "新围村"
    assert display_name("知行社区") == "知行社区"
    assert display_name("城北居委会") == "城北社区"


# --------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------


def test_deterministic_for_a_seed(villages: list[VillageSpec]) -> None:
    g1 = build_geography(villages, set(ZONE_CODES), seed=7)
    g2 = build_geography(villages, set(ZONE_CODES), seed=7)
    assert g1 == g2
    p1 = build_population(villages, g1, persons=3000, seed=7)
    p2 = build_population(villages, g2, persons=3000, seed=7)
    assert p1 == p2
    p3 = build_population(villages, g1, persons=3000, seed=8)
    assert [p.id_number for p in p3.persons] != [p.id_number for p in p1.persons]
    assert build_geography(villages, set(ZONE_CODES), seed=8) != g1


def test_synthetic_label(geo: Geography, pop: Population) -> None:
    assert "SYNTHETIC" in SYNTHETIC_NOTICE
    assert geo.notice == SYNTHETIC_NOTICE and pop.notice == SYNTHETIC_NOTICE
    fc = geo.to_geojson()
    assert fc["type"] == "FeatureCollection"
    assert all(f["properties"]["synthetic"] for f in fc["features"])


# --------------------------------------------------------------------------
# Geography
# --------------------------------------------------------------------------


def test_villages_tile_the_area(villages: list[VillageSpec], geo: Geography) -> None:
    assert set(geo.villages) == {v.code for v in villages}
    total = 0.0
    boxes = []
    for geom in geo.villages.values():
        assert geom["type"] == "Polygon"
        ring = geom["coordinates"][0]
        assert ring[0] == ring[-1] and len(ring) >= 5
        area = _area(ring)
        assert area > 0  # counter-clockwise exterior ring (RFC 7946)
        total += area
        boxes.append(polygon_bbox(geom))
        assert area == pytest.approx((boxes[-1][2] - boxes[-1][0]) * (boxes[-1][3] - boxes[-1][1]))
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    assert total == pytest.approx((x1 - x0) * (y1 - y0), rel=1e-9)  # no gaps, no overlaps
    # about 88 km² around 120.52E 30.30N
    km2 = (x1 - x0) * 96.1 * (y1 - y0) * 111.2
    assert 80 < km2 < 96
    assert abs((x0 + x1) / 2 - 120.52) < 0.01 and abs((y0 + y1) / 2 - 30.30) < 0.01


def test_zone_villages_touch_and_cover_block(geo: Geography) -> None:
    zone = sorted(ZONE_CODES)
    assert geo.zone_codes == ZONE_CODES
    edges = {c: _edges(geo.villages[c]["coordinates"][0]) for c in zone}
    neighbours = {c: {d for d in zone if d != c and edges[c] & edges[d]} for c in zone}
    assert all(neighbours[c] for c in zone), neighbours
    # the adjacency graph of the zone is connected
    seen, todo = {zone[0]}, deque([zone[0]])
    while todo:
        for d in neighbours[todo.popleft()] - seen:
            seen.add(d)
            todo.append(d)
    assert seen == set(zone)
    # 新围 and 围中 share a boundary
    assert "330114003216" in neighbours[XINWEI]
    # the five polygons exactly cover the zone block rectangle
    block = geo.zone_block()
    assert block is not None
    bx0, by0, bx1, by1 = block
    area = sum(_area(geo.villages[c]["coordinates"][0]) for c in zone)
    assert area == pytest.approx((bx1 - bx0) * (by1 - by0), rel=1e-9)
    # and no other village lies inside the block
    for code, geom in geo.villages.items():
        if code in ZONE_CODES:
            continue
        x0, y0, x1, y1 = polygon_bbox(geom)
        assert x1 <= bx0 or x0 >= bx1 or y1 <= by0 or y0 >= by1, code


def test_roads_are_a_connected_junction_graph(geo: Geography) -> None:
    assert geo.roads
    classes = Counter(r.road_class for r in geo.roads)
    assert set(classes) == {"primary", "secondary", "tertiary", "residential", "track"}
    assert 1 <= classes["track"] <= 20
    assert any(r.oneway for r in geo.roads)
    adjacency: dict[str, set[str]] = defaultdict(set)
    pairs = set()
    for r in geo.roads:
        assert r.start_node in geo.junctions and r.end_node in geo.junctions
        assert r.start_node != r.end_node
        coords = r.geometry["coordinates"]
        assert r.geometry["type"] == "LineString"
        assert tuple(coords[0]) == geo.junctions[r.start_node]
        assert tuple(coords[-1]) == geo.junctions[r.end_node]
        assert r.length_m() > 10
        assert r.name
        key = frozenset({r.start_node, r.end_node})
        assert key not in pairs  # no parallel duplicates
        pairs.add(key)
        adjacency[r.start_node].add(r.end_node)
        adjacency[r.end_node].add(r.start_node)
    assert set(adjacency) == set(geo.junctions)  # no isolated junctions
    start = next(iter(geo.junctions))
    seen, todo = {start}, deque([start])
    while todo:
        for n in adjacency[todo.popleft()] - seen:
            seen.add(n)
            todo.append(n)
    assert seen == set(geo.junctions)
    # stable, readable ids
    assert "J00-00" in geo.junctions and "R215" in geo.junctions


def test_cores_and_pois(villages: list[VillageSpec], geo: Geography) -> None:
    def inside(code: str, lon: float, lat: float) -> bool:
        x0, y0, x1, y1 = polygon_bbox(geo.villages[code])
        return x0 <= lon <= x1 and y0 <= lat <= y1

    for v in villages:
        assert inside(v.code, *geo.village_cores[v.code])
    kinds = Counter(p.kind for p in geo.pois)
    stations = defaultdict(list)
    for p in geo.pois:
        assert re.fullmatch(r"1[3-9]\d{9}", p.contact_phone)
        assert 2 <= len(p.contact_name) <= 4
        if p.kind == "party_station":
            stations[p.village_code].append(p)
        if p.village_code is not None:
            assert inside(p.village_code, p.lon, p.lat), p
    assert all(stations[v.code] for v in villages)
    assert all("党群驿站" in stations[v.code][0].name for v in villages)
    assert 3 <= kinds["material_store"] <= 8
    assert 1 <= kinds["assessment_lot"] <= 2
    assert kinds["isolation_site"] == 1
    assert 103_000 / 2500 * 0.8 <= kinds["sampling_site"] <= 103_000 / 2500 * 1.3
    # assessment lots sit just outside the zone block, within 1 km of it
    block = geo.zone_block()
    assert block is not None
    bx0, by0, bx1, by1 = block
    for p in geo.pois:
        if p.kind == "assessment_lot":
            assert p.village_code is not None and p.village_code not in ZONE_CODES
            assert not (bx0 < p.lon < bx1 and by0 < p.lat < by1)
            assert bx0 - 0.01 < p.lon < bx1 + 0.01 and by0 - 0.01 < p.lat < by1 + 0.01


# --------------------------------------------------------------------------
# Population
# --------------------------------------------------------------------------


def test_counts(villages: list[VillageSpec], pop: Population) -> None:
    assert len(pop.persons) == PERSONS
    sizes = Counter(p.household_index for p in pop.persons)
    assert set(sizes) == set(range(len(pop.households)))  # no empty households
    assert set(sizes.values()) <= set(range(1, 7))
    assert 2.7 <= PERSONS / len(pop.households) <= 3.3
    per_village = Counter(pop.households[p.household_index].village_code for p in pop.persons)
    assert set(per_village) == {v.code for v in villages}
    kind = {v.code: v.kind for v in villages}
    comm = [n for c, n in per_village.items() if kind[c] == "community"]
    vill = [n for c, n in per_village.items() if kind[c] == "village"]
    assert sum(comm) / len(comm) > sum(vill) / len(vill)  # communities denser
    assert max(vill) < 2 * min(vill)  # roughly even
    small = build_population(villages, Geography({}, [], {}, [], {}), persons=1234)
    assert len(small.persons) == 1234


def test_grids_buildings_households(villages: list[VillageSpec], pop: Population) -> None:
    grids: dict[str, list[str]] = defaultdict(list)
    for g in pop.grids:
        grids[g.village_code].append(g.name)
    buildings = defaultdict(list)
    for b in pop.buildings:
        buildings[b.village_code].append(b)
    for v in villages:
        names = grids[v.code]
        if v.kind == "village":
            assert 4 <= len(names) <= 12
            assert all(re.fullmatch(r"第[一二三四五六七八九十]+村民小组", n) for n in names)
            assert all(re.fullmatch(r"\d+组\d+号", b.name) and b.units == 1 for b in buildings[v.code])
        else:
            assert len(names) >= 1
            assert all(re.fullmatch(r"第[一二三四五六七八九十]+网格", n) for n in names)
            assert all(re.fullmatch(r"\d+幢", b.name) and 1 <= b.units <= 4 for b in buildings[v.code])
        assert {pop.grids[i].kind for i in range(len(pop.grids)) if pop.grids[i].village_code == v.code} == (
            {"villager_group"} if v.kind == "village" else {"grid"}
        )
        for b in buildings[v.code]:
            assert 0 <= b.grid_index < len(names)
    codes: dict[str, set[str]] = defaultdict(set)
    addresses: set[tuple[str, int, str]] = set()
    for h in pop.households:
        vb = buildings[h.village_code]
        assert 0 <= h.building_index < len(vb)
        assert h.grid_index == vb[h.building_index].grid_index
        assert h.code not in codes[h.village_code]
        codes[h.village_code].add(h.code)
        assert re.fullmatch(rf"{h.village_code[-3:]}-\d{{5}}", h.code)
        key = (h.village_code, h.building_index, h.room)
        assert key not in addresses
        addresses.add(key)
        if h.unit is None:
            assert re.fullmatch(r"\d+号(-\d+)?", h.room)
        else:
            assert re.fullmatch(rf"{h.unit}-\d+0[12]", h.room)


def test_ids_valid_and_unique(pop: Population) -> None:
    ids = [p.id_number for p in pop.persons]
    assert len(set(ids)) == len(ids)
    for number in ids:
        assert re.fullmatch(r"\d{17}[\dX]", number)
        assert number[-1] == ric.calc_check_digit(number)
        assert birth_date_from_id(number) <= REFERENCE_DATE
    # full stdnum validation (region code known and valid for the birth year)
    assert all(ric.is_valid(n) for n in ids)
    assert not any(n.startswith("330114") for n in ids)


def test_region_codes_match_population_type(pop: Population) -> None:
    by_type: dict[str, list[str]] = defaultdict(list)
    for p in pop.persons:
        by_type[p.population_type].append(p.id_number[:6])
    assert set(by_type) == {"registered", "resident", "floating", "tenant"}
    assert len(by_type["registered"]) > len(pop.persons) / 2
    reg = by_type["registered"]
    assert sum(c.startswith("3301") for c in reg) / len(reg) > 0.95
    assert sum(c in ("330121", "330181", "330109") for c in reg) / len(reg) > 0.75
    for kind in ("floating", "tenant"):
        codes = by_type[kind]
        assert sum(not c.startswith("33") for c in codes) / len(codes) > 0.95
    assert sum(c.startswith("33") for c in by_type["resident"]) / len(by_type["resident"]) > 0.95


def test_relations_and_ages_consistent(pop: Population) -> None:
    members: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for p in pop.persons:
        members[p.household_index].append((p.relation, age_on(p.id_number)))
    for hh, rows in members.items():
        head_rel, head_age = rows[0]
        assert head_rel in ("head", "tenant"), hh
        assert head_age >= 18
        for rel, age in rows[1:]:
            if rel == "spouse":
                assert age >= 18
            elif rel == "child":
                assert head_age - age >= 18
            elif rel == "parent":
                assert age - head_age >= 18
            elif rel == "grandchild":
                assert head_age - age >= 36
            elif rel in ("tenant", "other", "sibling"):
                assert age >= 18
    tenants = [p for p in pop.persons if p.relation == "tenant"]
    assert all(p.population_type == "tenant" for p in tenants)
    assert any(p.relation == "tenant" and members[p.household_index][0][0] == "head" for p in tenants)  # shared


def test_flags(pop: Population) -> None:
    n = len(pop.persons)
    ages = [age_on(p.id_number) for p in pop.persons]
    sizes = Counter(p.household_index for p in pop.persons)
    elderly = sum(a >= 65 for a in ages)
    assert 0.05 <= elderly / n <= 0.11
    alone = [p for p, a in zip(pop.persons, ages, strict=True) if p.elderly_alone]
    assert alone
    for p, a in zip(pop.persons, ages, strict=True):
        if p.elderly_alone:
            assert a >= 65 and sizes[p.household_index] == 1
        if p.student:
            assert 6 <= a <= 22
        if 6 <= a <= 18:
            assert p.student
        if a < 18:
            assert not p.party_member
        if p.phone is None:
            assert a < 18 or p.no_smartphone
        if p.no_smartphone:
            assert a >= 18
    assert sum(p.no_smartphone for p in alone) / len(alone) > 0.5
    assert 0.01 <= sum(p.limited_mobility for p in pop.persons) / n <= 0.05
    adults = [p for p, a in zip(pop.persons, ages, strict=True) if a >= 18]
    assert 0.045 <= sum(p.party_member for p in adults) / len(adults) <= 0.075
    phones = [p.phone for p in pop.persons if p.phone is not None]
    assert len(set(phones)) == len(phones)
    assert all(re.fullmatch(r"1[3-9]\d{9}", ph) for ph in phones)


def test_names(pop: Population) -> None:
    for p in pop.persons:
        assert 2 <= len(p.name) <= 3
        assert all("\u4e00" <= ch <= "\u9fff" for ch in p.name)
    surnames = Counter(p.name[0] for p in pop.persons)
    assert {"王", "李", "张", "陈"} <= {s for s, _ in surnames.most_common(8)}


def test_zhang_jianwei_in_xinwei(pop: Population) -> None:
    found = [p for p in pop.persons if p.name == "张建伟"]
    assert len(found) == 1
    person = found[0]
    assert pop.households[person.household_index].village_code == XINWEI
    assert person.population_type == "registered"
    assert age_on(person.id_number) >= 18


def test_speed(villages: list[VillageSpec], geo: Geography) -> None:
    start = time.perf_counter()
    build_population(villages, geo, persons=20_000, seed=99)
    assert time.perf_counter() - start < 10
