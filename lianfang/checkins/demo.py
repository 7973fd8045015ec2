"""Roll-call groups for the zone's villager groups, today's round, and the Huanghu story: an evening
answer about a strange truck is checked and ends with the driver's transfer."""

from __future__ import annotations

import datetime as dt
import random

from django.db import transaction
from django.utils import timezone

from lianfang.accounts.models import User
from lianfang.checkins import services
from lianfang.checkins.models import CheckinGroup, GroupMember, Notice, Reply
from lianfang.core.models import Grid, Person, SubDistrict

STORY_TEXT = "停车场内有辆外地小货车，司机一直没下来"
DRIVER_ID_BODY = "41272619850312045"  # the same driver as the key-person demo's 刘师傅


def driver_id() -> str:
    from stdnum.cn import ric

    return DRIVER_ID_BODY + ric.calc_check_digit(DRIVER_ID_BODY + "0")


@transaction.atomic
def load_checkin_demo(sub: SubDistrict, seed: int = 2022) -> dict[str, int]:
    if CheckinGroup.objects.filter(subdistrict=sub).exists():
        return {"groups": CheckinGroup.objects.filter(subdistrict=sub).count()}
    rng = random.Random(seed)
    command = User.objects.filter(username="command").first()
    leader = User.objects.filter(username="leader_xinwei").first()
    cadre = User.objects.filter(username="cadre_xinwei").first()
    Notice.objects.create(subdistrict=sub, title="关于做好近期外来人员排查的通知",
                          body="近期周边地区出现疫情，请各户如实接龙：家中有无外来人员、有无发热。外来车辆和人员请及时报告小组长。",
                          created_by=command)
    zone_codes = ["330114003215", "330114003216", "330114003217", "330114003218", "330114003219"]
    groups = []
    for grid in Grid.objects.filter(village__code__in=zone_codes, kind=Grid.Kind.VILLAGER_GROUP).select_related("village"):
        g = CheckinGroup.objects.create(subdistrict=sub, village=grid.village, grid=grid,
                                        name=f"{grid.village.name}{grid.name}接龙群", leader=leader if grid.village.code
                                        == "330114003215" and grid.name == "第一村民小组" else None)
        if cadre and grid.village.code == "330114003215":
            g.cadres.add(cadre)
        heads = list(Person.objects.filter(grid=grid, relation=Person.Relation.HEAD).select_related("household__building"))
        neighbours = [p for p in heads if not p.no_smartphone and not p.elderly_alone]
        members = []
        for p in heads:
            helper = rng.choice(neighbours) if (p.no_smartphone or p.elderly_alone) and neighbours else None
            members.append(GroupMember(group=g, household=p.household, person=p, display_name=p.name,
                                       house=p.household.address if p.household else "", helper=helper,
                                       nicknames=rng.choice(["", "", f"{p.name[-1]}哥", f"{p.name[0]}家"])))
        GroupMember.objects.bulk_create(members)
        groups.append(g)
    today = timezone.localdate()
    evening = timezone.make_aware(dt.datetime.combine(today, dt.time(19, 30)))
    now = timezone.now()
    replies = 0
    for g in groups:
        rnd = services.open_round(g, today)
        for m in g.members.all():
            roll = rng.random()
            if roll > 0.82:
                continue  # not answered yet: the board lists them to call
            via = Reply.Via.PROXY if m.helper_id and rng.random() < 0.8 else rng.choice(
                [Reply.Via.LINK, Reply.Via.LINK, Reply.Via.PASTE, Reply.Via.PHONE])
            status, text = "ok", ""
            if rng.random() < 0.02:
                status, text = "visitor", rng.choice(["女儿从杭州市区回来看我", "亲戚从绍兴来住两天"])
            services.record_reply(rnd, m, status=status, text=text, at_home=rng.randint(1, 4), via=via,
                                  nonce=f"demo:{rnd.pk}:{m.pk}")
            replies += 1
    # The Huanghu story, in 新围村 第一村民小组.
    story_group = next((g for g in groups if g.leader_id), groups[0] if groups else None)
    if story_group is not None:
        rnd = services.open_round(story_group, today)
        member = story_group.members.order_by("pk").first()
        assert member is not None
        reply, _ = services.record_reply(rnd, member, status="other", text=STORY_TEXT, via=Reply.Via.LINK,
                                         nonce=f"demo-story:{rnd.pk}")
        Reply.objects.filter(pk=reply.pk).update(created_at=min(evening, now))
        if cadre is not None:
            anomaly = services.follow_up(reply.anomaly, cadre, "transferred",
                                         "网格员到场核实：司机来自高风险地区，已联系转运专班", subject_name="刘师傅",
                                         subject_id=driver_id(), category="high_risk_arrival")
            _transfer_story_case(anomaly.case, sub)
    return {"groups": len(groups), "replies": replies}


def _transfer_story_case(case: object, sub: SubDistrict) -> None:
    """Carry the driver's case through hand-off and transfer to control at the isolation site."""
    from lianfang.control import services as control
    from lianfang.control.models import Case, IsolationSite, Stage, TransferTask

    if not isinstance(case, Case):
        return
    command = User.objects.filter(username="command").first()
    transfer = User.objects.filter(username="transfer").first()
    site = IsolationSite.objects.filter(subdistrict=sub).order_by("pk").first()
    if command is None or site is None:
        return
    from lianfang.core.models import Village

    case = control.advance(case, command, Stage.HANDOFF, village=Village.objects.get(code="330114003215"))
    case = control.advance(case, command, Stage.TRANSFER)
    task = control.create_transfer(case, command, pickup_place="新围村停车场", destination=site, vehicle="浙A·D12345",
                                   team="党员突击队特殊车辆组")
    for status in (TransferTask.Status.DISPATCHED, TransferTask.Status.PICKED_UP, TransferTask.Status.ARRIVED):
        control.update_transfer(task, transfer or command, status)
