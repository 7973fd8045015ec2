"""Result files: all-or-nothing with row errors; a positive pool → 待复核, retests and cases."""

from __future__ import annotations

import io
import uuid

from openpyxl import Workbook

from lianfang.control.models import Case, CaseSource
from lianfang.core.models import AuditEvent
from lianfang.masstesting.models import Retest, TubeResult
from tests.masstesting.conftest import MT


def sample(mt: MT, barcode: str, *people: int, lane: str = "general", persona: str = "volunteer") -> None:
    lane_id = getattr(mt, lane).pk
    mt.api(persona, "/tubes", {"barcode": barcode, "site_id": mt.site.pk, "lane_id": lane_id})
    for pid in people:
        out = mt.api(persona, "/samples", {"nonce": uuid.uuid4().hex, "tube": barcode, "person_id": pid})[1]
        assert out["ok"], out
    if lane != "single":
        mt.api(persona, f"/tubes/{barcode}/close", {})


def upload(mt: MT, text: str, name: str = "results.csv", persona: str = "command") -> tuple[int, dict]:
    f = io.BytesIO(text.encode("utf-8"))
    f.name = name
    r = mt.client(persona).post(f"/api/masstesting/rounds/{mt.rnd.pk}/results", {"file": f, "lab": "迪安检验"})
    return r.status_code, r.json()


def test_a_file_with_errors_imports_nothing_and_lists_every_row(mt: MT) -> None:
    w = mt.w
    sample(mt, "P0001", w.zhang.pk, w.wang.pk)
    sample(mt, "P0002", w.li.pk)
    text = ("试管条码,检测结果,检测时间\n"
            "P0001,阴性,2022-05-01 10:00\n"
            "P0001,阴性,2022-05-01 10:00\n"
            "X9999,阴性,2022-05-01 10:00\n"
            "P0002,弱阳,2022-05-01 10:00\n"
            "P0002,阴性,昨天\n")
    status, job = upload(mt, text)
    assert status == 201 and job["status"] == "failed", job
    reasons = {(e["row"], e["reason"][:8]) for e in job["errors"]}
    assert (3, "试管条码与第 2") in reasons
    assert any(r == 4 and "未知的试管条码" in e["reason"] for e in job["errors"] for r in [e["row"]])
    assert any(e["row"] == 5 and "阴性/阳性/无效" in e["reason"] for e in job["errors"])
    assert any(e["row"] == 6 and "时间格式" in e["reason"] for e in job["errors"])
    assert TubeResult.objects.count() == 0 and Retest.objects.count() == 0


def test_positive_pool_puts_members_awaiting_recheck_with_retests_and_cases(mt: MT) -> None:
    w = mt.w
    sample(mt, "P0001", w.zhang.pk, w.wang.pk)
    sample(mt, "P0002", w.li.pk)
    _status, job = upload(mt, "试管条码,检测结果,检测时间\nP0001,阳性,2022-05-01 10:00\nP0002,阴性,2022-05-01 10:05\n")
    assert job["status"] == "done" and job["positives"] == 1 and job["negatives"] == 1, job
    assert "待复核 2 人" in job["message"]
    retests = Retest.objects.filter(source_tube__barcode="P0001")
    assert {r.person_id for r in retests} == {w.zhang.pk, w.wang.pk}
    assert all(r.status == "pending" and r.case_id for r in retests)
    assert set(Case.objects.filter(closed_at__isnull=True).values_list("person_id", "category")) == {
        (w.zhang.pk, "yellow_code"), (w.wang.pk, "yellow_code")}
    assert CaseSource.objects.filter(kind="testing").count() == 2
    assert AuditEvent.objects.filter(action="import", object_type="test_results").exists()
    # The same file again: every tube already has a result.
    _status, again = upload(mt, "试管条码,检测结果,检测时间\nP0001,阳性,2022-05-01 10:00\n")
    assert again["status"] == "failed" and "已有检测结果" in again["errors"][0]["reason"]
    # A pool member into a pool tube is refused; the single-tube retest settles it.
    mt.api("volunteer", "/tubes", {"barcode": "P0003", "site_id": mt.site.pk, "lane_id": mt.general.pk})
    out = mt.api("volunteer", "/samples", {"nonce": uuid.uuid4().hex, "tube": "P0003", "person_id": w.zhang.pk})[1]
    assert out["error_code"] == "retest_single_tube"
    sample(mt, "R0001", w.zhang.pk, lane="single")
    sample(mt, "R0002", w.wang.pk, lane="single")
    assert set(Retest.objects.values_list("status", flat=True)) == {"sampled"}
    _status, job = upload(mt, "试管条码,检测结果,检测时间\nR0001,阴性,2022-05-01 16:00\nR0002,阳性,2022-05-01 16:00\n")
    assert job["status"] == "done", job
    assert dict(Retest.objects.values_list("person_id", "status")) == {w.zhang.pk: "negative", w.wang.pk: "positive"}
    # An individual positive merges into the person's open case as a new source.
    assert CaseSource.objects.filter(case__person=w.wang, kind="testing").count() == 2


def test_individual_positive_opens_a_case_at_once(mt: MT) -> None:
    sample(mt, "S0009", mt.w.li.pk, lane="single")
    _status, job = upload(mt, "试管条码,检测结果,检测时间\nS0009,阳性,2022-05-01 10:00\n")
    assert job["status"] == "done"
    case = Case.objects.get(person=mt.w.li)
    assert case.category == "red_code" and not Retest.objects.exists()


def test_excel_results_and_who_may_import(mt: MT) -> None:
    sample(mt, "P0100", mt.w.zhang.pk)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["样本编号", "结果", "检测时间", "检测机构"])
    import datetime as dt

    ws.append(["P0100", "无效", dt.datetime(2022, 5, 1, 9, 0), "迪安"])
    buf = io.BytesIO()
    wb.save(buf)
    status, body = upload(mt, "", persona="cadre_xinwei")
    assert status == 400 and "指挥部" in body["message"]
    f = io.BytesIO(buf.getvalue())
    f.name = "results.xlsx"
    r = mt.client("command").post(f"/api/masstesting/rounds/{mt.rnd.pk}/results", {"file": f})
    assert r.json()["status"] == "done" and r.json()["invalids"] == 1


def test_template_and_error_report_download(mt: MT) -> None:
    c = mt.client("command")
    r = c.get(f"/testing/{mt.rnd.pk}/results/template.xlsx")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.openxml")
    _status, job = upload(mt, "试管条码,检测结果,检测时间\nX0001,阴性,2022-05-01 10:00\n")
    assert job["status"] == "failed"
    page = c.get(f"/testing/{mt.rnd.pk}/results/{job['id']}/").content.decode()
    assert "下载错误报告" in page and "未知的试管条码" in page
    r = c.get(f"/testing/{mt.rnd.pk}/results/{job['id']}/errors.xlsx")
    assert r.status_code == 200
    assert mt.client("cadre_xinwei").get(f"/testing/{mt.rnd.pk}/results/{job['id']}/errors.xlsx").status_code == 404


def test_an_invalid_tube_is_resampled_not_flagged_as_duplicate(mt: MT) -> None:
    sample(mt, "I0001", mt.w.zhang.pk, mt.w.wang.pk)
    _status, job = upload(mt, "试管条码,检测结果,检测时间\nI0001,无效,2022-05-01 10:00\n")
    assert job["status"] == "done" and job["invalids"] == 1
    page = mt.client("cadre_xinwei").get(f"/testing/{mt.rnd.pk}/results/").content.decode()
    assert "无效（需重采）" in page and "张建伟" in page
    mt.api("volunteer", "/tubes", {"barcode": "I0002", "site_id": mt.site.pk, "pool_size": 5})
    out = mt.api("volunteer", "/samples", {"nonce": uuid.uuid4().hex, "tube": "I0002", "person_id": mt.w.zhang.pk})[1]
    assert out["ok"] and not out["duplicate"] and "重采" in out["warnings"][0]
    mt.api("volunteer", "/tubes", {"barcode": "I0003", "site_id": mt.site.pk, "pool_size": 5})
    out = mt.api("volunteer", "/samples", {"nonce": uuid.uuid4().hex, "tube": "I0003", "person_id": mt.w.zhang.pk})[1]
    assert out["ok"] and out["duplicate"]  # swabbed once more after the re-sample: a duplicate
