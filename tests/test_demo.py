"""The demo `make demo` loads: Hezhuang's real codes, one zone of five villages, and key-person
cases in every stage with an overdue one and a full isolation site."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from lianfang.accounts.models import User
from lianfang.control import services
from lianfang.control.demo import load_control_demo
from lianfang.control.models import Case, IsolationSite, Stage
from lianfang.core.demo import ZONE_NAME, load_demo
from lianfang.core.models import Person, Village, Zone


@pytest.mark.django_db
def test_demo_loads_register_and_every_stage_and_reloads_idempotently() -> None:
    summary = load_demo(persons=1500)
    assert summary.created and Person.objects.count() == 1500
    assert Village.objects.count() == 25 and Village.objects.get(code="330114003215").name == "新围村"
    zone = Zone.objects.get(name=ZONE_NAME)
    assert {v.name for v in zone.current_villages()} == {"新围村", "围中村", "新创村", "新江村", "江东村"}
    assert {u[0] for u in summary.users} >= {"command", "cadre_xinwei", "gate_staff", "volunteer"}
    assert len({User.objects.get(username=u[0]).role for u in summary.users}) == 9

    load_control_demo(summary.subdistrict)
    stages = set(Case.objects.values_list("stage", flat=True))
    assert stages == {s.value for s in Stage}
    data = services.board(Case.objects.all())
    assert data["overdue"] >= 2
    assert {r.case.stage for r in data["rows"] if r.overdue} >= {Stage.VERIFY, Stage.TRANSFER}
    assert any(s.occupied() >= s.capacity for s in IsolationSite.objects.all())
    assert Case.objects.filter(person__isnull=True).exists()
    today = timezone.localdate()
    assert any(c.tests_due(today) and c.measure_on(today) == "home_isolation"
               for c in Case.objects.filter(stage=Stage.CONTROL))

    from lianfang.checkins.demo import STORY_TEXT, load_checkin_demo
    from lianfang.checkins.models import Anomaly
    from lianfang.checkpoints.demo import load_gate_demo
    from lianfang.checkpoints.models import Assessment, Scan

    gates = load_gate_demo(summary.subdistrict, days=7, per_gate_per_day=15)
    assert gates["scans"] > 1000 and Scan.objects.values("device_time__date").distinct().count() == 7
    assert Scan.objects.exclude(outcome="pass").exists() and Assessment.objects.filter(decided_at__isnull=False).exists()
    load_checkin_demo(summary.subdistrict)
    story = Anomaly.objects.get(reply__text=STORY_TEXT)
    assert story.outcome == "transferred" and story.case is not None and story.case.stage == Stage.CONTROL

    from lianfang.rosters.demo import load_roster_demo
    from lianfang.rosters.models import AttendanceEvent, Roster, ServiceHours, StaffMember, SwapRequest, Team

    rosters = load_roster_demo(summary.subdistrict, time_limit_s=12)
    published = Roster.objects.get(status=Roster.Status.PUBLISHED)
    assert rosters["staff"] == StaffMember.objects.count() == 120 and published.gates.count() == 8
    assert published.days == 28 and published.assignments.count() > 1000
    assert published.objective is not None and published.bound is not None and published.bound <= published.objective
    assert Roster.objects.filter(status=Roster.Status.DRAFT, start_date=published.end_date + dt.timedelta(days=1)).exists()
    volunteer = StaffMember.objects.get(user__username="volunteer")
    assert volunteer.assignments.exists()
    assert volunteer.user is not None and volunteer.user.scope_village_id is not None
    assert volunteer.home_village_id == volunteer.user.scope_village_id  # so their village cadre sees them
    assert AttendanceEvent.objects.filter(late_minutes__gt=0).exists() and ServiceHours.objects.exists()
    assert SwapRequest.objects.filter(status=SwapRequest.Status.PENDING).count() == 1
    squad = Team.objects.get(kind=Team.TeamKind.SQUAD)
    assert squad.groups.count() == 3 and squad.memberships.count() == 42  # the squad of the issue, 42 strong
    assert all("party" in m.staff.skills for m in squad.memberships.select_related("staff"))
    assert sorted(g.memberships.count() for g in squad.groups.all()) == [14, 14, 14]

    again = load_demo(persons=1500)
    assert not again.created and Person.objects.count() == 1500
    before = Case.objects.count()
    load_control_demo(summary.subdistrict)
    assert Case.objects.count() == before


@pytest.mark.django_db
def test_every_demo_login_works() -> None:
    from django.contrib.auth import authenticate

    from lianfang.core.demo import DEMO_PASSWORD

    summary = load_demo(persons=1500)
    load_control_demo(summary.subdistrict)
    for username in [u[0] for u in summary.users] + ["transfer"]:
        assert authenticate(username=username, password=DEMO_PASSWORD) is not None, username
