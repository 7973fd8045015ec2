"""Named personas in a small slice of Hezhuang: 新围村 and 江东村 in one zone, 建设村 outside it."""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import Browser, Page, expect, sync_playwright
from stdnum.cn import ric

from lianfang.accounts.models import User
from lianfang.accounts.roles import Role
from lianfang.checkpoints.models import Gate
from lianfang.core import services
from lianfang.core.models import Building, Grid, Household, Person, SubDistrict, Village, Zone

PASSWORD = "pw-for-tests-2022"


def make_id(region: str = "330114", birth: str = "19800101", seq: str = "123") -> str:
    body = region + birth + seq
    return body + ric.calc_check_digit(body + "0")


def add_person(village: Village, name: str, id_number: str, phone: str | None = None,
               household: Household | None = None, grid: Grid | None = None, **extra: object) -> Person:
    fields = services.document_fields("resident_id", id_number)
    fields.update(services.phone_fields(phone))
    fields.update(services.pinyin_fields(name))
    fields.update(extra)
    grid = grid or (household.grid if household else None)
    return Person.objects.create(subdistrict=village.subdistrict, village=village, grid=grid,
                                 household=household, name=name, **fields)


@dataclass
class World:
    sub: SubDistrict
    xinwei: Village
    jiangdong: Village
    jianshe: Village
    zone: Zone
    gate: Gate
    xinwei_grid: Grid
    xinwei_grid2: Grid
    zhang: Person  # 张建伟, 新围村 grid 1
    wang: Person   # 王建国, 新围村 grid 2
    li: Person     # 李秀英, 江东村
    chen: Person   # 陈国强, 建设村 (outside the zone)
    users: dict[str, User] = field(default_factory=dict)

    def client(self, persona: str) -> Client:
        c = Client()
        c.force_login(self.users[persona])
        return c


@pytest.fixture
def world(db: None) -> World:
    sub = SubDistrict.objects.create(code="330114003", name="河庄街道")
    xinwei = Village.objects.create(subdistrict=sub, code="330114003215", name="新围村")
    jiangdong = Village.objects.create(subdistrict=sub, code="330114003219", name="江东村")
    jianshe = Village.objects.create(subdistrict=sub, code="330114003200", name="建设村")
    zone = Zone.objects.create(subdistrict=sub, name="江东片联防区")
    services.move_village_to_zone(xinwei, zone)
    services.move_village_to_zone(jiangdong, zone)
    gate = Gate.objects.create(subdistrict=sub, zone=zone, name="1号卡口")
    g1 = Grid.objects.create(village=xinwei, name="第1村民小组", kind=Grid.Kind.VILLAGER_GROUP)
    g2 = Grid.objects.create(village=xinwei, name="第2村民小组", kind=Grid.Kind.VILLAGER_GROUP)
    gj = Grid.objects.create(village=jiangdong, name="第1村民小组", kind=Grid.Kind.VILLAGER_GROUP)
    b1 = Building.objects.create(village=xinwei, grid=g1, name="1组", units=1)
    h1 = Household.objects.create(village=xinwei, grid=g1, building=b1, room="45号", code="215-00001")
    h2 = Household.objects.create(village=xinwei, grid=g2, room="12号", code="215-00002")
    hj = Household.objects.create(village=jiangdong, grid=gj, room="8号", code="219-00001")
    hs = Household.objects.create(village=jianshe, room="3号", code="200-00001")
    zhang = add_person(xinwei, "张建伟", make_id("330114", "19750304", "211"), "13857112345", household=h1,
                       party_member=True)
    add_person(xinwei, "赵丽", make_id("330114", "19780611", "222"), "13857154321", household=h1,
               relation=Person.Relation.SPOUSE)
    wang = add_person(xinwei, "王建国", make_id("330109", "19450101", "231"), None, household=h2,
                      elderly_alone=True, no_smartphone=True)
    li = add_person(jiangdong, "李秀英", make_id("330114", "19600202", "242"), "13957199999", household=hj)
    chen = add_person(jianshe, "陈国强", make_id("342401", "19900909", "253"), "15000001111", household=hs,
                      population_type=Person.PopulationType.FLOATING)
    w = World(sub, xinwei, jiangdong, jianshe, zone, gate, g1, g2, zhang, wang, li, chen)
    personas: dict[str, tuple[Role, dict[str, Any]]] = {
        "command": (Role.COMMAND, {}),
        "supervisor": (Role.SUPERVISOR, {}),
        "cadre_xinwei": (Role.CADRE, {"scope_village": xinwei}),
        "cadre_jiangdong": (Role.CADRE, {"scope_village": jiangdong}),
        "grid_xinwei": (Role.GRID_WORKER, {"scope_village": xinwei, "scope_grid": g1}),
        "leader_xinwei2": (Role.GROUP_LEADER, {"scope_village": xinwei, "scope_grid": g2}),
        "gate_staff": (Role.GATE_STAFF, {"scope_gate": gate}),
        "volunteer": (Role.VOLUNTEER, {"scope_village": xinwei}),
    }
    for username, (role, scope) in personas.items():
        u = User(username=username, role=role, scope_subdistrict=sub, **scope)
        u.set_password(PASSWORD)
        u.save()
        w.users[username] = u
    return w


@pytest.fixture
def today() -> datetime.date:
    return datetime.date.today()


# --- browser tests --------------------------------------------------------------------------
# Playwright's sync API keeps an event loop in this thread; the ORM calls in the test body are
# still plain synchronous calls, so Django's async-safety guard does not apply.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("LIANFANG_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


def login(page: Page, base: str, username: str) -> None:
    page.goto(base + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".who")).to_be_visible()  # logged in: the header shows who and where




# --- key-person cases -----------------------------------------------------------------------

@pytest.fixture
def cw(world: World) -> World:
    from lianfang.control.demo import load_editions
    from lianfang.control.models import IsolationRoom, IsolationSite

    """The world with the 2022 editions, an isolation site of two rooms, and a transfer-team user."""
    load_editions(world.sub)
    site = IsolationSite.objects.create(subdistrict=world.sub, name="江畔酒店", capacity=2)
    IsolationRoom.objects.bulk_create([IsolationRoom(site=site, number="101"), IsolationRoom(site=site, number="102")])
    t = User(username="transfer", role=Role.TRANSFER, scope_subdistrict=world.sub)
    t.set_password("x")
    t.save()
    world.users["transfer"] = t
    return world
