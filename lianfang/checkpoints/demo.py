"""A week of plausible scans at the Hezhuang zone's shared gates, with redirects and assessments."""

from __future__ import annotations

import datetime as dt
import random
import uuid

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from lianfang.accounts.models import User
from lianfang.checkpoints import scanning, services
from lianfang.checkpoints.models import Assessment, Gate, Lane, Scan
from lianfang.control.models import RiskArea
from lianfang.core.models import Person, SubDistrict, Zone
from lianfang.engines import screening

PROVINCES = "浙浙浙浙浙浙沪苏皖赣闽"
HOURLY = [1, 1, 1, 1, 1, 2, 4, 9, 10, 6, 5, 5, 5, 4, 4, 5, 6, 9, 10, 6, 4, 3, 2, 1]  # two rush hours
DEMO_RISK_AREAS = [("上海市浦东新区", "high", 20, None), ("苏州市姑苏区", "medium", 9, 2), ("宁波市北仑区", "low", 6, None)]


def _plate(rng: random.Random) -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    head = rng.choice(PROVINCES) + rng.choice("ABCDEFGH")
    if rng.random() < 0.15:
        return head + rng.choice("DF") + "".join(rng.choice("0123456789") for _ in range(5))
    return head + "".join(rng.choice(letters + "0123456789") if i < 2 else rng.choice("0123456789") for i in range(5))


@transaction.atomic
def load_gate_demo(sub: SubDistrict, days: int = 7, per_gate_per_day: int = 140, seed: int = 2022) -> dict[str, int]:
    if Scan.objects.filter(subdistrict=sub).exists():
        return {"scans": Scan.objects.filter(subdistrict=sub).count()}
    rng = random.Random(seed)
    zone = Zone.objects.filter(subdistrict=sub).first()
    if zone is None:
        return {"scans": 0}
    # The zone's shared gates: the planner's answer on the main roads.
    try:
        plan = services.plan_zone(zone, None, services.PlanRequest(allowed_classes=("primary", "secondary")))
    except services.CheckpointError:
        plan = services.plan_zone(zone, None, services.PlanRequest())
    services.apply_plan(plan, None)
    gates = list(Gate.objects.filter(zone=zone).order_by("pk"))
    for g in gates:
        if not g.lanes.exists():
            Lane.objects.bulk_create([Lane(gate=g, name="1号通道（小车）", kind=Lane.Kind.CAR),
                                      Lane(gate=g, name="2号通道（货车）", kind=Lane.Kind.TRUCK),
                                      Lane(gate=g, name="行人通道", kind=Lane.Kind.PEDESTRIAN)])
    today = timezone.localdate()
    for place, level, start, end in DEMO_RISK_AREAS:
        RiskArea.objects.get_or_create(subdistrict=sub, place=place, level=level, defaults={
            "valid_from": today - dt.timedelta(days=start),
            "valid_to": today - dt.timedelta(days=end) if end is not None else None, "source": "演示数据"})
    staff = User.objects.filter(username="gate_staff").first() or User.objects.filter(scope_subdistrict=sub).first()
    assert staff is not None
    people = list(Person.objects.filter(village__in=zone.current_villages()).order_by("pk")
                  .values_list("pk", "name", "doc_hash", "doc_masked")[:2000])
    lanes = {g.pk: list(g.lanes.all()) for g in gates}
    rows: list[Scan] = []
    assess: list[int] = []
    for day_offset in range(days - 1, -1, -1):
        day = today - dt.timedelta(days=day_offset)
        edition, rules = scanning.rules_on(sub.pk, timezone.make_aware(dt.datetime.combine(day, dt.time(12))))
        for g in gates:
            n = int(per_gate_per_day * rng.uniform(0.7, 1.3))
            for _ in range(n):
                hour = rng.choices(range(24), weights=HOURLY)[0]
                when = timezone.make_aware(dt.datetime.combine(day, dt.time(hour, rng.randrange(60), rng.randrange(60))))
                if when > timezone.now():
                    continue
                vehicle = rng.random() < 0.45
                origins: tuple[tuple[str, int], ...] = ()
                origin_text = ""
                if rng.random() < 0.06:
                    place, level, _s, _e = rng.choice(DEMO_RISK_AREAS)
                    d_ago = rng.randint(1, 9)
                    origins, origin_text = ((level, d_ago),), f"{place}（{d_ago}天前）"
                temp = round(rng.gauss(36.5, 0.25), 1) if rng.random() > 0.006 else round(rng.uniform(37.3, 38.6), 1)
                temp = min(max(temp, 35.5), 39.5)
                colour = rng.choices(["green", "yellow", "red"], weights=[985, 12, 3])[0]
                hours = None if rng.random() < 0.02 else round(
                    rng.uniform(2, 60) if rng.random() < 0.96 else rng.uniform(60, 90), 1)
                facts = screening.ScanFacts(temperature_c=temp, code_colour=colour, origins=origins,  # type: ignore[arg-type]
                                            negative_test_hours_ago=hours)
                verdict = screening.evaluate(rules, facts)
                scan = Scan(subdistrict=sub, gate=g, lane=rng.choice(lanes[g.pk]), staff=staff, device_id="demo",
                            nonce=uuid.UUID(int=rng.getrandbits(128)).hex, content_hash="demo", device_time=when,
                            offline=rng.random() < 0.02, outcome=verdict.outcome, edition=edition,
                            reasons=[{"code": r.code, "text": r.text} for r in verdict.reasons],
                            temperature=temp, code_colour=colour, origin=origin_text,
                            raw={"demo": True, **facts.to_json()})
                if vehicle:
                    scan.subject, scan.plate = Scan.Subject.VEHICLE, _plate(rng)
                    scan.vehicle_type = rng.choice(["小型客车", "小型客车", "货车"])
                    scan.passengers = rng.randint(1, 4)
                else:
                    pk, name, doc_hash, masked = rng.choice(people)
                    scan.subject, scan.person_id, scan.name = Scan.Subject.PERSON, pk, name
                    scan.doc_hash, scan.doc_masked = doc_hash, masked
                rows.append(scan)
    Scan.objects.bulk_create(rows, batch_size=2000)
    # Server time follows the device's by a few seconds (minutes for the offline ones).
    Scan.objects.filter(subdistrict=sub, offline=False).update(server_time=F("device_time") + dt.timedelta(seconds=2))
    Scan.objects.filter(subdistrict=sub, offline=True).update(server_time=F("device_time") + dt.timedelta(minutes=25),
                                                               late=True)
    decisions = ["pass"] * 6 + ["test_on_site"] * 2 + ["turn_back"]
    recent = timezone.now() - dt.timedelta(hours=2)
    for scan in Scan.objects.filter(subdistrict=sub, outcome="assess").select_related("person"):
        a = Assessment.objects.create(scan=scan, gate=scan.gate, destination=scan.person.village if scan.person else None)
        Assessment.objects.filter(pk=a.pk).update(created_at=scan.server_time)
        if scan.device_time < recent:
            Assessment.objects.filter(pk=a.pk).update(
                decision=rng.choice(decisions), decided_by=staff, decided_at=scan.server_time + dt.timedelta(minutes=20),
                note="演示")
        assess.append(a.pk)
    return {"scans": len(rows), "gates": len(gates), "assessments": len(assess)}
