"""Demo cases for Hezhuang: every stage of the pipeline, an overdue one, a full isolation site."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from lianfang.accounts.models import User
from lianfang.accounts.roles import Role
from lianfang.control import services
from lianfang.control.models import (
    Case,
    InboxItem,
    IsolationRoom,
    IsolationSite,
    ProtocolEdition,
    Sop,
    Stage,
)
from lianfang.core.models import Person, PointOfInterest, SubDistrict, Village

DATA = Path(__file__).resolve().parent / "data"
from lianfang.core.demo import DEMO_PASSWORD as TRANSFER_PASSWORD  # noqa: E402


def load_editions(sub: SubDistrict, user: User | None = None) -> list[ProtocolEdition]:
    data = json.loads((DATA / "editions-2022.json").read_text(encoding="utf-8"))
    out = []
    for raw in data["editions"]:
        existing = ProtocolEdition.objects.filter(subdistrict=sub, key=raw["key"]).first()
        if existing:
            out.append(existing)
            continue
        out.append(services.create_edition(
            sub, key=raw["key"], name=raw["name"], effective_from=dt.date.fromisoformat(raw["effective_from"]),
            rules={k: [list(p) for p in v] for k, v in raw["rules"].items()}, source=raw.get("source", ""),
            user=user, published=True, gate_rules=raw.get("gate_rules")))
    return out


SOPS = [
    ("inbox:gate", "卡口发现红码/中高风险地区来返人员", "1. 人员不下车，车辆引导至研判停车场；\n2. 数据专班 2 小时内核查行程；\n"
     "3. 需集中隔离的，通知转运专班点对点闭环转运；\n4. 同步责任村社。"),
    ("inbox:anomaly", "接龙反映停车场有外地车辆、司机不下车", "1. 网格员 30 分钟内到场核实；\n2. 登记司机身份与行程；\n"
     "3. 来自风险地区的，按卡口流程上报指挥部。"),
    ("inbox:overdue", "环节超时", "1. 电话联系责任方了解原因；\n2. 1 小时内仍未办结的，报指挥部领导协调。"),
    ("stage:verify", "核查要点", "核对身份证号、手机号、行程轨迹和现住址；非本街道人员转相关街道。"),
    ("stage:transfer", "转运要求", "专车专人，司机三级防护；到达隔离点后在系统点“已送达”。"),
    ("stage:control", "居家隔离上门要求", "门磁/封条到位，每日两次测温，按检测日上门采样。"),
]


@transaction.atomic
def load_control_demo(sub: SubDistrict) -> dict[str, int]:
    if Case.objects.filter(subdistrict=sub).exists():
        return {"cases": Case.objects.filter(subdistrict=sub).count()}
    command = User.objects.filter(username="command").first()
    transfer, created = User.objects.get_or_create(username="transfer", defaults={
        "role": Role.TRANSFER, "display_name": "转运专班", "scope_subdistrict": sub})
    if created or not transfer.password or not transfer.has_usable_password():
        transfer.set_password(TRANSFER_PASSWORD)
        transfer.save()
    load_editions(sub, command)
    services.stage_limits(sub.pk)
    for applies_to, title, body in SOPS:
        Sop.objects.get_or_create(subdistrict=sub, applies_to=applies_to, title=title, defaults={"body": body})

    poi = PointOfInterest.objects.filter(subdistrict=sub, kind=PointOfInterest.Kind.ISOLATION_SITE).first()
    main_site = IsolationSite.objects.create(subdistrict=sub, poi=poi, name=poi.name if poi else "集中隔离点",
                                             capacity=30, contact_name="隔离点负责人", contact_phone="0571-8000000")
    small_site = IsolationSite.objects.create(subdistrict=sub, name="备用隔离点（江东驿站）", capacity=4,
                                              contact_name="驿站负责人", contact_phone="0571-8000001")
    for site in (main_site, small_site):
        IsolationRoom.objects.bulk_create([IsolationRoom(site=site, number=f"{100 + i}") for i in range(1, site.capacity + 1)])

    zone_codes = ["330114003215", "330114003216", "330114003217", "330114003218", "330114003219"]
    villages = {v.code: v for v in Village.objects.filter(code__in=zone_codes)}
    # Round-robin over the five villages, so every village has cases.
    heads = {code: list(Person.objects.filter(village__code=code, relation=Person.Relation.HEAD)
                        .exclude(name="张建伟").order_by("pk")[:12]) for code in zone_codes}
    people = iter([heads[code][i] for i in range(12) for code in zone_codes if i < len(heads[code])])
    now = timezone.now()
    today = timezone.localdate()

    def run(category: str, days_ago: int, source: str, reference: str, *stages: str, hours_ago: float = 1.0,
            site: IsolationSite | None = None) -> Case:
        """Open a case and take it through ``stages`` an hour apart, the last ``hours_ago`` hours ago.

        With a site, the person is placed there just before entering control (as a transfer would).
        """
        at = now - dt.timedelta(hours=hours_ago + len(stages))
        c, _ = services.open_case(sub, services.Subject(person=next(people)), source=source, category=category,
                                  exposure_date=today - dt.timedelta(days=days_ago), reference=reference,
                                  user=command, at=at)
        for i, stage in enumerate(stages, start=1):
            when = now - dt.timedelta(hours=hours_ago) if i == len(stages) else at + dt.timedelta(hours=i)
            if stage == Stage.CONTROL and site is not None:
                services.place_in_isolation(c, site, command, now=when)
            c = services.advance(c, command, stage, note="演示", now=when)  # type: ignore[arg-type]
        return c

    h, t, ctl, rel = Stage.HANDOFF, Stage.TRANSFER, Stage.CONTROL, Stage.RELEASED
    # 核查: a gate hand-in, an overdue one (past the 2 h limit), and a truck driver not in the register.
    run("medium_risk_arrival", 1, "gate", "1号卡口研判", hours_ago=0.5)
    run("close_contact", 2, "district_list", "区协查〔2022〕15号", hours_ago=5)
    services.open_case(sub, services.Subject(name="刘师傅", doc_number=_outside_id(), phone="13700001234"),
                       source="rollcall", category="high_risk_arrival", exposure_date=today - dt.timedelta(days=1),
                       reference="新围村3组接龙：停车场外地小货车", user=command, address="新围村停车场")
    # 流转
    run("secondary_contact", 1, "district_list", "区协查〔2022〕15号", h, hours_ago=1)
    # 转运: one within its 6 h limit, one overdue with its task still pending.
    c = run("close_contact", 1, "district_list", "区协查〔2022〕16号", h, t, hours_ago=2)
    services.create_transfer(c, command, pickup_place=_address(c), destination=main_site,  # type: ignore[arg-type]
                             vehicle="浙A·D12345", team="党员突击队特殊车辆组")
    c = run("high_risk_arrival", 1, "gate", "1号卡口研判", h, t, hours_ago=9)
    services.create_transfer(c, command, pickup_place=_address(c), destination=main_site, team="转运二组")  # type: ignore[arg-type]
    # 管控: centralized isolation, a full small site, home isolation with tests due, 三天两检.
    for days in (2, 3, 4):
        run("close_contact", days, "district_list", "区协查〔2022〕14号", h, t, ctl, hours_ago=days * 24 - 20,
            site=main_site)
    for _ in range(small_site.capacity):
        run("high_risk_arrival", 3, "gate", "1号卡口研判", h, t, ctl, hours_ago=40, site=small_site)
    for days in (3, 4, 6):  # day 4 is a test day: the home-watch list has a test due today
        run("medium_risk_arrival", days, "gate", "1号卡口研判", h, t, ctl, hours_ago=days * 24 - 20)
    run("low_risk_arrival", 2, "rollcall", "围中村接龙", h, t, ctl, hours_ago=30)
    # 解除 (after their plan ended) and 排除.
    for days in (12, 14):
        c = run("close_contact", days, "district_list", "区协查〔2022〕12号", h, t, ctl, hours_ago=days * 24 - 10,
                site=main_site)
        services.advance(c, command, rel, note="期满解除", now=now - dt.timedelta(hours=20))  # type: ignore[arg-type]
    c = run("spacetime_companion", 1, "district_list", "时空伴随核查")
    services.close_not_key_person(c, command, "核实为同名不同人，轨迹不交叉")  # type: ignore[arg-type]

    services.raise_inbox_item(sub, kind=InboxItem.Kind.GATE, title="1号卡口：浙B牌照货车司机来自中风险地区",
                              body="司机未下车，已引导至研判停车场，请数据专班核查。", village=villages.get("330114003219"),
                              nonce="demo-gate-1")
    services.raise_inbox_item(sub, kind=InboxItem.Kind.ANOMALY,
                              title="新围村3组接龙：停车场内有辆外地小货车，司机一直没下来",
                              village=villages.get("330114003215"), nonce="demo-anomaly-1")
    services.escalate_overdue(sub)
    return {"cases": Case.objects.filter(subdistrict=sub).count()}


def _address(c: Case) -> str:
    if c.person and c.person.household:
        return f"{c.person.village.name}{c.person.household.address}"
    return c.current_address or "待核实"


def _outside_id() -> str:
    from stdnum.cn import ric

    body = "41272619850312045"
    return body + ric.calc_check_digit(body + "0")
