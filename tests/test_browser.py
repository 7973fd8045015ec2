"""Pages as a person uses them: headless Debian Chromium driven by Playwright, on a phone viewport."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from lianfang.core import sample_files
from lianfang.core.models import AuditEvent, Person
from tests.conftest import World, login

pytestmark = pytest.mark.browser
def test_cadre_finds_by_initials_reveals_audited_and_is_refused_other_village(
        world: World, live_server, phone: Page) -> None:
    base = live_server.url
    login(phone, base, "cadre_xinwei")
    phone.click("text=人员")
    phone.fill("#id_q", "zjw")
    phone.click("button:has-text('查询')")
    row = phone.locator("#person-table tbody tr", has_text="张建伟")
    expect(row).to_have_count(1)
    number = world.zhang.document_number()
    expect(row).to_contain_text(world.zhang.doc_masked)
    assert number not in phone.content()

    row.locator("a", has_text="张建伟").click()
    expect(phone.locator("#doc-value")).to_have_text(world.zhang.doc_masked)
    phone.fill("#reveal-form input[name=reason]", "核酸采样登记核对")
    phone.click("#reveal-form button")
    expect(phone.locator("#revealed-value")).to_have_text(number)
    event = AuditEvent.objects.get(action="reveal")
    assert event.user == world.users["cadre_xinwei"] and event.object_id == str(world.zhang.pk)
    assert event.reason == "核酸采样登记核对"

    response = phone.goto(f"{base}/people/{world.li.pk}/")
    assert response is not None and response.status == 404
    expect(phone.locator("#refused")).to_contain_text("不在您的管辖范围内")
    assert "李秀英" not in phone.content()


def test_import_shows_the_failing_row_then_imports_the_fixed_file(
        world: World, live_server, phone: Page, tmp_path: Path) -> None:
    data = list(sample_files.rows(120))
    good_id = data[72][9]
    data[72][9] = sample_files.break_check_digit(good_id)  # spreadsheet row 74
    bad = sample_files.write_xlsx(tmp_path / "名单.xlsx", data)
    login(phone, live_server.url, "cadre_xinwei")
    phone.goto(live_server.url + "/imports/")
    phone.set_input_files("#id_file", str(bad))
    phone.click("#import-form button")
    expect(phone.locator("#job-status")).to_have_text("未导入")
    expect(phone.locator("#error-table")).to_contain_text("第 74 行")
    expect(phone.locator("#error-table")).to_contain_text("校验位")
    assert Person.objects.filter(household__code__startswith="T").count() == 0

    data[72][9] = good_id
    sample_files.write_xlsx(bad, data)
    phone.goto(live_server.url + "/imports/")
    phone.set_input_files("#id_file", str(bad))
    phone.click("#import-form button")
    expect(phone.locator("#job-status")).to_have_text("已完成")
    expect(phone.locator(".ok-box")).to_contain_text("已导入 120 人")
    assert Person.objects.filter(household__code__startswith="T").count() == 120


def test_map_draws_the_register(world: World, live_server, browser: Browser) -> None:
    world.xinwei.geometry = {"type": "Polygon", "coordinates": [[[120.5, 30.3], [120.51, 30.3], [120.51, 30.31],
                                                                 [120.5, 30.31], [120.5, 30.3]]]}
    world.xinwei.save()
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    login(page, live_server.url, "command")
    page.goto(live_server.url + "/map/")
    expect(page.locator("#map")).to_have_attribute("data-loaded", "1")
    expect(page.locator(".leaflet-overlay-pane canvas").first).to_be_visible()
    expect(page.locator(".legend")).to_contain_text("卡口")  # every kind of mark on the map is in the legend
    expect(page.locator(".legend")).to_contain_text("防区边界")
    expect(page.locator(".leaflet-control-attribution")).to_contain_text("地图库")
    context.close()


def test_the_command_centres_top_bar_is_one_row_on_a_phone(world: World, live_server, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    login(page, live_server.url, "command")  # the most links of any role
    links = page.locator("header .nav a")
    tops = {round(links.nth(i).bounding_box()["y"]) for i in range(links.count())}  # type: ignore[index]
    assert len(tops) == 1, tops  # one row (it scrolls sideways), not three rows of red
    assert page.evaluate("document.querySelector('header').getBoundingClientRect().height") < 110
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the page itself does not scroll sideways
    context.close()


def test_home_shows_tree_and_chart(world: World, live_server, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    login(page, live_server.url, "command")
    expect(page.locator("details.tree")).to_have_count(3)
    expect(page.locator("#village-chart canvas")).to_have_count(1)
    context.close()
