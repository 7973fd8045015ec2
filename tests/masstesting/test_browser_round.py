"""A round in a browser: the student green lane, a home visit, a result file with one positive pool,
the pool's members awaiting re-check with retest tasks and cases, and who is still untested."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, FilePayload, Page, expect

from lianfang.control.models import Case
from lianfang.masstesting import services
from lianfang.masstesting.models import HomeRequest, Retest, Sample, Tube
from tests.conftest import add_person, login, make_id
from tests.masstesting.conftest import MT

pytestmark = pytest.mark.browser


def new_phone(browser: Browser) -> Page:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN")
    return ctx.new_page()


def test_a_round_end_to_end(mt: MT, live_server, browser: Browser) -> None:
    w = mt.w
    xiaoming = add_person(w.xinwei, "张小明", make_id("330114", "20100506", "215"), None, household=w.zhang.household,
                          relation="child", student=True)
    req = services.request_home(mt.rnd, w.wang, mt.users["cadre_xinwei"], reason="卧床")
    services.assign_home(req, "上门一组", [mt.users["volunteer"]])

    # The green lane: a tube, one person by ID number, one found by pinyin initials, closed short.
    phone = new_phone(browser)
    login(phone, live_server.url, "volunteer")
    phone.goto(f"{live_server.url}/testing/{mt.rnd.pk}/sites/{mt.site.pk}/sample/?lane={mt.student.pk}")
    expect(phone.locator("#lane-name")).to_have_text("学生绿色通道")
    expect(phone.locator("#sample-page[data-ready='1']")).to_have_count(1)
    small = phone.evaluate("""() => [...document.querySelectorAll('header a, #sample-page a, #sample-page button')]
        .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < 44)
        .map(e => e.textContent.trim())""")
    assert small == [], small  # every link and button a wet thumb can hit
    phone.fill("#tube-input", "G0001")
    phone.press("#tube-input", "Enter")
    expect(phone.locator("#tube-status")).to_contain_text("0/10")
    phone.fill("#person-input", make_id("330114", "20100506", "215"))
    phone.press("#person-input", "Enter")
    expect(phone.locator("#result-box")).to_contain_text("张小明")
    expect(phone.locator("#tube-count")).to_have_text("1/10")
    phone.fill("#person-input", "zjw")
    phone.press("#person-input", "Enter")
    phone.locator("#hits button.hit", has_text="张建伟").click()
    expect(phone.locator("#tube-count")).to_have_text("2/10")
    # The same person again (a double tap): refused, the tube keeps its count.
    phone.fill("#person-input", "zjw")
    phone.press("#person-input", "Enter")
    phone.locator("#hits button.hit", has_text="张建伟").click()
    expect(phone.locator("#result-box")).to_contain_text("张建伟已在试管")
    expect(phone.locator("#tube-count")).to_have_text("2/10")
    # A yellow code seen on the phone: refused from the pool on the spot.
    phone.fill("#person-input", "wjg")
    phone.select_option("#code-colour", "yellow")
    phone.press("#person-input", "Enter")
    phone.locator("#hits button.hit", has_text="王建国").click()
    expect(phone.locator("#result-box")).to_contain_text("黄码")
    expect(phone.locator("#result-box")).to_contain_text("单人单管")
    # Tapped again with the colour box back at its default: still his yellow code, still refused.
    phone.evaluate("document.getElementById('result-box').textContent = ''")
    phone.locator("#hits button.hit", has_text="王建国").click()
    expect(phone.locator("#result-box")).to_contain_text("黄码")
    expect(phone.locator("#tube-count")).to_have_text("2/10")  # 张小明 and 张建伟, once
    expect(phone.locator("#close-tube")).to_have_text("封管（2/10 人，未满）")
    # A new tube scanned while this one is half full: asked first; "no" keeps filling this one.
    phone.once("dialog", lambda d: d.dismiss())
    phone.fill("#tube-input", "G0009")
    phone.press("#tube-input", "Enter")
    expect(phone.locator("#tube-code")).to_have_text("G0001")
    phone.once("dialog", lambda d: d.accept())  # "yes": this one is closed, then the new one opened
    phone.fill("#tube-input", "G0009")
    phone.press("#tube-input", "Enter")
    expect(phone.locator("#tube-code")).to_have_text("G0009")
    expect(phone.locator("#bag-waiting")).to_have_text("1")
    assert Tube.objects.get(barcode="G0001").status == Tube.Status.CLOSED
    phone.fill("#bag-input", "BAG-0001")
    phone.press("#bag-input", "Enter")
    expect(phone.locator("#result-box")).to_contain_text("已装 1 管")
    assert Sample.objects.filter(tube__barcode="G0001").count() == 2

    # The home visit.
    phone.goto(f"{live_server.url}/testing/{mt.rnd.pk}/home/")
    phone.locator(f"#home-{req.pk} a", has_text="上门采样").click()
    expect(phone.locator("#sample-page[data-ready='1']")).to_have_count(1)
    phone.select_option("#tube-size", "1")
    phone.fill("#tube-input", "HOME01")
    phone.press("#tube-input", "Enter")
    expect(phone.locator("#home-person")).to_be_visible()
    phone.click("#home-person")
    expect(phone.locator("#result-box")).to_contain_text("王建国")
    expect(phone.locator("#result-box")).to_contain_text("已封管")
    phone.goto(f"{live_server.url}/testing/{mt.rnd.pk}/home/?status=done")
    expect(phone.locator("#home-table")).to_contain_text("已采样")
    assert HomeRequest.objects.get(pk=req.pk).status == "done"
    # Logged out meanwhile (another tab, an expired session): said in Chinese, nothing recorded.
    phone.goto(f"{live_server.url}/testing/{mt.rnd.pk}/sites/{mt.site.pk}/sample/")
    expect(phone.locator("#sample-page[data-ready='1']")).to_have_count(1)
    phone.context.clear_cookies(name="sessionid")  # the CSRF cookie stays, as after logging out elsewhere
    phone.fill("#tube-input", "G0010")
    phone.press("#tube-input", "Enter")
    expect(phone.locator("#result-box")).to_contain_text("登录已过期：请重新登录后再录入（本条未记录）")
    assert not Tube.objects.filter(barcode="G0010").exists()
    phone.context.close()

    # The lab's file: the green-lane pool is positive.
    desk = browser.new_context(viewport={"width": 1200, "height": 900}, locale="zh-CN").new_page()
    login(desk, live_server.url, "command")
    desk.goto(f"{live_server.url}/testing/{mt.rnd.pk}/results/")
    csv = "试管条码,检测结果,检测时间\nG0001,阳性,2022-05-01 14:00\nHOME01,阴性,2022-05-01 14:00\n"
    payload: FilePayload = {"name": "results.csv", "mimeType": "text/csv", "buffer": csv.encode()}
    desk.set_input_files("#results-form input[type=file]", files=[payload])
    desk.click("#results-form button")
    expect(desk.locator("#job-message")).to_contain_text("待复核 2 人")
    desk.goto(f"{live_server.url}/testing/{mt.rnd.pk}/results/")
    expect(desk.locator("#retest-table")).to_contain_text("张建伟")
    expect(desk.locator("#retest-table")).to_contain_text("张小明")
    expect(desk.locator("#pending-count")).to_have_text("2")
    assert set(Retest.objects.filter(status="pending").values_list("person__name", flat=True)) == {"张建伟", "张小明"}
    assert set(Case.objects.filter(closed_at__isnull=True).values_list("person__name", flat=True)) == {"张建伟", "张小明"}

    # Who is still untested: 赵丽 of 新围村 (李秀英 of 江东村 is not this cadre's).
    desk.context.close()
    cadre = browser.new_context(viewport={"width": 1200, "height": 900}, locale="zh-CN").new_page()
    login(cadre, live_server.url, "cadre_xinwei")
    cadre.goto(f"{live_server.url}/testing/{mt.rnd.pk}/coverage/")
    expect(cadre.locator("#untested-table")).to_contain_text("赵丽")
    expect(cadre.locator("#untested-count")).to_have_text("1")
    expect(cadre.locator("#coverage-rate")).to_have_text("75.0%")
    assert "李秀英" not in cadre.locator("#untested-table").inner_text()
    cadre.context.close()
    assert xiaoming.pk
