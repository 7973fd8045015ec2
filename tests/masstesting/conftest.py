"""A round over 新围村 and 江东村 (建设村 outside it), a site with a general, a student and a
single-tube lane, staffed by the volunteer, and a sampling lead of 新围村."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.test import Client
from django.utils import timezone

from lianfang.accounts.models import User
from lianfang.accounts.roles import Role
from lianfang.masstesting import services
from lianfang.masstesting.models import Lane, Round, Site
from tests.conftest import PASSWORD, World


@dataclass
class MT:
    w: World
    rnd: Round
    site: Site
    general: Lane
    student: Lane
    single: Lane

    @property
    def users(self) -> dict[str, User]:
        return self.w.users

    def client(self, persona: str) -> Client:
        return self.w.client(persona)

    def api(self, persona: str, path: str, data: object, method: str = "post") -> tuple[int, dict]:
        c = self.client(persona)
        r = getattr(c, method)(f"/api/masstesting/rounds/{self.rnd.pk}{path}", data, content_type="application/json")
        return r.status_code, r.json()


@pytest.fixture
def mt(cw: World) -> MT:
    lead = User(username="sampling_lead", role=Role.SAMPLING_LEAD, scope_subdistrict=cw.sub, scope_village=cw.xinwei)
    lead.set_password(PASSWORD)
    lead.save()
    cw.users["sampling_lead"] = lead
    now = timezone.now()
    rnd = services.create_round(cw.sub, cw.users["command"], name="第 3 轮全员核酸", villages=[cw.xinwei, cw.jiangdong],
                                starts_at=now - dt.timedelta(hours=1), deadline=now + dt.timedelta(hours=23),
                                default_pool_size=10, estimated_prevalence=0.01)
    site = services.create_site(rnd, cw.xinwei, name="新围村文化礼堂", lead=lead, staff=[cw.users["volunteer"]],
                                lanes=[("1号通道", Lane.Kind.GENERAL), ("学生绿色通道", Lane.Kind.STUDENT),
                                       ("单管通道", Lane.Kind.SINGLE)])
    lanes = {lane.kind: lane for lane in site.lanes.all()}
    return MT(cw, rnd, site, lanes["general"], lanes["student"], lanes["single"])
