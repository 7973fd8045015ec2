"""A small gate world for rosters: two gates of the zone, a gate chief, staff of every kind."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.utils import timezone

from lianfang.accounts.models import User
from lianfang.accounts.roles import Role
from lianfang.checkpoints.models import Gate
from lianfang.rosters import services
from lianfang.rosters.models import Assignment, DemandRule, Roster, StaffMember
from tests.conftest import PASSWORD, World


@dataclass
class RosterWorld:
    w: World
    gate1: Gate
    gate2: Gate
    chief: User
    staff: dict[str, StaffMember] = field(default_factory=dict)

    def client(self, persona: str) -> Client:
        return self.w.client(persona)


@pytest.fixture
def rw(world: World) -> RosterWorld:
    gate2 = Gate.objects.create(subdistrict=world.sub, zone=world.zone, name="2号卡口")
    chief = User(username="gate_chief", role=Role.GATE_CHIEF, scope_subdistrict=world.sub, scope_gate=world.gate)
    chief.set_password(PASSWORD)
    chief.save()
    world.users["gate_chief"] = chief
    r = RosterWorld(world, world.gate, gate2, chief)
    people = [
        # key, name, kind, skills, gate
        ("v1", "志愿者甲", "volunteer", ["night"], world.gate),
        ("v2", "志愿者乙", "volunteer", ["night"], world.gate),
        ("l1", "属地丙", "local", ["night", "party"], world.gate),
        ("l2", "属地丁", "local", ["night"], world.gate),
        ("p1", "交警戊", "police", ["night", "driver"], world.gate),
        ("m1", "医护己", "medical", ["medical"], world.gate),
        ("x1", "属地庚", "local", ["night"], gate2),
        ("x2", "志愿者辛", "volunteer", ["night"], gate2),
        ("x3", "志愿者壬", "volunteer", [], gate2),
    ]
    for n, (key, name, kind, skills, gate) in enumerate(people):
        r.staff[key] = services.create_staff(world.sub, name=name, kind=kind, skills=skills, phone=f"1380000000{n}",
                                             home_village=world.xinwei, gates=[gate])
    r.staff["v1"].user = world.users["volunteer"]
    r.staff["v1"].save()
    r.staff["l1"].user = world.users["gate_staff"]
    r.staff["l1"].save()
    return r


def add_demand(gate: Gate, per_shift: dict[str, int]) -> None:
    for code, n in per_shift.items():
        DemandRule.objects.create(gate=gate, shift_code=code, required=n)


def new_roster(rw: RosterWorld, *, days: int = 7, start: dt.date | None = None, gates: list[Gate] | None = None,
               time_limit_s: int = 10) -> Roster:
    roster = Roster.objects.create(subdistrict=rw.w.sub, name="测试排班", start_date=start or timezone.localdate()
                                   + dt.timedelta(days=1), days=days, time_limit_s=time_limit_s)
    roster.gates.set(gates or [rw.gate1, rw.gate2])
    return roster


def place(roster: Roster, staff: StaffMember, day: dt.date, code: str, gate: Gate | None = None) -> Assignment:
    """An assignment by hand (for swap and attendance tests that need an exact roster)."""
    gate = gate or roster.gates.order_by("pk").first()
    assert gate is not None
    shift = next(s for s in services.pattern_for(gate).shifts if s["code"] == code)
    start = timezone.make_aware(dt.datetime.combine(day, dt.time())) + dt.timedelta(minutes=shift["start"])
    return Assignment.objects.create(roster=roster, staff=staff, date=day, gate=gate,
                                     shift_code=code, shift_name=shift["name"], starts_at=start,
                                     ends_at=start + dt.timedelta(minutes=shift["minutes"]))


@pytest.fixture
def published(rw: RosterWorld) -> Roster:
    """A published five-day roster of gate 1 (one person per shift), with nobody on it yet."""
    add_demand(rw.gate1, {"M": 1, "E": 1, "N": 1})
    roster = new_roster(rw, days=5, gates=[rw.gate1])
    roster.status = Roster.Status.PUBLISHED
    roster.save()
    return roster
