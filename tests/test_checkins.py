"""Roll-calls: personal links, proxy and phone answers, pasted chains (idempotent, never guessing),
the board with non-responders, anomalies that end in a case, notices and questions."""

from __future__ import annotations

import pytest
from django.core import signing
from django.urls import reverse

from lianfang.checkins import services
from lianfang.checkins.models import Anomaly, CheckinGroup, GroupMember, Notice, PendingEntry, Reply
from lianfang.control.models import Case
from tests.conftest import World, add_person, make_id


@pytest.fixture
def rc(cw: World) -> World:
    """新围村 第1村民小组's chain group: 张建伟 (45号), 王建国 (12号, no smartphone, helped by 赵丽),
    and a second 张建伟 at 46号 to make a bare name ambiguous."""
    g = CheckinGroup.objects.create(subdistrict=cw.sub, village=cw.xinwei, grid=cw.xinwei_grid, name="新围1组接龙群",
                                    leader=cw.users["grid_xinwei"])
    zhao = cw.zhang.household.members.exclude(pk=cw.zhang.pk).get()  # type: ignore[union-attr]
    other_zhang = add_person(cw.xinwei, "张建伟", make_id("330114", "19880808", "311"), "13900008888",
                             grid=cw.xinwei_grid)
    cw.group = g  # type: ignore[attr-defined]
    cw.m_zhang = GroupMember.objects.create(group=g, person=cw.zhang, household=cw.zhang.household,  # type: ignore[attr-defined]
                                            display_name="张建伟", house="45号", nicknames="阿伟")
    cw.m_wang = GroupMember.objects.create(group=g, person=cw.wang, display_name="王建国", house="12号",  # type: ignore[attr-defined]
                                           helper=zhao)
    cw.m_zhang2 = GroupMember.objects.create(group=g, person=other_zhang, display_name="张建伟", house="46号")  # type: ignore[attr-defined]
    return cw


def test_a_member_answers_by_link_and_a_helper_by_proxy(rc: World) -> None:
    rnd = services.open_round(rc.group)  # type: ignore[attr-defined]
    from django.test import Client

    anon = Client()
    url = reverse("checkin_reply", args=[services.member_link(rc.m_zhang, rnd)])  # type: ignore[attr-defined]
    page = anon.get(url)
    assert page.status_code == 200 and "张建伟" in page.content.decode() and "无异常" in page.content.decode()
    anon.post(url, {"status": "ok", "at_home": "3", "nonce": "n1"})
    anon.post(url, {"status": "ok", "at_home": "3", "nonce": "n1"})  # a double tap records once
    proxy = reverse("checkin_reply", args=[services.member_link(rc.m_wang, rnd, proxy=True)])  # type: ignore[attr-defined]
    assert "代答" in anon.get(proxy).content.decode()
    anon.post(proxy, {"status": "ok", "nonce": "n2"})
    vias = dict(Reply.objects.values_list("member__display_name", "via"))
    assert vias == {"张建伟": "link", "王建国": "proxy"} and Reply.objects.count() == 2


def test_tampered_and_expired_links_are_refused(rc: World, settings) -> None:
    from django.test import Client

    rnd = services.open_round(rc.group)  # type: ignore[attr-defined]
    token = services.member_link(rc.m_zhang, rnd)  # type: ignore[attr-defined]
    r = Client().get(reverse("checkin_reply", args=[token[:-3] + "abc"]))
    assert r.status_code == 400 and "链接无效" in r.content.decode()
    old = signing.dumps({"m": rc.m_zhang.pk, "r": rnd.pk, "p": 0}, salt=services.LINK_SALT, compress=True)  # type: ignore[attr-defined]
    import time

    later = time.time() + services.LINK_MAX_AGE + 60
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(time, "time", lambda: later)
        with pytest.raises(services.CheckinError) as exc:
            services.read_link(old)
    assert exc.value.code == "link_expired"


CHAIN = """#接龙
今日有无外来人员、有无发热
例 姓名 门牌号 情况

1. 张建伟 45号 无
2.王建国 12号 无（代）
3. 张建伟 无
4. 李四 99号 无
"""


def test_a_pasted_chain_is_matched_without_guessing_and_never_recorded_twice(rc: World) -> None:
    rnd = services.open_round(rc.group)  # type: ignore[attr-defined]
    first = services.paste_chain(rnd, CHAIN, rc.users["grid_xinwei"])
    assert (first.entries, first.added) == (4, 2)
    assert {p.number for p in first.pending} == {3, 4}
    ambiguous = PendingEntry.objects.get(number=3)
    assert set(ambiguous.candidates.all()) == {rc.m_zhang, rc.m_zhang2}  # type: ignore[attr-defined]
    again = services.paste_chain(rnd, CHAIN, rc.users["grid_xinwei"])
    assert again.added == 0 and Reply.objects.count() == 2 and PendingEntry.objects.count() == 2
    longer = services.paste_chain(rnd, CHAIN + "5. 阿伟 有外地亲戚来\n", rc.users["grid_xinwei"])
    assert longer.added == 1 and Reply.objects.count() == 3
    services.settle(ambiguous, rc.m_zhang2, rc.users["grid_xinwei"])  # type: ignore[attr-defined]
    assert Reply.objects.filter(member=rc.m_zhang2).exists()  # type: ignore[attr-defined]
    # The page: nothing is chosen for the leader; confirming without a choice is refused; an entry
    # of nobody in the group is dismissed, unrecorded.
    url = reverse("checkin_group", args=[rc.group.pk])  # type: ignore[attr-defined]
    c = rc.client("grid_xinwei")
    page = c.get(url).content.decode()
    assert '<select name="member" required><option value="">请选择这是哪位成员</option>' in page
    unknown = PendingEntry.objects.get(number=4)
    replies = Reply.objects.count()
    refused = c.post(url, {"action": "settle", "pending": unknown.pk, "member": ""}, follow=True).content.decode()
    assert "请选择这条接龙是哪位成员的" in refused and Reply.objects.count() == replies
    c.post(url, {"action": "settle", "pending": unknown.pk, "member": "dismiss"})
    unknown.refresh_from_db()
    assert unknown.settled_at is not None and unknown.settled_member is None and Reply.objects.count() == replies
    assert f'name="pending" value="{unknown.pk}"' not in c.get(url).content.decode()


@pytest.mark.parametrize(("text", "code"), [
    ("今天天气不错", "not_chain"), ("#接龙\n标题\n", "empty"), ("#接龙\n标题\n\n1. " + "长" * (600 * 1024), "too_long"),
    ("#接龙\n别的群\n\n1. 甲 1号 无\n2. 乙 2号 无\n3. 丙 3号 无\n4. 丁 4号 无\n", "other_group"),
])
def test_bad_pastes_get_a_clear_message(rc: World, text: str, code: str) -> None:
    rnd = services.open_round(rc.group)  # type: ignore[attr-defined]
    with pytest.raises(services.CheckinError) as exc:
        services.paste_chain(rnd, text, rc.users["grid_xinwei"])
    assert exc.value.code == code and exc.value.message
    assert Reply.objects.count() == 0


def test_board_counts_and_non_responders_with_masked_phone_and_helper(rc: World) -> None:
    rnd = services.open_round(rc.group)  # type: ignore[attr-defined]
    services.record_reply(rnd, rc.m_wang, status="ok", via="proxy", nonce="x1")  # type: ignore[attr-defined]
    c = rc.client("cadre_xinwei")
    body = c.get(reverse("checkin_board")).content.decode()
    assert "33.3%" in body
    assert set(services.non_responders(rnd)) == {rc.m_zhang, rc.m_zhang2}  # type: ignore[attr-defined]
    page = c.get(reverse("checkin_group", args=[rc.group.pk])).content.decode()  # type: ignore[attr-defined]
    assert "138****2345" in page and "13857112345" not in page and "帮扶人 赵丽" in page
    assert rc.client("cadre_jiangdong").get(reverse("checkin_group", args=[rc.group.pk])).status_code == 404  # type: ignore[attr-defined]


def test_an_anomaly_is_followed_up_and_a_transfer_opens_a_case(rc: World) -> None:
    rnd = services.open_round(rc.group)  # type: ignore[attr-defined]
    reply, _ = services.record_reply(rnd, rc.m_zhang, status="other", text="停车场内有辆外地小货车，司机一直没下来",  # type: ignore[attr-defined]
                                     via="link", nonce="truck")
    anomaly = Anomaly.objects.get(reply=reply)
    assert {"vehicle"} <= set(reply.signals)
    c = rc.client("cadre_xinwei")
    driver = make_id("412726", "19850312", "045")
    url = reverse("checkin_anomaly", args=[anomaly.pk])
    assert '<option value="">请选择核实结果</option>' in c.get(url).content.decode()  # nothing chosen for them
    # A mistyped ID: said, and everything typed comes back, the outcome still "transferred".
    bad = c.post(url, {"outcome": "transferred", "note": "核实司机", "subject_name": "外地司机", "subject_id": "12345",
                       "category": "medium_risk_arrival"})
    page = bad.content.decode()
    assert bad.status_code == 400 and "身份证号应为18位" in page
    assert '<option value="transferred" selected>' in page and 'value="核实司机"' in page and 'value="12345"' in page
    assert '<option value="medium_risk_arrival" selected>' in page
    anomaly.refresh_from_db()
    assert anomaly.outcome == "open"
    c.post(reverse("checkin_anomaly", args=[anomaly.pk]), {"outcome": "transferred", "note": "司机来自高风险地区",
                                                            "subject_name": "刘师傅", "subject_id": driver,
                                                            "category": "high_risk_arrival"})
    anomaly.refresh_from_db()
    case = Case.objects.get(name="刘师傅")
    assert anomaly.outcome == "transferred" and anomaly.case == case and case.sources.get().kind == "rollcall"
    assert case.village == rc.xinwei
    fever, _ = services.record_reply(rnd, rc.m_zhang2, status="symptom", text="发烧38.5", via="link",  # type: ignore[attr-defined]
                                     nonce="fever")
    page = c.get(reverse("checkin_anomaly", args=[Anomaly.objects.get(reply=fever).pk])).content.decode()
    assert '<option value="fever" selected>' in page  # the category follows what was reported


def test_notices_head_the_next_round_and_questions_are_answered(rc: World) -> None:
    rnd = services.open_round(rc.group)  # type: ignore[attr-defined]
    rc.client("command").post(reverse("checkin_notices"), {"title": "外来人员报备", "body": "请提前两天报备"})
    import datetime as dt

    nxt = services.open_round(rc.group, rnd.day + dt.timedelta(days=1))  # type: ignore[attr-defined]
    assert nxt.notice == Notice.objects.get() and "【河庄街道通知】外来人员报备" in services.notice_text(nxt.notice, rc.group)  # type: ignore[attr-defined]
    q = services.ask(rc.m_zhang, "亲戚可以来探望吗？")  # type: ignore[attr-defined]
    rc.client("cadre_xinwei").post(reverse("checkin_answer", args=[q.pk]), {"answer": "暂不建议，请视频探望"})
    q.refresh_from_db()
    assert q.answered_by == rc.users["cadre_xinwei"] and q.answer == "暂不建议，请视频探望"


def test_reply_nonces_belong_to_their_member_and_an_empty_one_is_refused(rc: World) -> None:
    rnd = services.open_round(rc.group)  # type: ignore[attr-defined]
    mine, _ = services.record_reply(rnd, rc.m_zhang, status="other", text="停车场有外地车", via="link",  # type: ignore[attr-defined]
                                    nonce="same")
    theirs, created = services.record_reply(rnd, rc.m_wang, status="ok", via="link", nonce="same")  # type: ignore[attr-defined]
    assert created and theirs.pk != mine.pk and theirs.member == rc.m_wang  # type: ignore[attr-defined]
    with pytest.raises(services.CheckinError):
        services.record_reply(rnd, rc.m_wang, status="ok", via="link", nonce="")  # type: ignore[attr-defined]


def test_board_counts_members_once_whatever_the_number_of_cadres(rc: World) -> None:
    import datetime as dt

    rc.group.cadres.add(rc.users["cadre_xinwei"], rc.users["command"])  # type: ignore[attr-defined]
    rows = services.board(CheckinGroup.objects.filter(pk=rc.group.pk), dt.date.today())  # type: ignore[attr-defined]
    assert rows[0].members == 3


def test_the_command_board_lists_villages_with_numbers_and_filters_groups_by_village(rc: World) -> None:
    other = CheckinGroup.objects.create(subdistrict=rc.sub, village=rc.jiangdong, name="江东1组接龙群")
    member = GroupMember.objects.create(group=other, person=rc.li, display_name="李秀英", house="1号")
    services.record_reply(services.open_round(other), member, status="ok", via="link", nonce="j1")
    services.open_round(rc.group)  # type: ignore[attr-defined]
    c = rc.client("command")
    body = c.get(reverse("checkin_board")).content.decode()
    table = body.split('id="village-table"')[1].split("</table>")[0]
    assert f'href="?village={rc.jiangdong.pk}">江东村</a>' in table and "100.0%" in table and "0.0%" in table
    groups = body.split('id="group-table"')[1]
    assert groups.index("新围1组接龙群") < groups.index("江东1组接龙群")  # answering least first
    only = c.get(reverse("checkin_board"), {"village": rc.jiangdong.pk}).content.decode().split('id="group-table"')[1]
    assert "江东1组接龙群" in only and "新围1组接龙群" not in only
