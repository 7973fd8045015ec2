"""A round in progress over the whole sub-district: a site per village with its lanes, about two
thirds of the people sampled into closed tubes and bags, some bags handed over and resulted, one
positive pool in 新围村 with its members awaiting re-check (retests and cases), home-sampling
requests in every state, a few exemptions, a sealed area tested one tube per household.
Bulk inserts throughout, so the demo loads in a few seconds."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from lianfang.accounts.models import User
from lianfang.core.models import Person, PointOfInterest, SubDistrict, Village
from lianfang.masstesting import results, services
from lianfang.masstesting.models import (
    Bag,
    Exemption,
    HomeRequest,
    Lane,
    PoolRule,
    Round,
    Sample,
    Site,
    Tube,
    TubeResult,
)

ROUND_NAME = "全员核酸（第 3 轮）"
XINWEI = "330114003215"
SEALED = "330114003219"  # 江东村: a sealed compound, one tube per household
TWENTY = "330114003001"  # a community at 20-in-1


def _hash(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


@transaction.atomic
def load_masstesting_demo(sub: SubDistrict, seed: int = 2022) -> dict[str, int]:
    existing = Round.objects.filter(subdistrict=sub, name=ROUND_NAME).first()
    if existing is not None:
        return {"rounds": 1, "samples": existing.samples.count()}
    rng = random.Random(seed)
    users = {u.username: u for u in User.objects.filter(scope_subdistrict=sub)}
    command, volunteer, lead = users.get("command"), users.get("volunteer"), users.get("sampling_lead")
    staff = volunteer or lead or command
    if staff is None:
        return {}
    now = timezone.now()
    start = now - dt.timedelta(hours=10)
    villages = list(Village.objects.filter(subdistrict=sub).order_by("code"))
    rnd = services.create_round(sub, command, name=ROUND_NAME, villages=villages, starts_at=start,
                                deadline=start + dt.timedelta(hours=24), default_pool_size=10,
                                estimated_prevalence=0.001)
    by_code = {v.code: v for v in villages}
    if SEALED in by_code:
        services.set_rule(rnd, by_code[SEALED], kind=PoolRule.Kind.HOUSEHOLD, note="封控区")
    if TWENTY in by_code:
        services.set_rule(rnd, by_code[TWENTY], kind=PoolRule.Kind.POOL, pool_size=20, note="防范区")
    poi_names = defaultdict(list)
    for vid, name in PointOfInterest.objects.filter(subdistrict=sub, kind=PointOfInterest.Kind.SAMPLING_SITE) \
            .values_list("village_id", "name"):
        poi_names[vid].append(name)
    sites: dict[int, Site] = {}
    for v in villages:
        name = poi_names[v.pk][0] if poi_names[v.pk] else f"{v.name}文化礼堂采样点"
        sites[v.pk] = services.create_site(
            rnd, v, name=name, address=f"{v.name}村委会旁", lead=lead if v.code == XINWEI else None,
            staff=[volunteer] if volunteer and v.code == XINWEI else [], samplers=rng.choice([2, 3, 4]),
            lanes=[("1号通道", Lane.Kind.GENERAL), ("2号通道", Lane.Kind.GENERAL), ("学生绿色通道", Lane.Kind.STUDENT),
                   ("老人通道", Lane.Kind.ELDERLY), ("单管通道", Lane.Kind.SINGLE)])
    lanes = {s.pk: {lane.kind: lane for lane in s.lanes.all()} for s in sites.values()}

    people = list(Person.objects.filter(subdistrict=sub).order_by("village_id", "household_id", "pk").values_list(
        "pk", "village_id", "grid_id", "household_id", "student", "limited_mobility", "birth_date"))
    today = timezone.localdate()
    exempt_rows, home_people, to_sample = [], [], []
    for pk, vid, gid, hid, student, limited, birth in people:
        if birth and (today - birth).days < 365 * 3 and rng.random() < 0.5:
            exempt_rows.append(Exemption(round=rnd, person_id=pk, reason=Exemption.Reason.INFANT, created_by=command))
            continue
        if rng.random() < 0.01:
            exempt_rows.append(Exemption(round=rnd, person_id=pk, reason=Exemption.Reason.AWAY, note="在外地务工",
                                         created_by=command))
            continue
        if limited:
            home_people.append((pk, vid, gid, hid))
            continue
        if rng.random() < 0.68:
            to_sample.append((pk, vid, gid, hid, student))
    Exemption.objects.bulk_create(exempt_rows, batch_size=2000)

    # Tubes and samples, per village in register order (a family queues together).
    rules = services.rules_of(rnd)
    tubes: list[Tube] = []
    members: list[list[tuple[int, int, int | None, int | None]]] = []
    by_village: dict[int, list[tuple[int, int, int | None, int | None, bool]]] = defaultdict(list)
    for row in to_sample:
        by_village[row[1]].append(row)
    serial = 0
    for vid, rows in by_village.items():
        rule = services.rule_for(rnd, rules, vid, None)
        site = sites[vid]
        general = [r for r in rows if not r[4]]
        students = [r for r in rows if r[4]]
        for lane_kind, group in (("general", general), ("student", students)):
            if rule.kind == PoolRule.Kind.HOUSEHOLD:
                chunks: list[list[tuple[int, int, int | None, int | None, bool]]] = []
                for r in group:
                    if chunks and chunks[-1][0][3] == r[3] and r[3] is not None:
                        chunks[-1].append(r)
                    else:
                        chunks.append([r])
            else:
                size = rule.pool_size
                chunks = [group[i:i + size] for i in range(0, len(group), size)]
            for chunk in chunks:
                serial += 1
                kind = Tube.Kind.HOUSEHOLD if rule.kind == PoolRule.Kind.HOUSEHOLD else Tube.Kind.POOL
                size = len(chunk) if kind == Tube.Kind.HOUSEHOLD else rule.pool_size
                opened = start + dt.timedelta(seconds=min(serial * 34_000 * 8 // max(len(to_sample), 1), 34_000))
                tubes.append(Tube(round=rnd, barcode=f"HZ{serial:07d}", kind=kind, pool_size=size, site=site,
                                  lane=lanes[site.pk][lane_kind], status=Tube.Status.CLOSED, count=len(chunk),
                                  household_id=chunk[0][3] if kind == Tube.Kind.HOUSEHOLD else None,
                                  opened_by=staff, opened_at=opened, closed_at=opened + dt.timedelta(minutes=4)))
                members.append([(r[0], r[1], r[2], r[3]) for r in chunk])
    # The last tube of 新围村's general lane stays open, as at a real site.
    xinwei = by_code.get(XINWEI)
    if xinwei is not None:
        for t, m in zip(reversed(tubes), reversed(members), strict=True):
            if t.site_id == sites[xinwei.pk].pk and t.kind == Tube.Kind.POOL and len(m) > 1:
                t.status, t.closed_at = Tube.Status.OPEN, None
                m.pop()
                t.count = len(m)
                break
    Tube.objects.bulk_create(tubes, batch_size=2000)
    samples = []
    for t, m in zip(tubes, members, strict=True):
        for i, (spk, svid, sgid, shid) in enumerate(m):
            at = t.opened_at + dt.timedelta(seconds=20 * i)
            samples.append(Sample(subdistrict=sub, round=rnd, tube=t, person_id=spk, village_id=svid, grid_id=sgid,
                                  household_id=shid, site_id=t.site_id, lane_id=t.lane_id, nonce=f"demo-{t.pk}-{spk}",
                                  content_hash=_hash(t.barcode, spk), device_id="demo", device_time=at, server_time=at,
                                  staff=staff, entered_by="scan"))
    Sample.objects.bulk_create(samples, batch_size=5000)

    # Bags of 20 per site; the older two thirds handed over to the lab and resulted.
    closed = [t for t in tubes if t.status == Tube.Status.CLOSED]
    by_site: dict[int | None, list[Tube]] = defaultdict(list)
    for t in closed:
        by_site[t.site_id].append(t)
    bag_rows, bag_of = [], {}
    for site_id, site_tubes in by_site.items():
        # Full bags of 20; the last, partial one waits at the site (or goes, when it is the only one).
        bag_chunks = [site_tubes[i:i + services.TUBES_PER_BAG] for i in range(0, len(site_tubes), services.TUBES_PER_BAG)]
        if len(bag_chunks) > 1 and len(bag_chunks[-1]) < services.TUBES_PER_BAG:
            bag_chunks.pop()
        for i, bag_tubes in enumerate(bag_chunks):
            handed = i < max(1, (len(bag_chunks) * 2 + 2) // 3) and (i < len(bag_chunks) - 1 or len(bag_chunks) == 1)
            last = bag_tubes[-1].closed_at or now
            bag = Bag(round=rnd, site_id=site_id, code=f"BAG{site_id or 0:03d}{i:04d}", packed_by=staff, packed_at=last,
                      status=Bag.Status.HANDED_OVER if handed else Bag.Status.PACKED,
                      lab="杭州迪安医学检验中心" if handed else "", handed_over_by=staff if handed else None,
                      handed_over_at=last + dt.timedelta(minutes=30) if handed else None)
            bag_rows.append(bag)
            for t in bag_tubes:
                bag_of[t.pk] = bag
    Bag.objects.bulk_create(bag_rows, batch_size=1000)
    by_bag: dict[int, list[int]] = defaultdict(list)
    for tid, bag in bag_of.items():
        by_bag[bag.pk].append(tid)
    for bag_id, tids in by_bag.items():
        Tube.objects.filter(pk__in=tids).update(bag_id=bag_id)
    resulted = [tid for tid, bag in bag_of.items() if bag.status == Bag.Status.HANDED_OVER]
    # One positive pool in 新围村 (and one invalid tube elsewhere).
    done = set(resulted)
    xinwei_site = sites[xinwei.pk].pk if xinwei is not None else None
    candidates = [t for t in tubes if t.pk in done and t.count >= 5]
    positive = next((t for t in candidates if t.site_id == xinwei_site), candidates[0] if candidates else None)
    invalid = resulted[len(resulted) // 2] if resulted else None
    TubeResult.objects.bulk_create([
        TubeResult(tube_id=tid, result=("positive" if positive and tid == positive.pk else
                                        "invalid" if tid == invalid else "negative"),
                   tested_at=now - dt.timedelta(hours=2)) for tid in resulted], batch_size=5000)
    outcome = results.ResultsOutcome()
    if positive is not None:
        results.settle_results(rnd, [(positive.pk, "positive")], command, outcome)

    # Home sampling: the register's limited-mobility people, in every state.
    services.seed_home_requests(rnd)
    reqs = list(HomeRequest.objects.filter(round=rnd).order_by("pk"))
    team = [u for u in (volunteer, lead) if u is not None]
    done_tube = None
    for i, req in enumerate(reqs):
        state = i % 4
        if state >= 1:
            req.status, req.team, req.assigned_at = HomeRequest.Status.ASSIGNED, f"上门{i % 3 + 1}组", start
            req.save(update_fields=["status", "team", "assigned_at"])
            req.assignees.set(team)
        if state == 3:
            if done_tube is None or done_tube.count >= done_tube.pool_size:
                serial += 1
                done_tube = Tube.objects.create(round=rnd, barcode=f"HZH{serial:06d}", kind=Tube.Kind.POOL, pool_size=5,
                                                home=True, opened_by=staff, opened_at=now - dt.timedelta(hours=3))
            p = Person.objects.only("pk", "village_id", "grid_id", "household_id").get(pk=req.person_id)
            Sample.objects.create(subdistrict=sub, round=rnd, tube=done_tube, person_id=p.pk, village_id=p.village_id,
                                  grid_id=p.grid_id, household_id=p.household_id, home=True,
                                  nonce=f"demo-home-{req.pk}", content_hash=_hash(done_tube.barcode, p.pk),
                                  device_time=now - dt.timedelta(hours=2), server_time=now - dt.timedelta(hours=2),
                                  staff=staff, entered_by="home")
            done_tube.count += 1
            if done_tube.count >= done_tube.pool_size:
                done_tube.status, done_tube.closed_at = Tube.Status.CLOSED, now - dt.timedelta(hours=2)
            done_tube.save()
            req.status, req.done_at = HomeRequest.Status.DONE, now - dt.timedelta(hours=2)
            req.save(update_fields=["status", "done_at"])
    return {"rounds": 1, "sites": len(sites), "tubes": Tube.objects.filter(round=rnd).count(),
            "samples": Sample.objects.filter(round=rnd).count(), "bags": len(bag_rows),
            "home requests": len(reqs), "awaiting re-check": outcome.retests}
