"""Gate planning through the pages: road import, the zone plan beside the villages' baseline,
applying it as gates, lanes per gate, and the bad inputs."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from lianfang.accounts.models import User
from lianfang.accounts.roles import Role
from lianfang.checkpoints import services
from lianfang.checkpoints.models import Gate, GateDemand, GatePlan
from lianfang.core.demo import load_demo
from lianfang.core.models import Road, SubDistrict, Zone
from tests.shared_data import SHARED


@pytest.fixture
def demo(db: None) -> SubDistrict:
    return load_demo(persons=300).subdistrict


def client_for(username: str):
    from django.test import Client

    c = Client()
    c.force_login(User.objects.get(username=username))
    return c


def test_the_demo_zone_needs_clearly_fewer_gates_than_its_villages(demo: SubDistrict) -> None:
    zone = Zone.objects.get(subdistrict=demo)
    c = client_for("command")
    r = c.post(reverse("plan_new"), {"zone": zone.pk, "mode": "junction", "solver": "scipy"})
    plan = GatePlan.objects.get()
    assert r.status_code == 302 and r["Location"] == reverse("plan_detail", args=[plan.pk])
    assert set(plan.baseline) == {"新围村", "围中村", "新创村", "新江村", "江东村"}
    assert plan.site_count < plan.baseline_total / 2
    assert plan.reduction_percent is not None and plan.reduction_percent > 50
    page = c.get(reverse("plan_detail", args=[plan.pk])).content.decode()
    assert f"{plan.reduction_percent}%" in page
    geo = c.get(reverse("plan_geojson", args=[plan.pk])).json()
    assert len(geo["sites"]["features"]) == plan.site_count and any(f["properties"]["entry"] for f in geo["roads"]["features"])
    # Both solvers agree.
    other = services.plan_zone(zone, None, services.PlanRequest(solver="networkx"))
    assert other.site_count == plan.site_count


def test_applying_a_plan_creates_gates_once_and_a_replan_keeps_them(demo: SubDistrict) -> None:
    zone = Zone.objects.get(subdistrict=demo)
    before = Gate.objects.filter(zone=zone).count()
    plan = services.plan_zone(zone, None, services.PlanRequest())
    c = client_for("command")
    c.post(reverse("plan_apply", args=[plan.pk]))
    gates = Gate.objects.filter(zone=zone).exclude(junction="")
    assert gates.count() == plan.site_count and Gate.objects.filter(zone=zone).count() == before + plan.site_count
    assert all(g.geometry and g.geometry["type"] == "Point" for g in gates)
    c.post(reverse("plan_apply", args=[plan.pk]))
    assert Gate.objects.filter(zone=zone).count() == before + plan.site_count
    again = services.plan_zone(zone, None, services.PlanRequest())
    assert again.site_count == plan.site_count and all(s["existing"] for s in again.result["sites"])


def test_only_the_command_centre_plans(demo: SubDistrict) -> None:
    assert client_for("cadre_xinwei").get(reverse("plan_new")).status_code == 403
    assert client_for("gate_chief").get(reverse("road_import")).status_code == 403
    body = client_for("gate_chief").get(reverse("gate_list")).content.decode()
    assert "1号卡口" in body


def test_edge_mode_and_a_class_restriction_that_cannot_seal(demo: SubDistrict) -> None:
    zone = Zone.objects.get(subdistrict=demo)
    edge = services.plan_zone(zone, None, services.PlanRequest(mode="edge"))
    assert edge.site_count == len(edge.result["entry_roads"])
    with pytest.raises(services.CheckpointError) as exc:
        services.plan_zone(zone, None, services.PlanRequest(allowed_classes=("track",)))
    assert exc.value.code == "cannot_seal" and "仍然敞开" in exc.value.message and exc.value.open_roads


def test_lanes_from_erlang_c_feed_the_roster_demand(demo: SubDistrict) -> None:
    gate = Gate.objects.get(subdistrict=demo)
    c = client_for("gate_chief")
    c.post(reverse("gate_lanes", args=[gate.pk]), {"shift": "早班 08–16", "arrivals": "120", "service": "60",
                                                   "target": "300"})
    d = GateDemand.objects.get(gate=gate)
    # 120/h at 60 s each is 2 Erlang: 3 lanes wait 40 s on average, 2 lanes would never clear.
    assert (d.lanes, d.staff) == (3, 6) and 0 < d.expected_wait_seconds <= 300
    r = c.post(reverse("gate_lanes", args=[gate.pk]), {"arrivals": "-5", "service": "60"}, follow=True)
    assert GateDemand.objects.count() == 1 and "error" in r.content.decode()


def test_road_import_csv_and_geojson_and_bad_files(demo: SubDistrict, tmp_path: Path) -> None:
    c = client_for("command")
    nodes = "id,x,y\n1,0,0\n2,1,0\n3,1,1\n"
    edges = "u,v,oneway,road_class,name\n1,2,0,primary,一号路\n2,3,1,residential,二号路\n"
    r = c.post(reverse("road_import"), {"nodes": SimpleUploadedFile("n.csv", nodes.encode()),
                                        "edges": SimpleUploadedFile("e.csv", edges.encode())}, follow=True)
    assert "已导入 2 条路段" in r.content.decode() and Road.objects.filter(subdistrict=demo).count() == 2
    bad_edges = "u,v\n1,9\n"
    r = c.post(reverse("road_import"), {"nodes": SimpleUploadedFile("n.csv", nodes.encode()),
                                        "edges": SimpleUploadedFile("e.csv", bad_edges.encode())})
    assert "9" in r.content.decode() and Road.objects.filter(subdistrict=demo).count() == 2
    no_roads = '<?xml version="1.0"?><osm version="0.6"><node id="1" lat="60.1" lon="24.9"/></osm>'
    r = c.post(reverse("road_import"), {"file": SimpleUploadedFile("empty.osm", no_roads.encode())})
    assert "没有" in r.content.decode() and Road.objects.filter(subdistrict=demo).count() == 2
    r = c.post(reverse("road_import"), {"file": SimpleUploadedFile("x.osm.pbf", b"not a pbf")})
    assert 'id="road-error"' in r.content.decode() and Road.objects.filter(subdistrict=demo).count() == 2
    line = {"type": "LineString", "coordinates": [[0, 0], [1, 0], [2, 0]]}
    geo = {"type": "FeatureCollection",
           "features": [{"type": "Feature", "properties": {"highway": "primary"}, "geometry": line}]}
    import json

    c.post(reverse("road_import"), {"file": SimpleUploadedFile("r.geojson", json.dumps(geo).encode())})
    assert Road.objects.filter(subdistrict=demo).count() >= 1


def test_a_zone_with_no_road_in_or_overlapping_villages_is_explained(demo: SubDistrict) -> None:
    zone = Zone.objects.get(subdistrict=demo)
    zone.geometry = {"type": "Polygon", "coordinates": [[[0, 0], [0.001, 0], [0.001, 0.001], [0, 0.001], [0, 0]]]}
    zone.save()
    with pytest.raises(services.CheckpointError) as exc:
        services.plan_zone(zone, None, services.PlanRequest())
    assert exc.value.code == "zone_empty"
    zone.geometry = None
    zone.save()
    villages = list(zone.current_villages().order_by("code"))
    villages[1].geometry = villages[0].geometry
    villages[1].save()
    with pytest.raises(services.CheckpointError) as exc:
        services.plan_zone(zone, None, services.PlanRequest())
    assert exc.value.code == "overlap" and villages[0].name in exc.value.message


def test_the_helsinki_extract_imports_and_plans(db: None) -> None:
    sub = SubDistrict.objects.create(code="999999001", name="Helsinki")
    user = User.objects.create(username="hki", role=Role.COMMAND, scope_subdistrict=sub)
    c = client_for("hki")
    pbf = (SHARED / "data" / "osm" / "Helsinki.osm.pbf").read_bytes()
    r = c.post(reverse("road_import"), {"file": SimpleUploadedFile("Helsinki.osm.pbf", pbf)}, follow=True)
    n = Road.objects.filter(subdistrict=sub).count()
    assert n > 1000 and "已导入" in r.content.decode()
    net = services.network_for(sub.pk)
    xs = sorted(x for x, _ in net.nodes.values())
    ys = sorted(y for _, y in net.nodes.values())
    cx, cy = xs[len(xs) // 2], ys[len(ys) // 2]
    d = 0.004
    zone = Zone.objects.create(subdistrict=sub, name="中心区", geometry={"type": "Polygon", "coordinates": [[
        [cx - d, cy - d], [cx + d, cy - d], [cx + d, cy + d], [cx - d, cy + d], [cx - d, cy - d]]]})
    plan = services.plan_zone(zone, user, services.PlanRequest())
    assert 0 < plan.site_count <= len(plan.result["entry_roads"])


def test_hand_drawn_allowed_set_costs_and_a_zone_as_junctions(demo: SubDistrict) -> None:
    zone = Zone.objects.get(subdistrict=demo)
    base = services.plan_zone(zone, None, services.PlanRequest())
    # Make one chosen junction expensive: the plan moves away from it if it can.
    expensive = base.result["sites"][0]["id"]
    dear = services.plan_zone(zone, None, services.PlanRequest(costs={expensive: 50}))
    assert expensive not in {s["id"] for s in dear.result["sites"]} or dear.result["cost"] <= 50
    # Only the chosen sites allowed: the same plan again.
    same = services.plan_zone(zone, None, services.PlanRequest(allowed=tuple(s["id"] for s in base.result["sites"])))
    assert same.site_count == base.site_count
    net = services.network_for(demo.pk)
    nodes, _ = services.zone_junctions(net, zone)
    as_set = services.plan_zone(zone, None, services.PlanRequest(zone_junctions=tuple(sorted(nodes))))
    assert as_set.site_count == base.site_count
    with pytest.raises(services.CheckpointError) as exc:
        services.parse_costs("J1=abc")
    assert "格式有误" in exc.value.message


def test_overlapping_zones_are_refused(demo: SubDistrict) -> None:
    zone = Zone.objects.get(subdistrict=demo)
    first = zone.current_villages().order_by("code").first()
    assert first is not None
    Zone.objects.create(subdistrict=demo, name="重叠防区", geometry=first.geometry)
    with pytest.raises(services.CheckpointError) as exc:
        services.plan_zone(zone, None, services.PlanRequest())
    assert exc.value.code == "zones_overlap" and "重叠防区" in exc.value.message
