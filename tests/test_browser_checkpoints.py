"""Gate planning in a browser: plan the demo zone, compare with the villages' baseline, apply."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from lianfang.checkpoints.models import Gate, GatePlan
from lianfang.core.demo import load_demo
from lianfang.core.models import Zone
from tests.conftest import login

pytestmark = pytest.mark.browser


def test_plan_the_demo_zone_compare_and_apply(transactional_db: None, live_server, browser: Browser) -> None:
    from lianfang.accounts.models import User

    load_demo(persons=300)
    command = User.objects.get(username="command")
    command.set_password("pw-for-tests-2022")
    command.save()
    zone = Zone.objects.get()
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    login(page, live_server.url, "command")
    page.goto(live_server.url + "/gates/plan/")
    page.select_option("#plan-form select[name=zone]", str(zone.pk))
    page.click("#plan-form button")
    expect(page.locator("#site-count")).not_to_have_text("0")
    plan = GatePlan.objects.get()
    expect(page.locator("#baseline-count")).to_have_text(str(plan.baseline_total))
    expect(page.locator("#reduction")).to_contain_text(str(plan.reduction_percent))
    assert plan.site_count < plan.baseline_total
    expect(page.locator("#map")).to_have_attribute("data-loaded", str(plan.site_count))
    before = Gate.objects.filter(zone=zone).count()
    page.click("#apply-form button")
    expect(page.locator(".messages")).to_contain_text(f"新建 {plan.site_count} 个卡口")
    expect(page.locator("#gate-table tbody tr")).to_have_count(before + plan.site_count)
    context.close()
