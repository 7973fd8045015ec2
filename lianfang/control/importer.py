"""District assist-check lists (协查名单) and risk-area lists from .xlsx/.csv, all-or-nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from lianfang.control import services
from lianfang.control.models import AssistList, AssistListRow, RiskArea
from lianfang.control.services import Subject
from lianfang.core import services as register
from lianfang.core.importer import (
    EXAMPLE_DOC,
    SAMPLE_ROW,
    Columns,
    ImportFileError,
    RowError,
    cell_text,
    looks_like_formula,
    open_rows,
)
from lianfang.core.models import Person, SubDistrict
from lianfang.engines import protocol

if TYPE_CHECKING:
    from lianfang.accounts.models import User

CATEGORY_BY_LABEL = {label: key for key, label in protocol.CATEGORIES.items()} | {
    "密接": "close_contact", "次密接": "secondary_contact", "高风险": "high_risk_arrival",
    "中风险": "medium_risk_arrival", "低风险": "low_risk_arrival", "入境": "inbound", "黄码": "yellow_code",
    "红码": "red_code", "发热": "fever", "时空伴随": "spacetime_companion",
} | {key: key for key in protocol.CATEGORIES}

ASSIST_COLUMNS: Columns = [
    ("name", ("姓名",), True, "中文姓名"),
    ("doc_type", ("证件类型",), False, "居民身份证（默认）/护照/港澳通行证/台胞证"),
    ("doc_number", ("证件号码", "身份证号", "身份证号码"), True, "18 位身份证号，请设为文本格式"),
    ("phone", ("手机号", "联系电话"), False, "11 位手机号"),
    ("category", ("人员类别", "类别"), True, "密接/次密接/高风险/中风险/低风险/入境/黄码/红码/发热/时空伴随"),
    ("exposure_date", ("暴露日期", "末次暴露日期", "离开风险区日期"), True, "如 2022-07-05；不能晚于今天"),
    ("address", ("现住址", "落脚点", "现住址/落脚点"), False, "在本街道的住址或落脚点"),
    ("note", ("备注",), False, ""),
]
ASSIST_LABEL = {f: labels[0] for f, labels, _r, _h in ASSIST_COLUMNS}

RISK_COLUMNS: Columns = [
    ("place", ("地区", "风险地区"), True, "如 上海市浦东新区某街道"),
    ("level", ("等级", "风险等级"), True, "高风险/中风险/低风险"),
    ("valid_from", ("起", "开始日期", "公布日期"), True, "如 2022-07-01"),
    ("valid_to", ("止", "结束日期", "解除日期"), False, "未解除留空"),
    ("source", ("来源",), False, "通告名称或编号"),
]
RISK_LABEL = {f: labels[0] for f, labels, _r, _h in RISK_COLUMNS}
LEVELS = {"高风险": "high", "中风险": "medium", "低风险": "low", "高": "high", "中": "medium", "低": "low"}


def parse_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = cell_text(value).replace("/", "-").replace(".", "-").replace("年", "-").replace("月", "-").rstrip("日")
    return dt.date.fromisoformat("-".join(part.zfill(2) for part in text.split("-")))


@dataclass
class AssistResult:
    assist_list: AssistList | None = None
    errors: list[RowError] = field(default_factory=list)
    total_rows: int = 0


@dataclass
class _AssistRow:
    row: int
    subject: Subject
    category: str
    exposure_date: dt.date
    address: str
    note: str
    doc_key: tuple[str, str]
    masked: str


def import_assist_list(path: Path, filename: str, user: User, reference: str = "") -> AssistResult:
    """Validate every row, then open or merge a case per row in one transaction, or write nothing."""
    if not user.is_command:
        raise ImportFileError("import_forbidden", "只有指挥部（数据专班）可以导入协查名单")
    sub = user.scope_subdistrict
    assert sub is not None
    positions, body, _estimated = open_rows(path, filename, ASSIST_COLUMNS)
    result = AssistResult()
    errors = result.errors
    today = timezone.localdate()
    editions = services.engine_editions(sub.pk)
    rows: list[_AssistRow] = []
    seen: dict[tuple[str, str], int] = {}
    for row_no, raw in body:
        if not any(cell_text(v) for v in raw):
            continue
        result.total_rows += 1
        cells = {f: (raw[i] if i < len(raw) else None) for f, i in positions.items()}
        text = {f: cell_text(v) for f, v in cells.items()}
        before = len(errors)

        def err(f: str, value: str, reason: str) -> None:
            shown = value[:3] + "*" * max(len(value) - 7, 0) + value[-4:] if f in {"doc_number", "phone"} and len(value) > 6 \
                else value[:60]
            errors.append(RowError(row_no, ASSIST_LABEL[f], shown, reason))  # noqa: B023 (row_no is this row's)

        for f, t in text.items():
            if looks_like_formula(t):
                err(f, t, "单元格含公式或以 = + - @ 开头：请改为纯文本")
        for f in ("name", "doc_number", "category", "exposure_date"):
            if not text.get(f):
                err(f, "", f"必填项“{ASSIST_LABEL[f]}”为空")
        category = CATEGORY_BY_LABEL.get(text.get("category", ""))
        if text.get("category") and category is None:
            err("category", text["category"], "人员类别只能填：密接/次密接/高风险/中风险/低风险/入境/黄码/红码/发热/时空伴随")
        exposure: dt.date | None = None
        if text.get("exposure_date"):
            try:
                exposure = parse_date(cells["exposure_date"])
            except ValueError:
                err("exposure_date", text["exposure_date"], "日期格式有误：请填写如 2022-07-05")
            else:
                if exposure > today:
                    err("exposure_date", text["exposure_date"], f"暴露日期晚于今天（{today}）：请核对")
        doc_fields: dict[str, Any] = {}
        if text.get("doc_number") == EXAMPLE_DOC:
            err("doc_number", text["doc_number"], SAMPLE_ROW)
        elif text.get("doc_number"):
            try:
                doc_fields = register.document_fields(text.get("doc_type") or "resident_id", text["doc_number"])
            except register.RegisterError as exc:
                err("doc_number", text["doc_number"], exc.message)
        if text.get("phone"):
            try:
                register.phone_fields(text["phone"])
            except register.RegisterError as exc:
                err("phone", text["phone"], exc.message)
        if doc_fields:
            key = (doc_fields["doc_type"], doc_fields["doc_hash"])
            if key in seen:
                err("doc_number", text["doc_number"], f"与第 {seen[key]} 行是同一人：请合并为一行")
            else:
                seen[key] = row_no
        if len(errors) > before or category is None or exposure is None or not doc_fields:
            continue
        person = Person.objects.filter(doc_type=doc_fields["doc_type"], doc_hash=doc_fields["doc_hash"]).first()
        released = services._released_after(person, "" if person else doc_fields["doc_hash"], exposure, sub.pk)
        if released is not None:
            err("exposure_date", text["exposure_date"],
                f"该人员已于 {released.plan_end} 解除管控，本次暴露日期不晚于解除日期：请与区里核实后删除此行或更正日期")
            continue
        try:
            protocol.plan_case(editions, category, exposure)
        except protocol.ProtocolError as exc:
            err("category", text["category"], exc.message)
            continue
        rows.append(_AssistRow(row_no, Subject(person=person, name=text["name"], doc_type=doc_fields["doc_type"],
                                               doc_number=text["doc_number"], phone=text.get("phone", "")),
                               category, exposure, text.get("address", ""), text.get("note", ""),
                               (doc_fields["doc_type"], doc_fields["doc_hash"]), doc_fields["doc_masked"]))
    if result.total_rows == 0:
        raise ImportFileError("file_empty", "文件中没有数据行：请在表头下方逐行填写")
    if errors:
        errors.sort(key=lambda e: e.row)
        return result
    with transaction.atomic():
        al = AssistList.objects.create(subdistrict=sub, created_by=user, filename=filename[:200],
                                       reference=reference[:100], rows_total=len(rows))
        for r in rows:
            case, created = services.open_case(
                sub, r.subject, source="district_list", category=r.category, exposure_date=r.exposure_date,
                reference=f"{reference or filename} 第{r.row}行", detail={"note": r.note}, user=user,
                address=r.address, editions=editions,
                nonce=services.source_nonce("assist", sub.pk, reference or filename, *r.doc_key, r.exposure_date))
            AssistListRow.objects.create(assist_list=al, row_no=r.row, name=case.name, doc_masked=r.masked, case=case,
                                         matched=case.person_id is not None,
                                         outcome=AssistListRow.Outcome.OPENED if created else AssistListRow.Outcome.MERGED)
            al.opened += created
            al.merged += not created
            al.unmatched += case.person_id is None
        al.save()
    result.assist_list = al
    return result


def import_risk_areas(path: Path, filename: str, user: User) -> tuple[int, list[RowError]]:
    if not user.is_command:
        raise ImportFileError("import_forbidden", "只有指挥部可以维护风险地区")
    sub: SubDistrict | None = user.scope_subdistrict
    assert sub is not None
    positions, body, _ = open_rows(path, filename, RISK_COLUMNS)
    errors: list[RowError] = []
    areas: list[RiskArea] = []
    for row_no, raw in body:
        if not any(cell_text(v) for v in raw):
            continue
        cells = {f: (raw[i] if i < len(raw) else None) for f, i in positions.items()}
        text = {f: cell_text(v) for f, v in cells.items()}
        row_errors: list[RowError] = []
        for f, t in text.items():
            if looks_like_formula(t):
                row_errors.append(RowError(row_no, RISK_LABEL[f], t[:60], "单元格含公式：请改为纯文本"))
        if not text.get("place"):
            row_errors.append(RowError(row_no, RISK_LABEL["place"], "", "地区不能为空"))
        level = LEVELS.get(text.get("level", ""))
        if level is None:
            row_errors.append(RowError(row_no, RISK_LABEL["level"], text.get("level", ""), "等级只能填 高风险/中风险/低风险"))
        dates: dict[str, dt.date | None] = {"valid_from": None, "valid_to": None}
        for f in ("valid_from", "valid_to"):
            if text.get(f):
                try:
                    dates[f] = parse_date(cells[f])
                except ValueError:
                    row_errors.append(RowError(row_no, RISK_LABEL[f], text[f], "日期格式有误：请填写如 2022-07-05"))
        if not text.get("valid_from"):
            row_errors.append(RowError(row_no, RISK_LABEL["valid_from"], "", "开始日期不能为空"))
        start, end = dates["valid_from"], dates["valid_to"]
        if start and end and end < start:
            row_errors.append(RowError(row_no, RISK_LABEL["valid_to"], text["valid_to"], "结束日期早于开始日期"))
        errors.extend(row_errors)
        if not row_errors and start and level:
            areas.append(RiskArea(subdistrict=sub, place=text["place"][:100], level=level, valid_from=start,
                                  valid_to=end, source=text.get("source", "")[:200]))
    if errors:
        return 0, errors
    with transaction.atomic():
        RiskArea.objects.bulk_create(areas)
    return len(areas), []


def risk_level_on(subdistrict_id: int, place: str, day: dt.date) -> str | None:
    """The highest risk level of places matching ``place`` in force on ``day`` (for the gates)."""
    order = {"high": 3, "medium": 2, "low": 1}
    levels = [a.level for a in RiskArea.objects.filter(subdistrict_id=subdistrict_id, valid_from__lte=day)
              if (a.valid_to is None or a.valid_to >= day) and (a.place in place or place in a.place)]
    return max(levels, key=lambda lv: order[lv], default=None)


