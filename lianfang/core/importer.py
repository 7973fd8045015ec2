"""All-or-nothing import of households and persons from .xlsx or .csv.

Pass 1 reads and validates every row, collecting every error with its row and column. Only a
file with no error reaches pass 2, which writes everything in one transaction. Progress goes to
the cache (not the database being written) so the page can poll it from another process.
"""

from __future__ import annotations

import csv
import io
import logging
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils.exceptions import InvalidFileException

from lianfang.core import services
from lianfang.core.access import ScopeFilter
from lianfang.core.models import Building, Grid, Household, ImportJob, Person, Village, refresh_planner_statistics
from lianfang.core.services import RegisterError

if TYPE_CHECKING:
    from lianfang.accounts.models import User

logger = logging.getLogger(__name__)

# Column label → field. The template uses the first label; the others are accepted aliases.
COLUMNS: list[tuple[str, tuple[str, ...], bool, str]] = [
    # (field, labels, required, help)
    ("village", ("村/社区", "村社区", "村", "社区"), True, "村或社区名称（如 新围村）或 12 位区划代码"),
    ("grid", ("村民小组/网格", "网格", "村民小组"), False, "须已在系统中登记，如 第三村民小组（写 第3村民小组 也可）"),
    ("building", ("楼栋",), False, "须已在系统中登记，如 12幢"),
    ("unit", ("单元",), False, "数字，如 2"),
    ("room", ("门牌/房号", "门牌号", "房号"), False, "如 301 或 45号"),
    ("household", ("户号",), True, "村内唯一的户编号；同户成员填同一户号"),
    ("relation", ("与户主关系", "关系"), False, "户主/配偶/子女/父母/孙子女/兄弟姐妹/租户/其他，默认户主"),
    ("name", ("姓名",), True, "中文姓名"),
    ("doc_type", ("证件类型",), False, "居民身份证（默认）/护照/港澳通行证/台胞证"),
    ("doc_number", ("证件号码", "身份证号", "身份证号码"), True, "18 位身份证号，请将该列设为文本格式"),
    ("phone", ("手机号", "手机号码", "联系电话"), False, "11 位大陆手机号"),
    ("population_type", ("人口类型",), False, "户籍（默认）/常住/流动/租户"),
    ("elderly_alone", ("独居老人",), False, "是/否"),
    ("no_smartphone", ("无智能手机",), False, "是/否"),
    ("limited_mobility", ("行动不便",), False, "是/否"),
    ("student", ("学生",), False, "是/否"),
    ("party_member", ("党员",), False, "是/否"),
]
LABEL_TO_FIELD = {label: f for f, labels, _r, _h in COLUMNS for label in labels}
FIELD_LABEL = {f: labels[0] for f, labels, _r, _h in COLUMNS}
REQUIRED = [f for f, _l, r, _h in COLUMNS if r]

RELATIONS = {label: value for value, label in Person.Relation.choices}
POPULATION_TYPES = {label: value for value, label in Person.PopulationType.choices}
YES = {"是", "Y", "y", "yes", "1", "√", "✓", "true", "True", "TRUE"}
NO = {"否", "N", "n", "no", "0", "", "false", "False", "FALSE", "×"}
MAX_ERRORS_KEPT = 200
PROGRESS_EVERY = 500


class ImportFileError(Exception):
    """The file as a whole cannot be read: wrong type, broken, empty, too big, bad header."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class RowError:
    row: int
    column: str
    value: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "value": self.value, "reason": self.reason}


@dataclass
class ImportResult:
    total_rows: int = 0
    households_created: int = 0
    persons_created: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def progress_key(job_id: int) -> str:
    return f"import-progress:{job_id}"


def read_progress(job_id: int) -> dict[str, Any]:
    value = cache.get(progress_key(job_id))
    return value if isinstance(value, dict) else {}


# --- reading --------------------------------------------------------------------------------

def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_xlsx(path: Path) -> tuple[list[str], Iterator[tuple[int, list[object]]], int]:
    try:
        wb = load_workbook(path, read_only=True, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFileError("file_broken", "文件无法打开：请上传用 Excel 另存为的 .xlsx 文件或 .csv 文件") from exc
    ws = wb.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        raise ImportFileError("file_empty", "文件是空的：请使用导入模板填写后再上传")
    estimated = max((ws.max_row or 1) - 1, 0)

    def body() -> Iterator[tuple[int, list[object]]]:
        for i, row in enumerate(rows, start=2):
            yield i, list(row)
        wb.close()

    return [cell_text(h) for h in header], body(), estimated


def _read_csv(path: Path) -> tuple[list[str], Iterator[tuple[int, list[object]]], int]:
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise ImportFileError("file_broken", "文件不是文本格式的 CSV：请上传 .xlsx 或 UTF-8/GBK 编码的 .csv 文件")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise ImportFileError("file_encoding", "无法识别文件编码：请另存为 UTF-8 或 GBK 编码的 CSV")
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise ImportFileError("file_empty", "文件是空的：请使用导入模板填写后再上传")
    estimated = max(text.count("\n") - 1, 0)

    def body() -> Iterator[tuple[int, list[object]]]:
        for i, row in enumerate(reader, start=2):
            yield i, list(row)

    return [h.strip() for h in header], body(), estimated


Columns = list[tuple[str, tuple[str, ...], bool, str]]


def open_rows(path: Path, filename: str, columns: Columns | None = None,
              ) -> tuple[dict[str, int], Iterator[tuple[int, list[object]]], int]:
    """Open an .xlsx or .csv, map its header to fields; every import in the project reads here."""
    columns = COLUMNS if columns is None else columns
    label_to_field = {label: f for f, labels, _r, _h in columns for label in labels}
    field_label = {f: labels[0] for f, labels, _r, _h in columns}
    required = [f for f, _l, r, _h in columns if r]
    suffix = Path(filename).suffix.lower()
    if suffix == ".xlsx":
        header, body, estimated = _read_xlsx(path)
    elif suffix == ".csv":
        header, body, estimated = _read_csv(path)
    elif suffix == ".xls":
        raise ImportFileError("file_type", "不支持旧版 .xls 文件：请在 Excel 中“另存为” .xlsx 后再上传")
    else:
        raise ImportFileError("file_type", f"不支持的文件类型“{suffix or '无扩展名'}”：请上传 .xlsx 或 .csv 文件")
    positions: dict[str, int] = {}
    for i, label in enumerate(header):
        f = label_to_field.get(label.replace(" ", "").replace("*", ""))
        if f and f not in positions:
            positions[f] = i
    missing = [field_label[f] for f in required if f not in positions]
    if missing:
        raise ImportFileError(
            "header", f"表头缺少必填列：{'、'.join(missing)}。请下载导入模板，按模板第一行的列名填写"
        )
    return positions, body, estimated


# --- validating -----------------------------------------------------------------------------

def looks_like_formula(text: str) -> bool:
    # Spreadsheet formula injection (=cmd|'/c calc'!A1, @SUM(...), +1+cmd...): never stored.
    if not text:
        return False
    if text[0] in "=@\t\r":
        return True
    return text[0] in "+-" and len(text) > 1 and not text[1:].replace(".", "", 1).isdigit()


def _shown_value(field_name: str, text: str) -> str:
    """The cell as the error report shows it: personal numbers masked, like everywhere else."""
    if field_name in {"doc_number", "phone"} and len(text) > 6:
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    return text[:60]


@dataclass
class _Context:
    user: User
    villages_by_key: dict[str, Village]
    allowed_village_ids: set[int]
    grids: dict[tuple[int, str], Grid]
    buildings: dict[tuple[int, str], Building]
    households: dict[tuple[int, str], int]
    file_households: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    last_doc: tuple[str, str, str] | None = None  # (type, hash, masked) of the row just validated


_CN_DIGITS = "零一二三四五六七八九"


def _cn_number(n: int) -> str:
    if n < 10:
        return _CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _CN_DIGITS[tens]) + "十" + (_CN_DIGITS[ones] if ones else "")


def place_name_aliases(name: str) -> set[str]:
    """'第一村民小组' and '第1村民小组' name the same group: accept either spelling."""
    import re

    aliases = {name}
    m = re.search(r"\d+", name)
    if m:
        aliases.add(name[:m.start()] + _cn_number(int(m.group())) + name[m.end():])
    for n in range(99, 0, -1):
        cn = _cn_number(n)
        if f"第{cn}" in name:
            aliases.add(name.replace(f"第{cn}", f"第{n}", 1))
            break
    return aliases


def _context(user: User) -> _Context:
    assert user.scope_subdistrict_id is not None
    villages = list(Village.objects.filter(subdistrict_id=user.scope_subdistrict_id))
    by_key: dict[str, Village] = {}
    for v in villages:
        by_key[v.code] = v
        by_key[v.name] = v
        # "新围村委会" and "新围村" both name 新围村.
        by_key[v.name + "委会"] = v
    scope_villages = ScopeFilter(user).village_ids()
    allowed = {v.pk for v in villages} if scope_villages is None else set(scope_villages)
    vids = [v.pk for v in villages]
    return _Context(
        user=user,
        villages_by_key=by_key,
        allowed_village_ids=allowed,
        grids={(g.village_id, alias): g for g in Grid.objects.filter(village_id__in=vids)
               for alias in place_name_aliases(g.name)},
        buildings={(b.village_id, b.name): b for b in Building.objects.filter(village_id__in=vids)},
        households=dict(
            ((vid, code), pk)
            for pk, vid, code in Household.objects.filter(village_id__in=vids).values_list("pk", "village_id", "code")
        ),
    )


@dataclass
class _ValidRow:
    row: int
    village: Village
    grid: Grid | None
    building: Building | None
    unit: int | None
    room: str
    household_code: str
    person: dict[str, Any]


def _validate_row(ctx: _Context, row_no: int, cells: dict[str, object], errors: list[RowError]) -> _ValidRow | None:
    before = len(errors)

    def err(f: str, value: object, reason: str) -> None:
        errors.append(RowError(row_no, FIELD_LABEL[f], _shown_value(f, cell_text(value)), reason))

    text: dict[str, str] = {}
    for f, value in cells.items():
        t = cell_text(value)
        if looks_like_formula(t):
            err(f, t, "单元格含公式或以 = + - @ 开头，为防止公式注入不予导入：请改为纯文本")
            t = ""
        text[f] = t
    for f in REQUIRED:
        if not text.get(f):
            if not any(e.row == row_no and e.column == FIELD_LABEL[f] for e in errors[before:]):
                err(f, "", f"必填项“{FIELD_LABEL[f]}”为空")

    village = ctx.villages_by_key.get(text.get("village", ""))
    if text.get("village") and village is None:
        err("village", text["village"], "本街道没有这个村/社区：请填写系统中的村/社区名称或 12 位区划代码")
    elif village is not None and village.pk not in ctx.allowed_village_ids:
        err("village", text["village"], "该村/社区不在您的管辖范围内，无权导入")
        village = None

    grid = building = None
    if village is not None and text.get("grid"):
        grid = ctx.grids.get((village.pk, text["grid"]))
        if grid is None:
            err("grid", text["grid"], f"{village.name}没有这个村民小组/网格：请先在系统中登记，或核对名称")
    if village is not None and text.get("building"):
        building = ctx.buildings.get((village.pk, text["building"]))
        if building is None:
            err("building", text["building"], f"{village.name}没有这个楼栋：请先在系统中登记，或核对楼栋名称")

    unit: int | None = None
    if text.get("unit"):
        try:
            unit = int(text["unit"])
            if not 1 <= unit <= 99:
                raise ValueError
        except ValueError:
            err("unit", text["unit"], "单元须为 1–99 的数字")

    person: dict[str, Any] = {"name": text.get("name", "")[:50]}
    if person["name"] and (problem := services.name_problem(person["name"])):
        err("name", person["name"], problem)

    raw_doc = cells.get("doc_number")
    if isinstance(raw_doc, (int, float)) and len(cell_text(raw_doc)) >= 15:
        err("doc_number", raw_doc, "证件号码被 Excel 存成了数字（末几位可能已丢失）：请把该列设为“文本”后重新录入")
    elif text.get("doc_number") == EXAMPLE_DOC:
        err("doc_number", text["doc_number"], SAMPLE_ROW)
    elif text.get("doc_number"):
        try:
            person.update(services.document_fields(text.get("doc_type") or "resident_id", text["doc_number"]))
            ctx.last_doc = (person["doc_type"], person["doc_hash"], person["doc_masked"])
        except RegisterError as exc:
            column = "doc_type" if exc.code == "doc_type" else "doc_number"
            err(column, text[column] if column == "doc_type" else text["doc_number"], exc.message)
    try:
        person.update(services.phone_fields(text.get("phone")))
    except RegisterError as exc:
        err("phone", text.get("phone", ""), exc.message)

    relation = text.get("relation") or "户主"
    if relation in RELATIONS:
        person["relation"] = RELATIONS[relation]
    else:
        err("relation", relation, f"与户主关系只能填：{'/'.join(RELATIONS)}")
    ptype = text.get("population_type") or "户籍"
    if ptype in POPULATION_TYPES:
        person["population_type"] = POPULATION_TYPES[ptype]
    else:
        err("population_type", ptype, f"人口类型只能填：{'/'.join(POPULATION_TYPES)}")
    for flag in Person.FLAG_FIELDS:
        value = text.get(flag, "")
        if value in YES:
            person[flag] = True
        elif value in NO:
            person[flag] = False
        else:
            err(flag, value, "请填“是”或“否”")

    if village is not None and text.get("household"):
        _check_household(ctx, row_no, village, text["household"], grid, building, unit,
                         text.get("room", "")[:30], person.get("relation") == Person.Relation.HEAD, err)
    if len(errors) > before or village is None:
        return None
    person.update(services.pinyin_fields(person["name"]))
    return _ValidRow(row_no, village, grid, building, unit, text.get("room", "")[:30],
                     text["household"][:30], person)


def _check_household(ctx: _Context, row_no: int, village: Village, code: str, grid: Grid | None,
                     building: Building | None, unit: int | None, room: str, is_head: bool,
                     err: Callable[[str, object, str], None]) -> None:
    """A household code names one household: its place must agree and it has one head."""
    key = (village.pk, code)
    seen = ctx.file_households.get(key)
    if seen is None:
        existing = ctx.households.get(key)
        if existing is not None:
            h = Household.objects.filter(pk=existing).values("grid_id", "building_id", "unit", "room").first()
            has_head = Person.objects.filter(household_id=existing, relation=Person.Relation.HEAD).exists()
            seen = {"row": 0, "grid": h["grid_id"] if h else None, "building": h["building_id"] if h else None,
                    "unit": h["unit"] if h else None, "room": h["room"] if h else "", "head": has_head}
        else:
            seen = {"row": row_no, "grid": grid.pk if grid else None, "building": building.pk if building else None,
                    "unit": unit, "room": room, "head": False}
        ctx.file_households[key] = seen
    where = f"第 {seen['row']} 行" if seen["row"] else "系统中"
    if grid is not None and seen["grid"] != grid.pk:
        err("grid", grid.name, f"户号 {code} 在{where}属于另一个村民小组/网格：同户成员的网格须一致")
    if building is not None and seen["building"] != building.pk:
        err("building", building.name, f"户号 {code} 在{where}登记的楼栋不同：同户成员的楼栋须一致")
    if room and seen["room"] and room != seen["room"]:
        err("room", room, f"户号 {code} 在{where}的门牌/房号是“{seen['room']}”：同户成员的地址须一致")
    if is_head:
        if seen["head"]:
            err("relation", "户主", f"户号 {code} 在{where}已有户主：一户只能有一位户主")
        seen["head"] = True


def _existing_hashes(pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    hashes = [h for _t, h in pairs]
    for i in range(0, len(hashes), 500):
        found.update(Person.objects.filter(doc_hash__in=hashes[i:i + 500]).values_list("doc_type", "doc_hash"))
    return found


def import_persons(
    path: Path, filename: str, user: User, progress: Callable[[str, int, int], None] | None = None,
) -> ImportResult:
    """Validate the whole file, then write it in one transaction, or write nothing."""
    from django.conf import settings

    report = progress or (lambda phase, done, total: None)
    result = ImportResult()
    if not user.can_import:
        raise ImportFileError("import_forbidden", "您的角色无权导入人员")
    if path.stat().st_size > settings.LIANFANG_IMPORT_MAX_BYTES:
        raise ImportFileError("file_too_big", "文件过大：单个文件不超过 "
                              f"{settings.LIANFANG_IMPORT_MAX_BYTES // (1024 * 1024)} MB，请拆分后分批导入")
    positions, body, estimated = open_rows(path, filename)
    ctx = _context(user)
    valid: list[_ValidRow] = []
    seen_docs: dict[tuple[str, str], int] = {}
    masked_docs: dict[tuple[str, str], str] = {}
    errors = result.errors
    report("validating", 0, estimated)
    for row_no, raw in body:
        if not any(cell_text(v) for v in raw):
            continue  # blank lines are not rows
        result.total_rows += 1
        if result.total_rows > settings.LIANFANG_IMPORT_MAX_ROWS:
            raise ImportFileError("too_many_rows", f"行数超过上限 {settings.LIANFANG_IMPORT_MAX_ROWS}：请拆分后分批导入")
        cells = {f: (raw[i] if i < len(raw) else None) for f, i in positions.items()}
        ctx.last_doc = None
        vr = _validate_row(ctx, row_no, cells, errors)
        key = ctx.last_doc  # set whenever the document itself was valid, even if the row was not
        if key is not None and key[:2] in seen_docs:
            errors.append(RowError(row_no, FIELD_LABEL["doc_number"], key[2],
                                   f"证件号码与第 {seen_docs[key[:2]]} 行重复"))
        elif key is not None:
            seen_docs[key[:2]] = row_no
            masked_docs[key[:2]] = key[2]
            if vr is not None:
                valid.append(vr)
        if result.total_rows % PROGRESS_EVERY == 0:
            # An estimate below the rows already read is stale (a file without a dimension).
            report("validating", result.total_rows, estimated if estimated >= result.total_rows else 0)
    if result.total_rows == 0:
        raise ImportFileError("file_empty", "文件中没有数据行：请在表头下方逐行填写人员")
    for key in _existing_hashes(list(seen_docs)):
        errors.append(RowError(seen_docs[key], FIELD_LABEL["doc_number"], masked_docs[key],
                               "该证件号码的人员已在系统中登记：请勿重复导入，如需修改请在人员页面编辑"))
    if errors:
        errors.sort(key=lambda e: e.row)
        report("failed", result.total_rows, result.total_rows)
        return result
    _write(ctx, valid, result, report)
    return result


def _write(ctx: _Context, valid: list[_ValidRow], result: ImportResult,
           report: Callable[[str, int, int], None]) -> None:
    total = len(valid)
    report("writing", 0, total)
    with transaction.atomic():
        new_households: dict[tuple[int, str], Household] = {}
        for vr in valid:
            key = (vr.village.pk, vr.household_code)
            if key not in ctx.households and key not in new_households:
                new_households[key] = Household(
                    village=vr.village, grid=vr.grid, building=vr.building, unit=vr.unit,
                    room=vr.room, code=vr.household_code,
                )
        created = Household.objects.bulk_create(list(new_households.values()), batch_size=1000)
        for h in created:
            ctx.households[(h.village_id, h.code)] = h.pk
        if any(h.pk is None for h in created):  # backends that do not return keys
            ctx.households.update(
                ((vid, code), pk) for pk, vid, code in Household.objects.filter(
                    village_id__in={k[0] for k in new_households}).values_list("pk", "village_id", "code")
            )
        result.households_created = len(created)
        household_grid = dict(Household.objects.filter(
            pk__in={ctx.households[(vr.village.pk, vr.household_code)] for vr in valid}).values_list("pk", "grid_id"))
        batch: list[Person] = []
        for i, vr in enumerate(valid, start=1):
            household_id = ctx.households[(vr.village.pk, vr.household_code)]
            batch.append(Person(
                subdistrict_id=vr.village.subdistrict_id, village=vr.village, grid_id=household_grid.get(household_id),
                household_id=household_id, **vr.person,
            ))
            if len(batch) >= 1000:
                Person.objects.bulk_create(batch)
                batch = []
                report("writing", i, total)
        Person.objects.bulk_create(batch)
        result.persons_created = total
    refresh_planner_statistics()
    report("done", total, total)


# --- the background job ---------------------------------------------------------------------

def start_import(user: User, upload: UploadedFile) -> ImportJob:
    """Keep the uploaded file and queue its import; the job's page shows progress."""
    from lianfang.core.tasks import run_import

    if not user.can_import:
        raise ImportFileError("import_forbidden", "您的角色无权导入人员")
    if user.scope_subdistrict is None:
        raise ImportFileError("no_scope", "您的账号没有所属街道，请联系指挥部设置")
    name = (upload.name or "upload")[:200]
    job = ImportJob(created_by=user, subdistrict=user.scope_subdistrict, filename=name)
    job.file.save(name, upload, save=False)
    job.save()
    run_import.enqueue(job.pk)
    job.refresh_from_db()
    return job


def run_job(job: ImportJob) -> ImportJob:
    """Run one ImportJob to its end: done with counts, or failed with an error report."""
    from django.utils import timezone

    from lianfang.core.models import AuditEvent

    def progress(phase: str, done: int, total: int) -> None:
        cache.set(progress_key(job.pk), {"phase": phase, "done": done, "total": total}, 24 * 3600)
        if phase in {"validating", "writing"} and job.status != phase:
            job.status = phase
            ImportJob.objects.filter(pk=job.pk).update(status=phase)

    try:
        result = import_persons(Path(job.file.path), job.filename, job.created_by, progress)
    except Exception as exc:
        # Any failure ends the job (nothing was written: the write is one transaction), so the
        # page never polls forever.
        message = exc.message if isinstance(exc, ImportFileError) else (
            "文件读取或写入时出错，未导入任何数据。请确认文件是用 Excel 保存的 .xlsx 或 .csv，"
            "或稍后重试；问题仍在请联系指挥部")
        if not isinstance(exc, ImportFileError):
            logger.exception("import job %s failed", job.pk)
        job.status = ImportJob.Status.FAILED
        job.message = message
        job.error_count = 1
        job.errors = [{"row": 0, "column": "", "value": "", "reason": message}]
    else:
        job.total_rows = result.total_rows
        job.error_count = len(result.errors)
        job.errors = [e.as_dict() for e in result.errors[:MAX_ERRORS_KEPT]]
        if result.ok:
            job.status = ImportJob.Status.DONE
            job.households_created = result.households_created
            job.persons_created = result.persons_created
            job.message = f"已导入 {result.persons_created} 人、新建 {result.households_created} 户"
        else:
            job.status = ImportJob.Status.FAILED
            job.message = f"发现 {len(result.errors)} 处错误，未导入任何数据。请下载错误报告，改正后重新上传整个文件"
            from django.core.files.base import ContentFile

            job.error_report.save(f"errors-{job.pk}.xlsx", ContentFile(error_report_xlsx(result.errors)), save=False)
    job.finished_at = timezone.now()
    # The upload holds personal data in clear: keep it no longer than the import needs it.
    job.file.delete(save=False)
    job.save()
    cache.set(progress_key(job.pk), {"phase": job.status, "done": job.total_rows, "total": job.total_rows}, 24 * 3600)
    AuditEvent.objects.create(
        user=job.created_by, action=AuditEvent.Action.IMPORT, object_type="import_job", object_id=str(job.pk),
        detail={"status": job.status, "rows": job.total_rows, "persons": job.persons_created,
                "errors": job.error_count, "file": job.filename},
    )
    return job


# --- files we hand out ----------------------------------------------------------------------

def safe_cell(value: object) -> object:
    """Neutralise a text cell a spreadsheet would run as a formula."""
    if isinstance(value, str) and value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


def error_report_xlsx(errors: list[RowError]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "错误报告"
    ws.append(["行号", "列", "内容", "问题"])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for e in errors:
        ws.append([e.row, e.column, safe_cell(e.value), e.reason])
    ws.column_dimensions["C"].width = 24
    ws.column_dimensions["D"].width = 80
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


EXAMPLE_DOC = "11010519491231002X"  # the templates' example person: a file still holding them is refused
SAMPLE_ROW = "这是模板中的示例行（张三）：请删除后再导入"


def template_xlsx(columns: Columns | None = None, example: list[object] | None = None,
                  sheet: str = "人员", text_columns: tuple[str, ...] = ("J", "K")) -> bytes:
    """A template in Chinese: the header (required columns shaded), an example row, a guide."""
    columns = COLUMNS if columns is None else columns
    if example is None:
        example = ["新围村", "第一村民小组", "", "", "45号", "215-90001", "户主", "张三", "居民身份证",
                   EXAMPLE_DOC, "13800000000", "户籍", "否", "否", "否", "否", "否"]
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = sheet
    ws.append([labels[0] for _f, labels, _r, _h in columns])
    fill = PatternFill("solid", fgColor="FDE9D9")
    for cell, (_f, _labels, required, _h) in zip(ws[1], columns, strict=True):
        cell.font = Font(bold=True)
        if required:
            cell.fill = fill
    ws.append(example)
    for col in text_columns:  # ID and phone as text, so Excel keeps every digit
        for cell in ws[col]:
            cell.number_format = "@"
        ws.column_dimensions[col].width = 22
    guide = wb.create_sheet("填写说明")
    guide.append(["列", "是否必填", "说明"])
    for _f, labels, required, help_text in columns:
        guide.append([labels[0], "必填" if required else "选填", help_text])
    guide.append([])
    guide.append(["注意", "", "导入为“全部成功或全部不导入”：任何一行有错，整个文件都不会导入，并给出逐行错误报告。"])
    guide.column_dimensions["C"].width = 80
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
