"""In a real browser: the command centre solves, publishes and prints the zone's roster; on the phone
a volunteer's swap that breaks the rest rule is refused, one made by mistake is withdrawn, and a legal
one is confirmed by the colleague on their phone and approved by the chief."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from playwright.sync_api import Browser, expect

from lianfang.checkpoints.models import Gate
from lianfang.rosters import services
from lianfang.rosters.demo import create_zone_roster
from lianfang.rosters.models import Assignment, Roster, StaffMember, SwapRequest, Team
from tests.conftest import login
from tests.rosters.conftest import RosterWorld, place


def test_solve_publish_print_and_swaps(rw: RosterWorld, live_server, browser: Browser) -> None:
    w = rw.w
    StaffMember.objects.all().delete()  # the zone's generated gate teams only
    gate3 = Gate.objects.create(subdistrict=w.sub, zone=w.zone, name="3号卡口")
    roster = create_zone_roster(w.sub, [rw.gate1, rw.gate2, gate3], timezone.localdate() + dt.timedelta(days=1),
                                days=7, villages=[w.xinwei, w.jiangdong], time_limit_s=9)
    volunteer = StaffMember.objects.filter(gates=rw.gate1, kind="volunteer").order_by("pk").first()
    assert volunteer is not None
    volunteer.user = w.users["volunteer"]
    volunteer.save()

    desk = browser.new_page()
    login(desk, live_server.url, "command")
    desk.goto(f"{live_server.url}/rosters/{roster.pk}/")
    desk.click("#solve")  # the background task runs within the request under the test settings
    expect(desk.locator("#roster-status")).to_have_text("已求解（待发布）", timeout=60_000)
    expect(desk.locator("#solve-result")).to_be_visible()
    roster.refresh_from_db()
    assert roster.assignments.count() > 0 and roster.objective is not None and roster.bound is not None
    desk.once("dialog", lambda dialog: dialog.accept())  # 确定发布？
    desk.click("#publish")
    expect(desk.locator("#roster-status")).to_have_text("已发布")
    expect(desk.locator("#roster-grid")).to_contain_text(volunteer.name)
    href = desk.locator("#print-pdf").get_attribute("href")
    pdf = desk.request.get(live_server.url + str(href))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF")
    desk.close()

    # Set the scene: a night shift of the volunteer (00:00–08:00), a colleague free that day but on the
    # evening shift (16:00–24:00) of the day before: taking over would leave no rest at all.
    give = (Assignment.objects.filter(roster=roster, staff=volunteer, date__gte=roster.start_date + dt.timedelta(days=1))
            .order_by("date").first())
    assert give is not None
    d = give.date
    Assignment.objects.filter(pk=give.pk).update(shift_code="N", shift_name="夜班", starts_at=timezone.make_aware(
        dt.datetime.combine(d, dt.time(0))), ends_at=timezone.make_aware(dt.datetime.combine(d, dt.time(8))))
    give.refresh_from_db()
    colleagues = [s for s in StaffMember.objects.filter(gates=rw.gate1).exclude(pk=volunteer.pk)
                  if not Assignment.objects.filter(roster=roster, staff=s, date=d).exists()]
    tired = next(s for s in colleagues if "night" in s.skills)  # could take a night but for the rest rule
    Assignment.objects.filter(roster=roster, staff=tired, date=d - dt.timedelta(days=1)).delete()
    evening = timezone.make_aware(dt.datetime.combine(d - dt.timedelta(days=1), dt.time(16)))
    Assignment.objects.create(roster=roster, staff=tired, date=d - dt.timedelta(days=1), gate=rw.gate1, shift_code="E",
                              shift_name="中班", starts_at=evening, ends_at=evening + dt.timedelta(hours=8))
    fresh = next(s for s in colleagues if s != tired and not services.swap_problems(roster, give, None, s))
    fresh.user = w.users["gate_staff"]  # the colleague has an account: they confirm first
    fresh.save()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()
    login(phone, live_server.url, "volunteer")
    phone.goto(f"{live_server.url}/my/shifts/")
    expect(phone.locator(".shift-card").first).to_be_visible()
    phone.select_option("#swap-give", str(give.pk))
    # Colleagues' shifts are grouped by day, and only the days around the one given away are offered.
    groups = phone.eval_on_selector_all("#swap-take optgroup", "gs => gs.map(g => [g.dataset.date, g.disabled])")
    assert groups and all(disabled == (abs((dt.date.fromisoformat(day) - d).days) > 3) for day, disabled in groups)
    phone.uncheck("#swap-near")
    assert phone.locator("#swap-take optgroup[disabled]").count() == 0
    phone.check("#swap-near")
    phone.select_option("#swap-partner", str(tired.pk))
    phone.click("#swap-submit")
    expect(phone.locator(".messages .error")).to_contain_text("不符合排班规则")
    expect(phone.locator(".messages .error")).to_contain_text("休息")
    assert SwapRequest.objects.get(partner=tired).status == SwapRequest.Status.REFUSED
    # A request made by mistake is withdrawn from the history on the phone (after a confirmation).
    phone.select_option("#swap-give", str(give.pk))
    phone.select_option("#swap-partner", str(fresh.pk))
    phone.click("#swap-submit")
    mistake = SwapRequest.objects.get(partner=fresh)
    phone.once("dialog", lambda dialog: dialog.accept())
    phone.locator(f"#swap-{mistake.pk} button").click()
    expect(phone.locator(".messages .success")).to_contain_text("已撤回换班申请")
    expect(phone.locator(f"#swap-{mistake.pk}")).to_contain_text("已撤回")
    mistake.refresh_from_db()
    assert mistake.status == SwapRequest.Status.WITHDRAWN
    phone.select_option("#swap-give", str(give.pk))
    phone.select_option("#swap-partner", str(fresh.pk))
    phone.fill("input[name=reason]", "家里有事")
    phone.click("#swap-submit")
    expect(phone.locator(".messages .success")).to_contain_text(f"等待 {fresh.name} 确认")
    swap = SwapRequest.objects.get(partner=fresh, status=SwapRequest.Status.PARTNER)

    colleague = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()
    login(colleague, live_server.url, "gate_staff")
    colleague.goto(f"{live_server.url}/my/shifts/")
    expect(colleague.locator(f"#answer-{swap.pk}")).to_contain_text("家里有事")
    colleague.locator(f"#answer-{swap.pk} button[value=accept]").click()
    expect(colleague.locator(".messages .success")).to_contain_text("等待卡口长审批")
    swap.refresh_from_db()
    assert swap.status == SwapRequest.Status.PENDING

    chief = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()
    login(chief, live_server.url, "gate_chief")
    chief.goto(f"{live_server.url}/rosters/swaps/")
    chief.locator(f"#swap-{swap.pk} button[value=approve]").click()
    expect(chief.locator(".messages .success")).to_contain_text("已批准")
    give.refresh_from_db()
    assert give.staff_id == fresh.pk
    assert Roster.objects.get(pk=roster.pk).status == Roster.Status.PUBLISHED


def test_eight_gate_tabs_keep_whole_names_on_a_phone(rw: RosterWorld, live_server, phone) -> None:
    gates = [rw.gate1, rw.gate2] + [Gate.objects.create(subdistrict=rw.w.sub, zone=rw.w.zone, name=f"高速出口{n}号卡口")
                                    for n in range(3, 9)]
    roster = Roster.objects.create(subdistrict=rw.w.sub, name="八卡口", start_date=timezone.localdate(), days=3,
                                   status=Roster.Status.SOLVED, objective=0, bound=0)
    roster.gates.set(gates)
    login(phone, live_server.url, "command")
    phone.goto(f"{live_server.url}/rosters/{roster.pk}/")
    tabs = phone.locator("#gate-tabs a")
    expect(tabs).to_have_count(8)
    for n in range(8):
        box = tabs.nth(n).bounding_box()
        # One line of text: the 44-px tap height (a second line and the padding make it about 53 px) ...
        assert box is not None and 44 <= box["height"] < 46, f"{gates[n].name} wraps: {box}"
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390  # ... and on the screen, in rows of tabs


def test_command_ends_a_published_roster_early(rw: RosterWorld, published: Roster, live_server, phone,
                                               browser: Browser) -> None:
    page = phone  # the command centre officer on the move
    d = published.dates()
    for n, day in enumerate(d):
        place(published, rw.staff["v1" if n % 2 else "v2"], day, "M")
    published.objective = published.bound = 0
    published.save()
    login(page, live_server.url, "command")
    page.goto(f"{live_server.url}/rosters/{published.pk}/")
    page.click("#end-early summary")
    page.fill("#end-early input[name=from_date]", d[3].isoformat())
    page.fill("#end-early input[name=reason]", "风险等级调整，重排")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#end-early button")
    expect(page.locator(".messages .success")).to_contain_text(f"已从 {d[3]:%m月%d日} 起停用本表，删除 2 个班次")
    published.refresh_from_db()
    assert published.days == 3 and published.assignments.count() == 3
    # On the phone's roster list, a number sits beside its label (not alone at the right).
    page.goto(f"{live_server.url}/rosters/")
    align = page.evaluate("getComputedStyle(document.querySelector('#roster-table td.num')).textAlign")
    assert align in ("left", "start"), align
    page.goto(f"{live_server.url}/rosters/{published.pk}/")
    # The next step is one tap away: a new roster to take over.
    page.click("#next-roster")
    expect(page.locator("h1")).to_contain_text("新建排班表")
    expect(page.locator("input[name=start_date]")).to_be_visible()
    # The volunteer who lost a shift opens the app: her home card leads to 我的班次, where it shows as cancelled.
    volunteer = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()
    login(volunteer, live_server.url, "volunteer")
    upcoming = (Assignment.objects.filter(staff=rw.staff["v1"], roster__status=Roster.Status.PUBLISHED,
                                          ends_at__gt=timezone.now()).order_by("starts_at").first())
    expect(volunteer.locator("#home-my-shift")).to_contain_text(
        f"{timezone.localtime(upcoming.starts_at):%m月%d日 %H:%M}" if upcoming else "近期没有已发布的班次")
    volunteer.locator("#home-my-shift a.btn").click()
    expect(volunteer.locator("#cancelled-shifts")).to_contain_text(f"{d[3]:%m月%d日}")
    expect(volunteer.locator("#cancelled-shifts")).to_contain_text("风险等级调整，重排")


def test_signing_out_early_asks_first_on_the_phone(rw: RosterWorld, published: Roster, live_server, phone) -> None:
    now = timezone.now()
    a = Assignment.objects.create(roster=published, staff=rw.staff["v1"], date=timezone.localdate(), gate=rw.gate1,
                                  shift_code="M", shift_name="早班", starts_at=now - dt.timedelta(hours=1),
                                  ends_at=now + dt.timedelta(hours=7))
    login(phone, live_server.url, "volunteer")
    phone.goto(f"{live_server.url}/my/shifts/")
    phone.click("button[value=in]")
    expect(phone.locator(".messages .success")).to_contain_text("签到成功")
    asked: list[str] = []

    def refuse(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()
    phone.once("dialog", refuse)
    phone.click("button[value=out]")  # a second tap where 签到 was: asked, and refused, nothing happens
    expect(phone.locator("button[value=out]")).to_be_visible()
    assert "早退 6 小时 59 分钟" in asked[0] or "早退 6 小时 58 分钟" in asked[0], asked
    assert not a.attendance.filter(action="out").exists()
    phone.once("dialog", lambda dialog: dialog.accept())
    phone.click("button[value=out]")
    expect(phone.locator(".messages .success")).to_contain_text("签退成功")
    assert a.attendance.filter(action="out").exists()


def test_a_cadre_sets_up_a_village_team_on_the_phone(rw: RosterWorld, live_server, phone) -> None:
    login(phone, live_server.url, "cadre_xinwei")
    phone.goto(f"{live_server.url}/rosters/teams/")
    phone.click("#team-add summary")
    phone.fill("#team-form input[name=name]", "新围村志愿者队")
    phone.fill("#team-form input[name=duty]", "村口值守、物资配送")
    phone.click("#team-form button")
    expect(phone.locator("h1")).to_have_text("新围村志愿者队")
    phone.fill("#team-manage input[name=find]", "志愿者甲")
    phone.click("#team-manage form[method=get] button")
    phone.click(".found-staff button")
    expect(phone.locator("#member-table")).to_contain_text("志愿者甲")
    phone.fill("#group-form input[name=name]", "物资配送组")
    phone.click("#group-form button")
    expect(phone.locator(".messages .success")).to_contain_text("已添加分组「物资配送组」")
    team = Team.objects.get(name="新围村志愿者队")
    assert team.village == rw.w.xinwei and team.groups.get().name == "物资配送组"
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing runs off the side of the phone


def test_the_chief_records_a_missed_sign_in_on_the_phone(rw: RosterWorld, published: Roster, live_server, phone) -> None:
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    start = timezone.make_aware(dt.datetime.combine(yesterday, dt.time(16)))
    Assignment.objects.create(roster=published, staff=rw.staff["v1"], date=yesterday, gate=rw.gate1, shift_code="E",
                              shift_name="中班", starts_at=start, ends_at=start + dt.timedelta(hours=8))
    login(phone, live_server.url, "gate_chief")
    phone.goto(f"{live_server.url}/rosters/attendance/?date={yesterday}")
    phone.click("details.missed summary")
    phone.fill("details.missed input[name=came]", "16:20")
    phone.fill("details.missed input[name=left]", "00:00")  # past midnight: the next day
    phone.fill("details.missed input[name=reason]", "手机没电未能签到")
    phone.click("details.missed button")
    expect(phone.locator(".messages .success")).to_contain_text("已为 志愿者甲 补登 16:20–00:00")
    expect(phone.locator("#attendance-table")).to_contain_text("已签退，迟到 20 分钟")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
