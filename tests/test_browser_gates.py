"""Gates in a browser: one scan per zone, forged and revoked passes refused, offline scans synced once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from lianfang.accounts.models import User
from lianfang.accounts.roles import Role
from lianfang.checkpoints import scanning
from lianfang.checkpoints.models import Gate, Lane, Scan, ZonePass
from lianfang.control import services as control
from tests.conftest import PASSWORD, World, login

pytestmark = pytest.mark.browser


@pytest.fixture
def two_gates(cw: World) -> tuple[Gate, Gate]:
    gate2 = Gate.objects.create(subdistrict=cw.sub, zone=cw.zone, name="2号卡口")
    for g in (cw.gate, gate2):
        Lane.objects.create(gate=g, name="1号通道")
    u = User(username="staff2", role=Role.GATE_STAFF, scope_subdistrict=cw.sub, scope_gate=gate2)
    u.set_password(PASSWORD)
    u.save()
    return cw.gate, gate2


def phone_page(browser: Browser) -> Page:
    return browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()


def scan_page(browser: Browser, base: str, gate: Gate, user: str = "gate_staff") -> Page:
    """The gate's scan page on a phone, its rules loaded."""
    page = phone_page(browser)
    login(page, base, user)
    page.goto(f"{base}/gates/{gate.pk}/scan")
    expect(page.locator("#rules-name")).to_contain_text("卡口查验规则")
    return page


def offline_scan_page(browser: Browser, base: str, gate: Gate) -> Page:
    """The gate's scan page on a phone, loaded by gate_staff (rules cached), then cut off the network."""
    page = scan_page(browser, base, gate)
    page.context.set_offline(True)
    return page


def scan_person(page: Page, id_number: str, *, double_tap: bool = False) -> None:
    page.fill("#scan-form input[name=id_number]", id_number)
    page.fill("#scan-form input[name=temperature]", "36.5")
    page.fill("#scan-form input[name=negative_test_hours_ago]", "20")
    if double_tap:
        page.dblclick("#scan-submit")
    else:
        page.click("#scan-submit")


def scan_pass(page: Page, token: str) -> None:
    page.click(".tab[data-subject=pass]")
    page.fill("#scan-form input[name=token]", token)
    page.click("#scan-submit")


def test_cleared_at_one_gate_passes_another_then_forged_and_revoked_passes_are_refused(
        cw: World, two_gates: tuple[Gate, Gate], live_server, browser: Browser) -> None:
    gate1, gate2 = two_gates
    p1 = scan_page(browser, live_server.url, gate1)
    scan_person(p1, cw.zhang.document_number())
    expect(p1.locator("#verdict")).to_have_attribute("data-outcome", "pass")
    expect(p1.locator("#verdict-note")).to_contain_text("已登记")
    expect(p1.locator("#pass-qr svg")).to_have_count(1)
    token = scanning.pass_token(ZonePass.objects.get())

    p2 = scan_page(browser, live_server.url, gate2, "staff2")
    scan_pass(p2, token)
    expect(p2.locator("#verdict-label")).to_have_text("放行")
    expect(p2.locator("#verdict-reasons")).to_contain_text("凭防区通行证放行")
    expect(p2.locator("#verdict-note")).to_contain_text("已登记")  # the server's answer, not only the device's
    assert Scan.objects.filter(gate=gate2, subject="pass", outcome="pass").count() == 1

    body, sig = token.split(".")
    forged = body[:-3] + ("AAA" if not body.endswith("AAA") else "BBB") + "." + sig
    scan_pass(p2, forged)
    expect(p2.locator("#verdict")).to_have_attribute("data-outcome", "refused")
    expect(p2.locator("#verdict-reasons")).to_contain_text("通行证")
    # The phone shows its own verdict first: wait for the server's answer (and its write) before
    # this thread writes to the same in-memory SQLite database.
    expect(p2.locator("#verdict-note")).to_contain_text("已登记")
    expect(p2.locator("#scan-submit")).to_be_enabled()

    control.open_case(cw.sub, control.Subject(person=cw.zhang), source="district_list", category="close_contact",
                      exposure_date=timezone.localdate() - dt.timedelta(days=1))
    scan_pass(p2, token)  # the device's cached list does not know yet: the server's answer decides
    expect(p2.locator("#verdict")).to_have_attribute("data-outcome", "refused")
    expect(p2.locator("#verdict-reasons")).to_contain_text("已撤销")
    expect(p2.locator("#verdict-note")).to_contain_text("以服务器判定为准")
    p1.context.close()
    p2.context.close()


def test_a_scan_made_offline_syncs_exactly_once(cw: World, two_gates: tuple[Gate, Gate], live_server,
                                                 browser: Browser) -> None:
    gate1, _ = two_gates
    page = offline_scan_page(browser, live_server.url, gate1)
    expect(page.locator("#net-status")).to_contain_text("离线")
    scan_person(page, cw.li.document_number())
    expect(page.locator("#verdict")).to_have_attribute("data-outcome", "pass")  # judged on the device
    expect(page.locator("#verdict-note")).to_contain_text("已存本机")
    expect(page.locator("#queue-count")).to_have_text("1")
    assert Scan.objects.count() == 0
    page.context.set_offline(False)
    expect(page.locator("#queue-count")).to_have_text("0", timeout=10000)
    scans = Scan.objects.filter(person=cw.li)
    assert scans.count() == 1 and scans.get().offline
    page.evaluate("window.LianfangScan.flush()")
    page.wait_for_timeout(500)
    assert Scan.objects.filter(person=cw.li).count() == 1
    # A bad plate says what is wrong instead of leaving the last card on screen.
    page.click(".tab[data-subject=vehicle]")
    page.fill("#scan-form input[name=plate]", "abc")
    page.click("#scan-submit")
    expect(page.locator("#scan-error")).to_be_visible()
    expect(page.locator("#verdict")).to_be_hidden()
    page.context.close()


def test_offline_scans_stay_with_the_person_who_made_them(cw: World, two_gates: tuple[Gate, Gate], live_server,
                                                          browser: Browser) -> None:
    """A shared gate phone: scans queued offline are warned about at logout and never synced under
    the next person's login."""
    gate1, _ = two_gates
    page = offline_scan_page(browser, live_server.url, gate1)
    scan_person(page, cw.li.document_number())
    expect(page.locator("#queue-count")).to_have_text("1")
    page.route("**/scans/batch", lambda route: route.abort())  # the sync cannot get through yet
    page.context.set_offline(False)
    messages: list[str] = []

    def answer(dialog: Any) -> None:
        messages.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", answer)
    page.click("#logout-form button")
    expect(page.locator(".who")).to_be_visible()  # still logged in: the warning was declined
    assert messages and "1 条离线记录尚未同步" in messages[0]
    page.remove_listener("dialog", answer)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#logout-form button")
    expect(page.locator("#id_username")).to_be_visible()
    # Someone else logs in on the same phone: the queue is not theirs and is not sent.
    staff2 = User.objects.get(username="staff2")
    staff2.scope_gate = gate1
    staff2.save()
    page.unroute("**/scans/batch")
    login(page, live_server.url, "staff2")
    page.goto(f"{live_server.url}/gates/{gate1.pk}/scan")
    expect(page.locator("#queue-count")).to_have_text("0")
    page.wait_for_timeout(500)
    assert Scan.objects.count() == 0
    page.context.close()


def test_a_double_tap_records_one_scan_and_a_bad_field_is_said_in_chinese(
        cw: World, two_gates: tuple[Gate, Gate], live_server, browser: Browser) -> None:
    gate1, _ = two_gates
    page = scan_page(browser, live_server.url, gate1)
    scan_person(page, cw.zhang.document_number(), double_tap=True)  # a double tap in the rain
    expect(page.locator("#verdict-note")).to_contain_text("已登记")
    page.wait_for_timeout(500)
    assert Scan.objects.filter(person=cw.zhang).count() == 1
    # A temperature the field refuses: the last person's verdict goes, the reason is said in Chinese.
    page.fill("#scan-form input[name=id_number]", cw.li.document_number())
    page.fill("#scan-form input[name=temperature]", "3.65")
    page.click("#scan-submit")
    expect(page.locator("#scan-error")).to_contain_text("体温须在 30 到 45 之间")
    expect(page.locator("#verdict")).to_be_hidden()
    assert not Scan.objects.filter(person=cw.li).exists()
    # An empty pass is not a scan.
    page.click(".tab[data-subject=pass]")
    page.click("#scan-submit")
    expect(page.locator("#scan-error")).to_contain_text("请扫描或粘贴防区通行证")
    assert Scan.objects.filter(subject="pass").count() == 0
    # The pass printed for the first person fits a phone, QR code and all.
    page.goto(f"{live_server.url}/gates/passes/{ZonePass.objects.get().code}/")
    expect(page.locator("#zone-pass svg")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = page.locator("#zone-pass svg").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    page.context.close()
