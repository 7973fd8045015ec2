"""A roll-call round in a browser: a member answers by link, a helper by proxy, a leader pastes."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from lianfang.checkins import services
from lianfang.checkins.models import CheckinGroup, GroupMember, Reply
from tests.conftest import World, login

pytestmark = pytest.mark.browser


def test_a_round_end_to_end(cw: World, live_server, browser: Browser) -> None:
    g = CheckinGroup.objects.create(subdistrict=cw.sub, village=cw.xinwei, grid=cw.xinwei_grid, name="新围1组接龙群")
    zhao = cw.zhang.household.members.exclude(pk=cw.zhang.pk).get()  # type: ignore[union-attr]
    zhang = GroupMember.objects.create(group=g, person=cw.zhang, household=cw.zhang.household, display_name="张建伟",
                                       house="45号")
    wang = GroupMember.objects.create(group=g, person=cw.wang, display_name="王建国", house="12号", helper=zhao)
    rnd = services.open_round(g)
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()

    phone.goto(live_server.url + "/r/" + services.member_link(zhang, rnd) + "/")
    phone.fill("#reply-form input[name=at_home]", "3")
    phone.click("#reply-form button[value=ok]")
    expect(phone.locator("#reply-done")).to_contain_text("无异常")

    phone.goto(live_server.url + "/r/" + services.member_link(wang, rnd, proxy=True) + "/")
    expect(phone.locator("#reply-page")).to_contain_text("由帮扶人 赵丽 代答")
    phone.fill("#reply-form input[name=text]", "停车场内有辆外地小货车，司机一直没下来")
    phone.click("#reply-form button[value=other]")
    expect(phone.locator("#reply-done")).to_contain_text("其他")
    assert dict(Reply.objects.values_list("member__display_name", "via")) == {"张建伟": "link", "王建国": "proxy"}

    leader = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    login(leader, live_server.url, "grid_xinwei")
    leader.goto(f"{live_server.url}/checkins/groups/{g.pk}/")
    leader.fill("#paste-form textarea", "#接龙\n今日有无外来人员\n\n1. 张建伟 45号 无\n2. 王建国 12号 无\n3. 李四 无\n")
    leader.click("#paste-form button")
    expect(leader.locator(".messages")).to_contain_text("识别 3 条")
    expect(leader.locator(".messages")).to_contain_text("已有 2 条")  # their own answers stand
    expect(leader.locator("#pending")).to_contain_text("李四")
    assert Reply.objects.count() == 2
    leader.goto(live_server.url + "/checkins/")
    expect(leader.locator("#anomaly-table")).to_contain_text("外地小货车")
    leader.context.close()
    phone.context.close()
