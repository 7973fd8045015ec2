"""Deterministic SYNTHETIC demo world for Hezhuang sub-district (河庄街道).

Everything this module produces is invented: village geometry, roads, points
of interest, people, names, ID numbers and phone numbers.  No public geometry
of the Hezhuang villages exists in this project, so the map is a plausible
polder grid (land reclaimed from the Qiantang river from 1968 on, hence the
regular grid of roads) around 120.52E 30.30N covering about 88 km²; it is not
the real layout.  Use it for demos, tests and load tests only.

Pure Python (no Django import).  All randomness comes from
``random.Random`` instances seeded from the ``seed`` argument, so the same
inputs always give the same world.

Layout
======
The area is an 11 km × 8 km lattice of 20 × 16 polder cells (column widths
and row heights vary a little).  Every village/community is a rectangle of
whole cells; the villages of the defence zone (``zone_codes``) form one
rectangular block in the north-east corner, by the river, and the other units
fill the rest (communities in the south-west, where the town is).  Polygon
rings list every lattice vertex on their perimeter, so neighbours share
boundary coordinates exactly.

Roads: every lattice edge is a road segment between two lattice junctions
(``J<ix>-<iy>``): two north-south and up to two east-west arterials are
``primary``, other edges on village boundaries ``secondary``, edges inside a
village ``tertiary`` (a few of them farm ``track``\\ s).  Each village has a
residential cross street through its core (junctions ``R<nnn>…``) that splits
the lattice edges it meets, and the arterials leave the area to external
junctions (``X-…``).  The result is a planar graph: every segment runs between
two junctions, so it can feed a min-cut checkpoint planner.

ID numbers pass ``stdnum.cn.ric.validate`` (including its birth-year check of
the region code), so e.g. local people born before 1988 carry 330121 (萧山县),
1989-2001 330181 (萧山市) and later 330109 (萧山区).  330114 (钱塘区, 2021) is
not used because python-stdnum 2.2 does not know it yet.
"""

from __future__ import annotations

import csv
import datetime
import math
import random
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate, pairwise
from pathlib import Path
from typing import Any, Final, Literal

__all__ = [
    "REFERENCE_DATE",
    "SYNTHETIC_NOTICE",
    "ZONE_CODES",
    "BuildingSpec",
    "Geography",
    "GridSpec",
    "HouseholdSpec",
    "PersonSpec",
    "Poi",
    "Population",
    "Road",
    "VillageSpec",
    "age_on",
    "birth_date_from_id",
    "build_geography",
    "build_population",
    "display_name",
    "is_male_id",
    "load_divisions",
    "polygon_bbox",
]

SYNTHETIC_NOTICE: Final = (
    "合成演示数据（SYNTHETIC DEMO DATA）：河庄街道的地图、道路、点位、人员、姓名、"
    "身份证号和手机号均为程序随机生成，并非真实信息。"
)

#: Ages, flags and ID birth dates are consistent on this date (summer 2022).
REFERENCE_DATE: Final = datetime.date(2022, 7, 1)

#: The five villages of the story (one defence zone): 新围, 围中, 新创, 新江, 江东.
ZONE_CODES: Final = frozenset({"330114003215", "330114003216", "330114003217", "330114003218", "330114003219"})

#: A fixed resident that a pinyin search test can find ("zjw").
_ZJW_VILLAGE: Final = "330114003215"
_ZJW_SURNAME: Final = "张"
_ZJW_GIVEN: Final = "建伟"

VillageKind = Literal["village", "community"]
RoadClass = Literal["primary", "secondary", "tertiary", "residential", "track"]
PoiKind = Literal["party_station", "material_store", "assessment_lot", "isolation_site", "sampling_site"]
GridKind = Literal["villager_group", "grid"]
Relation = Literal["head", "spouse", "child", "parent", "grandchild", "sibling", "tenant", "other"]
PopulationType = Literal["registered", "resident", "floating", "tenant"]
GeoJSON = dict[str, Any]
BBox = tuple[float, float, float, float]  # (min lon, min lat, max lon, max lat)


# ==========================================================================
# Divisions
# ==========================================================================


@dataclass(frozen=True)
class VillageSpec:
    code: str
    name: str
    kind: VillageKind


def display_name(raw: str) -> str:
    """``新围村委会`` → ``新围村``, ``XX居委会`` → ``XX社区``; others unchanged."""
    name = raw.strip()
    if name.endswith("村委会"):
        return name[: -len("委会")]
    if name.endswith("居委会"):
        return name[: -len("居委会")] + "社区"
    return name


def _kind_of(code: str, raw_name: str) -> VillageKind:
    if raw_name.endswith(("村委会", "村")):
        return "village"
    if raw_name.endswith(("社区", "居委会")):
        return "community"
    # GB/T 10114: 001-199 居民委员会, 200-399 村民委员会.
    return "village" if int(code[-3:]) >= 200 else "community"


def load_divisions(csv_path: str | Path) -> tuple[str, str, list[VillageSpec]]:
    """Read a divisions CSV (``code,name,…``): sub-district row (9 digits) plus
    its villages/communities (12 digits).  Returns (code, name, villages sorted
    by code)."""
    sub_code = ""
    sub_name = ""
    villages: list[VillageSpec] = []
    with open(csv_path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            code = (row.get("code") or "").strip()
            raw = (row.get("name") or "").strip()
            if len(code) == 9:
                sub_code, sub_name = code, raw
            elif len(code) == 12:
                villages.append(VillageSpec(code, display_name(raw), _kind_of(code, raw)))
    if not sub_code and villages:
        sub_code = villages[0].code[:9]
    villages.sort(key=lambda v: v.code)
    return sub_code, sub_name, villages


# ==========================================================================
# Shared random helpers
# ==========================================================================


class _Weighted:
    """Fast weighted choice of strings with ``bisect`` on cumulative weights."""

    __slots__ = ("cum", "total", "values")

    def __init__(self, items: Iterable[tuple[str, float]]) -> None:
        self.values: list[str] = []
        self.cum: list[float] = []
        total = 0.0
        for value, weight in items:
            total += weight
            self.values.append(value)
            self.cum.append(total)
        self.total = total

    def pick(self, rng: random.Random) -> str:
        return self.values[bisect_right(self.cum, rng.random() * self.total)]


# fmt: off
_SURNAMES_COMMON: Final = (
    ("王", 7.1), ("李", 7.0), ("张", 6.7), ("刘", 5.4), ("陈", 5.5), ("杨", 3.1),
    ("黄", 2.2), ("赵", 2.3), ("吴", 2.0), ("周", 1.9), ("徐", 1.6), ("孙", 1.5),
    ("马", 1.1), ("朱", 1.3), ("胡", 1.3), ("郭", 1.1), ("何", 1.1), ("高", 1.1),
    ("林", 1.1), ("罗", 0.9), ("郑", 0.9), ("梁", 0.8), ("谢", 0.8), ("宋", 0.7),
    ("唐", 0.7), ("许", 0.7), ("韩", 0.6), ("冯", 0.6), ("邓", 0.6), ("曹", 0.6),
    ("彭", 0.5), ("曾", 0.5), ("肖", 0.5), ("田", 0.5), ("董", 0.5), ("袁", 0.5),
    ("潘", 0.4), ("于", 0.4), ("蒋", 0.4), ("蔡", 0.4), ("余", 0.4), ("杜", 0.4),
    ("叶", 0.4), ("程", 0.4), ("沈", 0.4), ("魏", 0.4), ("吕", 0.3), ("丁", 0.3),
    ("傅", 0.3), ("钟", 0.3), ("金", 0.3), ("汪", 0.3), ("方", 0.3), ("任", 0.3),
)
# Xiaoshan/Dajiangdong locals: more 沈, 俞, 来, 楼, 施, 汤, 钱, 孔, 陆 …
_SURNAMES_LOCAL_EXTRA: Final = (
    ("陈", 3.0), ("王", 2.0), ("沈", 2.2), ("徐", 1.6), ("俞", 1.2), ("来", 0.8),
    ("楼", 0.6), ("施", 0.8), ("汤", 0.7), ("钱", 0.8), ("孔", 0.5), ("陆", 0.7),
    ("倪", 0.5), ("韩", 0.6), ("傅", 0.7), ("金", 0.8), ("朱", 1.0), ("周", 1.0),
)
# fmt: on
_LOCAL_SURNAMES: Final = _Weighted(_SURNAMES_COMMON + _SURNAMES_LOCAL_EXTRA)
_MIGRANT_SURNAMES: Final = _Weighted(_SURNAMES_COMMON)

# Given-name characters by sex and generation (born <1965, 1965-1994, ≥1995).
_GIVEN_CHARS: Final[dict[tuple[bool, int], str]] = {
    (True, 0): "建国华明伟平军林荣根富贵金水海德福祥兴才志永生宝庆忠发法土炳松泉仁",
    (False, 0): "秀英兰芳珍凤玉梅花娟琴美桂月彩素云菊萍莲娣香琴爱仙妹宝",
    (True, 1): "伟强勇军杰涛斌波辉磊鹏浩峰超俊健晓东海明刚华宇建锋新江立文",
    (False, 1): "丽娟敏静燕艳霞红萍玲芳婷雪慧丹颖洁琳倩晓佳雅英琴红",
    (True, 2): "子梓浩宇轩睿博俊涵铭泽晨一诺奕辰皓航杰阳硕凯逸宸煜",
    (False, 2): "欣怡梓涵诗雨思若佳可馨悦琪萱一语嘉彤妍子静雯婧",
}
_CLASSIC_GIVEN: Final[dict[tuple[bool, int], tuple[str, ...]]] = {
    (True, 0): ("建国", "建华", "国庆", "志明", "金根", "水根", "荣华", "德兴", "阿福", "土根"),
    (False, 0): ("秀英", "桂英", "玉兰", "阿娣", "凤英", "月娥", "彩凤", "菊芬", "美珍", "素琴"),
}


def _generation(birth_year: int) -> int:
    return 0 if birth_year < 1965 else (1 if birth_year < 1995 else 2)


def _given_name(rng: random.Random, male: bool, birth_year: int) -> str:
    gen = _generation(birth_year)
    classic = _CLASSIC_GIVEN.get((male, gen))
    if classic is not None and rng.random() < 0.25:
        return classic[rng.randrange(len(classic))]
    chars = _GIVEN_CHARS[(male, gen)]
    first = chars[rng.randrange(len(chars))]
    if rng.random() < 0.12:  # single-character given name
        return first
    return first + chars[rng.randrange(len(chars))]


# fmt: off
_MOBILE_PREFIXES: Final = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151",
    "152", "153", "155", "156", "157", "158", "159", "166", "173", "175", "177", "180",
    "181", "182", "183", "185", "186", "187", "188", "189", "191", "193", "198", "199",
)
# fmt: on


def _new_phone(rng: random.Random, seen: set[str]) -> str:
    while True:
        number = _MOBILE_PREFIXES[rng.randrange(len(_MOBILE_PREFIXES))] + f"{rng.randrange(10**8):08d}"
        if number not in seen:
            seen.add(number)
            return number


# ==========================================================================
# Region codes and ID numbers
# ==========================================================================

# A "place" is a chain of region codes (code, first year, last year) with the
# birth years for which python-stdnum's table accepts each, plus a fallback
# code valid for every year (usually the prefecture).
_Chain = tuple[tuple[tuple[str, int | None, int | None], ...], str]

_XIAOSHAN: Final[_Chain] = (
    (("330121", None, 1987), ("330181", 1989, 2001), ("330109", 2001, None)),
    "330100",
)
_HANGZHOU_OTHER: Final[tuple[_Chain, ...]] = (
    ((("330102", 1983, None),), "330100"),  # 上城
    ((("330106", 1983, None),), "330100"),  # 西湖
    ((("330105", 1983, None),), "330100"),  # 拱墅
    ((("330104", 1983, 2021),), "330100"),  # 江干
    ((("330108", 1996, None),), "330100"),  # 滨江
    ((("330125", None, 1994), ("330184", 1994, 2001), ("330110", 2001, None)), "330100"),
    ((("330123", None, 1994), ("330183", 1994, 2014), ("330111", 2014, None)), "330100"),
    ((("330124", None, 1996), ("330185", 1996, 2017), ("330112", 2017, None)), "330100"),
    ((("330122", None, None),), "330100"),  # 桐庐
    ((("330127", None, None),), "330100"),  # 淳安
)
_ZHEJIANG_OTHER: Final[tuple[_Chain, ...]] = (
    ((("330621", 1983, 2013), ("330603", 2013, None)), "330100"),  # 绍兴县/柯桥
    ((("330625", 1983, 1989), ("330681", 1989, None)), "330100"),  # 诸暨
    ((("330281", 1989, None),), "330200"),  # 余姚
    ((("330282", 1989, None),), "330200"),  # 慈溪
    ((("330324", 1981, None),), "330300"),  # 永嘉
    ((("330381", 1989, None),), "330300"),  # 瑞安
    ((("330782", 1989, None),), "330100"),  # 义乌
    ((("332602", 1986, 1994), ("331082", 1994, None)), "330300"),  # 临海
)
_OTHER_PROVINCES: Final[tuple[tuple[_Chain, float], ...]] = (
    (((("342401", None, 1999), ("341502", 1999, None)), "340800"), 3.0),  # 六安
    (((("342423", None, 1999), ("341522", 1999, None)), "340800"), 2.0),  # 霍邱
    (((("342122", None, 1996), ("341221", 1996, None)), "340800"), 2.0),  # 临泉
    (((("342221", None, 1998), ("341321", 1998, None)), "340800"), 1.0),  # 砀山
    (((("412726", None, 2000), ("411625", 2000, None)), "410100"), 2.5),  # 郸城
    (((("412824", None, 2000), ("411721", 2000, None)), "410100"), 1.0),  # 西平
    (((("411525", 1998, None),), "410100"), 1.0),  # 固始
    (((("512926", None, 1993), ("511323", 1993, None)), "510100"), 2.0),  # 蓬安
    (((("513030", None, 1999), ("511725", 1999, None)), "510100"), 1.5),  # 渠县
    (((("522121", None, 1997), ("520321", 1997, 2016), ("520304", 2016, None)), "520100"), 2.0),
    (((("522101", None, 1997), ("520302", 1997, None)), "520100"), 1.0),  # 遵义
    (((("360424", 1983, None),), "360400"), 1.5),  # 修水
    (((("362329", None, 2000), ("361127", 2000, None)), "360100"), 1.0),  # 余干
    (((("421127", 1995, None),), "420100"), 1.0),  # 黄梅
    (((("430524", 1986, None),), "430500"), 1.0),  # 隆回
    (((("532128", None, 2001), ("530627", 2001, None)), "530100"), 1.0),  # 镇雄
    (((("452123", None, 2002), ("450126", 2002, None)), "450100"), 0.6),  # 宾阳
    (((("622421", None, 2003), ("621102", 2003, None)), "620100"), 0.4),  # 定西
)
_OTHER_PROVINCE_WEIGHTS: Final = list(accumulate(w for _, w in _OTHER_PROVINCES))


def _pick_other_province(rng: random.Random) -> _Chain:
    x = rng.random() * _OTHER_PROVINCE_WEIGHTS[-1]
    return _OTHER_PROVINCES[bisect_right(_OTHER_PROVINCE_WEIGHTS, x)][0]


def _region_for(chain: _Chain, birth_year: int) -> str:
    codes, fallback = chain
    for code, start, end in codes:
        if (start is None or birth_year >= start) and (end is None or birth_year <= end):
            return code
    return fallback


_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"


def _check_digit(first17: str) -> str:
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def birth_date_from_id(id_number: str) -> datetime.date:
    return datetime.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def is_male_id(id_number: str) -> bool:
    return int(id_number[16]) % 2 == 1


def age_on(id_number: str, on: datetime.date = REFERENCE_DATE) -> int:
    """Age in whole years on ``on`` (default :data:`REFERENCE_DATE`)."""
    born = birth_date_from_id(id_number)
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _birth_date(rng: random.Random, age: int) -> datetime.date:
    """A uniformly random birth date giving exactly ``age`` on REFERENCE_DATE."""
    ref = REFERENCE_DATE
    latest = ref.replace(year=ref.year - age).toordinal()  # ref is 1 July: no 29 Feb
    earliest = ref.replace(year=ref.year - age - 1).toordinal() + 1
    return datetime.date.fromordinal(rng.randint(earliest, latest))


def _new_id(rng: random.Random, chain: _Chain, born: datetime.date, male: bool, seen: set[str]) -> str:
    prefix = _region_for(chain, born.year) + born.strftime("%Y%m%d")
    while True:
        seq = rng.randrange(1, 500) * 2 + (1 if male else 0)
        first17 = f"{prefix}{seq:03d}"
        if first17 not in seen:
            seen.add(first17)
            return first17 + _check_digit(first17)


# ==========================================================================
# Geography
# ==========================================================================


@dataclass
class Road:
    name: str
    road_class: RoadClass
    oneway: bool
    geometry: GeoJSON  # GeoJSON LineString, coordinates [lon, lat]
    start_node: str
    end_node: str

    def length_m(self) -> float:
        coords = self.geometry["coordinates"]
        return sum(_distance_m(a, b) for a, b in pairwise(coords))


@dataclass
class Poi:
    kind: PoiKind
    name: str
    village_code: str | None
    lon: float
    lat: float
    contact_name: str
    contact_phone: str


@dataclass
class Geography:
    villages: dict[str, GeoJSON]  # code -> GeoJSON Polygon
    roads: list[Road]
    junctions: dict[str, tuple[float, float]]  # node id -> (lon, lat)
    pois: list[Poi]
    village_cores: dict[str, tuple[float, float]]
    zone_codes: frozenset[str] = frozenset()
    notice: str = SYNTHETIC_NOTICE

    def zone_block(self) -> BBox | None:
        """Bounding box of the zone villages (they tile it exactly)."""
        boxes = [polygon_bbox(self.villages[c]) for c in sorted(self.zone_codes) if c in self.villages]
        if not boxes:
            return None
        return (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )

    def village_at(self, lon: float, lat: float) -> str | None:
        for code, geom in self.villages.items():
            x0, y0, x1, y1 = polygon_bbox(geom)
            if x0 <= lon < x1 and y0 <= lat < y1:
                return code
        return None

    def to_geojson(self) -> GeoJSON:
        """A FeatureCollection of villages, roads and POIs, marked synthetic."""
        features: list[GeoJSON] = []
        for code, geom in self.villages.items():
            features.append(
                {"type": "Feature", "geometry": geom, "properties": {"layer": "village", "code": code, "synthetic": True}}
            )
        for road in self.roads:
            features.append(
                {
                    "type": "Feature",
                    "geometry": road.geometry,
                    "properties": {
                        "layer": "road",
                        "name": road.name,
                        "class": road.road_class,
                        "oneway": road.oneway,
                        "start": road.start_node,
                        "end": road.end_node,
                        "synthetic": True,
                    },
                }
            )
        for poi in self.pois:
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [poi.lon, poi.lat]},
                    "properties": {
                        "layer": "poi",
                        "kind": poi.kind,
                        "name": poi.name,
                        "village": poi.village_code,
                        "synthetic": True,
                    },
                }
            )
        return {"type": "FeatureCollection", "features": features, "notice": self.notice}


def polygon_bbox(geometry: GeoJSON) -> BBox:
    ring = geometry["coordinates"][0]
    lons = [p[0] for p in ring]
    lats = [p[1] for p in ring]
    return (min(lons), min(lats), max(lons), max(lats))


_CENTRE: Final = (120.52, 30.30)
_AREA_KM: Final = (11.0, 8.0)  # east-west, north-south: 88 km²
_NX: Final = 20
_NY: Final = 16
_KM_PER_DEG_LAT: Final = 111.195
_KM_PER_DEG_LON: Final = 111.32 * math.cos(math.radians(_CENTRE[1]))
_COORD_DP: Final = 6


def _distance_m(a: Sequence[float], b: Sequence[float]) -> float:
    dx = (b[0] - a[0]) * _KM_PER_DEG_LON
    dy = (b[1] - a[1]) * _KM_PER_DEG_LAT
    return 1000.0 * math.hypot(dx, dy)


def _cn_number(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n - 10] if n > 10 else "")
    return digits[n // 10] + "十" + (digits[n % 10] if n % 10 else "")


_Rect = tuple[int, int, int, int]  # lattice cells x0, y0, x1, y1 (exclusive)


class _Lattice:
    def __init__(self, rng: random.Random) -> None:
        self.xs_km = self._cuts(rng, _NX, _AREA_KM[0])
        self.ys_km = self._cuts(rng, _NY, _AREA_KM[1])
        lon0 = _CENTRE[0] - _AREA_KM[0] / 2 / _KM_PER_DEG_LON
        lat0 = _CENTRE[1] - _AREA_KM[1] / 2 / _KM_PER_DEG_LAT
        self.lons = [round(lon0 + x / _KM_PER_DEG_LON, _COORD_DP) for x in self.xs_km]
        self.lats = [round(lat0 + y / _KM_PER_DEG_LAT, _COORD_DP) for y in self.ys_km]

    @staticmethod
    def _cuts(rng: random.Random, n: int, total_km: float) -> list[float]:
        sizes = [rng.uniform(0.85, 1.15) for _ in range(n)]
        scale = total_km / sum(sizes)
        out = [0.0]
        for s in sizes:
            out.append(out[-1] + s * scale)
        out[-1] = total_km
        return out

    def rect_km(self, r: _Rect) -> tuple[float, float]:
        return self.xs_km[r[2]] - self.xs_km[r[0]], self.ys_km[r[3]] - self.ys_km[r[1]]


def _area_weight(v: VillageSpec) -> float:
    return 0.45 if v.kind == "community" else 1.0


def _partition(lat: _Lattice, rect: _Rect, items: list[VillageSpec], out: dict[str, _Rect]) -> None:
    """Recursive guillotine partition of ``rect`` among ``items`` (in order:
    the first items go west/south) with areas proportional to their weights."""
    if len(items) == 1:
        out[items[0].code] = rect
        return
    weights = [_area_weight(v) for v in items]
    total = sum(weights)
    best_k, best_gap, acc = 1, math.inf, 0.0
    for k in range(1, len(items)):
        acc += weights[k - 1]
        gap = abs(acc - total / 2)
        if gap < best_gap - 1e-9:
            best_k, best_gap = k, gap
    left, right = items[:best_k], items[best_k:]
    frac = sum(weights[:best_k]) / total
    x0, y0, x1, y1 = rect
    w_km, h_km = lat.rect_km(rect)
    axes = ("x", "y") if w_km >= h_km else ("y", "x")
    for axis in axes:
        if axis == "x":
            lo, hi, other, cuts = x0, x1, y1 - y0, lat.xs_km
        else:
            lo, hi, other, cuts = y0, y1, x1 - x0, lat.ys_km
        first = lo + math.ceil(len(left) / other)
        last = hi - math.ceil(len(right) / other)
        if first > last:
            continue
        target = cuts[lo] + (cuts[hi] - cuts[lo]) * frac
        cut = min(range(first, last + 1), key=lambda i: (abs(cuts[i] - target), i))
        if axis == "x":
            _partition(lat, (x0, y0, cut, y1), left, out)
            _partition(lat, (cut, y0, x1, y1), right, out)
        else:
            _partition(lat, (x0, y0, x1, cut), left, out)
            _partition(lat, (x0, cut, x1, y1), right, out)
        return
    raise ValueError("too many villages for the demo lattice")


def _layout(lat: _Lattice, villages: list[VillageSpec], zone: list[VillageSpec]) -> dict[str, _Rect]:
    out: dict[str, _Rect] = {}
    rest = [v for v in villages if v not in zone]
    full: _Rect = (0, 0, _NX, _NY)
    if not zone or not rest:
        _partition(lat, full, zone or rest, out)
        return out
    total_w = sum(_area_weight(v) for v in villages)
    zone_w = sum(_area_weight(v) for v in zone)
    area = _AREA_KM[0] * _AREA_KM[1]
    target = area * zone_w / total_w
    best: tuple[float, int, int] | None = None
    for wz in range(1, _NX):
        for hz in range(1, _NY):
            if wz * hz < len(zone) or (_NX - wz) * _NY < len(rest):
                continue
            w_km, h_km = lat.rect_km((_NX - wz, _NY - hz, _NX, _NY))
            score = abs(w_km * h_km - target) / target + 0.3 * abs(math.log(w_km / h_km))
            if best is None or score < best[0] - 1e-12:
                best = (score, wz, hz)
    if best is None:
        raise ValueError("too many villages for the demo lattice")
    _, wz, hz = best
    _partition(lat, (_NX - wz, _NY - hz, _NX, _NY), zone, out)
    west: _Rect = (0, 0, _NX - wz, _NY)
    south_east: _Rect = (_NX - wz, 0, _NX, _NY - hz)
    se_km2 = math.prod(lat.rect_km(south_east))
    share = se_km2 / (se_km2 + math.prod(lat.rect_km(west)))
    rest_w = sum(_area_weight(v) for v in rest)
    se_cells = wz * (_NY - hz)
    best_m, best_gap = 0, math.inf
    for m in range(1, len(rest)):
        if m > se_cells or len(rest) - m > (_NX - wz) * _NY:
            continue
        gap = abs(sum(_area_weight(v) for v in rest[-m:]) / rest_w - share)
        if gap < best_gap - 1e-12:
            best_m, best_gap = m, gap
    if best_m == 0:
        # Only one other unit: give it the west part and merge nothing south-east.
        _partition(lat, (0, 0, _NX, _NY - hz), rest, out)
        return out
    _partition(lat, west, rest[:-best_m], out)
    _partition(lat, south_east, rest[-best_m:], out)
    return out


def _ring(lat: _Lattice, r: _Rect) -> list[list[float]]:
    """Counter-clockwise ring through every lattice vertex on the perimeter."""
    x0, y0, x1, y1 = r
    pts = [(ix, y0) for ix in range(x0, x1)]
    pts += [(x1, iy) for iy in range(y0, y1)]
    pts += [(ix, y1) for ix in range(x1, x0, -1)]
    pts += [(x0, iy) for iy in range(y1, y0, -1)]
    pts.append((x0, y0))
    return [[lat.lons[ix], lat.lats[iy]] for ix, iy in pts]


def _jid(ix: int, iy: int) -> str:
    return f"J{ix:02d}-{iy:02d}"


_V_ARTERIALS: Final = ("河庄大道", "垦区大道")
_H_ARTERIALS: Final = ("江东大道", "庄前大道")


def _core_cell(lat: _Lattice, rect: _Rect) -> tuple[int, int]:
    """The cell nearest the rectangle's centre, avoiding the area's outer ring."""
    x0, y0, x1, y1 = rect
    cx_km = (lat.xs_km[x0] + lat.xs_km[x1]) / 2
    cy_km = (lat.ys_km[y0] + lat.ys_km[y1]) / 2

    def score(cell: tuple[int, int]) -> tuple[int, float, tuple[int, int]]:
        ix, iy = cell
        on_edge = ix in (0, _NX - 1) or iy in (0, _NY - 1)
        dx = (lat.xs_km[ix] + lat.xs_km[ix + 1]) / 2 - cx_km
        dy = (lat.ys_km[iy] + lat.ys_km[iy + 1]) / 2 - cy_km
        return (1 if on_edge else 0, round(math.hypot(dx, dy), 6), cell)

    return min(((ix, iy) for ix in range(x0, x1) for iy in range(y0, y1)), key=score)


def _pick_arterials(counts: dict[int, int], n: int, min_gap: int) -> list[int]:
    chosen: list[int] = []
    for line in sorted(counts, key=lambda i: (-counts[i], i)):
        if len(chosen) == n:
            break
        if counts[line] > 0 and all(abs(line - c) >= min_gap for c in chosen):
            chosen.append(line)
    return sorted(chosen)


def build_geography(
    villages: list[VillageSpec], zone_codes: set[str], seed: int = 2022, *, population: int = 103_000
) -> Geography:
    """Build the synthetic map.  ``population`` (default: Hezhuang's ~103,000)
    only sizes the sampling sites, one per ~2,500 people."""
    if not villages:
        raise ValueError("no villages")
    rng = random.Random(f"{seed}:geography")
    lat = _Lattice(rng)
    by_code = {v.code: v for v in villages}
    zone = [v for v in villages if v.code in zone_codes]
    rects = _layout(lat, villages, zone)

    owner: dict[tuple[int, int], str] = {}
    for code, (x0, y0, x1, y1) in rects.items():
        for ix in range(x0, x1):
            for iy in range(y0, y1):
                owner[(ix, iy)] = code

    polygons: dict[str, GeoJSON] = {v.code: {"type": "Polygon", "coordinates": [_ring(lat, rects[v.code])]} for v in villages}

    junctions: dict[str, tuple[float, float]] = {}
    for ix in range(_NX + 1):
        for iy in range(_NY + 1):
            junctions[_jid(ix, iy)] = (lat.lons[ix], lat.lats[iy])

    # --- village cores and the residential cross streets -----------------
    cores: dict[str, tuple[float, float]] = {}
    # split points on lattice edges: ("h"|"v", ix, iy) -> [(coordinate, node id)]
    splits: dict[tuple[str, int, int], list[tuple[float, str]]] = {}
    residential: list[Road] = []
    for v in villages:
        cell = _core_cell(lat, rects[v.code])
        ix, iy = cell
        fx, fy = rng.uniform(0.35, 0.65), rng.uniform(0.35, 0.65)
        lon = round(lat.lons[ix] + (lat.lons[ix + 1] - lat.lons[ix]) * fx, _COORD_DP)
        la = round(lat.lats[iy] + (lat.lats[iy + 1] - lat.lats[iy]) * fy, _COORD_DP)
        cores[v.code] = (lon, la)
        tag = f"R{v.code[-3:]}"
        junctions[tag] = (lon, la)
        ends = {
            "W": ((lat.lons[ix], la), ("v", ix, iy), la),
            "E": ((lat.lons[ix + 1], la), ("v", ix + 1, iy), la),
            "S": ((lon, lat.lats[iy]), ("h", ix, iy), lon),
            "N": ((lon, lat.lats[iy + 1]), ("h", ix, iy + 1), lon),
        }
        community = v.kind == "community"
        for side, (end_pt, edge_key, coord) in ends.items():
            mid = (round((lon + end_pt[0]) / 2, _COORD_DP), round((la + end_pt[1]) / 2, _COORD_DP))
            mid_id, end_id = f"{tag}-{side}1", f"{tag}-{side}2"
            junctions[mid_id] = mid
            junctions[end_id] = end_pt
            splits.setdefault(edge_key, []).append((coord, end_id))
            street = f"{v.name}{'中心街' if side in 'WE' else '南北街'}"
            # In communities the east-west street is one-way eastbound.
            oneway = community and side in "WE"
            chain = [(tag, (lon, la)), (mid_id, mid), (end_id, end_pt)]
            if oneway and side == "W":
                chain.reverse()
            for (a_id, a_pt), (b_id, b_pt) in pairwise(chain):
                residential.append(
                    Road(
                        street, "residential", oneway, {"type": "LineString", "coordinates": [list(a_pt), list(b_pt)]}, a_id, b_id
                    )
                )

    # --- lattice roads ------------------------------------------------------
    def line_name_v(ix: int) -> str:
        return "东堤路" if ix == _NX else f"经{_cn_number(ix + 1)}路"

    def line_name_h(iy: int) -> str:
        return "江堤路" if iy == _NY else f"纬{_cn_number(iy + 1)}路"

    v_counts = {ix: sum(1 for iy in range(_NY) if owner.get((ix - 1, iy)) != owner.get((ix, iy))) for ix in range(2, _NX - 1)}
    h_counts = {iy: sum(1 for ix in range(_NX) if owner.get((ix, iy - 1)) != owner.get((ix, iy))) for iy in range(2, _NY - 1)}
    v_art = {ix: _V_ARTERIALS[i] for i, ix in enumerate(_pick_arterials(v_counts, 2, 5))}
    h_art = {iy: _H_ARTERIALS[i] for i, iy in enumerate(_pick_arterials(h_counts, 2, 4))}

    # (orientation, ix, iy, class, name)
    edges: list[tuple[str, int, int, RoadClass, str]] = []
    for iy in range(_NY + 1):
        for ix in range(_NX):
            below, above = owner.get((ix, iy - 1)), owner.get((ix, iy))
            if iy in h_art:
                edges.append(("h", ix, iy, "primary", h_art[iy]))
            elif below != above:
                edges.append(("h", ix, iy, "secondary", line_name_h(iy)))
            else:
                name = by_code[above].name if above else ""
                edges.append(("h", ix, iy, "tertiary", f"{line_name_h(iy)}({name}段)"))
    for ix in range(_NX + 1):
        for iy in range(_NY):
            left, right = owner.get((ix - 1, iy)), owner.get((ix, iy))
            if ix in v_art:
                edges.append(("v", ix, iy, "primary", v_art[ix]))
            elif left != right:
                edges.append(("v", ix, iy, "secondary", line_name_v(ix)))
            else:
                name = by_code[right].name if right else ""
                edges.append(("v", ix, iy, "tertiary", f"{line_name_v(ix)}({name}段)"))

    tertiary = [i for i, e in enumerate(edges) if e[3] == "tertiary" and (e[0], e[1], e[2]) not in splits]
    for i in sorted(rng.sample(tertiary, min(8, len(tertiary)))):
        o, ix, iy, _, _ = edges[i]
        cell = (ix, iy)
        code = owner[cell]
        edges[i] = (o, ix, iy, "track", f"{by_code[code].name}机耕路")

    roads: list[Road] = []
    for o, ix, iy, cls, name in edges:
        start = _jid(ix, iy)
        end = _jid(ix + 1, iy) if o == "h" else _jid(ix, iy + 1)
        nodes = [start] + [nid for _, nid in sorted(splits.get((o, ix, iy), []))] + [end]
        for s_id, t_id in pairwise(nodes):
            roads.append(
                Road(
                    name,
                    cls,
                    False,
                    {"type": "LineString", "coordinates": [list(junctions[s_id]), list(junctions[t_id])]},
                    s_id,
                    t_id,
                )
            )
    roads.extend(residential)

    # Arterials continue beyond the area (west and south; north/east is the river).
    for ix, name in v_art.items():
        ext = f"X-S-{ix:02d}"
        junctions[ext] = (lat.lons[ix], round(lat.lats[0] - 1.0 / _KM_PER_DEG_LAT, _COORD_DP))
        roads.append(
            Road(
                name,
                "primary",
                False,
                {"type": "LineString", "coordinates": [list(junctions[ext]), list(junctions[_jid(ix, 0)])]},
                ext,
                _jid(ix, 0),
            )
        )
    for iy, name in h_art.items():
        ext = f"X-W-{iy:02d}"
        junctions[ext] = (round(lat.lons[0] - 1.0 / _KM_PER_DEG_LON, _COORD_DP), lat.lats[iy])
        roads.append(
            Road(
                name,
                "primary",
                False,
                {"type": "LineString", "coordinates": [list(junctions[ext]), list(junctions[_jid(0, iy)])]},
                ext,
                _jid(0, iy),
            )
        )

    # --- points of interest ---------------------------------------------------
    phones: set[str] = set()

    def contact() -> tuple[str, str]:
        male = rng.random() < 0.6
        born = 2022 - rng.randint(28, 58)
        while True:
            name = _LOCAL_SURNAMES.pick(rng) + _given_name(rng, male, born)
            if name != _ZJW_SURNAME + _ZJW_GIVEN:
                return name, _new_phone(rng, phones)

    def bounds(code: str, margin_m: float = 40.0) -> BBox:
        x0, y0, x1, y1 = polygon_bbox(polygons[code])
        mx, my = margin_m / 1000 / _KM_PER_DEG_LON, margin_m / 1000 / _KM_PER_DEG_LAT
        return (x0 + mx, y0 + my, x1 - mx, y1 - my)

    def near(code: str, centre: tuple[float, float], dist_m: float, angle: float) -> tuple[float, float]:
        x0, y0, x1, y1 = bounds(code)
        lon = centre[0] + dist_m * math.cos(angle) / 1000 / _KM_PER_DEG_LON
        la = centre[1] + dist_m * math.sin(angle) / 1000 / _KM_PER_DEG_LAT
        return (round(min(max(lon, x0), x1), _COORD_DP), round(min(max(la, y0), y1), _COORD_DP))

    pois: list[Poi] = []
    for v in villages:
        lon, la = near(v.code, cores[v.code], rng.uniform(30, 80), rng.uniform(0, 2 * math.pi))
        pois.append(Poi("party_station", f"{v.name}党群驿站", v.code, lon, la, *contact()))

    store_villages = [v for i, v in enumerate(villages) if i % 5 == 2]
    if zone and not any(v.code in zone_codes for v in store_villages):
        store_villages.append(zone[len(zone) // 2])
    for v in store_villages:
        lon, la = near(v.code, cores[v.code], rng.uniform(120, 250), rng.uniform(0, 2 * math.pi))
        pois.append(Poi("material_store", f"{v.name}物资储备点", v.code, lon, la, *contact()))

    if zone:
        zone_set = {v.code for v in zone}

        def touches_zone(ix: int, iy: int) -> bool:
            return any(owner.get((ix + dx, iy + dy)) in zone_set for dx in (-1, 0) for dy in (-1, 0))

        rank = {"primary": 0, "secondary": 1, "tertiary": 2, "track": 3}
        entering: list[tuple[int, str, int, int, str, tuple[int, int], tuple[int, int]]] = []
        for o, ix, iy, cls, name in edges:
            a = (ix, iy)
            b = (ix + 1, iy) if o == "h" else (ix, iy + 1)
            inside = touches_zone(*a), touches_zone(*b)
            if inside[0] == inside[1]:
                continue
            near_pt, far_pt = (a, b) if inside[0] else (b, a)
            entering.append((rank[cls], o, ix, iy, name, near_pt, far_pt))
        entering.sort()
        chosen: list[tuple[int, str, int, int, str, tuple[int, int], tuple[int, int]]] = []
        for cand in entering:  # best road from each direction (west: "h", south: "v")
            if all(c[1] != cand[1] for c in chosen):
                chosen.append(cand)
            if len(chosen) == 2:
                break
        for _, o, _ix, _iy, name, near_pt, far_pt in chosen:
            nx_, ny_ = junctions[_jid(*near_pt)]
            fx_, fy_ = junctions[_jid(*far_pt)]
            lon = nx_ + (fx_ - nx_) * 0.35
            la = ny_ + (fy_ - ny_) * 0.35
            off = 40.0 / 1000
            if o == "h":
                la += off / _KM_PER_DEG_LAT
            else:
                lon += off / _KM_PER_DEG_LON
            lon, la = round(lon, _COORD_DP), round(la, _COORD_DP)
            pois.append(Poi("assessment_lot", f"研判停车场({name})", None, lon, la, *contact()))
        for poi in pois:
            if poi.kind == "assessment_lot":
                poi.village_code = _village_at(rects, lat, poi.lon, poi.lat)

    zone_centre = _centre_of([cores[v.code] for v in zone]) if zone else _CENTRE
    far_v = max(
        (v for v in villages if v.code not in zone_codes) or villages,
        key=lambda v: (_distance_m(cores[v.code], zone_centre), v.code),
    )
    lon, la = near(far_v.code, cores[far_v.code], 450, rng.uniform(0, 2 * math.pi))
    pois.append(Poi("isolation_site", "河庄街道集中隔离点(江畔酒店)", far_v.code, lon, la, *contact()))

    weights = _population_weights(villages, seed)
    total_w = sum(weights.values())
    for v in villages:
        expected = population * weights[v.code] / total_w
        n_sites = max(1, round(expected / 2500))
        first_angle = rng.uniform(0, 2 * math.pi)
        for k in range(n_sites):
            angle = first_angle + 2 * math.pi * k / n_sites + rng.uniform(-0.3, 0.3)
            dist = 0.0 if n_sites == 1 else rng.uniform(150, 450)
            lon, la = near(v.code, cores[v.code], dist + rng.uniform(20, 60), angle)
            label = f"{v.name}采样点" if n_sites == 1 else f"{v.name}第{_cn_number(k + 1)}采样点"
            pois.append(Poi("sampling_site", label, v.code, lon, la, *contact()))

    return Geography(polygons, roads, junctions, pois, cores, frozenset(v.code for v in zone))


def _village_at(rects: dict[str, _Rect], lat: _Lattice, lon: float, la: float) -> str | None:
    for code, (x0, y0, x1, y1) in rects.items():
        if lat.lons[x0] <= lon < lat.lons[x1] and lat.lats[y0] <= la < lat.lats[y1]:
            return code
    return None


def _centre_of(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))


def _population_weights(villages: Sequence[VillageSpec], seed: int) -> dict[str, float]:
    """Relative population per unit: communities denser, ±15 % per village."""
    rng = random.Random(f"{seed}:population-weights")
    out: dict[str, float] = {}
    for v in villages:
        base = 1.4 if v.kind == "community" else 1.0
        out[v.code] = base * rng.uniform(0.85, 1.15)
    return out


# ==========================================================================
# Population
# ==========================================================================


@dataclass
class GridSpec:
    village_code: str
    name: str
    kind: GridKind


@dataclass
class BuildingSpec:
    village_code: str
    grid_index: int  # index into the village's grids
    name: str
    units: int
    lon: float
    lat: float


@dataclass
class HouseholdSpec:
    village_code: str
    grid_index: int
    building_index: int  # index into the village's buildings
    unit: int | None
    room: str
    code: str  # unique within the village, e.g. "215-00123"


@dataclass
class PersonSpec:
    household_index: int  # global index into Population.households
    name: str
    relation: Relation
    id_number: str
    phone: str | None
    population_type: PopulationType
    elderly_alone: bool
    no_smartphone: bool
    limited_mobility: bool
    student: bool
    party_member: bool


@dataclass
class Population:
    grids: list[GridSpec]
    buildings: list[BuildingSpec]
    households: list[HouseholdSpec]
    persons: list[PersonSpec]
    notice: str = SYNTHETIC_NOTICE


class _Member:
    __slots__ = ("age", "given", "male", "ptype", "relation", "surname")

    def __init__(self, relation: Relation, male: bool, age: int, ptype: PopulationType) -> None:
        self.relation: Relation = relation
        self.male = male
        self.age = age
        self.ptype: PopulationType = ptype
        self.surname: str | None = None
        self.given: str | None = None


class _Household:
    __slots__ = ("building", "chain", "members", "ptype", "room", "unit")

    def __init__(self, ptype: PopulationType, members: list[_Member], chain: _Chain | None) -> None:
        self.ptype: PopulationType = ptype
        self.members = members
        self.chain = chain  # household origin for non-registered households
        self.building = 0
        self.unit: int | None = None
        self.room = ""


_FAMILY_SIZES: Final = _Weighted((("1", 0.10), ("2", 0.24), ("3", 0.27), ("4", 0.20), ("5", 0.12), ("6", 0.07)))
_MIGRANT_SIZES: Final = _Weighted((("1", 0.30), ("2", 0.30), ("3", 0.25), ("4", 0.15)))
_HH_TYPES: Final[dict[VillageKind, _Weighted]] = {
    "village": _Weighted((("registered", 0.64), ("resident", 0.05), ("floating", 0.10), ("tenant", 0.21))),
    "community": _Weighted((("registered", 0.46), ("resident", 0.24), ("floating", 0.08), ("tenant", 0.22))),
}


_PTYPES: Final[dict[str, PopulationType]] = {
    "registered": "registered",
    "resident": "resident",
    "floating": "floating",
    "tenant": "tenant",
}


def _spouse_age(rng: random.Random, head_age: int, head_male: bool) -> int:
    diff = rng.randint(-2, 5)
    return max(20, head_age - diff if head_male else head_age + diff)


def _child_age(rng: random.Random, youngest_parent: int) -> int:
    return max(0, youngest_parent - rng.randint(22, 36))


def _family(rng: random.Random, size: int, ptype: PopulationType, kind: VillageKind) -> list[_Member]:
    """A registered/resident family of ``size`` members, head first."""
    r = rng.random()
    male = rng.random() < 0.8

    def couple(lo: int, hi: int) -> list[_Member]:
        age = rng.randint(lo, hi)
        return [_Member("head", male, age, ptype), _Member("spouse", not male, _spouse_age(rng, age, male), ptype)]

    def add_children(members: list[_Member], n: int) -> None:
        youngest = min(m.age for m in members[:2])
        first = _child_age(rng, youngest)
        for i in range(n):
            age = first if i == 0 else min(max(0, first - rng.randint(2, 8)), max(0, youngest - 18))
            members.append(_Member("child", rng.random() < 0.52, age, ptype))

    def add_parents(members: list[_Member], n: int) -> None:
        head_age = members[0].age
        father_first = rng.random() < 0.4
        for i in range(n):
            age = min(99, head_age + rng.randint(23, 33))
            members.append(_Member("parent", father_first if i == 0 else not father_first, age, ptype))

    if size == 1:
        p_elderly = 0.38 if kind == "village" else 0.26
        if r < p_elderly:
            age = rng.randint(65, 80) + (rng.randint(0, 14) if rng.random() < 0.35 else 0)
            return [_Member("head", rng.random() < 0.4, age, ptype)]
        return [_Member("head", rng.random() < 0.6, rng.randint(20, 64), ptype)]
    if size == 2:
        if r < 0.16:
            return couple(65, 86)
        if r < 0.80:
            return couple(22, 64)
        head = _Member("head", rng.random() < 0.4, rng.randint(30, 58), ptype)
        members = [head]
        members.append(_Member("child", rng.random() < 0.52, _child_age(rng, head.age), ptype))
        return members
    if size == 3:
        if r < 0.9:
            members = couple(25, 58)
            add_children(members, 1)
        else:
            members = couple(30, 55)
            add_parents(members, 1)
        return members
    if size == 4:
        members = couple(28, 52) if r < 0.55 else couple(30, 56)
        if r < 0.55:
            add_children(members, 2)
        else:
            add_children(members, 1)
            add_parents(members, 1)
        return members
    if size == 5:
        members = couple(30, 52) if r < 0.5 else couple(28, 50)
        if r < 0.5:
            add_children(members, 2)
            add_parents(members, 1)
        else:
            add_children(members, 1)
            add_parents(members, 2)
        return members
    # size 6
    if r < 0.5:
        members = couple(50, 68)
        child_age = max(20, min(m.age for m in members) - rng.randint(22, 30))
        child_male = rng.random() < 0.7
        members.append(_Member("child", child_male, child_age, ptype))
        members.append(_Member("other", not child_male, _spouse_age(rng, child_age, child_male), ptype))
        youngest = min(members[2].age, members[3].age)
        for _ in range(2):
            members.append(_Member("grandchild", rng.random() < 0.52, _child_age(rng, youngest), ptype))
        return members
    members = couple(30, 48)
    add_children(members, 2)
    add_parents(members, 2)
    return members


def _migrants(rng: random.Random, size: int, ptype: PopulationType) -> list[_Member]:
    """A floating or tenant household; tenant heads have relation "tenant"."""
    head_rel: Relation = "tenant" if ptype == "tenant" else "head"
    male = rng.random() < 0.65
    age = rng.randint(18, 40) if rng.random() < 0.7 else rng.randint(41, 60)
    head = _Member(head_rel, male, age, ptype)
    if size == 1:
        return [head]
    if rng.random() < 0.25:  # workers sharing a rented room/flat, not related
        mate: Relation = "tenant" if ptype == "tenant" else "other"
        return [head] + [
            _Member(mate, rng.random() < 0.7, max(18, min(60, age + rng.randint(-8, 8))), ptype) for _ in range(size - 1)
        ]
    head.age = max(head.age, 22)
    members = [head, _Member("spouse", not male, _spouse_age(rng, head.age, male), ptype)]
    youngest = min(m.age for m in members)
    for i in range(size - 2):
        if i == 1 and rng.random() < 0.3:
            members.append(_Member("sibling", rng.random() < 0.6, max(18, min(60, head.age + rng.randint(-6, 6))), ptype))
        else:
            members.append(_Member("child", rng.random() < 0.52, min(17, _child_age(rng, youngest)), ptype))
    return members


def _make_household(rng: random.Random, kind: VillageKind, remaining: int) -> _Household:
    ptype = _PTYPES[_HH_TYPES[kind].pick(rng)]
    if ptype in ("registered", "resident"):
        size = min(int(_FAMILY_SIZES.pick(rng)), remaining)
        members = _family(rng, size, ptype, kind)
        chain: _Chain | None = None
        if ptype == "resident":
            pool = _HANGZHOU_OTHER if rng.random() < 0.5 else _ZHEJIANG_OTHER
            chain = pool[rng.randrange(len(pool))]
        # lodgers sharing a family's home
        if len(members) < 6 and len(members) < remaining and rng.random() < 0.06:
            members.append(_Member("tenant", rng.random() < 0.6, rng.randint(18, 50), "tenant"))
        elif len(members) < 6 and len(members) < remaining and rng.random() < 0.03:
            members.append(_Member("other", rng.random() < 0.3, rng.randint(20, 60), "floating"))
        return _Household(ptype, members, chain)
    size = min(int(_MIGRANT_SIZES.pick(rng)), remaining)
    return _Household(ptype, _migrants(rng, size, ptype), _pick_other_province(rng))


class _Context:
    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.phones: set[str] = set()
        self.zjw_done = False


def _apportion(total: int, weights: Sequence[float]) -> list[int]:
    s = sum(weights)
    raw = [total * w / s for w in weights]
    out = [int(x) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - out[i]), i))
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


def build_population(villages: list[VillageSpec], geography: Geography, persons: int = 20000, seed: int = 2022) -> Population:
    """Build ``persons`` synthetic people (exactly) over ``villages``."""
    if persons < 0:
        raise ValueError("persons must be >= 0")
    weights = _population_weights(villages, seed)
    targets = _apportion(persons, [weights[v.code] for v in villages])
    pop = Population([], [], [], [])
    ctx = _Context()
    for v, n in zip(villages, targets, strict=True):
        _build_village(pop, ctx, v, n, geography, seed)
    return pop


def _build_village(pop: Population, ctx: _Context, v: VillageSpec, n_persons: int, geo: Geography, seed: int) -> None:
    rng = random.Random(f"{seed}:{v.code}:population")
    layout_rng = random.Random(f"{seed}:{v.code}:layout")
    households: list[_Household] = []
    remaining = n_persons
    while remaining > 0:
        hh = _make_household(rng, v.kind, remaining)
        remaining -= len(hh.members)
        households.append(hh)

    if v.code == _ZJW_VILLAGE and households and not ctx.zjw_done:
        target = next((h for h in households if h.ptype == "registered" and h.members[0].age >= 25), households[0])
        head = target.members[0]
        head.male, head.surname, head.given = True, _ZJW_SURNAME, _ZJW_GIVEN
        if head.age < 25:
            head.age = 54
        ctx.zjw_done = True

    bbox = polygon_bbox(geo.villages[v.code]) if v.code in geo.villages else None
    core = geo.village_cores.get(v.code)
    if bbox is None or core is None:
        lon0, lat0 = _CENTRE
        bbox = (lon0 - 0.01, lat0 - 0.01, lon0 + 0.01, lat0 + 0.01)
        core = _CENTRE
    first_building = len(pop.buildings)
    if v.kind == "village":
        ordered = _rural_layout(pop, layout_rng, v, households, bbox, core)
    else:
        ordered = _community_layout(pop, layout_rng, v, households, bbox, core)
    grids_of_building = [b.grid_index for b in pop.buildings[first_building:]]

    suffix = v.code[-3:]
    for i, hh in enumerate(ordered, start=1):
        hh_index = len(pop.households)
        pop.households.append(
            HouseholdSpec(v.code, grids_of_building[hh.building], hh.building, hh.unit, hh.room, f"{suffix}-{i:05d}")
        )
        _emit_persons(pop, ctx, rng, hh, hh_index)


def _clamp_point(lon: float, la: float, bbox: BBox, margin_m: float = 25.0) -> tuple[float, float]:
    mx = margin_m / 1000 / _KM_PER_DEG_LON
    my = margin_m / 1000 / _KM_PER_DEG_LAT
    lon = min(max(lon, bbox[0] + mx), bbox[2] - mx)
    la = min(max(la, bbox[1] + my), bbox[3] - my)
    return round(lon, _COORD_DP), round(la, _COORD_DP)


def _rural_layout(
    pop: Population, rng: random.Random, v: VillageSpec, households: list[_Household], bbox: BBox, core: tuple[float, float]
) -> list[_Household]:
    hosts = [h for h in households if h.ptype in ("registered", "resident")]
    guests = [h for h in households if h.ptype not in ("registered", "resident")]
    n_groups = rng.randint(4, 12)
    if len(hosts) < n_groups:
        n_groups = max(1, len(hosts)) if hosts else 1
    for g in range(n_groups):
        pop.grids.append(GridSpec(v.code, f"第{_cn_number(g + 1)}村民小组", "villager_group"))
    # hamlet centres: group 1 at the core, the others spread over the village
    x0, y0, x1, y1 = bbox
    hamlets = [core] + [
        (x0 + (x1 - x0) * rng.uniform(0.15, 0.85), y0 + (y1 - y0) * rng.uniform(0.15, 0.85)) for _ in range(n_groups - 1)
    ]
    sigma_lon = 0.09 / _KM_PER_DEG_LON
    sigma_lat = 0.09 / _KM_PER_DEG_LAT
    houses: list[list[_Household]] = []
    house_group: list[int] = []
    house_no: list[int] = []
    next_no = [0] * n_groups
    n_hosts = len(hosts)

    def new_house(g: int) -> int:
        next_no[g] += 2 if rng.random() < 0.1 else 1
        hx, hy = hamlets[g]
        lon, la = _clamp_point(rng.gauss(hx, sigma_lon), rng.gauss(hy, sigma_lat), bbox)
        pop.buildings.append(BuildingSpec(v.code, g, f"{g + 1}组{next_no[g]}号", 1, lon, la))
        houses.append([])
        house_group.append(g)
        house_no.append(next_no[g])
        return len(houses) - 1

    for i, hh in enumerate(hosts):
        g = i * n_groups // n_hosts
        if not houses or house_group[-1] != g or rng.random() < 0.9:
            new_house(g)
        houses[-1].append(hh)
    if not houses:
        new_house(0)
    for hh in guests:
        houses[rng.randrange(len(houses))].append(hh)
    ordered: list[_Household] = []
    for b, occupants in enumerate(houses):
        for k, hh in enumerate(occupants):
            hh.building = b
            hh.unit = None
            hh.room = f"{house_no[b]}号" if k == 0 else f"{house_no[b]}号-{k + 1}"
            ordered.append(hh)
    return ordered


_FLOORS: Final = (6, 6, 6, 7, 11, 11, 15, 18, 18, 26)


def _community_layout(
    pop: Population, rng: random.Random, v: VillageSpec, households: list[_Household], bbox: BBox, core: tuple[float, float]
) -> list[_Household]:
    n_hh = len(households)
    n_grids = max(1, min(15, max(3, round(n_hh / 250)), max(1, n_hh)))
    for g in range(n_grids):
        pop.grids.append(GridSpec(v.code, f"第{_cn_number(g + 1)}网格", "grid"))
    specs: list[tuple[int, int]] = []  # (units, floors)
    capacity = 0
    while capacity * 0.85 < n_hh or len(specs) < n_grids:
        units = rng.randint(1, 4)
        floors = _FLOORS[rng.randrange(len(_FLOORS))]
        specs.append((units, floors))
        capacity += units * floors * 2
    n_b = len(specs)
    cols = max(1, math.ceil(math.sqrt(n_b * 1.4)))
    rows = math.ceil(n_b / cols)
    width_m = (bbox[2] - bbox[0]) * _KM_PER_DEG_LON * 1000 - 80
    height_m = (bbox[3] - bbox[1]) * _KM_PER_DEG_LAT * 1000 - 80
    dx = min(70.0, width_m / cols)
    dy = min(55.0, height_m / max(1, rows))
    ox = core[0] - (cols - 1) * dx / 2 / 1000 / _KM_PER_DEG_LON
    oy = core[1] - (rows - 1) * dy / 2 / 1000 / _KM_PER_DEG_LAT
    for b, (units, _floors) in enumerate(specs):
        r, c = divmod(b, cols)
        lon = ox + c * dx / 1000 / _KM_PER_DEG_LON + rng.uniform(-8, 8) / 1000 / _KM_PER_DEG_LON
        la = oy + r * dy / 1000 / _KM_PER_DEG_LAT + rng.uniform(-6, 6) / 1000 / _KM_PER_DEG_LAT
        lon, la = _clamp_point(lon, la, bbox)
        pop.buildings.append(BuildingSpec(v.code, b * n_grids // n_b, f"{b + 1}幢", units, lon, la))
    # pick occupied flats at random, then fill them in address order
    starts: list[int] = []
    acc = 0
    for units, floors in specs:
        starts.append(acc)
        acc += units * floors * 2
    slots = sorted(rng.sample(range(acc), n_hh))
    for hh, slot in zip(households, slots, strict=True):
        b = bisect_right(starts, slot) - 1
        units, floors = specs[b]
        offset = slot - starts[b]
        unit, rest = divmod(offset, floors * 2)
        floor, flat = divmod(rest, 2)
        hh.building = b
        hh.unit = unit + 1
        hh.room = f"{unit + 1}-{floor + 1}{flat + 1:02d}"
    return households


def _emit_persons(pop: Population, ctx: _Context, rng: random.Random, hh: _Household, hh_index: int) -> None:
    members = hh.members
    head = members[0]
    local = hh.ptype in ("registered", "resident")
    table = _LOCAL_SURNAMES if hh.ptype == "registered" else _MIGRANT_SURNAMES
    family_surname = head.surname or table.pick(rng)
    head_surname = family_surname if head.male or head.surname else table.pick(rng)
    if head.surname is None:
        head.surname = head_surname
    family_size_one = len(members) == 1
    year = REFERENCE_DATE.year
    for m in members:
        if m.surname is None:
            rel = m.relation
            if rel == "spouse":
                m.surname = family_surname if m.male else table.pick(rng)
            elif rel in ("child", "grandchild"):
                m.surname = family_surname if rng.random() < 0.92 else table.pick(rng)
            elif rel == "sibling":
                m.surname = head.surname
            elif rel == "parent":
                m.surname = head.surname if m.male else table.pick(rng)
            else:
                m.surname = (_LOCAL_SURNAMES if m.ptype == "registered" else _MIGRANT_SURNAMES).pick(rng)
        born = _birth_date(rng, m.age)
        if m.given is not None:
            name = m.surname + m.given
        else:
            while True:
                name = m.surname + _given_name(rng, m.male, born.year)
                if name != _ZJW_SURNAME + _ZJW_GIVEN:
                    break
        # region chain
        if m.ptype == "registered":
            chain = _XIAOSHAN if rng.random() < 0.85 else _HANGZHOU_OTHER[rng.randrange(len(_HANGZHOU_OTHER))]
        elif m.ptype == "resident":
            chain = (
                hh.chain
                if hh.chain is not None and rng.random() < 0.85
                else (_HANGZHOU_OTHER[rng.randrange(len(_HANGZHOU_OTHER))])
            )
        elif hh.chain is not None and not local and rng.random() < 0.85:
            chain = hh.chain
        else:
            chain = _pick_other_province(rng)
        id_number = _new_id(rng, chain, born, m.male, ctx.ids)

        age = m.age
        elderly = age >= 65
        alone = family_size_one and elderly and local
        student = 6 <= age <= 18 or (19 <= age <= 22 and rng.random() < 0.5)
        if elderly:
            no_smart = rng.random() < (0.7 if alone else 0.4)
        elif age >= 55:
            no_smart = rng.random() < 0.06
        elif age >= 18:
            no_smart = rng.random() < 0.005
        else:
            no_smart = False
        phone: str | None
        if age < 14 or (age < 18 and rng.random() < 0.3) or (no_smart and elderly and rng.random() < 0.5):
            phone = None
        else:
            phone = _new_phone(rng, ctx.phones)
        if age >= 80:
            limited = rng.random() < 0.35
        elif elderly:
            limited = rng.random() < 0.12
        else:
            limited = rng.random() < 0.006
        if age < 18:
            party = False
        elif m.ptype == "registered":
            party = rng.random() < (0.085 if year - born.year >= 50 else 0.065)
        elif m.ptype == "resident":
            party = rng.random() < 0.065
        else:
            party = rng.random() < 0.03
        pop.persons.append(
            PersonSpec(hh_index, name, m.relation, id_number, phone, m.ptype, alone, no_smart, limited, student, party)
        )
