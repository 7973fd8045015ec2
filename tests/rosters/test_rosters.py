"""Rosters: rows to the solver and back, shortfalls explained, publishing, access, swaps re-checked
against the rules, attendance and the service-hours ledger, sign-up, demand from gate planning,
exports and the morning briefing."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zlib

import pytest
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar
from openpyxl import load_workbook

from lianfang.checkins.models import Notice
from lianfang.checkpoints import services as checkpoint_services
from lianfang.checkpoints.models import Gate
from lianfang.core.models import AuditEvent
from lianfang.engines import roster as engine
from lianfang.rosters import access, briefing, services, views
from lianfang.rosters.models import (
    Assignment,
    AttendanceEvent,
    CancelledShift,
    DemandRule,
    Roster,
    ServiceHours,
    ShiftRequest,
    SignUp,
    StaffMember,
    SwapRequest,
    Team,
    TeamMembership,
    Unavailability,
    requirement_choices,
)
from tests.rosters.conftest import RosterWorld, add_demand, new_roster, place


def embeds_cjk_font(pdf: bytes) -> bool:
    """Whether a PDF embeds a Noto CJK font (its name is inside the compressed font program)."""
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            if b"CJK" in zlib.decompress(m.group(1)):
                return True
        except zlib.error:
            continue
    return False


def next_monday() -> dt.date:
    today = timezone.localdate()
    return today + dt.timedelta(days=7 - today.weekday())


def solved(rw: RosterWorld, **kw: object) -> Roster:
    roster = new_roster(rw, **kw)  # type: ignore[arg-type]
    roster.status = Roster.Status.SOLVING
    roster.save()
    return services.run_solve(roster)


# --- rows to the engine ------------------------------------------------------------------------

def test_problem_has_the_gates_shifts_people_and_demand(rw: RosterWorld) -> None:
    add_demand(rw.gate1, {"M": 2, "E": 2, "N": 1})
    DemandRule.objects.create(gate=rw.gate1, shift_code="M", skill="medical", required=1)
    DemandRule.objects.create(gate=rw.gate2, shift_code="M", required=3, weekdays=[5, 6])  # weekends only
    start = dt.date(2022, 7, 4)  # a Monday
    roster = new_roster(rw, start=start)
    Unavailability.objects.create(staff=rw.staff["v2"], date_from=dt.date(2022, 7, 5), date_to=dt.date(2022, 7, 6))
    Unavailability.objects.create(staff=rw.staff["x1"], date_from=dt.date(2022, 7, 4), date_to=dt.date(2022, 7, 4),
                                  shift_code="N")
    ShiftRequest.objects.create(staff=rw.staff["v1"], date=dt.date(2022, 7, 9), on=False)
    built = services.build_problem(roster)
    p = built.problem
    assert p.days == 7 and p.first_weekday == 0 and p.min_rest_minutes == 8 * 60
    assert sorted(sh.name for sh in p.shifts) == ["中班", "夜班", "早班"]
    night = next(sh for sh in p.shifts if sh.night)
    assert night.requires == frozenset({"night"}) and night.start == 0
    g1, g2 = f"g{rw.gate1.pk}", f"g{rw.gate2.pk}"
    assert sum(d.required for d in p.demand if d.post == g1 and d.skill is None) == 7 * 5
    assert sum(d.required for d in p.demand if d.post == g1 and d.skill == "medical") == 7
    assert sorted(d.day for d in p.demand if d.post == g2) == [5, 6]  # Saturday and Sunday
    v2 = next(s for s in p.staff if s.name == "志愿者乙")
    assert v2.days_off == {1, 2} and v2.posts == {g1} and v2.max_week_minutes == 48 * 60
    x1 = next(s for s in p.staff if s.name == "属地庚")
    assert {(d, sh) for d, sh in x1.unavailable} == {(0, night.id)}
    assert [(r.day, r.on) for r in p.requests] == [(5, False)]


def test_solve_meets_demand_without_breaking_a_rule(rw: RosterWorld) -> None:
    add_demand(rw.gate1, {"M": 1, "E": 1, "N": 1})
    DemandRule.objects.create(gate=rw.gate1, shift_code="M", skill="medical", required=1)
    add_demand(rw.gate2, {"M": 1})
    # the only medic may work at most 6 days in a row; Monday to Saturday, so that the one weekend
    # day can be shared fairly whatever the date the suite runs on
    roster = solved(rw, days=6, start=next_monday())
    assert roster.status == Roster.Status.SOLVED and roster.shortfalls == []
    assert roster.objective == roster.bound == 0 and roster.solver_status == "optimal"
    rows = list(roster.assignments.select_related("staff", "gate"))
    for day in roster.dates():
        for code, n in (("M", 1), ("E", 1), ("N", 1)):
            assert sum(1 for a in rows if a.gate == rw.gate1 and a.date == day and a.shift_code == code) == n
        assert any(a.staff.kind == "medical" for a in rows if a.gate == rw.gate1 and a.date == day and a.shift_code == "M")
    assert all(a.gate == rw.gate2 for a in rows if a.staff.pk in (rw.staff["x1"].pk, rw.staff["x2"].pk))
    # An independent check of every hard rule on the rows as stored.
    built = services.build_problem(roster)
    day_of = {d: i for i, d in enumerate(roster.dates())}
    assignments = {(f"s{a.staff_id}", day_of[a.date]): built.shift_id(a.gate, a.shift_code) or "" for a in rows}
    posts = {(f"s{a.staff_id}", day_of[a.date]): f"g{a.gate_id}" for a in rows}
    assert engine.check(built.problem, assignments, posts) == []
    night = next(a for a in rows if a.shift_code == "N")  # a shift belongs to the date it begins on
    assert timezone.localtime(night.starts_at) == timezone.make_aware(dt.datetime.combine(night.date, dt.time(0)))
    assert (night.ends_at - night.starts_at) == dt.timedelta(hours=8)


def test_demand_no_one_can_meet_is_a_shortfall_with_the_reason_in_chinese(rw: RosterWorld) -> None:
    add_demand(rw.gate1, {"M": 1})
    DemandRule.objects.create(gate=rw.gate2, shift_code="M", skill="medical", required=1)  # no medic at gate 2
    add_demand(rw.gate2, {"M": 1})
    roster = solved(rw, days=3)
    assert roster.status == Roster.Status.SOLVED  # never an empty roster
    assert roster.assignments.filter(gate=rw.gate1).count() == 3
    short = [s for s in roster.shortfalls if s["skill"] == "medical"]
    assert len(short) == 3 and all(s["gate"] == "2号卡口" and s["missing"] == 1 for s in short)
    assert all("医" in s["reason"] for s in short), short[0]["reason"]
    assert any("缺员" in m for m in roster.messages)
    # The total at gate 2 is met, so only the grid's tag, the chart's line and the PDF tell which kind is short.
    page = rw.client("command").get(reverse("roster_detail", args=[roster.pk]) + f"?gate={rw.gate2.pk}").content.decode()
    grid = page[page.index('id="roster-grid"'):page.index("</table>", page.index('id="roster-grid"'))]
    assert grid.count('<span class="tag skill-short">缺医护人员 1</span>') == 3 and "缺 1<" not in grid
    chart = re.search(r'<script id="day-data" type="application/json">(.*?)</script>', page)
    assert chart is not None and json.loads(chart.group(1))["short_skill"] == [1, 1, 1]
    grids = [views._grid(roster, rw.gate2, list(roster.assignments.filter(gate=rw.gate2)))]  # the PDF's page
    printed = render_to_string("rosters/print_roster.html", {"roster": roster, "grids": grids, "printed_at": timezone.now()})
    assert printed.count('<span class="short">缺医护人员 1 人</span>') == 3


def test_a_person_with_no_allowed_shift_is_named(rw: RosterWorld) -> None:
    add_demand(rw.gate2, {"N": 1})
    roster = solved(rw, days=3, gates=[rw.gate2])
    # 志愿者壬 cannot work nights (no night skill) and gate 2 only has a night shift with demand.
    assert any("志愿者壬" in m for m in roster.messages), roster.messages


def test_a_roster_without_demand_is_refused_before_solving(rw: RosterWorld) -> None:
    add_demand(rw.gate1, {"M": 1})
    roster = new_roster(rw)  # gate 2 has no demand
    with pytest.raises(services.RosterServiceError) as exc:
        services.request_solve(roster, rw.w.users["command"])
    assert exc.value.message == "以下卡口在排班期内没有人力需求，请先录入：2号卡口"
    roster.gates.clear()
    with pytest.raises(services.RosterServiceError) as exc:
        services.request_solve(roster, rw.w.users["command"])
    assert "至少要包含一个卡口" in exc.value.message
    assert Roster.objects.get(pk=roster.pk).status == Roster.Status.DRAFT


def test_solving_through_the_page_runs_the_background_task_and_publishes(
        rw: RosterWorld, django_capture_on_commit_callbacks) -> None:
    add_demand(rw.gate1, {"M": 1, "E": 1})
    roster = new_roster(rw, days=3, gates=[rw.gate1])
    c = rw.client("command")
    with django_capture_on_commit_callbacks(execute=True):
        c.post(reverse("roster_solve", args=[roster.pk]))
    roster.refresh_from_db()
    assert roster.status == Roster.Status.SOLVED and roster.assignments.count() == 6
    page = c.get(reverse("roster_detail", args=[roster.pk])).content.decode()
    names = {a.staff.name for a in roster.assignments.select_related("staff")}
    assert "最优" in page and all(n in page for n in names)
    c.post(reverse("roster_publish", args=[roster.pk]))
    roster.refresh_from_db()
    assert roster.status == Roster.Status.PUBLISHED
    # Published rosters are never solved again.
    with pytest.raises(services.RosterServiceError):
        services.request_solve(roster, rw.w.users["command"])


# --- access ------------------------------------------------------------------------------------

def test_gate_chief_sees_published_rosters_of_their_gate_only_and_cadre_none(rw: RosterWorld) -> None:
    add_demand(rw.gate1, {"M": 1})
    add_demand(rw.gate2, {"M": 1})
    roster = solved(rw, days=2)
    chief = rw.client("gate_chief")
    assert chief.get(reverse("roster_detail", args=[roster.pk])).status_code == 404  # not yet published
    services.publish(roster, rw.w.users["command"])
    page = chief.get(reverse("roster_detail", args=[roster.pk])).content.decode()
    assert "1号卡口" in page and "属地庚" not in page  # gate 2's people are not shown
    assert rw.client("cadre_xinwei").get(reverse("roster_detail", args=[roster.pk])).status_code == 404
    assert AuditEvent.objects.filter(action="denied", object_type="roster").exists()
    assert chief.post(reverse("roster_solve", args=[roster.pk])).status_code == 403
    # Excel export of the chief: only gate 1, phones in full (the chief calls people in), audited.
    wb = load_workbook(io.BytesIO(chief.get(reverse("roster_xlsx", args=[roster.pk])).content))
    assert wb.sheetnames == ["1号卡口", "全部班次", "缺员清单"]
    assert AuditEvent.objects.filter(action="export", object_type="roster", user=rw.chief).exists()


def test_volunteer_sees_own_shifts_but_not_the_roster_or_staff(rw: RosterWorld) -> None:
    add_demand(rw.gate1, {"M": 2, "E": 2})
    roster = solved(rw, days=3)
    services.publish(roster, rw.w.users["command"])
    c = rw.client("volunteer")
    page = c.get(reverse("my_shifts")).content.decode()
    mine = roster.assignments.filter(staff=rw.staff["v1"]).count()
    assert page.count("shift-card") == mine
    assert c.get(reverse("roster_detail", args=[roster.pk])).status_code == 404
    assert c.get(reverse("staff_detail", args=[rw.staff["v2"].pk])).status_code == 404
    ics = Calendar.from_ical(c.get(reverse("my_shifts_ics")).content)
    assert len(list(ics.walk("VEVENT"))) == mine
    assert not any(rw.staff["v1"].name in str(e["summary"]) for e in ics.walk("VEVENT"))  # one's own: no name


def test_cadre_sees_staff_of_their_village_with_masked_phones(rw: RosterWorld) -> None:
    other = services.create_staff(rw.w.sub, name="江东志愿者", kind="volunteer", phone="13900000000",
                                  home_village=rw.w.jiangdong)
    page = rw.client("cadre_xinwei").get(reverse("staff_list")).content.decode()
    assert "志愿者甲" in page and "江东志愿者" not in page and "13800000000" not in page and "138****0000" in page
    dup = rw.client("command").post(reverse("staff_list"), {"name": "重复", "kind": "volunteer", "phone": "+86 138 0000 0000"},
                                    follow=True)
    assert "该手机号已登记为值守人员：志愿者甲" in dup.content.decode() and not StaffMember.objects.filter(name="重复").exists()
    assert rw.client("cadre_xinwei").get(reverse("staff_detail", args=[other.pk])).status_code == 404


def test_cadre_roster_home_lists_their_peoples_shifts_this_week(rw: RosterWorld, published: Roster) -> None:
    other = services.create_staff(rw.w.sub, name="江东志愿者", kind="volunteer", phone="13900000000",
                                  home_village=rw.w.jiangdong, gates=[rw.gate1])
    d = published.dates()
    place(published, rw.staff["v2"], d[0], "M")
    place(published, other, d[0], "E")
    draft = new_roster(rw, days=2, gates=[rw.gate2], start=d[0])
    place(draft, rw.staff["x1"], d[0], "M", rw.gate2)  # not published: not shown
    place(published, rw.staff["x2"], d[0] + dt.timedelta(days=10), "M")  # beyond the week
    over = timezone.now() - dt.timedelta(hours=1)  # a shift that ended an hour ago: not shown
    Assignment.objects.create(roster=published, staff=rw.staff["l2"], date=timezone.localdate(over), gate=rw.gate1,
                              shift_code="N", shift_name="夜班", starts_at=over - dt.timedelta(hours=8), ends_at=over)
    page = rw.client("cadre_xinwei").get(reverse("roster_home")).content.decode()
    listed = page[page.index('id="people-shifts"'):]
    assert "本村人员今后 7 天的班次" in listed and f"{d[0]:%m月%d日}" in listed
    assert re.search(rf"<b>早班</b> 08:00 · {rw.gate1.name}：<a [^>]+>志愿者乙</a></li>", listed)
    assert "江东志愿者" not in page and "属地庚" not in page and "志愿者辛" not in page and "属地丁" not in page
    assert 'id="roster-table"' not in page  # no roster a cadre could open
    assert "江东志愿者" in rw.client("cadre_jiangdong").get(reverse("roster_home")).content.decode()
    # A person's page links only the teams the cadre may open (a gate team is the gate chief's).
    gate_team = Team.objects.create(subdistrict=rw.w.sub, name="1号卡口班组", kind=Team.TeamKind.GATE, gate=rw.gate1)
    own = Team.objects.create(subdistrict=rw.w.sub, name="新围志愿队", village=rw.w.xinwei)
    for team in (gate_team, own):
        TeamMembership.objects.create(team=team, staff=rw.staff["v2"])
    person = rw.client("cadre_xinwei").get(reverse("staff_detail", args=[rw.staff["v2"].pk])).content.decode()
    assert "1号卡口班组" in person and reverse("team_detail", args=[gate_team.pk]) not in person
    assert reverse("team_detail", args=[own.pk]) in person


# --- swaps -------------------------------------------------------------------------------------

def test_a_swap_that_breaks_the_rest_rule_is_refused_at_once(rw: RosterWorld, published: Roster) -> None:
    d1, d2 = published.dates()[1], published.dates()[2]
    place(published, rw.staff["v2"], d1, "E")  # the evening shift of d1 ends at midnight
    give = place(published, rw.staff["v1"], d2, "N")  # the night shift of d2 begins at that midnight
    swap = services.request_swap(rw.staff["v1"], give, rw.staff["v2"], None, reason="", nonce="n1",
                                 user=rw.w.users["volunteer"])
    assert swap.status == SwapRequest.Status.REFUSED
    assert any("志愿者乙" in p and "休息" in p for p in swap.problems), swap.problems
    assert any(f"{d1:%m月%d日}上中班后到次日夜班" in p for p in swap.problems) and not any("第 " in p for p in swap.problems)
    assert give.staff_id == rw.staff["v1"].pk  # nothing changed
    # A retry with the same nonce returns the same request.
    again = services.request_swap(rw.staff["v1"], give, rw.staff["v2"], None, reason="", nonce="n1",
                                  user=rw.w.users["volunteer"])
    assert again.pk == swap.pk and SwapRequest.objects.count() == 1


def test_a_legal_swap_waits_for_the_chief_and_is_rechecked_when_approved(rw: RosterWorld, published: Roster) -> None:
    d = published.dates()
    give = place(published, rw.staff["v1"], d[2], "M")
    take = place(published, rw.staff["v2"], d[3], "N")
    swap = services.request_swap(rw.staff["v1"], give, rw.staff["v2"], take, reason="换一下", nonce="n2",
                                 user=rw.w.users["volunteer"])
    assert swap.status == SwapRequest.Status.PENDING and swap.problems == []
    # The chief approves: the two shifts change hands.
    c = rw.client("gate_chief")
    c.post(reverse("swap_list"), {"swap": swap.pk, "decision": "approve"})
    give.refresh_from_db()
    take.refresh_from_db()
    assert give.staff_id == rw.staff["v2"].pk and take.staff_id == rw.staff["v1"].pk
    assert SwapRequest.objects.get(pk=swap.pk).status == SwapRequest.Status.APPROVED


def test_a_partner_with_an_account_confirms_before_the_chief_decides(rw: RosterWorld, published: Roster) -> None:
    d = published.dates()
    give = place(published, rw.staff["v1"], d[2], "M")
    swap = services.request_swap(rw.staff["v1"], give, rw.staff["l1"], None, reason="家里有事", nonce="p1",
                                 user=rw.w.users["volunteer"])
    assert swap.status == SwapRequest.Status.PARTNER  # 属地丙 has an account: asked first
    chief = rw.client("gate_chief")
    page = chief.get(reverse("swap_list")).content.decode()
    assert "等待对方确认" in page and f'id="swap-{swap.pk}"' not in page  # nothing to decide yet
    with pytest.raises(services.RosterServiceError) as exc:
        services.decide_swap(swap, rw.chief, approve=True)
    assert exc.value.code == "swap_partner_first" and "属地丙 尚未确认" in exc.value.message
    # Only the partner answers: the requester and the chief are refused (404, audited).
    for persona in ("volunteer", "gate_chief"):
        assert rw.client(persona).post(reverse("swap_answer", args=[swap.pk]), {"answer": "accept"}).status_code == 404
    partner = rw.client("gate_staff")
    mine = partner.get(reverse("my_shifts")).content.decode()
    assert "请我换班" in mine and "家里有事" in mine
    partner.post(reverse("swap_answer", args=[swap.pk]), {"answer": "accept"})
    swap.refresh_from_db()
    assert swap.status == SwapRequest.Status.PENDING and swap.partner_answered_at is not None
    chief.post(reverse("swap_list"), {"swap": swap.pk, "decision": "approve"})
    give.refresh_from_db()
    assert give.staff_id == rw.staff["l1"].pk
    # A late second answer says why it is refused.
    again = partner.post(reverse("swap_answer", args=[swap.pk]), {"answer": "decline"}, follow=True)
    assert "该申请已处理（已批准）" in again.content.decode()


def test_a_declined_swap_frees_the_shift_and_an_accept_rechecks_the_rules(rw: RosterWorld, published: Roster) -> None:
    d = published.dates()
    give = place(published, rw.staff["v1"], d[3], "N")
    first = services.request_swap(rw.staff["v1"], give, rw.staff["l1"], None, reason="", nonce="p2",
                                  user=rw.w.users["volunteer"])
    with pytest.raises(services.RosterServiceError) as exc:  # one open request per shift, the partner's included
        services.request_swap(rw.staff["v1"], give, rw.staff["l2"], None, reason="", nonce="p3", user=rw.w.users["volunteer"])
    assert exc.value.code == "swap_waiting"
    assert services.answer_swap(first, rw.w.users["gate_staff"], accept=False).status == SwapRequest.Status.DECLINED
    second = services.request_swap(rw.staff["v1"], give, rw.staff["l1"], None, reason="", nonce="p4",
                                   user=rw.w.users["volunteer"])
    place(published, rw.staff["l1"], d[2], "E")  # meanwhile 属地丙 got the evening before the night
    second = services.answer_swap(second, rw.w.users["gate_staff"], accept=True)
    assert second.status == SwapRequest.Status.REFUSED and "休息不足" in " ".join(second.problems)
    give.refresh_from_db()
    assert give.staff_id == rw.staff["v1"].pk


def test_a_swap_whose_shift_began_before_the_partner_answered_is_closed(rw: RosterWorld, published: Roster) -> None:
    d = published.dates()
    give = place(published, rw.staff["v1"], d[2], "M")
    swap = services.request_swap(rw.staff["v1"], give, rw.staff["l1"], None, reason="", nonce="p5",
                                 user=rw.w.users["volunteer"])
    assert list(access.swaps_to_answer(rw.w.users["gate_staff"])) == [swap]
    began = timezone.now() - dt.timedelta(minutes=5)
    type(give).objects.filter(pk=give.pk).update(starts_at=began, ends_at=began + dt.timedelta(hours=8))
    assert not access.swaps_to_answer(rw.w.users["gate_staff"]).exists()
    with pytest.raises(services.RosterServiceError) as exc:
        services.answer_swap(swap, rw.w.users["gate_staff"], accept=True)
    assert exc.value.code == "swap_past"
    page = rw.client("gate_chief").get(reverse("swap_list")).content.decode()
    assert "等待对方确认" not in page and "已过期（班次已开始）" in page  # listed as lapsed, not as waiting
    mine = rw.client("volunteer").get(reverse("my_shifts")).content.decode()
    assert "已过期（班次已开始）" in mine and reverse("swap_withdraw", args=[swap.pk]) not in mine
    got = rw.client("volunteer").get("/api/rosters/swaps/mine").json()
    assert [(s["id"], s["status"], s["expired"], s["status_label"]) for s in got] == [
        (swap.pk, "partner", True, "已过期（班次已开始）")]


def test_the_requester_withdraws_a_waiting_swap_and_the_shift_is_free_again(rw: RosterWorld, published: Roster) -> None:
    d = published.dates()
    give = place(published, rw.staff["v1"], d[2], "M")
    swap = services.request_swap(rw.staff["v1"], give, rw.staff["l1"], None, reason="", nonce="w1",
                                 user=rw.w.users["volunteer"])
    volunteer = rw.client("volunteer")
    url = reverse("swap_withdraw", args=[swap.pk])
    assert url in volunteer.get(reverse("my_shifts")).content.decode()  # the button is on the phone
    # Only the requester withdraws: the partner and the chief get a 404, which is audited.
    denied_before = AuditEvent.objects.filter(action=AuditEvent.Action.DENIED, object_type="roster_swap").count()
    for persona in ("gate_staff", "gate_chief"):
        assert rw.client(persona).post(url).status_code == 404
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DENIED, object_type="roster_swap").count() == denied_before + 2
    page = volunteer.post(url, follow=True).content.decode()
    swap.refresh_from_db()
    assert swap.status == SwapRequest.Status.WITHDRAWN and "已撤回换班申请" in page and swap.decided_at is not None
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CHANGE, object_type="roster_swap",
                                     object_id=str(swap.pk)).exists()
    # Nobody can act on it any more, and the partner is no longer asked.
    assert not access.swaps_to_answer(rw.w.users["gate_staff"]).exists()
    with pytest.raises(services.RosterServiceError) as exc:
        services.answer_swap(swap, rw.w.users["gate_staff"], accept=True)
    assert exc.value.code == "swap_answered"
    with pytest.raises(services.RosterServiceError) as exc:
        services.decide_swap(swap, rw.chief, approve=True)
    assert exc.value.code == "swap_decided"
    again = volunteer.post(url, follow=True).content.decode()
    assert "该申请已处理（已撤回），不能撤回" in again
    # The shift is free for another request; one waiting for the chief can be withdrawn too.
    second = services.request_swap(rw.staff["v1"], give, rw.staff["l2"], None, reason="", nonce="w2",
                                   user=rw.w.users["volunteer"])
    assert second.status == SwapRequest.Status.PENDING
    assert services.withdraw_swap(second, rw.w.users["volunteer"]).status == SwapRequest.Status.WITHDRAWN
    with pytest.raises(services.RosterServiceError) as exc:
        services.decide_swap(second, rw.chief, approve=True)
    assert exc.value.code == "swap_decided"
    give.refresh_from_db()
    assert give.staff_id == rw.staff["v1"].pk
    assert "已撤回" in rw.client("gate_chief").get(reverse("swap_list")).content.decode()


def test_swap_pages_tell_where_each_request_stands(rw: RosterWorld, published: Roster) -> None:
    d = published.dates()
    give = place(published, rw.staff["v1"], d[2], "M")
    volunteer = rw.client("volunteer")
    form = {"give": give.pk, "partner": rw.staff["l1"].pk, "nonce": "f1"}
    volunteer.post(reverse("swap_request"), form)
    swap = SwapRequest.objects.get(nonce="f1")
    page = volunteer.get(reverse("my_shifts")).content.decode()
    assert "换班申请中" in page and 'href="#swap-card"' in page  # the shift card says so; a link jumps to the form
    # The same form sent again says where the first request stands, without a second request.
    again = volunteer.post(reverse("swap_request"), form, follow=True).content.decode()
    assert "这份换班申请此前已提交" in again and "待对方确认" in again and SwapRequest.objects.count() == 1
    # The colleague sees it as waiting for them, not for "the other side".
    partner_page = rw.client("gate_staff").get(reverse("my_shifts")).content.decode()
    assert "待您确认（见上方「请我换班」）" in partner_page and "谢绝后不能撤销" in partner_page
    assert "有 1 份同事的换班申请等您确认" in rw.client("gate_staff").get(reverse("home")).content.decode()
    assert 'id="home-chief"' in rw.client("gate_chief").get(reverse("home")).content.decode()
    services.answer_swap(swap, rw.w.users["gate_staff"], accept=True)
    chief_home = rw.client("gate_chief").get(reverse("home")).content.decode()  # now it waits for the chief
    assert "换班审批（1 份待批）" in chief_home and reverse("briefing", args=[rw.gate1.pk]) in chief_home
    assert "同事的换班申请等您确认" not in rw.client("gate_staff").get(reverse("home")).content.decode()
    # The chief sees who confirmed in the app, and who must be called.
    other = place(published, rw.staff["v1"], d[4], "M")
    services.request_swap(rw.staff["v1"], other, rw.staff["l2"], None, reason="", nonce="f2", user=rw.w.users["volunteer"])
    chief = rw.client("gate_chief")
    page = chief.get(reverse("swap_list")).content.decode()
    assert "属地丙 已在手机上同意" in page and "属地丁 没有账号：请先与其电话确认，再审批" in page
    # Decided ones are listed latest decided first (not latest asked), a hand-over said as such.
    later = SwapRequest.objects.get(nonce="f2")
    chief.post(reverse("swap_list"), {"swap": later.pk, "decision": "reject", "note": "那天属地丁要去核酸点"})
    asked = volunteer.get(reverse("my_shifts")).content.decode()  # the requester learns why not
    assert "<b>未批准</b>（审批意见：那天属地丁要去核酸点）" in asked
    done = chief.post(reverse("swap_list"), {"swap": swap.pk, "decision": "approve"}, follow=True).content.decode()
    assert "已批准：志愿者甲 让出" in done and "由 属地丙 代班" in done and "↔" not in done
    recent = done.split("最近处理")[1]
    assert recent.index("已批准") < recent.index("未批准")
    # Both a colleague's shift and another colleague chosen: which one is meant is asked, not guessed.
    mine = place(published, rw.staff["v1"], d[3], "M")
    theirs = place(published, rw.staff["v2"], d[4], "E")
    both = volunteer.post(reverse("swap_request"), {"give": mine.pk, "take": f"a{theirs.pk}",
                                                    "partner": rw.staff["l2"].pk, "nonce": "f3"}, follow=True)
    assert "请只选一种：互换 志愿者乙 的班次，或请 属地丁 代班" in both.content.decode()
    assert not SwapRequest.objects.filter(nonce="f3").exists()
    # A volunteer's view of the swap page is not titled as an approval page.
    assert "<h1>换班申请</h1>" in volunteer.get(reverse("swap_list")).content.decode()


def test_my_shifts_without_a_staff_record_says_where_to_go(rw: RosterWorld) -> None:
    chief = rw.client("gate_chief").get(reverse("my_shifts"))
    assert chief.status_code == 403 and "审批换班请进入「换班审批」" in chief.content.decode()
    cadre = rw.client("cadre_xinwei").get(reverse("my_shifts")).content.decode()
    assert "请联系卡口长或指挥部" in cadre and "换班审批" not in cadre.split('id="refused"')[1]


def test_a_lapsed_swap_cannot_be_withdrawn(rw: RosterWorld, published: Roster) -> None:
    give = place(published, rw.staff["v1"], published.dates()[2], "M")
    swap = services.request_swap(rw.staff["v1"], give, rw.staff["l1"], None, reason="", nonce="x1",
                                 user=rw.w.users["volunteer"])
    began = timezone.now() - dt.timedelta(minutes=5)
    type(give).objects.filter(pk=give.pk).update(starts_at=began, ends_at=began + dt.timedelta(hours=8))
    got = rw.client("volunteer").post(f"/api/rosters/swaps/{swap.pk}/withdraw")
    assert got.status_code == 400 and got.json()["code"] == "swap_past"
    swap.refresh_from_db()
    assert swap.status == SwapRequest.Status.PARTNER and swap.expired


def test_api_withdraws_a_swap_once_and_only_for_the_requester(rw: RosterWorld, published: Roster) -> None:
    d = published.dates()
    give = place(published, rw.staff["v1"], d[3], "M")
    c = rw.client("volunteer")
    ask = c.post("/api/rosters/swaps", {"give_id": give.pk, "partner_id": rw.staff["l1"].pk, "nonce": "a1"},
                 content_type="application/json").json()
    mine = c.get("/api/rosters/swaps/mine").json()
    assert [(s["id"], s["status"], s["expired"]) for s in mine] == [(ask["id"], "partner", False)]
    partner = rw.client("gate_staff")
    assert partner.post(f"/api/rosters/swaps/{ask['id']}/withdraw").status_code == 404
    assert [s["id"] for s in partner.get("/api/rosters/swaps/mine").json()] == [ask["id"]]  # asked to take part
    done = c.post(f"/api/rosters/swaps/{ask['id']}/withdraw")
    assert done.status_code == 200 and done.json()["status"] == "withdrawn" and done.json()["status_label"] == "已撤回"
    twice = c.post(f"/api/rosters/swaps/{ask['id']}/withdraw")
    assert twice.status_code == 400 and twice.json()["code"] == "swap_closed"
    assert partner.get("/api/rosters/swaps/to-answer").json() == []


def test_approval_refuses_a_swap_the_roster_no_longer_allows(rw: RosterWorld, published: Roster) -> None:
    d = published.dates()
    give = place(published, rw.staff["v1"], d[3], "N")
    swap = services.request_swap(rw.staff["v1"], give, rw.staff["l2"], None, reason="", nonce="n3",
                                 user=rw.w.users["volunteer"])
    assert swap.status == SwapRequest.Status.PENDING
    place(published, rw.staff["l2"], d[2], "E")  # meanwhile 属地丁 got the evening before
    swap = services.decide_swap(swap, rw.chief, approve=True)
    assert swap.status == SwapRequest.Status.REFUSED and swap.problems
    give.refresh_from_db()
    assert give.staff_id == rw.staff["v1"].pk


def test_swap_form_on_the_phone_reports_the_refusal_in_chinese(rw: RosterWorld, published: Roster) -> None:
    d = published.dates()
    place(published, rw.staff["v2"], d[1], "E")
    give = place(published, rw.staff["v1"], d[2], "N")
    response = rw.client("volunteer").post(reverse("swap_request"), {"give": give.pk, "partner": rw.staff["v2"].pk,
                                                                     "nonce": "x"}, follow=True)
    assert "换班不符合排班规则，系统未发出" in response.content.decode()
    refused = SwapRequest.objects.get(nonce="x")
    assert refused.summary in response.content.decode()  # the requester's own history keeps it
    # Never sent: not in the colleague's history, nor among the chief's recent decisions.
    StaffMember.objects.filter(user=rw.w.users["gate_staff"]).update(user=None)
    rw.staff["v2"].user = rw.w.users["gate_staff"]
    rw.staff["v2"].save()
    assert refused.summary not in rw.client("gate_staff").get(reverse("my_shifts")).content.decode()
    assert refused not in rw.client("gate_chief").get(reverse("swap_list")).context["recent"]
    # One the colleague answered and the rules then refused did reach them: it stays in both lists.
    SwapRequest.objects.filter(pk=refused.pk).update(partner_answered_at=timezone.now())
    assert refused.summary in rw.client("gate_staff").get(reverse("my_shifts")).content.decode()
    assert refused in rw.client("gate_chief").get(reverse("swap_list")).context["recent"]


def test_only_the_chief_of_the_gate_decides(rw: RosterWorld, published: Roster) -> None:
    give = place(published, rw.staff["v1"], published.dates()[3], "M")
    swap = services.request_swap(rw.staff["v1"], give, rw.staff["l2"], None, reason="", nonce="n4",
                                 user=rw.w.users["volunteer"])
    response = rw.client("volunteer").post(reverse("swap_list"), {"swap": swap.pk, "decision": "approve"})
    assert response.status_code == 403
    assert SwapRequest.objects.get(pk=swap.pk).status == SwapRequest.Status.PENDING


# --- attendance --------------------------------------------------------------------------------

def test_clock_in_late_out_and_the_service_hours_ledger(rw: RosterWorld, published: Roster) -> None:
    a = place(published, rw.staff["v1"], published.dates()[0], "M")
    team = Team.objects.create(subdistrict=rw.w.sub, name="新围村志愿者队")
    TeamMembership.objects.create(team=team, staff=rw.staff["v1"])
    user = rw.w.users["volunteer"]
    with pytest.raises(services.RosterServiceError) as exc:
        services.clock(a, user, "in", "e0", at=a.starts_at - dt.timedelta(hours=2))
    assert "最早提前" in exc.value.message
    with pytest.raises(services.RosterServiceError):
        services.clock(a, user, "out", "e1", at=a.starts_at)  # not clocked in yet
    event = services.clock(a, user, "in", "e2", at=a.starts_at + dt.timedelta(minutes=17))
    assert event.late_minutes == 17
    assert services.clock(a, user, "in", "e2").pk == event.pk  # a retry
    with pytest.raises(services.RosterServiceError):
        services.clock(a, user, "in", "e3", at=a.starts_at + dt.timedelta(minutes=20))
    services.clock(a, user, "out", "e4", at=a.ends_at + dt.timedelta(minutes=5))
    hours = ServiceHours.objects.get(assignment=a)
    assert hours.minutes == 8 * 60 - 17 and hours.team == team  # on duty within the shift
    ledger = rw.client("volunteer").get(reverse("staff_detail", args=[rw.staff["v1"].pk])).content.decode()
    assert f"{a.shift_name} {a.gate.name}" in ledger and "7 小时 43 分钟" in ledger  # her own ledger, entry by entry
    assert services.team_hours(team) == {rw.staff["v1"].pk: hours.minutes}
    [row] = services.attendance([a], now=a.ends_at)
    assert row.state == "done" and row.label == "已签退，迟到 17 分钟" and row.flagged  # late stays visible


def test_sign_out_before_the_shift_is_refused_and_leaving_early_is_flagged(rw: RosterWorld, published: Roster) -> None:
    a = place(published, rw.staff["v1"], published.dates()[0], "M")
    user = rw.w.users["volunteer"]
    services.clock(a, user, "in", "k1", at=a.starts_at - dt.timedelta(minutes=20))  # early clock-in is fine
    [row] = services.attendance([a], now=a.starts_at - dt.timedelta(minutes=10))
    assert row.can_clock_out is False  # no 签退 button before the shift begins
    with pytest.raises(services.RosterServiceError) as exc:
        services.clock(a, user, "out", "k2", at=a.starts_at - dt.timedelta(minutes=10))
    assert exc.value.code == "clock_out_early" and "开始前不能签退" in exc.value.message
    services.clock(a, user, "out", "k3", at=a.ends_at - dt.timedelta(hours=2))
    [row] = services.attendance([a], now=a.ends_at)
    assert row.label == "已签退，早退 2 小时" and row.flagged and row.late_minutes == 0
    # The next morning's briefing lists it among yesterday's problems.
    sheet = briefing.build(a.gate, a.date + dt.timedelta(days=1))
    assert any("早退 2 小时" in p for p in sheet["attendance_problems"]), sheet["attendance_problems"]


def test_absent_and_late_are_flagged_on_the_board(rw: RosterWorld, published: Roster) -> None:
    today = timezone.localdate()
    published.start_date = today
    published.save()
    now = timezone.now()
    a = place(published, rw.staff["v1"], today, "M")
    b = place(published, rw.staff["v2"], today, "E")
    rows = services.attendance([a, b], now=a.starts_at + dt.timedelta(minutes=45))
    assert [r.state for r in rows] == ["absent", "upcoming"]
    rows = services.attendance([a], now=a.starts_at + dt.timedelta(minutes=10))
    assert rows[0].state == "late"
    assert now  # the board renders for the chief with both people
    page = rw.client("gate_chief").get(reverse("attendance_board") + f"?date={today}").content.decode()
    assert "志愿者甲" in page and "志愿者乙" in page
    upcoming = sum(1 for r in services.attendance([a, b]) if r.state == "upcoming")  # depends on the hour the test runs
    assert f'id="upcoming-count">{upcoming}</b>' in page
    assert AttendanceEvent.objects.count() == 0


# --- teams and sign-up --------------------------------------------------------------------------

def test_public_sign_up_is_approved_by_the_leader_into_a_staff_member(rw: RosterWorld) -> None:
    from django.test import Client

    team = Team.objects.create(subdistrict=rw.w.sub, name="新围村志愿者队", village=rw.w.xinwei)
    url = reverse("team_join", args=[team.signup_token])
    anon = Client()
    bad = anon.post(url, {"name": "周小红", "phone": "12345", "kind": "volunteer", "nonce": "s1"}).content.decode()
    assert "手机号" in bad and SignUp.objects.count() == 0
    ok = anon.post(url, {"name": "周小红", "phone": "13812345678", "kind": "volunteer", "skills": ["driver"],
                         "nonce": "s2"}).content.decode()
    assert "报名已提交" in ok
    anon.post(url, {"name": "周小红", "phone": "13812345678", "kind": "volunteer", "nonce": "s2"})  # retried
    assert SignUp.objects.count() == 1
    again = anon.post(url, {"name": "周小红", "phone": "13812345678", "kind": "volunteer", "nonce": "s3"})
    assert "报名已提交" in again.content.decode()  # the same answer: the page never says who is waiting
    # Someone else trying that number is answered with their own name, never the name registered with it.
    probe = anon.post(url, {"name": "王路人", "phone": "+86 138 1234 5678", "kind": "volunteer", "nonce": "s4"})
    page = probe.content.decode()
    assert "王路人，您的报名已提交" in page and "周小红" not in page
    signup = SignUp.objects.get()
    assert rw.client("cadre_jiangdong").get(reverse("team_detail", args=[team.pk])).status_code == 404
    rw.client("cadre_xinwei").post(reverse("team_detail", args=[team.pk]), {"signup": signup.pk, "decision": "approve"})
    staff = StaffMember.objects.get(name="周小红")
    assert staff.skills == ["driver"] and staff.phone_masked == "138****5678"
    assert TeamMembership.objects.filter(team=team, staff=staff).exists()


def test_a_member_sees_their_teams_and_hours_but_not_others(rw: RosterWorld) -> None:
    squad = Team.objects.create(subdistrict=rw.w.sub, name="党员先锋队")
    night = Team.objects.create(subdistrict=rw.w.sub, name="夜间巡逻组", parent=squad)
    other = Team.objects.create(subdistrict=rw.w.sub, name="江东村志愿者队", village=rw.w.jiangdong)
    TeamMembership.objects.create(team=night, staff=rw.staff["v1"])
    c = rw.client("volunteer")
    page = c.get(reverse("team_list")).content.decode()
    assert "夜间巡逻组" in page and "党员先锋队" in page and "江东村志愿者队" not in page
    detail = c.get(reverse("team_detail", args=[night.pk])).content.decode()
    assert "志愿者甲" in detail and "待审核报名" not in detail  # a member does not approve sign-ups
    assert c.get(reverse("team_detail", args=[other.pk])).status_code == 404
    assert c.post(reverse("team_detail", args=[night.pk]), {"signup": 1, "decision": "approve"}).status_code == 403


# --- demand from gate planning -----------------------------------------------------------------

def test_demand_comes_from_the_lane_sizing_of_gate_planning(rw: RosterWorld) -> None:
    for shift, arrivals in (("早班 08–16", 120.0), ("中班 16–24", 60.0), ("夜班 00–08", 10.0)):
        checkpoint_services.size_lanes(rw.gate1, shift, arrivals, 60.0)
    sized = {d.shift[:2]: d.staff for d in rw.gate1.demands.all()}
    rules = {r.shift_code: r.required for r in services.demand_from_planning(rw.gate1)}
    assert rules == {"M": sized["早班"], "E": sized["中班"], "N": sized["夜班"]}
    assert sized["早班"] > sized["夜班"]  # heavier by day
    # Two 12-hour shifts: the day shift covers the morning and the evening sizing, so the larger.
    services.set_pattern(rw.gate1, services.ensure_patterns(rw.w.sub).__class__.objects.get(name="两班倒（12小时）"))
    rules = {r.shift_code: r.required for r in services.demand_from_planning(rw.gate1)}
    assert rules["D"] == max(sized["早班"], sized["中班"])
    with pytest.raises(services.RosterServiceError) as exc:
        services.demand_from_planning(rw.gate2)
    assert "通道测算" in exc.value.message


def test_demand_form_refuses_an_unknown_shift(rw: RosterWorld) -> None:
    services.ensure_patterns(rw.w.sub)
    response = rw.client("gate_chief").post(reverse("gate_demand", args=[rw.gate1.pk]),
                                            {"what": "add", "shift_code": "Z", "required": 2}, follow=True)
    assert "没有此班次（可选：早班 08:00–16:00、中班 16:00–00:00、夜班 00:00–08:00）" in response.content.decode()
    assert rw.client("gate_chief").get(reverse("gate_demand", args=[rw.gate2.pk])).status_code == 404


def test_a_refused_demand_row_keeps_what_was_typed(rw: RosterWorld) -> None:
    services.ensure_patterns(rw.w.sub)
    response = rw.client("gate_chief").post(reverse("gate_demand", args=[rw.gate1.pk]), {
        "what": "add", "shift_code": "N", "skill": "police", "required": 80, "weekdays": ["5", "6"],
        "note": "周末高速口加派"})
    page = response.content.decode()
    assert response.status_code == 400 and "人数应在 1 到 50 之间" in page
    assert page.index('id="demand-error"') < page.index('id="demand-form"')  # said at the form, not the page's top
    assert 'value="80"' in page and 'value="周末高速口加派"' in page
    assert '<option value="N" selected>' in page and '<option value="police" selected>' in page
    assert re.findall(r'value="(\d)" checked', page) == ["5", "6"]
    assert not DemandRule.objects.filter(gate=rw.gate1).exists()


def test_demand_offers_medical_once(rw: RosterWorld) -> None:
    services.ensure_patterns(rw.w.sub)
    page = rw.client("gate_chief").get(reverse("gate_demand", args=[rw.gate1.pk])).content.decode()
    form = page[page.index('id="demand-form"'):]
    assert form.count('value="medical"') == 1 and "医护人员或有医疗技能者" in form
    assert [v for v, _ in requirement_choices()].count("medical") == 1
    assert {"local", "police", "volunteer", "driver", "party", "night"} <= {v for v, _ in requirement_choices()}


# --- exports and the briefing -------------------------------------------------------------------

def test_pdf_excel_and_ical_of_a_roster(rw: RosterWorld) -> None:
    add_demand(rw.gate1, {"M": 1, "E": 1, "N": 1})
    roster = solved(rw, days=3, gates=[rw.gate1])
    c = rw.client("command")
    pdf = c.get(reverse("roster_pdf", args=[roster.pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert embeds_cjk_font(pdf.content)
    wb = load_workbook(io.BytesIO(c.get(reverse("roster_xlsx", args=[roster.pk])).content))
    listed = list(wb["全部班次"].iter_rows(min_row=2, values_only=True))
    assert len(listed) == roster.assignments.count() == 9
    assert all(str(row[5]).startswith("1380000000") for row in listed)  # the command centre sees phones in full
    cal = Calendar.from_ical(c.get(reverse("roster_ics", args=[roster.pk])).content)
    events = list(cal.walk("VEVENT"))
    assert len(events) == 9 and all("1号卡口" in str(e["summary"]) for e in events)
    name_of = {f"assignment-{a.pk}@lianfang": a.staff.name for a in roster.assignments.select_related("staff")}
    assert all(str(e["summary"]).endswith(" · " + name_of[str(e["uid"])]) for e in events)  # who, in the title
    assert AuditEvent.objects.filter(action="export", object_type="roster").count() == 3


def test_gate_view_exports_that_gate(rw: RosterWorld) -> None:
    add_demand(rw.gate1, {"M": 1})
    add_demand(rw.gate2, {"M": 1})
    roster = solved(rw, days=2, gates=[rw.gate1, rw.gate2])
    c = rw.client("command")
    page = c.get(reverse("roster_detail", args=[roster.pk]) + f"?gate={rw.gate2.pk}").content.decode()
    link = re.search(r'id="gate-xlsx" href="([^"]+)"', page)
    assert link is not None
    wb = load_workbook(io.BytesIO(c.get(link.group(1).replace("&amp;", "&")).content))
    assert wb.sheetnames == [rw.gate2.name, "全部班次", "缺员清单"]
    assert {row[2] for row in wb["全部班次"].iter_rows(min_row=2, values_only=True)} == {rw.gate2.name}


def test_briefing_has_the_shifts_yesterdays_counts_and_notices(rw: RosterWorld) -> None:
    from lianfang.checkpoints.models import Scan

    today = timezone.localdate()
    roster = new_roster(rw, start=today - dt.timedelta(days=1), days=3, gates=[rw.gate1])
    roster.status = Roster.Status.PUBLISHED
    roster.save()
    place(roster, rw.staff["p1"], today, "M")
    place(roster, rw.staff["v1"], today, "N")  # 00:00–08:00 today: over by the meeting
    place(roster, rw.staff["v2"], today + dt.timedelta(days=1), "N")  # tonight's crew
    yesterday_noon = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=1), dt.time(12)))
    for i, outcome in enumerate(["pass", "pass", "assess"]):
        Scan.objects.create(subdistrict=rw.w.sub, gate=rw.gate1, staff=rw.w.users["gate_staff"], nonce=f"b{i}",
                            content_hash=f"h{i}", device_time=yesterday_noon, subject="person", raw={}, outcome=outcome)
    Notice.objects.create(subdistrict=rw.w.sub, title="今日起查验行程卡", body="所有车辆查验行程卡")
    morning = services.pattern_for(rw.gate1).shifts[0]["name"]
    roster.shortfalls = [  # the published roster's known gaps: today's morning lacks a medic
        {"date": today.isoformat(), "gate": "1号卡口", "gate_id": rw.gate1.pk, "shift": morning, "skill": "medical",
         "required": 1, "assigned": 0, "missing": 1, "reason": ""},
        {"date": today.isoformat(), "gate": "2号卡口", "gate_id": rw.gate2.pk, "shift": morning, "skill": "",
         "required": 2, "assigned": 0, "missing": 2, "reason": ""}]
    roster.save()
    b = briefing.build(rw.gate1, today)
    assert b["shifts"][0]["gaps"] == ["缺医护人员 1 人"] and all(not sh["gaps"] for sh in b["shifts"][1:])
    assert b["scan_total"] == 3 and b["redirects"] == 1
    assert [a.staff.name for a in b["shifts"][0]["people"]] == ["交警戊"]
    night = next(sh for sh in b["shifts"] if sh["label"].startswith("夜班"))
    assert [a.staff.name for a in night["people"]] == ["志愿者乙"] and "今晚接班" in night["label"]
    page = rw.client("gate_chief").get(reverse("briefing", args=[rw.gate1.pk])).content.decode()
    assert "交警戊" in page and "今日起查验行程卡" in page and "尚未过完" not in page
    assert "（缺医护人员 1 人，请安排顶岗）" in page
    assert b["uncovered"] == [] and 'id="briefing-no-roster"' not in page
    # On the roster's last day, tonight's crew belongs to the next day, which no roster covers.
    last = briefing.build(rw.gate1, today + dt.timedelta(days=1))
    assert last["uncovered"] == [today + dt.timedelta(days=2)]
    assert [s["covered"] for s in last["shifts"]] == [not s["label"].startswith("夜班") for s in last["shifts"]]
    sheet = rw.client("gate_chief").get(reverse("briefing", args=[rw.gate1.pk]) + f"?date={today + dt.timedelta(days=1)}")
    assert f"本卡口{today + dt.timedelta(days=2):%m月%d日}没有已发布的排班表" in sheet.content.decode()
    assert "无已发布的排班表" in sheet.content.decode()
    ahead = rw.client("gate_chief").get(reverse("briefing", args=[rw.gate1.pk]) + f"?date={today + dt.timedelta(days=2)}")
    assert "尚未过完，以下数字不完整" in ahead.content.decode()  # tomorrow's sheet is not read as a quiet day
    assert f"本卡口{today + dt.timedelta(days=2):%m月%d日}、{today + dt.timedelta(days=3):%m月%d日}没有已发布的排班表" in (
        ahead.content.decode())  # the day after the roster's last, and its night
    pdf = rw.client("gate_chief").get(reverse("briefing", args=[rw.gate1.pk]) + "?format=pdf")
    assert pdf.content.startswith(b"%PDF") and embeds_cjk_font(pdf.content)


# --- the API -----------------------------------------------------------------------------------

def test_api_my_shifts_clock_with_nonce_and_swap(rw: RosterWorld, published: Roster) -> None:
    today = timezone.localdate()
    published.start_date = today
    published.save()
    now = timezone.localtime()
    current = place(published, rw.staff["v1"], today, "M")
    Assignment = type(current)
    start = now - dt.timedelta(minutes=10)
    Assignment.objects.filter(pk=current.pk).update(starts_at=start, ends_at=start + dt.timedelta(hours=8))
    later = place(published, rw.staff["v1"], today + dt.timedelta(days=3), "M")
    c = rw.client("volunteer")
    mine = c.get("/api/rosters/mine").json()
    assert [s["id"] for s in mine] == [current.pk, later.pk] and mine[0]["gate"] == "1号卡口"
    home = c.get(reverse("home")).content.decode()  # the shift under way comes first on her home page
    assert 'id="home-my-shift"' in home and f"当前班次：<b>{timezone.localtime(start):%m月%d日 %H:%M}" in home
    assert reverse("my_shifts") in home and 'id="home-my-shift"' not in rw.client("cadre_xinwei").get("/").content.decode()
    first = c.post(f"/api/rosters/shifts/{current.pk}/clock", {"action": "in", "nonce": "k1"},
                   content_type="application/json")
    again = c.post(f"/api/rosters/shifts/{current.pk}/clock", {"action": "in", "nonce": "k1"},
                   content_type="application/json")
    assert first.status_code == again.status_code == 200 and first.json()["id"] == again.json()["id"]
    assert first.json()["late_minutes"] == 10 and AttendanceEvent.objects.count() == 1
    twice = c.post(f"/api/rosters/shifts/{current.pk}/clock", {"action": "in", "nonce": "k2"},
                   content_type="application/json")
    assert twice.status_code == 400 and twice.json()["code"] == "clock_twice"
    other = place(published, rw.staff["v2"], today, "E")
    assert c.post(f"/api/rosters/shifts/{other.pk}/clock", {"action": "in", "nonce": "k3"},
                  content_type="application/json").status_code == 404
    swap = c.post("/api/rosters/swaps", {"give_id": later.pk, "partner_id": rw.staff["l2"].pk, "nonce": "w1"},
                  content_type="application/json")
    assert swap.status_code == 200 and swap.json()["status"] == "pending"
    assert c.get(f"/api/rosters/{published.pk}").status_code == 404  # volunteers see their own shifts only
    chief = rw.client("gate_chief").get(f"/api/rosters/{published.pk}/shifts?date={today}").json()
    assert {s["staff"] for s in chief} == {"志愿者甲", "志愿者乙"}
    # A partner with an account (属地丙) answers on the phone.
    ask = c.post("/api/rosters/swaps", {"give_id": later.pk, "partner_id": rw.staff["l1"].pk,
                                        "nonce": "w2"}, content_type="application/json")
    assert ask.status_code == 400 and ask.json()["code"] == "swap_waiting"  # the first request still waits
    SwapRequest.objects.filter(pk=swap.json()["id"]).update(status=SwapRequest.Status.REJECTED)
    ask = c.post("/api/rosters/swaps", {"give_id": later.pk, "partner_id": rw.staff["l1"].pk, "nonce": "w2"},
                 content_type="application/json").json()
    assert ask["status"] == "partner"
    partner = rw.client("gate_staff")
    assert [s["id"] for s in partner.get("/api/rosters/swaps/to-answer").json()] == [ask["id"]]
    assert c.get("/api/rosters/swaps/to-answer").json() == []
    assert c.post(f"/api/rosters/swaps/{ask['id']}/answer", {"accept": True},
                  content_type="application/json").status_code == 404  # the requester cannot answer for the partner
    yes = partner.post(f"/api/rosters/swaps/{ask['id']}/answer", {"accept": True}, content_type="application/json")
    assert yes.status_code == 200 and yes.json()["status"] == "pending"
    late = partner.post(f"/api/rosters/swaps/{ask['id']}/answer", {"accept": False}, content_type="application/json")
    assert late.status_code == 400 and late.json()["code"] == "swap_answered"


def test_roster_home_per_role(rw: RosterWorld) -> None:
    assert rw.client("volunteer").get(reverse("roster_home"))["Location"] == reverse("my_shifts")
    cadre = rw.client("cadre_xinwei").get(reverse("roster_home"))
    assert cadre.status_code == 200 and "值守人员" in cadre.content.decode()
    assert rw.client("command").get(reverse("roster_home")).status_code == 200
    assert "今日早会" in rw.client("gate_chief").get(reverse("roster_home")).content.decode()


def test_days_worked_up_to_the_eve_carry_into_the_next_roster(rw: RosterWorld) -> None:
    """A run of working days that began in the published roster before counts towards the most
    days in a row of the next one: not only a full run (day 0 off), a shorter one too; so do the
    days off since the last working day towards the fewest days off in a row."""
    add_demand(rw.gate1, {"M": 2, "E": 2, "N": 1})
    start = next_monday()
    before = new_roster(rw, days=4, start=start - dt.timedelta(days=4), gates=[rw.gate1])
    before.status = Roster.Status.PUBLISHED
    before.save()
    v1, v2 = rw.staff["v1"], rw.staff["v2"]
    for n in range(1, 5):  # 志愿者甲 works the four days up to the eve, 志愿者乙 only the eve
        place(before, v1, start - dt.timedelta(days=n), "M")
    place(before, v2, start - dt.timedelta(days=1), "M")
    l2 = rw.staff["l2"]  # 属地丁 worked four days before, then rested two (and must rest three in a row)
    l2.min_days_off_in_row = 3
    l2.save()
    place(before, l2, start - dt.timedelta(days=3), "M")
    after = new_roster(rw, days=5, start=start, gates=[rw.gate1])
    built = services.build_problem(after)
    by_id = {st.id: st for st in built.problem.staff}
    assert (by_id[f"s{v1.pk}"].worked_before, by_id[f"s{v2.pk}"].worked_before) == (4, 1)
    assert by_id[f"s{rw.staff['l1'].pk}"].worked_before == by_id[f"s{rw.staff['l1'].pk}"].rested_before == 0
    assert (by_id[f"s{l2.pk}"].worked_before, by_id[f"s{l2.pk}"].rested_before) == (0, 2)
    assert by_id[f"s{v1.pk}"].rested_before == 0
    assert v1.max_consecutive_days == 6
    morning = built.shift_id(rw.gate1, "M")
    assert morning is not None
    two = {(f"s{v1.pk}", d): morning for d in (0, 1)}
    assert engine.check(built.problem, two, {k: f"g{rw.gate1.pk}" for k in two}) == []
    three = {(f"s{v1.pk}", d): morning for d in (0, 1, 2)}
    assert "排班前已连续上班 4 天" in " ".join(engine.check(built.problem, three, {k: f"g{rw.gate1.pk}" for k in three}))
    day0 = {(f"s{l2.pk}", 0): morning}
    assert "排班前已连续休息 2 天" in " ".join(engine.check(built.problem, day0, {k: f"g{rw.gate1.pk}" for k in day0}))
    after.status = Roster.Status.SOLVING
    after.save()
    services.run_solve(after)
    worked = set(after.assignments.filter(staff=v1).values_list("date", flat=True))
    assert not {start, start + dt.timedelta(days=1), start + dt.timedelta(days=2)} <= worked
    assert not after.assignments.filter(staff=l2, date=start).exists()


def test_a_second_published_roster_never_books_a_person_twice_a_day(rw: RosterWorld) -> None:
    add_demand(rw.gate1, {"M": 2, "E": 1})
    add_demand(rw.gate2, {"M": 2, "E": 2})
    first = solved(rw, days=4, gates=[rw.gate1])
    services.publish(first, rw.w.users["command"])
    for key in ("v1", "v2", "l1", "l2", "p1"):  # gate 1's people may help at gate 2 too
        rw.staff[key].gates.add(rw.gate2)
    overlapping = solved(rw, days=4, gates=[rw.gate2], start=first.start_date + dt.timedelta(days=2))
    busy = set(first.assignments.filter(date__gte=overlapping.start_date).values_list("staff_id", "date"))
    helpers = set(overlapping.assignments.filter(staff__in=[rw.staff["v1"], rw.staff["v2"], rw.staff["l1"]])
                  .values_list("staff_id", "date"))
    assert busy and helpers and not busy & set(overlapping.assignments.values_list("staff_id", "date"))
    # A clash made by hand (or by a roster solved before the other was published) is refused.
    a = first.assignments.filter(date=overlapping.start_date).first()
    assert a is not None
    overlapping.assignments.filter(date=a.date).delete()
    place(overlapping, a.staff, a.date, "E", rw.gate2)
    with pytest.raises(services.RosterServiceError) as exc:
        services.publish(overlapping, rw.w.users["command"])
    assert a.staff.name in exc.value.message and "冲突" in exc.value.message


def test_a_gate_has_one_published_roster_a_day(rw: RosterWorld) -> None:
    add_demand(rw.gate1, {"M": 1, "E": 1})
    add_demand(rw.gate2, {"M": 1})
    first = solved(rw, days=4, gates=[rw.gate1])
    services.publish(first, rw.w.users["command"])
    # Each roster meets the gate's whole demand: a second one over the same days would double the crew.
    second = solved(rw, days=4, gates=[rw.gate1, rw.gate2], start=first.start_date + dt.timedelta(days=3))
    assert services.gate_overlaps(second) == [f"{rw.gate1.name} {second.start_date:%m月%d日}已由已发布的「测试排班」排班"]
    with pytest.raises(services.RosterServiceError) as exc:
        services.publish(second, rw.w.users["command"])
    assert exc.value.code == "roster_gate_overlap" and rw.gate1.name in exc.value.message
    second.refresh_from_db()
    assert second.status == Roster.Status.SOLVED
    page = rw.client("command").get(reverse("roster_detail", args=[second.pk])).content.decode()
    assert 'id="gate-clashes"' in page and 'id="publish"' not in page
    # The day after the first ends, and at another gate, are free.
    later = solved(rw, days=2, gates=[rw.gate1], start=first.end_date + dt.timedelta(days=1))
    elsewhere = solved(rw, days=4, gates=[rw.gate2], start=first.start_date)
    assert services.gate_overlaps(later) == [] and services.gate_overlaps(elsewhere) == []
    services.publish(later, rw.w.users["command"])
    services.publish(elsewhere, rw.w.users["command"])
    assert len(services.gate_overlaps(second)) == 3  # the first, the later one (gate 1) and the other gate's


def test_new_roster_starts_after_the_published_ones_and_refuses_overlaps(rw: RosterWorld) -> None:
    add_demand(rw.gate1, {"M": 1})
    first = solved(rw, days=5, gates=[rw.gate1])
    services.publish(first, rw.w.users["command"])
    client = rw.client("command")
    page = client.get(reverse("roster_new")).content.decode()
    after = first.end_date + dt.timedelta(days=1)
    assert f'value="{after.isoformat()}"' in page and f"已发布排班至 {first.end_date:%m-%d}" in page
    form = {"name": "重叠", "start_date": first.end_date.isoformat(), "days": 3, "time_limit_s": 10,
            "min_rest_hours": 8, "gates": [rw.gate1.pk]}
    page = client.post(reverse("roster_new"), form).content.decode()
    assert "同一卡口同一天只能有一份已发布的排班表" in page and not Roster.objects.filter(name="重叠").exists()
    response = client.post(reverse("roster_new"), {**form, "start_date": after.isoformat()})
    assert response.status_code == 302 and Roster.objects.filter(name="重叠", start_date=after).exists()
    # A second plan of the same days is allowed (only one can be published), but said.
    again = client.post(reverse("roster_new"), {**form, "name": "又一份", "start_date": after.isoformat()}, follow=True)
    span = f"{after:%m月%d日}至{after + dt.timedelta(days=2):%m月%d日}"
    assert f"注意：{rw.gate1.name} {span}另有未发布的「重叠」（草稿）。两份只能发布其一" in again.content.decode()
    assert Roster.objects.filter(name="又一份").exists()
    # The form itself names the drafts of the gates and days it suggests, before a third is made.
    page = client.get(reverse("roster_new")).content.decode()
    assert 'id="planned-rosters"' in page and "「重叠」（草稿）" in page and "「又一份」（草稿）" in page
    for draft in Roster.objects.filter(name__in=["重叠", "又一份"]):
        draft.delete()
    assert 'id="planned-rosters"' not in client.get(reverse("roster_new")).content.decode()
    # A zone's gate and a village gate outside any zone, both free tomorrow: the name has no zone.
    lone = Gate.objects.create(subdistrict=rw.w.sub, village=rw.w.xinwei, name="村口卡点")
    add_demand(lone, {"M": 1})
    add_demand(rw.gate2, {"M": 1})
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    assert f'value="{tomorrow:%m月%d日}起排班"' in client.get(reverse("roster_new")).content.decode()


def test_new_roster_starts_where_the_first_gate_runs_out(rw: RosterWorld) -> None:
    add_demand(rw.gate1, {"M": 1})
    add_demand(rw.gate2, {"M": 1})
    long = solved(rw, days=6, gates=[rw.gate1])
    short = solved(rw, days=2, gates=[rw.gate2])
    services.publish(long, rw.w.users["command"])
    services.publish(short, rw.w.users["command"])
    client = rw.client("command")
    page = client.get(reverse("roster_new")).content.decode()
    # Gate 2 runs out first: the form starts the day after, with gate 2 only (gate 1 is published on).
    assert f'name="start_date" value="{short.end_date + dt.timedelta(days=1):%Y-%m-%d}"' in page
    assert re.search(rf'value="{rw.gate2.pk}" checked', page) and not re.search(rf'value="{rw.gate1.pk}" checked', page)
    # Starting both gates after the long one leaves gate 2 without a roster for a while: said so.
    start = long.end_date + dt.timedelta(days=1)
    response = client.post(reverse("roster_new"), {"name": "之后", "start_date": start.isoformat(), "days": 3,
                                                   "time_limit_s": 10, "min_rest_hours": 8,
                                                   "gates": [rw.gate1.pk, rw.gate2.pk]}, follow=True)
    gap = f"{rw.gate2.name}（{short.end_date + dt.timedelta(days=1):%m-%d} 至 {long.end_date:%m-%d}）"
    assert "以下卡口在本表开始前有几天没有已发布的排班：" + gap in response.content.decode()


def test_swap_choices_stay_within_the_volunteers_gates(rw: RosterWorld, published: Roster) -> None:
    published.gates.add(rw.gate2)
    d = published.dates()
    place(published, rw.staff["v1"], d[2], "M")
    place(published, rw.staff["v2"], d[3], "M")
    place(published, rw.staff["x1"], d[3], "M", rw.gate2)
    page = rw.client("volunteer").get(reverse("my_shifts")).content.decode()
    assert "志愿者乙" in page and "属地庚" not in page


def test_clock_never_redirects_off_site(rw: RosterWorld, published: Roster) -> None:
    today = timezone.localdate()
    a = place(published, rw.staff["v1"], today, "M")
    type(a).objects.filter(pk=a.pk).update(starts_at=timezone.now(), ends_at=timezone.now() + dt.timedelta(hours=8))
    response = rw.client("gate_chief").post(reverse("clock", args=[a.pk]), {"action": "in", "next": "https://evil.example/"})
    assert response["Location"] == reverse("my_shifts")


def test_leave_over_published_shifts_warns(rw: RosterWorld, published: Roster) -> None:
    d = published.dates()
    place(published, rw.staff["v2"], d[1], "M")
    page = rw.client("command").post(reverse("staff_detail", args=[rw.staff["v2"].pk]), {
        "what": "unavailable", "date_from": d[0].isoformat(), "date_to": d[2].isoformat(), "reason": "家中有事"},
        follow=True).content.decode()
    assert "仍有班次" in page and f"{d[1]:%m月%d日} 早班" in page


def test_full_phone_only_for_command_and_chief_and_audited(rw: RosterWorld) -> None:
    url = reverse("staff_detail", args=[rw.staff["v1"].pk])
    assert "13800000000" in rw.client("gate_chief").get(url).content.decode()
    assert AuditEvent.objects.filter(action="reveal", object_type="roster_staff", user=rw.chief).count() == 1
    page = rw.client("cadre_xinwei").get(url).content.decode()
    assert "13800000000" not in page and "138****0000" in page
    counts = rw.client("gate_chief").get(reverse("staff_list")).context["counts"]
    assert dict(counts) == {"属地工作人员": 2, "交警": 1, "志愿者": 2, "医护人员": 1}


def test_stale_competing_and_self_approved_swaps_are_refused(rw: RosterWorld, published: Roster) -> None:
    d = published.dates()
    give = place(published, rw.staff["v1"], d[3], "M")
    first = services.request_swap(rw.staff["v1"], give, rw.staff["v2"], None, reason="", nonce="a", user=rw.w.users["volunteer"])
    assert first.status == SwapRequest.Status.PENDING
    with pytest.raises(services.RosterServiceError) as exc:  # one request at a time per shift
        services.request_swap(rw.staff["v1"], give, rw.staff["l2"], None, reason="", nonce="b", user=rw.w.users["volunteer"])
    assert exc.value.code == "swap_waiting"
    # The chief approves; a request the other way round made meanwhile by the new holder stands alone.
    assert services.decide_swap(first, rw.chief, approve=True).status == SwapRequest.Status.APPROVED
    give.refresh_from_db()
    assert give.staff_id == rw.staff["v2"].pk
    # A gate chief who is on the roster never approves their own swap; another gate's chief neither.
    chief_staff = rw.staff["l1"]
    chief_staff.user = rw.chief
    chief_staff.save()
    own = place(published, chief_staff, d[4], "M")
    mine = services.request_swap(chief_staff, own, rw.staff["l2"], None, reason="", nonce="c", user=rw.chief)
    assert mine.status == SwapRequest.Status.PENDING
    assert rw.chief.pk == mine.requester.user_id
    from lianfang.rosters import access

    assert not access.may_decide_swap(rw.chief, mine) and access.may_decide_swap(rw.w.users["command"], mine)


def test_approval_after_the_shift_started_is_refused(rw: RosterWorld, published: Roster) -> None:
    give = place(published, rw.staff["v1"], published.dates()[3], "M")
    swap = services.request_swap(rw.staff["v1"], give, rw.staff["v2"], None, reason="", nonce="s",
                                 user=rw.w.users["volunteer"])
    type(give).objects.filter(pk=give.pk).update(starts_at=timezone.now() - dt.timedelta(minutes=5))
    swap = services.decide_swap(swap, rw.chief, approve=True)
    assert swap.status == SwapRequest.Status.REFUSED and "已开始" in swap.problems[0]


def test_same_day_exchange_keeps_what_was_asked(rw: RosterWorld, published: Roster) -> None:
    day = published.dates()[3]
    give = place(published, rw.staff["v1"], day, "M")
    take = place(published, rw.staff["v2"], day, "E")
    swap = services.request_swap(rw.staff["v1"], give, rw.staff["v2"], take, reason="", nonce="x",
                                 user=rw.w.users["volunteer"])
    services.decide_swap(swap, rw.chief, approve=True)
    mine = type(give).objects.get(roster=published, staff=rw.staff["v1"], date=day)
    theirs = type(give).objects.get(roster=published, staff=rw.staff["v2"], date=day)
    assert (mine.shift_code, theirs.shift_code) == ("E", "M")
    assert SwapRequest.objects.get(pk=swap.pk).summary.startswith("志愿者甲 让出") and "早班" in swap.summary


def test_swap_post_cannot_reach_another_gates_people(rw: RosterWorld, published: Roster) -> None:
    give = place(published, rw.staff["v1"], published.dates()[3], "M")
    page = rw.client("volunteer").post(reverse("swap_request"), {"give": give.pk, "partner": rw.staff["x1"].pk},
                                       follow=True).content.decode()
    assert "请选择要让出的班次" in page and "属地庚" not in page and not SwapRequest.objects.exists()


def test_pattern_change_refused_while_a_roster_covers_the_gate(rw: RosterWorld, published: Roster) -> None:
    from lianfang.rosters.models import ShiftPattern

    services.ensure_patterns(rw.w.sub)
    twelve = ShiftPattern.objects.get(subdistrict=rw.w.sub, name="两班倒（12小时）")
    with pytest.raises(services.RosterServiceError) as exc:
        services.set_pattern(rw.gate1, twelve)
    assert exc.value.code == "pattern_in_use"
    services.set_pattern(rw.gate2, twelve)  # no roster there


def test_rest_after_the_last_day_of_the_previous_roster(rw: RosterWorld, published: Roster) -> None:
    place(published, rw.staff["v1"], published.end_date, "E")  # ends at midnight
    nxt = new_roster(rw, days=2, start=published.end_date + dt.timedelta(days=1), gates=[rw.gate1])
    built = services.build_problem(nxt)
    v1 = next(s for s in built.problem.staff if s.name == "志愿者甲")
    night = next(sid for sid, sh in built.shifts.items() if sh["code"] == "N")
    morning = next(sid for sid, sh in built.shifts.items() if sh["code"] == "M")
    assert (0, night) in v1.unavailable and (0, morning) not in v1.unavailable


def test_out_of_range_dates_fall_back_to_today(rw: RosterWorld) -> None:
    c = rw.client("gate_chief")
    assert c.get(reverse("briefing", args=[rw.gate1.pk]) + "?date=9999-12-31").status_code == 200
    assert c.get(reverse("attendance_board") + "?date=0001-01-01").status_code == 200


def test_api_roster_list_shows_a_chief_only_their_gate(rw: RosterWorld) -> None:
    add_demand(rw.gate1, {"M": 1})
    DemandRule.objects.create(gate=rw.gate2, shift_code="M", skill="medical", required=1)  # always short
    roster = solved(rw, days=2)
    services.publish(roster, rw.w.users["command"])
    [item] = rw.client("gate_chief").get("/api/rosters/").json()
    assert item["gate_ids"] == [rw.gate1.pk] and item["shortfalls"] == [] and item["objective"] is None
    [full] = rw.client("command").get("/api/rosters/").json()
    assert len(full["shortfalls"]) == 2 and full["objective"] is not None


def test_another_gates_chief_is_refused_everywhere(rw: RosterWorld) -> None:
    from lianfang.accounts.models import User
    from lianfang.accounts.roles import Role

    other = User.objects.create(username="chief2", role=Role.GATE_CHIEF, scope_subdistrict=rw.w.sub, scope_gate=rw.gate2)
    add_demand(rw.gate1, {"M": 1})
    roster = solved(rw, days=2, gates=[rw.gate1])
    services.publish(roster, rw.w.users["command"])
    from django.test import Client

    c = Client()
    c.force_login(other)
    for name, args in (("roster_detail", [roster.pk]), ("roster_pdf", [roster.pk]), ("roster_xlsx", [roster.pk]),
                       ("roster_ics", [roster.pk]), ("roster_progress", [roster.pk]),
                       ("roster_person", [roster.pk, rw.staff["v1"].pk]), ("gate_demand", [rw.gate1.pk]),
                       ("briefing", [rw.gate1.pk]), ("staff_detail", [rw.staff["v1"].pk])):
        assert c.get(reverse(name, args=args)).status_code == 404, name
    a = roster.assignments.first()
    assert a is not None
    assert c.post(reverse("clock", args=[a.pk]), {"action": "in"}).status_code == 404
    assert c.get("/api/rosters/").json() == []


def test_a_run_that_reached_its_limit_before_the_roster_gets_day_one_off(rw: RosterWorld, published: Roster) -> None:
    v1 = rw.staff["v1"]
    v1.max_consecutive_days = 3
    v1.save()
    for day in published.dates()[-3:]:
        place(published, v1, day, "M")
    nxt = new_roster(rw, days=3, start=published.end_date + dt.timedelta(days=1), gates=[rw.gate1])
    built = services.build_problem(nxt)
    full = next(s for s in built.problem.staff if s.name == "志愿者甲")
    assert full.worked_before == 3
    assert next(s for s in built.problem.staff if s.name == "志愿者乙").worked_before == 0
    morning = built.shift_id(rw.gate1, "M")
    assert morning is not None
    assert "超过上限 3 天" in " ".join(engine.check(built.problem, {(full.id, 0): morning}, {(full.id, 0): f"g{rw.gate1.pk}"}))
    sol = engine.solve(built.problem, time_limit_s=10)
    assert (full.id, 0) not in sol.assignments


def test_a_published_roster_ends_early_so_another_can_take_over(rw: RosterWorld) -> None:
    today = timezone.localdate()
    add_demand(rw.gate1, {"M": 1, "E": 1})
    first = solved(rw, days=6, gates=[rw.gate1], start=today - dt.timedelta(days=1))
    services.publish(first, rw.w.users["command"])
    worked = first.assignments.filter(date=today - dt.timedelta(days=1)).first()
    assert worked is not None
    services.clock(worked, rw.chief, "in", "n-worked", at=worked.starts_at)
    later = first.assignments.filter(date=today + dt.timedelta(days=3)).order_by("pk")
    give, partner = later[0], later[1].staff
    refused = services.request_swap(give.staff, give, partner, None, reason="", nonce="s-end", user=rw.w.users["command"])
    assert refused.status == SwapRequest.Status.REFUSED  # a shift that day already: closed, stays as it is
    waiting = SwapRequest.objects.create(roster=first, requester=give.staff, give=give, gate=give.gate, partner=rw.staff["x3"],
                                         status=SwapRequest.Status.PENDING, summary=f"{give.staff.name} 让出", nonce="w")
    client = rw.client("command")
    url = reverse("roster_end_early", args=[first.pk])
    # Refused: no reason, today (its shifts are under way), after the end, a day someone clocked in for.
    for form, says in (({"from_date": (today + dt.timedelta(days=2)).isoformat(), "reason": " "}, "请填写提前结束的原因"),
                       ({"from_date": today.isoformat(), "reason": "重排"}, "今天及以前的班次不能停用"),
                       ({"from_date": (first.end_date + dt.timedelta(days=1)).isoformat(), "reason": "重排"}, "停用日期应在"),
                       ({"from_date": "", "reason": "重排"}, "请选择从哪一天起停用")):
        page = client.post(url, form, follow=True).content.decode()
        assert says in page, form
    kept = client.post(url, {"from_date": today.isoformat(), "reason": "封控升级"}, follow=True).content.decode()
    assert '<details id="end-early" open>' in kept and 'value="封控升级"' in kept  # the form, as typed
    assert f'name="from_date" value="{today.isoformat()}"' in kept
    early = first.assignments.filter(date=today + dt.timedelta(days=1)).order_by("starts_at").first()
    assert early is not None
    services.clock(early, rw.chief, "in", "n-early", at=early.starts_at - dt.timedelta(minutes=10))
    page = client.post(url, {"from_date": early.date.isoformat(), "reason": "重排"}, follow=True).content.decode()
    assert f"{early.staff.name} 已签到" in page
    first.refresh_from_db()
    assert first.days == 6 and first.assignments.filter(date__gt=today).count() == 8
    # From the day after: those shifts and the swap about one go; the days before stay.
    assert rw.client("gate_chief").post(url, {"from_date": "", "reason": "x"}).status_code == 403
    cut = today + dt.timedelta(days=2)
    for day in (cut, cut + dt.timedelta(days=1)):  # the volunteer loses (at least) two shifts
        if not first.assignments.filter(date=day, staff=rw.staff["v1"]).exists():
            a = first.assignments.filter(date=day).order_by("pk").first()
            assert a is not None
            a.staff = rw.staff["v1"]
            a.save()
    page = client.post(url, {"from_date": cut.isoformat(), "reason": "风险等级调整"}, follow=True).content.decode()
    assert "删除 6 个班次，1 份待处理的换班申请已作废" in page
    first.refresh_from_db()
    assert first.end_date == cut - dt.timedelta(days=1) and not first.assignments.filter(date__gte=cut).exists()
    assert first.assignments.filter(date__lt=cut).count() == 6 and worked.attendance.count() == 1
    refused.refresh_from_db()
    waiting.refresh_from_db()
    assert refused.status == SwapRequest.Status.REFUSED and refused.give is None  # kept in the history
    assert waiting.status == SwapRequest.Status.VOIDED and waiting.give is None and "风险等级调整" in waiting.problems[0]
    assert "已作废（排班表提前结束）" in client.get(reverse("swap_list")).content.decode()
    assert "已作废（排班表提前结束）" in rw.client("gate_chief").get(reverse("swap_list")).content.decode()  # still theirs
    mine = rw.client("volunteer").get(reverse("my_shifts")).content.decode()
    assert "已作废（排班表提前结束）</b>：" in mine  # the reason follows, not in nested brackets
    detail = client.get(reverse("roster_detail", args=[first.pk])).content.decode()
    assert re.search(rf'id="ended-early">已于 [\d -:]+ 提前结束，从 {cut:%m月%d日} 起停用（风险等级调整）', detail)
    assert '<span id="solved-whole">按提前结束前的原排班期计</span>' in detail  # the figures are the whole solve's
    assert f'id="next-roster" href="{reverse("roster_new")}"' in detail  # the next step, from the page
    assert 'id="next-roster"' not in rw.client("gate_chief").get(reverse("roster_detail", args=[first.pk])).content.decode()
    gap = rw.client("gate_chief").get(reverse("briefing", args=[rw.gate1.pk]) + f"?date={cut}").content.decode()
    assert 'id="briefing-no-roster"' in gap  # between the early end and the next roster: said, not just empty
    assert all(s["date"] < cut.isoformat() for s in first.shortfalls)
    # Whoever lost a shift sees it on their phone as cancelled, with the reason.
    assert CancelledShift.objects.filter(roster=first, reason="风险等级调整").count() == 6
    lost = list(CancelledShift.objects.filter(staff=rw.staff["v1"]).order_by("starts_at"))
    assert len(lost) >= 2
    phone = rw.client("volunteer").get(reverse("my_shifts")).content.decode()
    assert lost and 'id="cancelled-shifts"' in phone
    assert f"{lost[0].date:%m月%d日} " in phone and "不用再上（风险等级调整）" in phone  # one reason: said once
    assert f"{timezone.localtime(lost[0].starts_at):%H:%M} {lost[0].shift_name} · {rw.gate1.name}</li>" in phone
    api = rw.client("volunteer").get("/api/rosters/mine/cancelled").json()
    assert [(c["date"], c["shift_name"], c["gate_name"], c["reason"]) for c in api] == [
        (c.date.isoformat(), c.shift_name, rw.gate1.name, "风险等级调整") for c in lost]
    assert rw.client("cadre_xinwei").get("/api/rosters/mine/cancelled").json() == []  # no duty record: nothing
    event = AuditEvent.objects.get(object_type="roster", object_id=str(first.pk), reason="风险等级调整")
    assert event.detail["shifts_removed"] == 6
    assert event.detail["swaps_voided"] == [f"{give.staff.name} 让出（待卡口长审批）"]
    # The next roster starts where this one now ends, and publishes.
    new_form = client.get(reverse("roster_new")).content.decode()
    assert f'value="{cut.isoformat()}"' in new_form and f'value="江东片联防区 {cut:%m月%d日}起排班"' in new_form  # its zone's
    nxt = solved(rw, days=3, gates=[rw.gate1], start=cut)
    # The new roster gives the volunteer back the first shift she lost: it is on again, not cancelled.
    code = next(sh["code"] for sh in services.pattern_for(rw.gate1).shifts if sh["name"] == lost[0].shift_name)
    nxt.assignments.filter(date=lost[0].date).filter(Q(staff=rw.staff["v1"]) | Q(shift_code=code)).delete()
    back = place(nxt, rw.staff["v1"], lost[0].date, code)
    services.publish(nxt, rw.w.users["command"])
    assert nxt.status == Roster.Status.PUBLISHED and back.starts_at == lost[0].starts_at
    assert 'id="next-roster"' not in client.get(reverse("roster_detail", args=[first.pk])).content.decode()  # done
    rw.gate1.name = "1号卡口（东）"  # renamed meanwhile: still the same gate, the shift is still back
    rw.gate1.save()
    still = [c.pk for c in services.cancelled_shifts(rw.staff["v1"])]
    assert still == [c.pk for c in lost[1:]]
    cal = Calendar.from_ical(rw.client("volunteer").get(reverse("my_shifts_ics")).content)
    off = {str(e["uid"]): str(e["status"]) for e in cal.walk("VEVENT") if "status" in e}
    assert off == {f"assignment-{c.assignment_pk}@lianfang": "CANCELLED" for c in lost[1:]}  # dropped in the calendar
    # Given back, then taken away again by a second early end: listed once, with the latest reason.
    again = CancelledShift.objects.create(
        staff=rw.staff["v1"], roster=nxt, assignment_pk=back.pk, date=back.date, shift_name=back.shift_name,
        gate=rw.gate1, gate_name=rw.gate1.name, starts_at=back.starts_at, reason="二次调整",
        cancelled_by=rw.w.users["command"])
    back.delete()
    assert [c.pk for c in services.cancelled_shifts(rw.staff["v1"])] == [again.pk] + [c.pk for c in lost[1:]]
    phone = rw.client("volunteer").get(reverse("my_shifts")).content.decode()
    assert phone.count(f"{lost[0].shift_name} · {rw.gate1.name}（二次调整）") == 1 and "不用再上；" in phone
    with pytest.raises(services.RosterServiceError) as exc:
        services.end_early(nxt, cut, rw.w.users["command"], "再改")  # its first day: nothing would be left
    assert exc.value.code == "end_date"
    assert 'id="end-early"' in client.get(reverse("roster_detail", args=[nxt.pk])).content.decode()
    add_demand(rw.gate2, {"M": 1})
    one_day = solved(rw, days=1, gates=[rw.gate2], start=today + dt.timedelta(days=1))
    services.publish(one_day, rw.w.users["command"])
    assert 'id="end-early"' not in client.get(reverse("roster_detail", args=[one_day.pk])).content.decode()


def test_unpublished_rosters_can_be_deleted_and_publishing_names_shortfalls(rw: RosterWorld) -> None:
    add_demand(rw.gate2, {"N": 4})  # more nights than gate 2's people can work
    DemandRule.objects.create(gate=rw.gate2, shift_code="N", skill="medical", required=1)  # and no medic there
    roster = solved(rw, days=2, gates=[rw.gate2])
    client = rw.client("command")
    page = client.get(reverse("roster_detail", args=[roster.pk])).content.decode()
    short = sum(s["missing"] for s in roster.shortfalls if not s["skill"])
    assert short > 0 and re.search(rf'id="missing-total">{short}</b>', page) and 'id="missing-skill">2</b>' in page
    assert f"本表仍缺员 {short} 人次，另缺类别/技能 2 人次" in page  # said before publishing
    wb = load_workbook(io.BytesIO(client.get(reverse("roster_xlsx", args=[roster.pk])).content))
    gaps = list(wb["缺员清单"].iter_rows(min_row=2, values_only=True))  # the same gaps, with reasons, for reports
    assert sum(row[6] for row in gaps) == short + 2 and {row[3] for row in gaps} == {"任何人", "医护人员"}
    assert all(row[7] for row in gaps) and any("缺医护人员 1 人" in str(c) for r in wb["2号卡口"].iter_rows(
        values_only=True) for c in r)
    assert rw.client("gate_chief").post(reverse("roster_delete", args=[roster.pk])).status_code == 404  # not theirs
    services.publish(roster, rw.w.users["command"])
    response = client.post(reverse("roster_delete", args=[roster.pk]), follow=True)
    assert "已发布的排班表不能删除" in response.content.decode() and Roster.objects.filter(pk=roster.pk).exists()
    draft = new_roster(rw, days=2, gates=[rw.gate2], start=roster.start_date)
    page = client.get(reverse("roster_detail", args=[draft.pk])).content.decode()
    assert 'id="gate-clashes"' in page and 'id="solve"' not in page and 'id="delete-roster"' in page
    response = client.post(reverse("roster_delete", args=[draft.pk]), follow=True)
    assert f"已删除「{draft.name}」" in response.content.decode() and not Roster.objects.filter(pk=draft.pk).exists()
    assert AuditEvent.objects.filter(object_type="roster", object_id=str(draft.pk), detail__deleted=draft.name).exists()


def test_staff_form_lists_every_problem_and_keeps_what_was_typed(rw: RosterWorld) -> None:
    c = rw.client("cadre_xinwei")
    page = c.get(reverse("staff_list"))
    assert page.context["form"]["home_village"] == rw.w.xinwei.pk  # a cadre's own village, chosen for them
    before = StaffMember.objects.count()
    r = c.post(reverse("staff_list"), {"name": "  ", "kind": "volunteer", "phone": "139", "skills": ["driver"],
                                       "home_village": str(rw.w.jiangdong.pk), "max_week_hours": "100",
                                       "max_consecutive_days": "6"})
    assert r.status_code == 400 and StaffMember.objects.count() == before
    errors = r.context["errors"]
    assert "请选择所属村/社区" in errors and "请填写姓名" in errors  # another village is not theirs to choose
    assert "每周最多工时应在 8 到 84 小时之间" in errors and any("手机号" in e for e in errors)
    html = r.content.decode()
    assert 'value="139"' in html and 'value="100"' in html and 'value="driver" checked' in html
    assert '<details class="card" id="staff-add" open>' in html  # the form is open at the top, errors inside
    r = c.post(reverse("staff_list"), {"name": "测试甲", "kind": "volunteer", "phone": "13912345678",
                                       "home_village": str(rw.w.xinwei.pk), "max_week_hours": "48",
                                       "max_consecutive_days": "6"})
    made = StaffMember.objects.get(name="测试甲")
    assert r.status_code == 302 and made.home_village == rw.w.xinwei and made.max_week_hours == 48


def test_links_to_another_gate_or_a_bad_date_say_so_instead_of_showing_something_else(
        rw: RosterWorld, published: Roster) -> None:
    chief = rw.client("gate_chief")  # the chief of gate 1
    for name in ("roster_pdf", "roster_xlsx", "roster_ics"):
        assert chief.get(reverse(name, args=[published.pk]) + f"?gate={rw.gate2.pk}").status_code == 404
        assert chief.get(reverse(name, args=[published.pk]) + f"?gate={rw.gate1.pk}").status_code == 200
    assert chief.get(reverse("attendance_board") + f"?gate={rw.gate2.pk}").status_code == 404
    assert AuditEvent.objects.filter(action="denied", object_type="gate", user=rw.chief).count() == 4
    page = chief.get(reverse("briefing", args=[rw.gate1.pk]) + "?date=garbage", follow=True).content.decode()
    assert "日期「garbage」无法识别" in page and f"已显示 {timezone.localdate():%m月%d日}" in page
    page = chief.get(reverse("briefing", args=[rw.gate1.pk]) + "?date=2030-01-01").content.decode()
    assert "超出前后一年的范围" in page
    far = rw.client("command").post(reverse("staff_detail", args=[rw.staff["v1"].pk]), {
        "what": "unavailable", "date_from": "2035-01-01", "date_to": "2035-01-02", "reason": "年份填错"},
        follow=True).content.decode()
    assert "请检查年份" in far and not rw.staff["v1"].unavailable.exists()


def test_leave_over_rostered_days_does_not_block_handing_those_shifts_over(rw: RosterWorld, published: Roster) -> None:
    d = published.dates()
    first = place(published, rw.staff["v1"], d[1], "M")
    second = place(published, rw.staff["v1"], d[3], "M")
    Unavailability.objects.create(staff=rw.staff["v1"], date_from=d[1], date_to=d[3], reason="住院")
    # Each hand-over is judged by what it breaks, not by the other rostered day still on leave.
    assert services.swap_problems(published, first, None, rw.staff["l2"]) == []
    assert services.swap_problems(published, second, None, rw.staff["l2"]) == []
    # What the swap itself breaks is still refused: 属地丁 on leave that day cannot take it.
    Unavailability.objects.create(staff=rw.staff["l2"], date_from=d[3], date_to=d[3], reason="外出")
    [problem] = services.swap_problems(published, second, None, rw.staff["l2"])
    assert "属地丁" in problem and "不可用" in problem


def test_a_late_shift_of_a_long_roster_still_has_colleagues_to_swap_with(rw: RosterWorld) -> None:
    roster = new_roster(rw, days=42, gates=[rw.gate1])
    roster.status = Roster.Status.PUBLISHED
    roster.save()
    d = roster.dates()
    for day in d:  # four colleagues a day: 168 shifts, and the volunteer's own on the last day only
        for key, code in (("v2", "M"), ("l1", "E"), ("p1", "N"), ("l2", "M")):
            place(roster, rw.staff[key], day, code)
    place(roster, rw.staff["v1"], d[-1], "E")
    offered = rw.client("volunteer").get(reverse("my_shifts")).context["partner_shifts"]
    assert {a.date for a in offered} == set(d[-8:])  # the week before hers, not the roster's first 200
    assert sum(1 for a in offered if a.date == d[-1]) == 4


def test_attendance_tiles_add_up_to_those_expected(rw: RosterWorld, published: Roster) -> None:
    today, now = timezone.localdate(), timezone.now()
    user = rw.w.users["gate_chief"]

    def shift(key: str, began_hours_ago: float) -> Assignment:
        start = now - dt.timedelta(hours=began_hours_ago)
        return Assignment.objects.create(roster=published, staff=rw.staff[key], date=today, gate=rw.gate1, shift_code="M",
                                         shift_name="早班", starts_at=start, ends_at=start + dt.timedelta(hours=8))
    late = shift("v1", 2)
    services.clock(late, user, "in", "t1", at=late.starts_at + dt.timedelta(minutes=30))  # on duty, late
    done = shift("v2", 2)
    services.clock(done, user, "in", "t2", at=done.starts_at)
    services.clock(done, user, "out", "t3", at=now)  # signed out (early)
    shift("l1", 2)  # never came
    shift("l2", -3)  # still to come
    counts = rw.client("gate_chief").get(reverse("attendance_board")).context["counts"]
    assert counts == {"on_duty": 1, "late": 1, "done": 1, "absent": 1, "upcoming": 1}
    page = rw.client("gate_chief").get(reverse("attendance_board")).content.decode()
    # only the buttons that can work: signing in the one who has not come (the shift is on), signing
    # out the one on duty; none for the one signed out, nor for a shift three hours away
    assert page.count("代签退</button>") == 1 and page.count("代签到</button>") == 1


def test_leave_recorded_after_publishing_is_flagged_wherever_the_shift_shows(rw: RosterWorld, published: Roster) -> None:
    d = published.dates()
    a = place(published, rw.staff["v1"], d[1], "M")
    kept = place(published, rw.staff["v2"], d[1], "E")
    Unavailability.objects.create(staff=rw.staff["v1"], date_from=d[1], date_to=d[2], reason="住院")
    assert services.on_leave([a, kept]) == {a.pk: "住院"}
    [row, other] = services.attendance([a, kept], now=a.starts_at - dt.timedelta(hours=2))
    assert row.state == "leave" and row.label == "已请假（住院），需安排顶岗" and other.state == "upcoming"
    sheet = briefing.build(rw.gate1, d[1])
    assert sheet["shifts"][0]["away"] == {a.pk: "住院"}
    page = rw.client("gate_chief").get(reverse("briefing", args=[rw.gate1.pk]) + f"?date={d[1]}").content.decode()
    assert "志愿者甲（志愿者）<span class=\"short briefing-leave\">【已请假，需安排顶岗】" in page
    grid = rw.client("gate_chief").get(reverse("roster_detail", args=[published.pk])).context["grid"]
    assert grid["away"] == {a.pk: "住院"}
    assert "已请假（住院），需安排顶岗" in rw.client("volunteer").get(reverse("my_shifts")).content.decode()
    person = rw.client("command").get(reverse("staff_detail", args=[rw.staff["v1"].pk])).content.decode()
    assert "请假，需安排顶岗" in person  # among her shifts ahead
    Unavailability.objects.create(staff=rw.staff["v2"], date_from=d[1], date_to=d[1], shift_code="E", reason="")
    other_page = rw.client("command").get(reverse("staff_detail", args=[rw.staff["v2"].pk])).content.decode()
    leave_card = other_page.split("<h2>不可排班时段</h2>")[1].split("</ul>")[0]
    assert " 中班 " in leave_card and " E " not in leave_card  # the shift by its name, not its code
    # Leave recorded for a shift the person came to after all asks nobody to cover it.
    services.clock(kept, rw.w.users["gate_chief"], "in", "lv1", at=kept.starts_at)
    assert services.on_leave([a, kept]) == {a.pk: "住院"}


def test_a_skill_row_above_the_shifts_total_is_warned_about(rw: RosterWorld) -> None:
    add_demand(rw.gate1, {"N": 2})
    chief = rw.client("gate_chief")
    page = chief.post(reverse("gate_demand", args=[rw.gate1.pk]), {
        "what": "add", "shift_code": "N", "skill": "medical", "required": 3}, follow=True).content.decode()
    assert "已添加需求" in page and "合计 3 人（周一），多于总人数 2 人" in page  # kept, but said
    assert services.demand_beyond_total(rw.gate1, "M") is None
    DemandRule.objects.filter(gate=rw.gate1, shift_code="N", skill="").update(required=4)
    assert services.demand_beyond_total(rw.gate1, "N") is None


def test_a_sign_up_with_a_registered_phone_under_another_name_is_not_approved(rw: RosterWorld) -> None:
    team = Team.objects.create(subdistrict=rw.w.sub, name="江东村志愿者队", village=rw.w.jiangdong)
    victim = rw.staff["v1"]  # 志愿者甲 of 新围村
    phone = victim.phone_number()
    fake, _ = services.sign_up(team, name="冒名者", phone=phone, kind="volunteer", skills=[], village=rw.w.jiangdong,
                               note="", nonce="c1")
    cadre = rw.client("cadre_jiangdong")
    page = cadre.get(reverse("team_detail", args=[team.pk])).content.decode()
    assert "该手机号已登记为另一位值守人员（姓名不同），不能通过" in page and victim.name not in page
    assert f'name="signup" value="{fake.pk}"><button class="btn small" name="decision" value="approve"' not in page
    answer = cadre.post(reverse("team_detail", args=[team.pk]), {"signup": fake.pk, "decision": "approve"}, follow=True)
    assert "不能通过" in answer.content.decode()
    fake.refresh_from_db()
    assert fake.status == SignUp.Status.PENDING and not TeamMembership.objects.filter(team=team, staff=victim).exists()
    assert cadre.get(reverse("staff_detail", args=[victim.pk])).status_code == 404  # still not theirs to see
    # The same person (same name) joining a second team is approved into their existing record,
    # once the leader has turned the other away (one waiting sign-up per phone and team).
    services.decide_signup(fake, rw.w.users["cadre_jiangdong"], approve=False)
    real, created = services.sign_up(team, name=victim.name, phone=phone, kind="volunteer", skills=[],
                                     village=rw.w.xinwei, note="", nonce="c2")
    assert created and services.signup_clash(real) is None
    services.decide_signup(real, rw.w.users["cadre_jiangdong"], approve=True)
    assert TeamMembership.objects.filter(team=team, staff=victim).exists() and StaffMember.objects.filter(
        phone_hash=victim.phone_hash).count() == 1


def test_command_sets_up_a_squad_with_groups_and_moves_members(rw: RosterWorld) -> None:
    c = rw.client("command")
    bad = c.post(reverse("team_list"), {"name": "", "kind": "squad"})
    assert bad.status_code == 400 and "请填写队伍名称" in bad.content.decode()
    c.post(reverse("team_list"), {"name": "党员先锋队", "kind": "squad", "leader": rw.w.users["gate_chief"].pk,
                                  "duty": "特殊车辆、夜间巡逻、后勤"})
    squad = Team.objects.get(name="党员先锋队")
    assert squad.leader == rw.w.users["gate_chief"] and squad.parent is None
    again = c.post(reverse("team_list"), {"name": "党员先锋队", "kind": "squad"})  # a double tap: the one made
    assert again.status_code == 302 and again["Location"] == reverse("team_detail", args=[squad.pk])
    Team.objects.filter(pk=squad.pk).update(created_at=timezone.now() - dt.timedelta(minutes=5))
    twin = c.post(reverse("team_list"), {"name": "党员先锋队", "kind": "squad"})  # later: a name already taken
    assert twin.status_code == 400 and "已有同名队伍「党员先锋队」" in twin.content.decode()
    assert Team.objects.filter(name="党员先锋队").count() == 1
    url = reverse("team_detail", args=[squad.pk])
    for name in ("特殊车辆组", "夜间巡逻组"):
        c.post(url, {"what": "group", "name": name})
    vehicles, night = Team.objects.filter(parent=squad).order_by("pk")
    assert vehicles.kind == night.kind == Team.TeamKind.GROUP
    found = c.get(url + "?find=志愿者").context["found"]
    assert {"志愿者甲", "志愿者乙"} <= {s.name for s in found} and all("志愿者" in s.name for s in found)
    c.post(url, {"what": "add", "staff": rw.staff["v1"].pk, "find": "志愿者"})
    assert rw.staff["v1"].name not in {s.name for s in c.get(url + "?find=志愿者").context["found"]}
    c.post(url, {"what": "move", "staff": rw.staff["v1"].pk, "group": vehicles.pk})
    c.post(url, {"what": "move", "staff": rw.staff["v1"].pk, "group": night.pk})  # one group at a time
    teams_of_v1 = set(TeamMembership.objects.filter(staff=rw.staff["v1"]).values_list("team__name", flat=True))
    assert teams_of_v1 == {"党员先锋队", "夜间巡逻组"}
    for _ in range(2):  # a double tap sets, it does not undo
        c.post(reverse("team_detail", args=[night.pk]), {"what": "leader", "staff": rw.staff["v1"].pk, "leader": "1"})
    assert TeamMembership.objects.get(team=night, staff=rw.staff["v1"]).is_leader
    page = c.get(url).content.decode()  # the squad's page says who is in which group
    assert re.search(r'data-label="分组">夜间巡逻组</td>', page)
    c.post(url, {"what": "remove", "staff": rw.staff["v1"].pk})  # out of the squad: out of its groups
    assert not TeamMembership.objects.filter(staff=rw.staff["v1"]).exists()
    for _ in range(2):
        c.post(url, {"what": "signup_open", "open": "0"})
    squad.refresh_from_db()
    assert not squad.signup_open
    # A sign-up to a group, approved, joins the squad and that one group.
    services.add_member(vehicles, rw.staff["v2"], None)
    signup, _ = services.sign_up(night, name=rw.staff["v2"].name, phone=rw.staff["v2"].phone_number(), kind="volunteer",
                                 skills=[], village=None, note="", nonce="g1")
    approved = c.post(reverse("team_detail", args=[night.pk]), {"signup": signup.pk, "decision": "approve"}, follow=True)
    assert f"{signup.name}：已通过（已离开「特殊车辆组」）" in approved.content.decode()  # the move is said
    assert set(TeamMembership.objects.filter(staff=rw.staff["v2"]).values_list("team__name", flat=True)) == {
        "党员先锋队", "夜间巡逻组"}
    assert services.decide_signup(signup, rw.w.users["command"], approve=False) == (
        SignUp.objects.get(pk=signup.pk), [])  # decided already: a second answer changes nothing
    assert SignUp.objects.get(pk=signup.pk).status == SignUp.Status.APPROVED
    # A cadre of another village cannot be made leader by a forged form; a gate team needs its gate.
    assert c.post(reverse("team_list"), {"name": "一号卡口班组", "kind": "gate"}).status_code == 400
    c.post(reverse("team_list"), {"name": "一号卡口班组", "kind": "gate", "gate": rw.gate1.pk})
    assert Team.objects.get(name="一号卡口班组").gate == rw.gate1
    c.post(reverse("team_list"), {"name": "二号先锋队", "kind": "squad", "gate": rw.gate1.pk})
    assert Team.objects.get(name="二号先锋队").gate is None  # only a gate team belongs to a gate
    nested = c.post(reverse("team_detail", args=[night.pk]), {"what": "group", "name": "小组中的小组"}, follow=True)
    assert "分组下不再分组" in nested.content.decode() and not Team.objects.filter(name="小组中的小组").exists()
    assert AuditEvent.objects.filter(object_type="team", object_id=str(squad.pk)).count() >= 4
    assert rw.client("volunteer").post(url, {"what": "group", "name": "x"}).status_code in (403, 404)


def test_a_cadre_sets_up_their_villages_team_only_with_people_they_may_see(rw: RosterWorld) -> None:
    c = rw.client("cadre_xinwei")
    refused = c.post(reverse("team_list"), {"name": "党员先锋队", "kind": "squad", "village": rw.w.xinwei.pk})
    assert refused.status_code == 400 and "村干部只能为本村新建村志愿者队" in refused.content.decode()
    c.post(reverse("team_list"), {"name": "新围村志愿者队", "kind": "village", "village": rw.w.jiangdong.pk})
    assert not Team.objects.filter(name="新围村志愿者队").exists()  # not their village
    c.post(reverse("team_list"), {"name": "新围村志愿者队", "kind": "village", "village": rw.w.xinwei.pk})
    team = Team.objects.get(name="新围村志愿者队")
    assert team.village == rw.w.xinwei and team.leader is None
    c.post(reverse("team_list"), {"name": "伪造负责人队", "kind": "village", "village": rw.w.xinwei.pk,
                                  "leader": rw.w.users["cadre_jiangdong"].pk})  # not offered: not taken
    assert Team.objects.get(name="伪造负责人队").leader is None
    other = services.create_staff(rw.w.sub, name="江东志愿者", kind="volunteer", phone="13900000000",
                                  home_village=rw.w.jiangdong)
    url = reverse("team_detail", args=[team.pk])
    assert c.post(url, {"what": "add", "staff": other.pk}).status_code == 404  # another village's person
    assert not TeamMembership.objects.filter(team=team).exists()
    c.post(url, {"what": "add", "staff": rw.staff["v1"].pk})
    assert TeamMembership.objects.filter(team=team, staff=rw.staff["v1"]).exists()


def test_the_chief_records_a_shift_worked_without_signing_in(rw: RosterWorld, published: Roster) -> None:
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    start = timezone.make_aware(dt.datetime.combine(yesterday, dt.time(8)))
    a = Assignment.objects.create(roster=published, staff=rw.staff["v1"], date=yesterday, gate=rw.gate1, shift_code="M",
                                  shift_name="早班", starts_at=start, ends_at=start + dt.timedelta(hours=8))
    chief = rw.client("gate_chief")
    board = chief.get(reverse("attendance_board") + f"?date={yesterday}").content.decode()
    assert reverse("record_missed", args=[a.pk]) in board  # offered for the no-show of a shift that is over
    url = reverse("record_missed", args=[a.pk])
    empty = chief.post(url, {"came": "08:10", "left": "16:00", "reason": " ", "nonce": "m1"}, follow=True)
    assert "请填写补登原因" in empty.content.decode() and not a.attendance.exists()
    assert rw.client("volunteer").post(url, {"came": "08:10", "left": "16:00", "reason": "忘了"}).status_code == 403
    for _ in range(2):  # a retry records once
        chief.post(url, {"came": "08:10", "left": "16:00", "reason": "手机没电未能签到", "nonce": "m2"})
    came = a.attendance.get(action="in")
    assert came.late_minutes == 10 and came.recorded_by == rw.chief and a.attendance.count() == 2
    assert ServiceHours.objects.get(assignment=a).minutes == 470
    assert AuditEvent.objects.filter(object_type="roster_attendance", object_id=str(a.pk), reason="手机没电未能签到").exists()
    again = chief.post(url, {"came": "08:00", "left": "16:00", "reason": "再补一次", "nonce": "m3"}, follow=True)
    assert "本班已有签到记录，不能补登" in again.content.decode() and a.attendance.count() == 2
    [row] = services.attendance([a])
    assert row.state == "done" and "迟到 10 分钟" in row.label
