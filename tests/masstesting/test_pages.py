"""The pages, and who sees what: a cadre of one village never sees another village's people."""

from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import quote

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lianfang.accounts.roles import Role
from lianfang.core.models import AuditEvent
from lianfang.masstesting import services
from lianfang.masstesting.models import Exemption, HomeRequest, Round
from tests.masstesting.conftest import MT


def test_command_plans_a_round_with_dorfman_advice(mt: MT) -> None:
    c = mt.client("command")
    r = c.get("/testing/?prevalence=1")
    assert r.status_code == 200
    page = r.content.decode()
    assert "理论最优 11 混 1" in page and "Dorfman" not in page  # a cadre reads what it means, not whose formula
    r = c.get(f"/testing/advice/?prevalence=5&villages={mt.w.xinwei.pk}")
    assert "最优 5 混 1" in r.content.decode() and "所选范围名册 3 人" in r.content.decode()
    mt.w.wang.limited_mobility = True
    mt.w.wang.save()
    tomorrow_6am = (timezone.localtime() + dt.timedelta(days=1)).strftime("%Y-%m-%dT06:00")
    r = c.post("/testing/", {"name": "5月2日全员核酸", "starts_at": tomorrow_6am, "hours": "24",
                             "default_pool_size": "10", "prevalence": "0.1", "villages": [mt.w.xinwei.pk]})
    rnd = Round.objects.get(name="5月2日全员核酸")
    assert r.status_code == 302 and rnd.deadline - rnd.starts_at == dt.timedelta(hours=24)
    assert HomeRequest.objects.filter(round=rnd, person=mt.w.wang, source="register").exists()
    r = c.post(f"/testing/{rnd.pk}/", {"action": "site", "village": mt.w.xinwei.pk, "name": "新围小学",
                                        "student": "on", "elderly": "on", "staff": [mt.users["volunteer"].pk]})
    assert r.status_code == 302
    kinds = set(rnd.sites.get().lanes.values_list("kind", flat=True))
    assert kinds == {"general", "student", "elderly", "single"}
    r = c.post(f"/testing/{rnd.pk}/", {"action": "rule", "village": mt.w.xinwei.pk, "kind": "household"})
    assert rnd.rules.get().kind == "household"
    assert mt.client("cadre_xinwei").post("/testing/", {"name": "x"}).status_code == 403


def test_every_page_renders_for_its_roles(mt: MT) -> None:
    rid = mt.rnd.pk
    for persona in ("command", "cadre_xinwei", "grid_xinwei", "sampling_lead", "supervisor"):
        c = mt.client(persona)
        for path in ("/testing/", f"/testing/{rid}/", f"/testing/{rid}/coverage/", f"/testing/{rid}/results/",
                     f"/testing/{rid}/home/"):
            expected = 403 if persona == "sampling_lead" and path.endswith("/results/") else 200  # samplers: no results
            assert c.get(path).status_code == expected, (persona, path)
        # the sub-navigation offers exactly the pages the role may open
        nav = c.get(f"/testing/{rid}/").content.decode().split('id="mt-nav"')[1].split("</nav>")[0]
        for path in (f"/testing/{rid}/results/", f"/testing/{rid}/coverage/", f"/testing/{rid}/exemptions/",
                     "/testing/handover/"):
            assert (f'href="{path}"' in nav) == (c.get(path).status_code == 200), (persona, path)
    v = mt.client("volunteer")
    assert v.get(f"/testing/{rid}/sites/{mt.site.pk}/sample/?lane={mt.student.pk}").status_code == 200
    assert v.get(f"/testing/{rid}/coverage/").status_code == 403
    assert mt.client("gate_staff").get("/testing/").status_code == 403
    assert mt.client("cadre_jiangdong").get(f"/testing/{rid}/sites/{mt.site.pk}/sample/").status_code == 404


def test_a_cadre_never_sees_another_villages_people(mt: MT) -> None:
    w = mt.w
    mt.api("volunteer", "/tubes", {"barcode": "C0001", "site_id": mt.site.pk, "pool_size": 5})
    mt.api("volunteer", "/samples", {"nonce": uuid.uuid4().hex, "tube": "C0001", "person_id": w.zhang.pk})
    page = mt.client("cadre_jiangdong").get(f"/testing/{mt.rnd.pk}/coverage/").content.decode()
    assert "李秀英" in page and "王建国" not in page and "张建伟" not in page
    r = mt.client("cadre_jiangdong").get(f"/testing/{mt.rnd.pk}/coverage/?village={w.xinwei.pk}")
    assert r.status_code == 404
    rows = mt.client("cadre_jiangdong").get(f"/api/masstesting/rounds/{mt.rnd.pk}/coverage").json()
    assert [(r["label"], r["expected"], r["sampled"]) for r in rows] == [("江东村", 1, 0)]
    page = mt.client("cadre_xinwei").get(f"/testing/{mt.rnd.pk}/coverage/").content.decode()
    assert "王建国" in page and "李秀英" not in page and "张建伟" not in page.split("未检人员")[1]
    # A grid worker sees the grid only: 王建国 lives in grid 2.
    page = mt.client("grid_xinwei").get(f"/testing/{mt.rnd.pk}/coverage/").content.decode()
    assert "王建国" not in page and "赵丽" in page
    # Command: by village, and the persons outside the round (陈国强, 建设村) are not expected.
    rows = mt.client("command").get(f"/api/masstesting/rounds/{mt.rnd.pk}/coverage").json()
    assert {r["label"]: (r["expected"], r["sampled"]) for r in rows} == {"新围村": (3, 1), "江东村": (1, 0)}
    # Exempt people leave the expected count and the untested list.
    services.add_exemption(mt.rnd, w.li, mt.users["cadre_jiangdong"], "away")
    rows = mt.client("command").get(f"/api/masstesting/rounds/{mt.rnd.pk}/coverage").json()
    assert {r["label"]: r["expected"] for r in rows} == {"新围村": 3, "江东村": 0}
    # An exempt person who was sampled anyway counts in neither column.
    services.add_exemption(mt.rnd, w.zhang, mt.users["command"], "other", "临时出差")
    rows = mt.client("command").get(f"/api/masstesting/rounds/{mt.rnd.pk}/coverage?level=grid").json()
    assert sorted((r["label"], r["expected"], r["sampled"]) for r in rows) == [
        ("第1村民小组", 0, 0), ("第1村民小组", 1, 0), ("第2村民小组", 1, 0)]
    # the two 第1村民小组 are told apart by their village; villages in pinyin order (jiang < xin),
    # not by code point (新 U+65B0 < 江 U+6C5F)
    assert [(r["village"], r["label"]) for r in rows] == [
        ("江东村", "第1村民小组"), ("新围村", "第1村民小组"), ("新围村", "第2村民小组")]
    rows = mt.client("command").get(f"/api/masstesting/rounds/{mt.rnd.pk}/coverage").json()
    assert [(r["label"], r["expected"], r["sampled"]) for r in rows] == [("江东村", 0, 0), ("新围村", 2, 0)]
    rows = mt.client("command").get(f"/api/masstesting/rounds/{mt.rnd.pk}/coverage?level=household"
                                     f"&village={w.xinwei.pk}").json()
    assert sorted((r["expected"], r["sampled"]) for r in rows) == [(1, 0), (1, 0)]


def test_coverage_page_query_count_does_not_grow_with_people(mt: MT) -> None:
    c = mt.client("command")
    c.get(f"/testing/{mt.rnd.pk}/coverage/?village={mt.w.xinwei.pk}")
    with CaptureQueriesContext(connection) as ctx:
        assert c.get(f"/testing/{mt.rnd.pk}/coverage/?village={mt.w.xinwei.pk}").status_code == 200
    assert len(ctx.captured_queries) <= 20


def test_report_export_is_audited_and_masked(mt: MT) -> None:
    r = mt.client("command").post(f"/testing/{mt.rnd.pk}/coverage/report.xlsx", {"reason": "报区指挥部"})
    assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.openxml")
    ev = AuditEvent.objects.get(action="export", object_type="test_round_report")
    assert ev.detail["rows"] == 4 and ev.detail["unmasked"] is False and ev.reason == "报区指挥部"
    from io import BytesIO

    from openpyxl import load_workbook

    wb = load_workbook(BytesIO(r.content))
    docs = [row[4] for row in wb["未检人员"].iter_rows(min_row=2, values_only=True)]
    assert docs and all("*" in str(d) for d in docs)
    grid_rows = list(wb["按网格"].iter_rows(values_only=True))
    assert grid_rows[0][:2] == ("村/社区", "名称")
    assert {(row[0], row[1]) for row in grid_rows[1:-1]} == {
        ("新围村", "第1村民小组"), ("新围村", "第2村民小组"), ("江东村", "第1村民小组")}
    assert grid_rows[-1][1] == "合计"
    labels = [row[0] for row in wb["轮次"].iter_rows(values_only=True)]
    assert "试管（管）" in labels and "混管阳性待复核（人）" in labels and all(not str(k).isascii() for k in labels)
    assert mt.client("sampling_lead").post(f"/testing/{mt.rnd.pk}/coverage/report.xlsx").status_code == 403
    # From one village's page: that village's untested people only, named so in the file.
    page = mt.client("command").get(f"/testing/{mt.rnd.pk}/coverage/?village={mt.w.xinwei.pk}").content.decode()
    assert '<span id="coverage-where">新围村</span>' in page and "导出新围村报告和未检名单" in page
    r = mt.client("command").post(f"/testing/{mt.rnd.pk}/coverage/report.xlsx",
                                   {"reason": "催检", "village": mt.w.xinwei.pk})
    wb = load_workbook(BytesIO(r.content))
    assert {row[0] for row in wb["未检人员"].iter_rows(min_row=2, values_only=True)} == {"新围村"}
    assert quote("新围村") in r["Content-Disposition"]
    # Another village's, by a cadre editing the form: refused.
    assert mt.client("cadre_xinwei").post(f"/testing/{mt.rnd.pk}/coverage/report.xlsx",
                                          {"reason": "x", "village": mt.w.jiangdong.pk}).status_code == 404


def test_home_sampling_is_requested_assigned_and_done(mt: MT) -> None:
    w = mt.w
    c = mt.client("cadre_xinwei")
    r = c.post(f"/testing/{mt.rnd.pk}/home/", {"action": "request", "person": w.wang.pk, "reason": "卧床"})
    req = HomeRequest.objects.get(person=w.wang)
    assert r.status_code == 302 and req.status == "requested" and req.source == "cadre"
    assert c.post(f"/testing/{mt.rnd.pk}/home/", {"action": "request", "person": w.li.pk}).status_code == 404
    mt.client("sampling_lead").post(f"/testing/{mt.rnd.pk}/home/", {
        "action": "assign", "request": req.pk, "team": "上门一组", "assignees": [mt.users["volunteer"].pk]})
    req.refresh_from_db()
    assert req.status == "assigned" and req.team == "上门一组"
    assert mt.client("volunteer").get(f"/testing/{mt.rnd.pk}/home/{req.pk}/sample/").status_code == 200
    status, tube = mt.api("volunteer", "/tubes", {"barcode": "HOME01", "home": True, "pool_size": 1})
    assert status == 201 and tube["home"]
    out = mt.api("volunteer", "/samples", {"nonce": uuid.uuid4().hex, "tube": "HOME01", "person_id": w.wang.pk,
                                           "entered_by": "home"})[1]
    assert out["ok"], out
    req.refresh_from_db()
    assert req.status == "done" and req.done_at


def test_home_dispatch_offers_a_cadre_only_staff_of_their_villages(mt: MT) -> None:
    """A cadre sends their own village's volunteers and the sub-district's teams, never another
    village's staff; an assignee from another village posted by hand is not taken."""
    from lianfang.accounts.models import User

    w = mt.w
    other = User.objects.create(username="volunteer_jiangdong", role=Role.VOLUNTEER, scope_subdistrict=w.sub,
                                scope_village=w.jiangdong)
    roaming = User.objects.create(username="sampling_team_sub", role=Role.SAMPLING_LEAD, scope_subdistrict=w.sub)
    req = services.request_home(mt.rnd, w.wang, mt.users["cadre_xinwei"], reason="卧床")
    c = mt.client("cadre_xinwei")
    page = c.get(f"/testing/{mt.rnd.pk}/home/").content.decode()
    assert "volunteer_jiangdong" not in page and "sampling_team_sub" in page
    assert mt.users["volunteer"].username in page
    c.post(f"/testing/{mt.rnd.pk}/home/", {"action": "assign", "request": req.pk, "team": "上门一组",
                                           "assignees": [other.pk, roaming.pk, mt.users["volunteer"].pk]})
    assert set(req.assignees.values_list("username", flat=True)) == {"sampling_team_sub", mt.users["volunteer"].username}
    command_page = mt.client("command").get(f"/testing/{mt.rnd.pk}/home/").content.decode()
    assert "volunteer_jiangdong" in command_page


def test_exemptions_and_bags_and_handover(mt: MT) -> None:
    w = mt.w
    c = mt.client("cadre_xinwei")
    assert c.post(f"/testing/{mt.rnd.pk}/exemptions/", {"person": w.wang.pk, "reason": "infant"}).status_code == 302
    assert Exemption.objects.filter(person=w.wang).exists()
    assert c.post(f"/testing/{mt.rnd.pk}/exemptions/", {"person": w.li.pk, "reason": "away"}).status_code == 404
    assert "王建国" in c.get(f"/testing/{mt.rnd.pk}/exemptions/").content.decode()
    for i, pid in enumerate((w.zhang.pk, w.li.pk)):
        mt.api("volunteer", "/tubes", {"barcode": f"B{i}", "site_id": mt.site.pk, "pool_size": 5})
        mt.api("volunteer", "/samples", {"nonce": uuid.uuid4().hex, "tube": f"B{i}", "person_id": pid})
        mt.api("volunteer", f"/tubes/B{i}/close", {})
    status, bag = mt.api("volunteer", "/bags", {"code": "BAG-1", "site_id": mt.site.pk})
    assert status == 201 and bag["tubes"] == 2
    status, body = mt.api("volunteer", "/bags", {"code": "BAG-2", "site_id": mt.site.pk})
    assert status == 400 and "没有待装袋" in body["message"]
    v = mt.client("volunteer")
    r = v.post("/testing/handover/", {"code": "bag-1", "lab": "迪安检验"}, follow=True)
    assert "已交接给 迪安检验" in r.content.decode()
    r = v.post("/testing/handover/", {"code": "BAG-1", "lab": "迪安检验"}, follow=True)
    assert "无需重复交接" in r.content.decode()
    r = v.post("/testing/handover/", {"code": "BAG-9", "lab": "迪安检验"}, follow=True)
    assert "不存在" in r.content.decode()


def test_results_per_person_follow_the_scope(mt: MT) -> None:
    w = mt.w
    mt.api("volunteer", "/tubes", {"barcode": "L0001", "site_id": mt.site.pk, "pool_size": 5})
    for pid in (w.zhang.pk, w.li.pk):
        mt.api("volunteer", "/samples", {"nonce": uuid.uuid4().hex, "tube": "L0001", "person_id": pid})
    page = mt.client("cadre_xinwei").get(f"/testing/{mt.rnd.pk}/results/?q=张建伟").content.decode()
    assert "试管 L0001" in page and "待出结果" in page
    page = mt.client("cadre_xinwei").get(f"/testing/{mt.rnd.pk}/results/?q=李秀英").content.decode()
    assert "试管 L0001" not in page and "本辖区没有找到" in page
    page = mt.client("cadre_jiangdong").get(f"/testing/{mt.rnd.pk}/results/?q=lxy").content.decode()
    assert "李秀英" in page and "试管 L0001" in page
    page = mt.client("cadre_xinwei").get(f"/testing/{mt.rnd.pk}/results/?q=wjg").content.decode()
    assert "本轮未采样" in page


def test_round_page_query_count_does_not_grow_with_sites(mt: MT) -> None:
    c = mt.client("sampling_lead")
    c.get(f"/testing/{mt.rnd.pk}/")
    with CaptureQueriesContext(connection) as ctx:
        c.get(f"/testing/{mt.rnd.pk}/")
    before = len(ctx.captured_queries)
    for i in range(5):
        services.create_site(mt.rnd, mt.w.xinwei, name=f"第{i}采样点", staff=[mt.users["volunteer"]])
    with CaptureQueriesContext(connection) as ctx:
        page = c.get(f"/testing/{mt.rnd.pk}/").content.decode()
    assert "第4采样点" in page and len(ctx.captured_queries) == before


def test_people_in_isolation_are_exempted(mt: MT) -> None:
    from lianfang.control import services as control
    from lianfang.control.models import IsolationSite, IsolationStay

    case, _ = control.open_case(mt.w.sub, control.Subject(person=mt.w.wang), source="manual", category="close_contact",
                                exposure_date=mt.rnd.starts_at.date())
    IsolationStay.objects.create(case=case, site=IsolationSite.objects.get())
    c = mt.client("command")
    r = c.post(f"/testing/{mt.rnd.pk}/exemptions/", {"action": "isolated"}, follow=True)
    assert "已登记集中隔离中的 1 人免检" in r.content.decode()
    assert Exemption.objects.get(round=mt.rnd).reason == "isolated"
    r = c.post(f"/testing/{mt.rnd.pk}/exemptions/", {"action": "isolated"}, follow=True)
    assert "0 人" in r.content.decode() and Exemption.objects.count() == 1
    assert mt.client("cadre_xinwei").post(f"/testing/{mt.rnd.pk}/exemptions/", {"action": "isolated"}).status_code == 403


def test_coverage_figures_refresh_alone(mt: MT) -> None:
    c = mt.client("cadre_xinwei")
    r = c.get(f"/testing/{mt.rnd.pk}/coverage/", headers={"HX-Request": "true"})
    body = r.content.decode()
    assert 'id="coverage-rate"' in body and "未检人员" not in body


def test_site_plan_against_the_2022_sizing(mt: MT) -> None:
    plan = {p.village.name: p for p in services.site_plan(mt.rnd)}
    assert (plan["新围村"].people, plan["新围村"].sites, plan["新围村"].advised_sites) == (3, 1, 1)
    assert plan["江东村"].sites == 0 and plan["江东村"].short
    assert "各村/社区采样力量" in mt.client("command").get(f"/testing/{mt.rnd.pk}/").content.decode()


def test_admin_lists_the_round(mt: MT) -> None:
    c = mt.client("command")
    mt.users["command"].is_staff = mt.users["command"].is_superuser = True
    mt.users["command"].save()
    for path in ("round", "site", "tube", "bag", "homerequest"):
        assert c.get(f"/admin/masstesting/{path}/").status_code == 200, path


def test_a_round_with_odd_dates_twice_sent_or_overlapping_is_caught(mt: MT) -> None:
    c = mt.client("command")
    form = {"name": "第四轮", "hours": "24", "default_pool_size": "10", "prevalence": "0.1", "villages": [mt.w.xinwei.pk]}
    for starts in ("2019-01-01T08:00", (timezone.localtime() + dt.timedelta(days=400)).strftime("%Y-%m-%dT08:00")):
        page = c.post("/testing/", {**form, "starts_at": starts}, follow=True).content.decode()
        assert "请核对年份和日期" in page and starts[:10] in page
    page = c.post("/testing/", {**form, "prevalence": "-5", "starts_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")},
                  follow=True).content.decode()
    assert "估计阳性率须在 0 到 100" in page and not Round.objects.filter(name="第四轮").exists()
    now = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    first = c.post("/testing/", {**form, "starts_at": now}, follow=True).content.decode()
    rnd = Round.objects.get(name="第四轮")
    # 新围村 is in the fixture's open round too: said, as the two would split its people.
    assert "注意：1 个村/社区同时在另一进行中的轮次里：新围村（第 3 轮全员核酸）" in first
    again = c.post("/testing/", {**form, "starts_at": now})  # a double tap: the round made, not a second one
    assert again.status_code == 302 and again["Location"] == f"/testing/{rnd.pk}/"
    assert Round.objects.filter(name="第四轮").count() == 1
    Round.objects.filter(pk=rnd.pk).update(created_at=timezone.now() - dt.timedelta(minutes=5))
    later = c.post("/testing/", {**form, "starts_at": now}, follow=True).content.decode()
    assert "已有同名的进行中轮次「第四轮」" in later and Round.objects.filter(name="第四轮").count() == 1


def test_an_empty_search_and_a_closed_round_are_said_up_front(mt: MT) -> None:
    cadre = mt.client("cadre_xinwei")
    for path in (f"/testing/{mt.rnd.pk}/exemptions/?q=查无此人", f"/testing/{mt.rnd.pk}/home/?q=查无此人"):
        assert "本轮您的范围内没有找到“查无此人”" in cadre.get(path).content.decode(), path
    sample = f"/testing/{mt.rnd.pk}/sites/{mt.site.pk}/sample/"
    assert 'id="round-closed"' not in mt.client("volunteer").get(sample).content.decode()
    services.close_round(mt.rnd)
    page = mt.client("volunteer").get(sample).content.decode()
    assert "已结束，不能再录入采样" in page and '<div class="card" id="tube-box" hidden>' in page
