"""Load the Hezhuang demo: real division codes and names, synthetic geometry and population."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from lianfang.accounts.models import User
from lianfang.accounts.roles import Role
from lianfang.checkpoints.models import Gate
from lianfang.core import services
from lianfang.core.models import (
    Building,
    Grid,
    Household,
    Person,
    PointOfInterest,
    Road,
    SubDistrict,
    Village,
    Zone,
    refresh_planner_statistics,
)
from lianfang.engines import demo_world

DIVISIONS_CSV = Path(settings.BASE_DIR).parent / "shared" / "data" / "divisions" / "hezhuang-330114003.csv"
ZONE_VILLAGES = {"330114003215", "330114003216", "330114003217", "330114003218", "330114003219"}
ZONE_NAME = "江东片联防区"
DEMO_PASSWORD = "lianfang2022"


def divisions_csv() -> Path:
    # The shared reference folder sits beside the checkout; a copy in the repo is the fallback.
    for candidate in (DIVISIONS_CSV, Path(settings.BASE_DIR) / "lianfang" / "core" / "data" / "hezhuang-330114003.csv"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError("hezhuang-330114003.csv not found")


@dataclass
class DemoSummary:
    subdistrict: SubDistrict
    created: bool
    persons: int
    users: list[tuple[str, str, str]]


@transaction.atomic
def load_demo(persons: int = 20_000, seed: int = 2022) -> DemoSummary:
    sub_code, sub_name, specs = demo_world.load_divisions(divisions_csv())
    existing = SubDistrict.objects.filter(code=sub_code).first()
    if existing and Person.objects.filter(subdistrict=existing).exists():
        return DemoSummary(existing, False, Person.objects.filter(subdistrict=existing).count(), ensure_users(existing))
    geo = demo_world.build_geography(specs, ZONE_VILLAGES, seed=seed)
    pop = demo_world.build_population(specs, geo, persons=persons, seed=seed)

    sub, _ = SubDistrict.objects.get_or_create(code=sub_code, defaults={"name": sub_name})
    villages: dict[str, Village] = {}
    for spec in specs:
        v, _ = Village.objects.update_or_create(
            code=spec.code, defaults={"subdistrict": sub, "name": spec.name, "kind": spec.kind,
                                      "geometry": geo.villages.get(spec.code)})
        villages[spec.code] = v
    zone, _ = Zone.objects.get_or_create(subdistrict=sub, name=ZONE_NAME)
    for code in sorted(ZONE_VILLAGES):
        services.move_village_to_zone(villages[code], zone)

    Road.objects.filter(subdistrict=sub, synthetic=True).delete()
    Road.objects.bulk_create([
        Road(subdistrict=sub, name=r.name, road_class=r.road_class, oneway=r.oneway, geometry=r.geometry,
             start_node=r.start_node, end_node=r.end_node, synthetic=True) for r in geo.roads
    ], batch_size=1000)
    PointOfInterest.objects.filter(subdistrict=sub).delete()
    PointOfInterest.objects.bulk_create([
        PointOfInterest(subdistrict=sub, village=villages.get(p.village_code or ""), kind=p.kind, name=p.name,
                        geometry={"type": "Point", "coordinates": [p.lon, p.lat]},
                        contact_name=p.contact_name, contact_phone=p.contact_phone) for p in geo.pois
    ])

    grids_by_village: dict[str, list[Grid]] = {}
    grid_objs = [Grid(village=villages[g.village_code], name=g.name, kind=g.kind) for g in pop.grids]
    Grid.objects.bulk_create(grid_objs, batch_size=1000)
    for g_spec, g in zip(pop.grids, grid_objs, strict=True):
        grids_by_village.setdefault(g_spec.village_code, []).append(g)
    buildings_by_village: dict[str, list[Building]] = {}
    building_objs = [
        Building(village=villages[b.village_code], grid=grids_by_village[b.village_code][b.grid_index],
                 name=b.name, units=b.units, geometry={"type": "Point", "coordinates": [b.lon, b.lat]})
        for b in pop.buildings
    ]
    Building.objects.bulk_create(building_objs, batch_size=1000)
    for b_spec, b in zip(pop.buildings, building_objs, strict=True):
        buildings_by_village.setdefault(b_spec.village_code, []).append(b)
    household_objs = [
        Household(village=villages[h.village_code], grid=grids_by_village[h.village_code][h.grid_index],
                  building=buildings_by_village[h.village_code][h.building_index], unit=h.unit, room=h.room,
                  code=h.code)
        for h in pop.households
    ]
    Household.objects.bulk_create(household_objs, batch_size=2000)
    batch: list[Person] = []
    for p in pop.persons:
        h = household_objs[p.household_index]
        fields = services.document_fields("resident_id", p.id_number)
        fields.update(services.phone_fields(p.phone))
        fields.update(services.pinyin_fields(p.name))
        batch.append(Person(
            subdistrict=sub, village=h.village, grid=h.grid, household=h, name=p.name, relation=p.relation,
            population_type=p.population_type, elderly_alone=p.elderly_alone, no_smartphone=p.no_smartphone,
            limited_mobility=p.limited_mobility, student=p.student, party_member=p.party_member, **fields,
        ))
        if len(batch) >= 2000:
            Person.objects.bulk_create(batch)
            batch = []
    Person.objects.bulk_create(batch)

    refresh_planner_statistics()
    lots = [p for p in geo.pois if p.kind == "assessment_lot"]
    if lots and not Gate.objects.filter(subdistrict=sub).exists():
        Gate.objects.create(subdistrict=sub, zone=zone, name=f"{ZONE_NAME}1号卡口", kind=Gate.Kind.ROAD,
                            geometry={"type": "Point", "coordinates": [lots[0].lon, lots[0].lat]})
    return DemoSummary(sub, True, len(pop.persons), ensure_users(sub))


def ensure_users(sub: SubDistrict) -> list[tuple[str, str, str]]:
    """One demo login per role; returns (username, role, scope) rows to print."""
    xinwei = Village.objects.get(code="330114003215")
    jiangdong = Village.objects.get(code="330114003219")
    grid = Grid.objects.filter(village=xinwei).order_by("pk").first()
    gate = Gate.objects.filter(subdistrict=sub).order_by("pk").first()
    plan: list[tuple[str, str, Role, dict[str, object]]] = [
        ("command", "指挥部值班员", Role.COMMAND, {}),
        ("supervisor", "督查组", Role.SUPERVISOR, {}),
        ("cadre_xinwei", "新围村干部", Role.CADRE, {"scope_village": xinwei}),
        ("cadre_jiangdong", "江东村干部", Role.CADRE, {"scope_village": jiangdong}),
        ("grid_xinwei", "新围村网格员", Role.GRID_WORKER, {"scope_village": xinwei, "scope_grid": grid}),
        ("leader_xinwei", "新围村小组长", Role.GROUP_LEADER, {"scope_village": xinwei, "scope_grid": grid}),
        ("gate_chief", "卡口长", Role.GATE_CHIEF, {"scope_gate": gate}),
        ("gate_staff", "卡口工作人员", Role.GATE_STAFF, {"scope_gate": gate}),
        ("volunteer", "志愿者", Role.VOLUNTEER, {"scope_village": xinwei}),
        ("sampling_lead", "采样点负责人", Role.SAMPLING_LEAD, {"scope_village": xinwei}),
    ]
    rows = []
    for username, display, role, scope in plan:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username)
            user.set_password(DEMO_PASSWORD)
        user.display_name = display
        user.role = role
        user.scope_subdistrict = sub
        user.scope_village = scope.get("scope_village")  # type: ignore[assignment]
        user.scope_grid = scope.get("scope_grid")  # type: ignore[assignment]
        user.scope_gate = scope.get("scope_gate")  # type: ignore[assignment]
        user.is_staff = role == Role.COMMAND
        user.is_superuser = role == Role.COMMAND
        user.save()
        rows.append((username, role.label, user.scope_label))
    return rows
