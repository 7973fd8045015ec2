"""Sampling through the API: tubes, people by ID or id, nonces, duplicates, alerts, bad input."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from lianfang.control.models import Case
from lianfang.masstesting.models import Sample, Tube
from tests.conftest import make_id
from tests.masstesting.conftest import MT


def nonce() -> str:
    return uuid.uuid4().hex


def open_tube(mt: MT, barcode: str, persona: str = "volunteer", **extra: object) -> tuple[int, dict]:
    return mt.api(persona, "/tubes", {"barcode": barcode, "site_id": mt.site.pk, "lane_id": mt.general.pk, **extra})


def test_tube_fills_by_id_and_search_and_closes_at_pool_size(mt: MT) -> None:
    status, tube = open_tube(mt, "T0001", pool_size=5)
    assert status == 201 and tube["pool_size"] == 5
    status, out = mt.api("volunteer", "/samples", {"nonce": nonce(), "tube": "t0001",
                                                   "doc_number": make_id("330114", "19750304", "211")})
    assert status == 200 and out["ok"] and out["name"] == "张建伟" and out["tube_count"] == 1, out
    assert "*" in out["doc_masked"]
    status, hits = mt.api("volunteer", "/persons?q=wjg", {}, method="get")
    assert [h["name"] for h in hits] == ["王建国"]
    for pid in (hits[0]["id"], mt.w.li.pk):
        status, out = mt.api("volunteer", "/samples", {"nonce": nonce(), "tube": "T0001", "person_id": pid,
                                                       "entered_by": "search"})
        assert out["ok"], out
    assert Tube.objects.get(barcode="T0001").count == 3



def test_a_retried_nonce_records_once_and_a_reused_nonce_is_refused(mt: MT) -> None:
    open_tube(mt, "T0002")
    n = nonce()
    item = {"nonce": n, "tube": "T0002", "person_id": mt.w.zhang.pk}
    first = mt.api("volunteer", "/samples", item)[1]
    again = mt.api("volunteer", "/samples", item)[1]
    assert first["created"] and again["ok"] and not again["created"] and again["sample_id"] == first["sample_id"]
    assert Sample.objects.count() == 1 and Tube.objects.get(barcode="T0002").count == 1
    other = mt.api("volunteer", "/samples", {**item, "person_id": mt.w.wang.pk})[1]
    assert not other["ok"] and other["error_code"] == "nonce_reused"
    # A device's queue replayed in full: nothing new.
    batch = {"samples": [item, {"nonce": nonce(), "tube": "T0002", "person_id": mt.w.wang.pk}]}
    res = mt.api("volunteer", "/samples/batch", batch)[1]["results"]
    assert [r["created"] for r in res] == [False, True]
    res = mt.api("volunteer", "/samples/batch", batch)[1]["results"]
    assert [r["created"] for r in res] == [False, False]
    assert Sample.objects.count() == 2


def test_sampled_twice_in_a_round_is_flagged(mt: MT) -> None:
    open_tube(mt, "T0003")
    open_tube(mt, "T0004")
    mt.api("volunteer", "/samples", {"nonce": nonce(), "tube": "T0003", "person_id": mt.w.zhang.pk})
    out = mt.api("volunteer", "/samples", {"nonce": nonce(), "tube": "T0004", "person_id": mt.w.zhang.pk})[1]
    assert out["ok"] and out["duplicate"] and out["duplicate_of"] == "T0003"
    assert "重复采样" in out["warnings"][0]
    assert Sample.objects.filter(person=mt.w.zhang, first=True).count() == 1
    assert Sample.objects.filter(person=mt.w.zhang, duplicate=True).count() == 1


def test_the_same_person_twice_in_one_tube_is_refused(mt: MT) -> None:
    # A double tap or the same ID scanned again: the tube holds their swab once, and a real
    # person's place in the pool is not taken.
    open_tube(mt, "T0005", pool_size=5)
    item = {"tube": "T0005", "person_id": mt.w.zhang.pk}
    assert mt.api("volunteer", "/samples", {"nonce": nonce(), **item})[1]["ok"]
    again = mt.api("volunteer", "/samples", {"nonce": nonce(), **item})[1]
    assert not again["ok"] and again["error_code"] == "already_in_tube" and "已在试管 T0005 采样" in again["error"]
    batch = mt.api("volunteer", "/samples/batch", {"samples": [
        {"nonce": nonce(), "tube": "T0005", "person_id": mt.w.wang.pk},
        {"nonce": nonce(), "tube": "T0005", "person_id": mt.w.wang.pk}]})[1]["results"]
    assert [r["ok"] for r in batch] == [True, False]
    assert Tube.objects.get(barcode="T0005").count == Sample.objects.filter(tube__barcode="T0005").count() == 2


def test_key_person_or_yellow_code_raises_an_alert_and_needs_a_single_tube(mt: MT) -> None:
    from lianfang.control import services as control

    control.open_case(mt.w.sub, control.Subject(person=mt.w.wang), source="manual", category="yellow_code",
                      exposure_date=mt.rnd.starts_at.date())
    assert Case.objects.filter(person=mt.w.wang).exists()
    open_tube(mt, "T0004")
    out = mt.api("volunteer", "/samples", {"nonce": nonce(), "tube": "T0004", "person_id": mt.w.wang.pk})[1]
    assert not out["ok"] and out["error_code"] == "alert_single_tube" and "重点人员" in out["error"]
    out = mt.api("volunteer", "/samples", {"nonce": nonce(), "tube": "T0004", "person_id": mt.w.zhang.pk,
                                           "code_colour": "red"})[1]
    assert not out["ok"] and "红码" in out["error"]
    _status, tube = mt.api("volunteer", "/tubes", {"barcode": "S0001", "site_id": mt.site.pk, "lane_id": mt.single.pk})
    assert tube["pool_size"] == 1 and tube["kind"] == "single"
    out = mt.api("volunteer", "/samples", {"nonce": nonce(), "tube": "S0001", "person_id": mt.w.wang.pk})[1]
    assert out["ok"] and out["alert"].startswith("重点人员") and out["tube_closed"]


def test_bad_input_is_refused_clearly(mt: MT) -> None:
    from lianfang.masstesting import services

    out = mt.api("volunteer", "/samples", {"nonce": nonce(), "tube": "NOPE", "person_id": mt.w.zhang.pk})[1]
    assert out["error_code"] == "tube_unknown" and "未开管" in out["error"]
    status, body = open_tube(mt, "试管一")  # letters to Python, not to a barcode scanner
    assert status == 400 and body["code"] == "barcode_format"
    open_tube(mt, "T0006", pool_size=5)
    for when in ("1999-01-01T08:00:00+08:00", (timezone.now() + dt.timedelta(days=365)).isoformat()):
        out = mt.api("volunteer", "/samples", {"nonce": nonce(), "tube": "T0006", "person_id": mt.w.zhang.pk,
                                               "device_time": when})[1]
        assert out["error_code"] == "device_time" and "请校准手机时间" in out["error"]
    with pytest.raises(services.MassTestError) as exc:  # the same site twice (a double tap, or a typo'd plan)
        services.create_site(mt.rnd, mt.w.xinwei, name=mt.site.name)
    assert exc.value.code == "site_twin" and "本轮已有采样点" in exc.value.message
    open_tube(mt, "T0005", pool_size=5)
    out = mt.api("volunteer", "/samples", {"nonce": nonce(), "tube": "T0005", "person_id": mt.w.chen.pk})[1]
    assert out["error_code"] == "out_of_scope" and "不在本轮采样范围" in out["error"]
    out = mt.api("volunteer", "/samples", {"nonce": nonce(), "tube": "T0005", "doc_number": "123"})[1]
    assert not out["ok"] and out["error"]
    out = mt.api("volunteer", "/samples", {"nonce": nonce(), "tube": "T0005",
                                           "doc_number": make_id("330114", "20000101", "999")})[1]
    assert out["error_code"] == "person_unknown"
    status, body = mt.api("volunteer", "/tubes/T0005/close", {})
    assert status == 400 and "还没有采样" in body["message"]
    mt.api("volunteer", "/samples", {"nonce": nonce(), "tube": "T0005", "person_id": mt.w.zhang.pk})
    assert mt.api("volunteer", "/tubes/T0005/close", {})[1]["status"] == "closed"
    out = mt.api("volunteer", "/samples", {"nonce": nonce(), "tube": "T0005", "person_id": mt.w.wang.pk})[1]
    assert out["error_code"] == "tube_closed" and "已封管" in out["error"]
    status, body = open_tube(mt, "T0005")
    assert status == 400 and body["code"] == "tube_closed"
    # A barcode of another round is refused.
    other = services.create_round(mt.w.sub, None, name="第 4 轮", villages=[mt.w.xinwei], starts_at=mt.rnd.starts_at,
                                  deadline=mt.rnd.deadline)
    site2 = services.create_site(other, mt.w.xinwei, name="礼堂", staff=[mt.users["volunteer"]])
    c = mt.client("volunteer")
    r = c.post(f"/api/masstesting/rounds/{other.pk}/tubes", {"barcode": "T0005", "site_id": site2.pk},
               content_type="application/json")
    assert r.status_code == 400 and r.json()["code"] == "tube_other_round" and "跨轮次" in r.json()["message"]


def test_pool_rules_of_the_area_hold(mt: MT) -> None:
    from lianfang.masstesting import services

    services.set_rule(mt.rnd, mt.w.jiangdong, kind="household")
    services.set_rule(mt.rnd, mt.w.xinwei, kind="pool", pool_size=5, grid_id=mt.w.xinwei_grid.pk)
    open_tube(mt, "T0010", pool_size=10)
    out = mt.api("volunteer", "/samples", {"nonce": nonce(), "tube": "T0010", "person_id": mt.w.li.pk})[1]
    assert out["error_code"] == "rule_household"
    out = mt.api("volunteer", "/samples", {"nonce": nonce(), "tube": "T0010", "person_id": mt.w.zhang.pk})[1]
    assert out["error_code"] == "rule_pool_size" and "5 混 1" in out["error"]
    assert open_tube(mt, "H0001", kind="household")[0] == 201
    out = mt.api("volunteer", "/samples", {"nonce": nonce(), "tube": "H0001", "person_id": mt.w.li.pk})[1]
    assert out["ok"] and out["tube_size"] == 1 and out["tube_closed"]  # 李秀英 lives alone


def test_samplers_only_at_their_site(mt: MT) -> None:
    open_tube(mt, "T0020")
    status, body = open_tube(mt, "T0021", persona="cadre_jiangdong")
    assert status == 404
    status, body = mt.api("gate_staff", "/samples", {"nonce": nonce(), "tube": "T0020", "person_id": mt.w.zhang.pk})
    assert status == 404
    status, body = mt.api("volunteer", "/persons?q=chen", {}, method="get")
    assert body == []  # 陈国强 lives outside the round


def test_a_device_queue_opens_its_tubes_and_replays_safely(mt: MT) -> None:
    w = mt.w
    items = [{"nonce": f"q{i}", "tube": "Q0001", "person_id": pid, "pool_size": 5 if i == 0 else None}
             for i, pid in enumerate((w.zhang.pk, w.wang.pk))]
    items.append({"nonce": "q9", "tube": "Q0002", "person_id": w.li.pk})  # no size: unknown tube
    body = {"samples": items, "site_id": mt.site.pk, "lane_id": mt.student.pk}
    res = mt.api("volunteer", "/samples/batch", body)[1]["results"]
    assert [r["ok"] for r in res] == [True, True, False] and res[2]["error_code"] == "tube_unknown"
    tube = Tube.objects.get(barcode="Q0001")
    assert (tube.pool_size, tube.count, tube.lane_id, tube.site_id) == (5, 2, mt.student.pk, mt.site.pk)
    res = mt.api("volunteer", "/samples/batch", body)[1]["results"]
    assert [r["created"] for r in res] == [False, False, False]
    assert Sample.objects.count() == 2 and Tube.objects.count() == 1
    # Another site's staff cannot open tubes at this site.
    status, _ = mt.api("cadre_jiangdong", "/samples/batch", {"samples": [], "site_id": mt.site.pk})
    assert status == 404
