"""What a review found: scoped counts, no names for outsiders, re-checks that escalate or must be
swabbed again, coverage after a move, and input that used to crash."""

from __future__ import annotations

import uuid

from lianfang.control.models import Case
from lianfang.masstesting import services
from lianfang.masstesting.models import Retest
from tests.masstesting.conftest import MT
from tests.masstesting.test_results import sample, upload


def test_counts_on_the_results_page_are_the_users_own(mt: MT) -> None:
    sample(mt, "P0001", mt.w.zhang.pk, mt.w.wang.pk)  # 新围村
    upload(mt, "试管条码,检测结果,检测时间\nP0001,阳性,2022-05-01 10:00\n")
    mine = mt.client("cadre_xinwei").get(f"/testing/{mt.rnd.pk}/results/").context["stats"]
    theirs = mt.client("cadre_jiangdong").get(f"/testing/{mt.rnd.pk}/results/").context["stats"]
    assert mine["positive"] == 1 and mine["pending"] == 2
    assert theirs["positive"] == 0 and theirs["pending"] == 0
    assert mt.client("sampling_lead").get(f"/testing/{mt.rnd.pk}/results/").status_code == 403


def test_a_person_outside_the_round_is_refused_without_their_name(mt: MT) -> None:
    mt.api("volunteer", "/tubes", {"barcode": "C0001", "site_id": mt.site.pk, "pool_size": 5})
    _s, out = mt.api("volunteer", "/samples", {"nonce": uuid.uuid4().hex, "tube": "C0001", "person_id": mt.w.chen.pk})
    assert out["error_code"] == "out_of_scope" and mt.w.chen.name not in out["error"]


def test_positive_recheck_escalates_the_case_and_an_invalid_one_waits_for_a_new_swab(mt: MT) -> None:
    sample(mt, "P0001", mt.w.zhang.pk, mt.w.wang.pk)
    upload(mt, "试管条码,检测结果,检测时间\nP0001,阳性,2022-05-01 10:00\n")
    assert Case.objects.get(person=mt.w.zhang).category == "yellow_code"
    sample(mt, "S0001", mt.w.zhang.pk, lane="single")
    sample(mt, "S0002", mt.w.wang.pk, lane="single")
    _s, job = upload(mt, "试管条码,检测结果,检测时间\nS0001,阳性,2022-05-02 10:00\nS0002,无效,2022-05-02 10:00\n")
    assert job["status"] == "done", job
    case = Case.objects.get(person=mt.w.zhang)
    assert case.category == "red_code" and case.plan["category"] == "red_code"
    assert case.events.filter(note__contains="升级为红码人员").exists()
    wang = Retest.objects.get(person=mt.w.wang)
    assert wang.status == Retest.Status.PENDING and wang.retest_tube is None
    sample(mt, "S0003", mt.w.wang.pk, lane="single")  # swabbed again: the re-check, not a duplicate
    wang.refresh_from_db()
    assert wang.retest_tube is not None and wang.retest_tube.barcode == "S0003"
    upload(mt, "试管条码,检测结果,检测时间\nS0003,阴性,2022-05-03 10:00\n")
    wang.refresh_from_db()
    assert wang.status == Retest.Status.NEGATIVE


def test_coverage_counts_people_where_they_live_now(mt: MT) -> None:
    sample(mt, "P0001", mt.w.zhang.pk)
    mt.w.zhang.village = mt.w.jiangdong
    mt.w.zhang.grid = None
    mt.w.zhang.household = None
    mt.w.zhang.save()
    rows = {r.label: r for r in services.coverage(mt.rnd, services.Scope((mt.w.xinwei.pk, mt.w.jiangdong.pk)))}
    assert (rows["江东村"].expected, rows["江东村"].sampled) == (2, 1)
    assert rows["新围村"].sampled == 0 and all(0 <= r.sampled <= r.expected for r in rows.values())


def test_odd_planning_input_is_refused_not_a_crash(mt: MT) -> None:
    c = mt.client("command")
    assert c.get("/testing/?prevalence=nan").status_code == 200
    r = c.post("/testing/", {"name": "第九轮", "villages": [mt.w.xinwei.pk], "starts_at": "2022-05-01T06:00",
                             "hours": "1e20"}, follow=True)
    assert r.status_code == 200 and "1 到 168 小时" in r.content.decode()
    bad = c.post(f"/testing/{mt.rnd.pk}/", {"action": "site", "village": mt.w.xinwei.pk, "name": "二号点",
                                           "opens_at": "abc", "closes_at": "22:00", "samplers": "2"}, follow=True)
    assert bad.status_code == 200 and "开放时间格式" in bad.content.decode()
    many = c.post(f"/testing/{mt.rnd.pk}/", {"action": "site", "village": mt.w.xinwei.pk, "name": "二号点",
                                            "opens_at": "06:00", "closes_at": "22:00", "samplers": "-1"}, follow=True)
    assert "采样人员数" in many.content.decode()


def test_a_result_for_an_open_or_empty_tube_is_refused(mt: MT) -> None:
    mt.api("volunteer", "/tubes", {"barcode": "E0001", "site_id": mt.site.pk, "pool_size": 10})  # opened, nobody in it
    _s, job = upload(mt, "试管条码,检测结果,检测时间\nE0001,阴性,2022-05-01 10:00\n")
    assert job["status"] != "done" and "尚未封管或没有采样记录" in str(job["errors"])
