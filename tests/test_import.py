"""Import is all-or-nothing with a row-by-row report; every bad input gets a Chinese message."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from lianfang.core import importer, sample_files
from lianfang.core.models import Household, ImportJob, Person
from tests.conftest import World


def upload(world: World, persona: str, name: str, content: bytes):
    c = world.client(persona)
    r = c.post(reverse("import_upload"), {"file": SimpleUploadedFile(name, content)})
    return c, r


def last_job() -> ImportJob:
    job = ImportJob.objects.order_by("-pk").first()
    assert job is not None
    return job


def csv_bytes(tmp_path: Path, data, encoding: str = "utf-8-sig") -> bytes:
    return sample_files.write_csv(tmp_path / "f.csv", data, encoding).read_bytes()


def test_template_has_every_column_and_a_guide(world: World) -> None:
    r = world.client("cadre_xinwei").get(reverse("import_template"))
    assert r["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    from urllib.parse import quote
    assert r["Content-Disposition"] == f"attachment; filename*=utf-8''{quote('人员导入模板.xlsx')}"
    wb = load_workbook(io.BytesIO(r.content))
    header = [c.value for c in wb["人员"][1]]
    assert header == sample_files.HEADER and "证件号码" in header
    assert wb["填写说明"]["A2"].value == "村/社区"
    # Sent back unchanged, its example person is not registered: the row is named as the example.
    before = Person.objects.count()
    upload(world, "cadre_xinwei", "模板.xlsx", r.content)
    job = last_job()
    assert job.status != "done" and Person.objects.count() == before
    assert any("模板中的示例行" in e["reason"] for e in job.errors), job.errors


def test_a_name_with_an_emoji_or_symbol_is_refused_as_one_with_digits(world: World, tmp_path: Path) -> None:
    from lianfang.core.services import name_problem

    assert name_problem("阿卜杜·热合曼") is None and name_problem("Zhou Lin") is None and name_problem("张建伟") is None
    assert name_problem("批量0") == "姓名不能含数字" and "😀" in str(name_problem("张建伟 😀"))
    data = list(sample_files.rows(3))
    data[1][7] = "Test丙 😀"  # 姓名
    upload(world, "cadre_xinwei", "people.csv", csv_bytes(tmp_path, data))
    job = last_job()
    assert job.status != "done" and any("符号「😀」" in e["reason"] for e in job.errors), job.errors
    c = world.client("cadre_xinwei")
    edit = c.post(reverse("person_edit", args=[world.zhang.pk]), {
        "name": "张建伟 😀", "relation": world.zhang.relation, "population_type": world.zhang.population_type})
    assert edit.status_code in (200, 400) and "符号「😀」" in edit.content.decode()
    world.zhang.refresh_from_db()
    assert world.zhang.name == "张建伟"


def test_good_file_imports_households_and_persons(world: World, tmp_path: Path) -> None:
    data = list(sample_files.rows(30))
    before = Person.objects.count()
    c, r = upload(world, "cadre_xinwei", "people.csv", csv_bytes(tmp_path, data))
    job = last_job()
    assert r.status_code == 302 and job.status == "done", job.errors
    assert job.persons_created == 30 and job.households_created == 10
    assert Person.objects.count() == before + 30
    assert Household.objects.get(code="T000000").members.count() == 3
    page = c.get(reverse("import_job", args=[job.pk])).content.decode()
    assert "已导入 30 人" in page
    assert importer.read_progress(job.pk)["phase"] == "done"


def test_gbk_csv_is_read(world: World, tmp_path: Path) -> None:
    upload(world, "cadre_xinwei", "gbk.csv", csv_bytes(tmp_path, list(sample_files.rows(5)), "gbk"))
    assert last_job().status == "done"
    assert Person.objects.filter(name="王伟").exists()


def test_one_bad_check_digit_imports_nothing_and_names_the_row(world: World, tmp_path: Path) -> None:
    data = list(sample_files.rows(400))
    data[340][9] = sample_files.break_check_digit(data[340][9])  # spreadsheet row 342
    before = Person.objects.count()
    c, _ = upload(world, "cadre_xinwei", "people.xlsx", sample_files.write_xlsx(tmp_path / "f.xlsx", data).read_bytes())
    job = last_job()
    assert job.status == "failed" and Person.objects.count() == before
    assert Household.objects.filter(code__startswith="T").count() == 0
    bad = data[340][9]
    assert job.errors == [{"row": 342, "column": "证件号码", "value": bad[:3] + "*" * 11 + bad[-4:],
                           "reason": job.errors[0]["reason"]}]
    assert bad not in str(job.errors)  # stored errors are masked like every page
    assert "校验位" in job.errors[0]["reason"]
    report = c.get(reverse("import_error_report", args=[job.pk]))
    rows = list(load_workbook(io.BytesIO(b"".join(report.streaming_content))).active.iter_rows(values_only=True))
    assert rows[1][:2] == (342, "证件号码")
    assert "第 342 行" in c.get(reverse("import_job", args=[job.pk])).content.decode()


def test_duplicates_within_file_and_against_register(world: World, tmp_path: Path) -> None:
    data = list(sample_files.rows(6))
    data[4][9] = data[1][9]
    data[5][9] = world.zhang.document_number()
    upload(world, "cadre_xinwei", "dup.csv", csv_bytes(tmp_path, data))
    errs = last_job().errors
    assert [(e["row"], e["column"]) for e in errs] == [(6, "证件号码"), (7, "证件号码")]
    assert "与第 3 行重复" in errs[0]["reason"] and "已在系统中登记" in errs[1]["reason"]


def test_importing_the_same_file_twice_never_duplicates(world: World, tmp_path: Path) -> None:
    content = csv_bytes(tmp_path, list(sample_files.rows(9)))
    upload(world, "cadre_xinwei", "a.csv", content)
    count = Person.objects.count()
    upload(world, "cadre_xinwei", "a.csv", content)
    job = last_job()
    assert job.status == "failed"
    assert {e["row"] for e in job.errors if "已在系统中登记" in e["reason"]} == set(range(2, 11))
    assert Person.objects.count() == count


def test_unknown_places_bad_phone_and_other_row_errors(world: World, tmp_path: Path) -> None:
    data = list(sample_files.rows(6))
    data[0][0] = "不存在村"
    data[1][3] = "A"  # unit
    data[1][1] = "第9村民小组"
    data[2][2] = "99幢"
    data[3][10] = "12345"
    data[4][11] = "外星"
    data[5][12] = "也许"
    upload(world, "cadre_xinwei", "bad.csv", csv_bytes(tmp_path, data))
    job = last_job()
    got = {(e["row"], e["column"]) for e in job.errors}
    assert got == {(2, "村/社区"), (3, "单元"), (3, "村民小组/网格"), (4, "楼栋"), (5, "手机号"),
                   (6, "人口类型"), (7, "独居老人")}
    assert all(e["reason"] for e in job.errors)
    assert Person.objects.filter(name__in=[r[7] for r in data]).count() == 0 or job.persons_created == 0


def test_rows_outside_the_users_scope_are_refused(world: World, tmp_path: Path) -> None:
    data = list(sample_files.rows(2, village="江东村"))
    upload(world, "cadre_xinwei", "other.csv", csv_bytes(tmp_path, data))
    assert {e["reason"] for e in last_job().errors} == {"该村/社区不在您的管辖范围内，无权导入"}


def test_formula_injection_is_refused(world: World, tmp_path: Path) -> None:
    data = list(sample_files.rows(2))
    data[0][7] = "=cmd|' /C calc'!A0"
    data[1][4] = "@SUM(1+1)"
    upload(world, "cadre_xinwei", "evil.csv", csv_bytes(tmp_path, data))
    job = last_job()
    assert job.status == "failed"
    assert {(e["row"], e["column"]) for e in job.errors} >= {(2, "姓名"), (3, "门牌/房号")}
    assert "公式" in job.errors[0]["reason"]
    wb = load_workbook(io.BytesIO(importer.error_report_xlsx([importer.RowError(**e) for e in job.errors])))
    assert all(not str(c.value).startswith("=") for row in wb.active.iter_rows() for c in row if c.value)


def test_id_stored_as_a_number_in_excel_gets_a_clear_message(world: World, tmp_path: Path) -> None:
    data: list[list[object]] = [list(r) for r in sample_files.rows(1)]
    data[0][9] = 330114194001011234
    upload(world, "cadre_xinwei", "num.xlsx", sample_files.write_xlsx(tmp_path / "n.xlsx", data).read_bytes())
    assert "文本" in last_job().errors[0]["reason"]


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("broken.xlsx", b"this is not a zip file", "文件无法打开"),
    ("noheader.csv", "姓名,电话\n张三,1\n".encode(), "表头缺少必填列"),
    ("onlyheader.csv", "村/社区,户号,姓名,证件号码\n".encode(), "没有数据行"),
    ("binary.csv", b"\x00\x01\x02PK", "不是文本格式"),
])
def test_broken_files_get_a_clear_message(world: World, name: str, content: bytes, expected: str) -> None:
    c, _ = upload(world, "cadre_xinwei", name, content)
    job = last_job()
    assert job.status == "failed" and expected in job.message
    assert expected in c.get(reverse("import_job", args=[job.pk])).content.decode()


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("old.xls", b"x", "另存为"), ("notes.txt", b"x", "只能上传"), ("empty.csv", b"", "文件是空的")])
def test_wrong_file_types_are_refused_at_upload(world: World, name: str, content: bytes, expected: str) -> None:
    _, r = upload(world, "cadre_xinwei", name, content)
    assert r.status_code == 200 and expected in r.content.decode()
    assert ImportJob.objects.count() == 0


def test_oversized_upload_is_refused(world: World, settings) -> None:
    settings.LIANFANG_IMPORT_MAX_BYTES = 1000
    _, r = upload(world, "cadre_xinwei", "big.csv", b"x" * 2000)
    assert "文件过大" in r.content.decode() and ImportJob.objects.count() == 0


def test_roles_without_import_are_refused(world: World) -> None:
    assert world.client("gate_staff").get(reverse("import_upload")).status_code == 403
    r = world.client("gate_staff").post("/api/imports", {"file": SimpleUploadedFile("a.csv", b"x")})
    assert r.status_code == 400 and r.json()["code"] == "import_forbidden"


def test_api_import_reports_status(world: World, tmp_path: Path) -> None:
    c = world.client("cadre_xinwei")
    r = c.post("/api/imports", {"file": SimpleUploadedFile("p.csv", csv_bytes(tmp_path, list(sample_files.rows(4))))})
    assert r.status_code == 201 and r.json()["status"] == "done" and r.json()["persons_created"] == 4
    assert c.get(f"/api/imports/{r.json()['id']}").json()["progress"]["phase"] == "done"


def test_progress_is_reported_in_phases(world: World, tmp_path: Path) -> None:
    path = sample_files.write_csv(tmp_path / "p.csv", list(sample_files.rows(1200)))
    seen: list[tuple[str, int, int]] = []
    result = importer.import_persons(path, "p.csv", world.users["cadre_xinwei"],
                                     lambda phase, done, total: seen.append((phase, done, total)))
    assert result.ok and result.persons_created == 1200
    phases = [s[0] for s in seen]
    assert phases[0] == "validating" and "writing" in phases and phases[-1] == "done"
    assert any(p == "validating" and d == 1000 for p, d, _t in seen)
    assert any(p == "writing" and 0 < d < t for p, d, t in seen)


def test_other_documents_import_and_are_checked(world: World, tmp_path: Path) -> None:
    data = list(sample_files.rows(3))
    data[0][8], data[0][9] = "护照", "e12345678"
    data[1][8], data[1][9] = "港澳通行证", "H12345678"
    data[2][8], data[2][9] = "台胞证", "1234"
    upload(world, "cadre_xinwei", "docs.csv", csv_bytes(tmp_path, data))
    job = last_job()
    assert [(e["row"], e["column"]) for e in job.errors] == [(4, "证件号码")]
    data[2][9] = "12345678"
    upload(world, "cadre_xinwei", "docs2.csv", csv_bytes(tmp_path, data))
    assert last_job().status == "done"
    p = Person.objects.get(doc_type="passport")
    assert p.document_number() == "E12345678" and p.doc_masked.startswith("E1") and p.birth_date is None


def test_household_rows_must_agree_and_have_one_head(world: World, tmp_path: Path) -> None:
    data = list(sample_files.rows(3))  # one household T000000: head + two children
    data[1][6] = "户主"
    data[2][1] = "第2村民小组"
    data[2][4] = "99号"
    upload(world, "cadre_xinwei", "hh.csv", csv_bytes(tmp_path, data))
    got = {(e["row"], e["column"]) for e in last_job().errors}
    assert got == {(3, "与户主关系"), (4, "村民小组/网格"), (4, "门牌/房号")}


def test_rows_joining_an_existing_household_take_its_grid(world: World, tmp_path: Path) -> None:
    data = list(sample_files.rows(1))
    data[0][5], data[0][6], data[0][4] = "215-00001", "子女", "45号"  # 张建伟's household, grid 1
    upload(world, "cadre_xinwei", "join.csv", csv_bytes(tmp_path, data))
    assert last_job().status == "done"
    joined = Person.objects.get(name=data[0][7], household__code="215-00001")
    assert joined.grid == world.xinwei_grid
    data[0][6] = "户主"
    data[0][9] = sample_files.resident_id(99)
    upload(world, "cadre_xinwei", "head.csv", csv_bytes(tmp_path, data))
    assert "已有户主" in last_job().errors[0]["reason"]


def test_uploads_are_deleted_once_the_job_ends(world: World, tmp_path: Path) -> None:
    upload(world, "cadre_xinwei", "p.csv", csv_bytes(tmp_path, list(sample_files.rows(2))))
    assert last_job().status == "done" and not last_job().file


def test_an_unexpected_failure_ends_the_job(world: World, tmp_path: Path, monkeypatch) -> None:
    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(importer, "import_persons", explode)
    upload(world, "cadre_xinwei", "p.csv", csv_bytes(tmp_path, list(sample_files.rows(2))))
    job = last_job()
    assert job.status == "failed" and job.finished_at and "未导入任何数据" in job.message


def test_duplicate_is_found_even_when_the_first_row_has_another_error(world: World, tmp_path: Path) -> None:
    data = list(sample_files.rows(6))
    data[1][10] = "12345"  # bad phone on row 3
    data[4][9] = data[1][9]  # row 6 repeats row 3's ID
    upload(world, "cadre_xinwei", "dup2.csv", csv_bytes(tmp_path, data))
    errs = {(e["row"], e["column"]): e["reason"] for e in last_job().errors}
    assert set(errs) == {(3, "手机号"), (6, "证件号码")} and "与第 3 行重复" in errs[(6, "证件号码")]


def test_grid_names_match_with_either_numeral(world: World, tmp_path: Path) -> None:
    from lianfang.core.models import Grid

    Grid.objects.create(village=world.xinwei, name="第十二村民小组", kind=Grid.Kind.VILLAGER_GROUP)
    data = list(sample_files.rows(2))
    data[0][1] = "第一村民小组"  # registered as 第1村民小组
    data[1][1] = "第12村民小组"  # registered as 第十二村民小组
    data[1][5] = "T-other"
    upload(world, "cadre_xinwei", "g.csv", csv_bytes(tmp_path, data))
    assert last_job().status == "done", last_job().errors
    grid = Person.objects.get(name=data[1][7], household__code="T-other").grid
    assert grid is not None and grid.name == "第十二村民小组"
    assert importer.place_name_aliases("第十二村民小组") == {"第十二村民小组", "第12村民小组"}
