"""The sampling page without network: a tube opened and people entered offline are kept on the
phone and synced once through the batch endpoint when the network is back."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from lianfang.masstesting.models import Sample, Tube
from tests.conftest import login, make_id
from tests.masstesting.conftest import MT

pytestmark = pytest.mark.browser


def test_offline_queue_syncs_once(mt: MT, live_server, browser: Browser) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    page = ctx.new_page()
    login(page, live_server.url, "volunteer")
    page.goto(f"{live_server.url}/testing/{mt.rnd.pk}/sites/{mt.site.pk}/sample/?lane={mt.general.pk}")
    expect(page.locator("#sample-page[data-ready='1']")).to_have_count(1)  # the page's handlers are on
    ctx.set_offline(True)
    page.select_option("#tube-size", "5")
    page.fill("#tube-input", "OFF001")
    page.press("#tube-input", "Enter")
    expect(page.locator("#result-box")).to_contain_text("已在本机开管", timeout=15000)
    page.fill("#person-input", make_id("330114", "19750304", "211"))
    page.press("#person-input", "Enter")
    expect(page.locator("#queue-count")).to_have_text("1", timeout=15000)
    assert not Sample.objects.exists()
    ctx.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#queue-count")).to_have_text("0", timeout=15000)
    expect(page.locator("#log")).to_contain_text("已补传 1 条", timeout=15000)
    tube = Tube.objects.get(barcode="OFF001")
    assert (tube.pool_size, tube.count, tube.site_id) == (5, 1, mt.site.pk)
    assert Sample.objects.get().person_id == mt.w.zhang.pk
    page.evaluate("window.dispatchEvent(new Event('online'))")  # nothing left to send twice
    assert Sample.objects.count() == 1
    ctx.close()
