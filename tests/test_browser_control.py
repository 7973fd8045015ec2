"""The four fasts in a browser: a district list through every stage to release; an overdue transfer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone
from openpyxl import Workbook
from playwright.sync_api import Browser, Page, expect

from lianfang.control import services
from lianfang.control.models import Case, IsolationSite, Stage
from tests.conftest import World, login

pytestmark = pytest.mark.browser


def test_district_list_case_runs_every_stage_to_release(cw: World, live_server, browser: Browser,
                                                        tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["姓名", "证件类型", "证件号码", "手机号", "人员类别", "暴露日期", "现住址", "备注"])
    ws.append(["张建伟", "居民身份证", cw.zhang.document_number(), "", "密接", "2022-07-05", "", "同车"])
    wb.save(tmp_path / "协查名单.xlsx")
    base = live_server.url
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page: Page = context.new_page()
    login(page, base, "command")

    page.goto(base + "/cases/assist/")
    page.fill("#id_reference", "区协查〔2022〕15号")
    page.set_input_files("#id_file", str(tmp_path / "协查名单.xlsx"))
    page.click("#assist-form button")
    expect(page.locator("#assist-rows")).to_contain_text("张建伟")
    page.click("#assist-rows a:has-text('张建伟')")
    expect(page.locator("#case-stage")).to_contain_text("核查")
    expect(page.locator("#plan-table")).to_contain_text("集中隔离")

    def advance(label: str) -> None:
        page.click(f"#advance-form button:has-text('{label}')")
        expect(page.locator("#case-stage")).to_contain_text(label)

    advance("流转")  # the village comes from the register: 新围村
    advance("转运")
    page.fill("#transfer-form input[name=vehicle]", "浙A·D12345")
    page.select_option("#transfer-form select[name=destination]", label="江畔酒店")
    page.click("#transfer-form button")
    expect(page.locator(".messages")).to_contain_text("已派转运任务")

    page.goto(base + "/transfers/")
    page.click("#transfer-table button:has-text('派车')")
    page.click("#transfer-table button:has-text('已接到人')")
    page.click("#transfer-table button:has-text('已送达')")
    case = Case.objects.get(person=cw.zhang)
    assert case.stage == Stage.CONTROL and case.stays.get().site.name == "江畔酒店"

    page.goto(f"{base}/cases/{case.pk}/")
    expect(page.locator("#case-stage")).to_contain_text("管控")
    advance("解除")  # the 9th-edition plan of a 2022-07-05 exposure ended on 2022-07-15
    case.refresh_from_db()
    assert case.closed_at is not None
    assert list(case.events.filter(kind="stage").values_list("to_stage", flat=True)) == [
        "handoff", "transfer", "control", "released"]
    context.close()


def test_an_overdue_transfer_shows_as_overdue(cw: World, live_server, phone: Page) -> None:
    case, _ = services.open_case(cw.sub, services.Subject(person=cw.li), source="gate", category="close_contact",
                                 exposure_date=dt.date(2022, 7, 5))
    for stage in (Stage.HANDOFF, Stage.TRANSFER):
        case = services.advance(case, cw.users["command"], stage)
    services.create_transfer(case, cw.users["command"], pickup_place="江东村8号",
                             destination=IsolationSite.objects.get())
    Case.objects.filter(pk=case.pk).update(stage_entered_at=timezone.now() - dt.timedelta(hours=7))
    login(phone, live_server.url, "command")
    phone.goto(live_server.url + "/transfers/")
    row = phone.locator("#transfer-table tbody tr", has_text="李秀英")
    expect(row).to_have_class("overdue")
    expect(row).to_contain_text("超时")
    phone.goto(live_server.url + "/cases/")
    expect(phone.locator("#overdue-count")).to_contain_text("超时 1 人")
    expect(phone.locator("#case-table tbody tr").first).to_contain_text("李秀英")
