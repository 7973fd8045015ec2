"""Lab result files (.csv or .xlsx, by tube barcode), all-or-nothing, and what a positive sets off.

Pass 1 reads every row through the register's reader and collects every error (unknown barcode,
a tube of another round, a duplicate in the file, a tube that already has a result, a bad result
or time). Only an error-free file reaches pass 2: one transaction that writes the results, puts
each member of a positive pool into 待复核 with a single-tube retest, and opens key-person cases.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from lianfang.core.importer import Columns, ImportFileError, RowError, cell_text, looks_like_formula, open_rows
from lianfang.core.models import Person
from lianfang.masstesting.fastinsert import insert_rows
from lianfang.masstesting.models import ResultImport, Retest, Round, Sample, Tube, TubeResult

if TYPE_CHECKING:
    from lianfang.accounts.models import User

logger = logging.getLogger(__name__)

RESULT_COLUMNS: Columns = [
    ("barcode", ("试管条码", "条码", "样本编号", "管码"), True, "采样时扫描的试管条码"),
    ("result", ("检测结果", "结果"), True, "阴性/阳性/无效"),
    ("tested_at", ("检测时间", "报告时间"), True, "如 2022-05-01 14:30"),
    ("lab", ("检测机构",), False, "检测机构名称"),
]
LABEL = {f: labels[0] for f, labels, _r, _h in RESULT_COLUMNS}
RESULTS = {"阴性": "negative", "阳性": "positive", "无效": "invalid", "negative": "negative",
           "positive": "positive", "invalid": "invalid", "neg": "negative", "pos": "positive", "-": "negative",
           "+": "positive", "需重采": "invalid", "无效（需重采）": "invalid"}
PROGRESS_EVERY = 5000
FORMULA_STARTS = frozenset("=@\t\r+-")
# Pool members wait for their re-check at home (isolated in place): the yellow-code measure of the
# editions in force (home monitoring with tests); a confirmed positive is a red-code case
# (closed-loop transfer to centralized isolation).
POOL_CATEGORY = "yellow_code"
POSITIVE_CATEGORY = "red_code"


@dataclass
class ResultsOutcome:
    total_rows: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {"negative": 0, "positive": 0, "invalid": 0})
    errors: list[RowError] = field(default_factory=list)
    retests: int = 0
    cases: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def progress_key(job_id: int) -> str:
    return f"masstesting-import:{job_id}"


def read_progress(job_id: int) -> dict[str, Any]:
    value = cache.get(progress_key(job_id))
    return value if isinstance(value, dict) else {}


def parse_time(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time(0, 0))
    else:
        text = cell_text(value).replace("/", "-").replace("T", " ")
        if not text:
            raise ValueError
        parsed: dt.datetime | None = None
        for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
            try:
                parsed = dt.datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        moment = parsed if parsed is not None else dt.datetime.fromisoformat(text)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def import_results(path: Path, filename: str, rnd: Round, user: User, job: ResultImport | None = None,
                   progress: Callable[[str, int, int], None] | None = None) -> ResultsOutcome:
    report = progress or (lambda phase, done, total: None)
    if not user.is_command:
        raise ImportFileError("import_forbidden", "只有指挥部（数据专班）可以导入检测结果")
    positions, body, estimated = open_rows(path, filename, RESULT_COLUMNS)
    out = ResultsOutcome()
    errors = out.errors
    # Every tube of the sub-district, by barcode: one query, then the rows are checked in memory.
    tubes: dict[str, tuple[int, int, bool]] = {}
    unsealed: set[str] = set()  # open or empty tubes: nothing a lab can have tested
    for code, pk, round_id, result_id, status, count in Tube.objects.filter(
            round__subdistrict_id=rnd.subdistrict_id).values_list(
            "barcode", "pk", "round_id", "result__id", "status", "count").iterator(chunk_size=20000):
        tubes[code] = (pk, round_id, result_id is not None)
        if status != Tube.Status.CLOSED or not count:
            unsealed.add(code)
    rounds = dict(Round.objects.filter(subdistrict_id=rnd.subdistrict_id).values_list("pk", "name"))
    now = timezone.now()
    seen: dict[str, int] = {}
    times: dict[object, dt.datetime] = {}
    rows: list[tuple[int, str, dt.datetime]] = []
    report("validating", 0, estimated)
    for row_no, raw in body:
        if not any(cell_text(v) for v in raw):
            continue
        out.total_rows += 1
        cells = {f: (raw[i] if i < len(raw) else None) for f, i in positions.items()}
        texts = {f: cell_text(v) for f, v in cells.items()}
        before = len(errors)

        def err(f: str, value: object, reason: str) -> None:
            errors.append(RowError(row_no, LABEL[f], cell_text(value)[:60], reason))  # noqa: B023 (this row)

        code = "".join(texts.get("barcode", "").split()).upper()
        result_text = texts.get("result", "")
        for f, t in texts.items():
            if t[:1] in FORMULA_STARTS and looks_like_formula(t) and not (f == "result" and result_text in RESULTS):
                err(f, t, "单元格含公式或以 = + - @ 开头：请改为纯文本")
        tube = tubes.get(code)
        if not code:
            err("barcode", "", "试管条码为空")
        elif tube is None:
            err("barcode", code, "未知的试管条码：本街道没有登记过这支试管")
        elif tube[1] != rnd.pk:
            err("barcode", code, f"该试管属于另一轮次“{rounds.get(tube[1], '')}”，不属于本轮")
        elif code in seen:
            err("barcode", code, f"试管条码与第 {seen[code]} 行重复")
        elif tube[2]:
            err("barcode", code, "该试管已有检测结果，不能重复导入")
        elif code in unsealed:
            err("barcode", code, "该试管尚未封管或没有采样记录：请核对条码（实验室只应收到已封管、已装袋的试管）")
        if code and code not in seen:
            seen[code] = row_no
        result = RESULTS.get(result_text.lower() if result_text.isascii() else result_text)
        if result is None:
            err("result", result_text, "检测结果只能填：阴性/阳性/无效")
        tested_at: dt.datetime | None = None
        raw_time = cells.get("tested_at")
        try:
            # A lab file repeats a few report times thousands of times: parse each once.
            key = raw_time if isinstance(raw_time, (str, dt.datetime, dt.date)) else texts.get("tested_at", "")
            tested_at = times.get(key)
            if tested_at is None:
                tested_at = times[key] = parse_time(raw_time)
            if tested_at > now + dt.timedelta(hours=1):
                err("tested_at", cells.get("tested_at"), "检测时间晚于现在：请核对")
        except (ValueError, TypeError, OverflowError):
            err("tested_at", cells.get("tested_at"), "检测时间格式有误：请写成 2022-05-01 14:30")
        if len(errors) == before and tube is not None and result is not None and tested_at is not None:
            rows.append((tube[0], result, tested_at))
        if out.total_rows % PROGRESS_EVERY == 0:
            report("validating", out.total_rows, max(estimated, out.total_rows))
    if out.total_rows == 0:
        raise ImportFileError("file_empty", "文件中没有数据行：请在表头下方逐行填写")
    if errors:
        report("failed", out.total_rows, out.total_rows)
        return out
    report("writing", 0, len(rows))
    with transaction.atomic():
        job_id = job.pk if job is not None else None
        insert_rows(TubeResult, ("tube_id", "result", "tested_at", "imported_id", "created_at"),
                    [(pk, r, t, job_id, now) for pk, r, t in rows], returning=False)
        ids = [pk for pk, _r, _t in rows]
        for i in range(0, len(ids), 5000):  # a result means the lab had the tube: it is closed
            Tube.objects.filter(pk__in=ids[i:i + 5000], status=Tube.Status.OPEN).update(
                status=Tube.Status.CLOSED, closed_at=now)
        for _pk, r, _t in rows:
            out.counts[r] += 1
        settle_results(rnd, [(pk, r) for pk, r, _t in rows if r != "negative"] +
                       [(pk, r) for pk, r, _t in rows if r == "negative" and pk in _retest_tubes(rnd)], user, out)
    report("done", len(rows), len(rows))
    return out


def _retest_tubes(rnd: Round) -> set[int]:
    cached = getattr(rnd, "_retest_tubes", None)
    if cached is None:
        cached = set(Tube.objects.filter(round=rnd, retest=True).values_list("pk", flat=True))
        rnd._retest_tubes = cached  # type: ignore[attr-defined]  # per-import cache
    return cached


def settle_results(rnd: Round, tube_results: list[tuple[int, str]], user: User | None, out: ResultsOutcome) -> None:
    """What a non-negative result (or a retest's negative) sets off. Runs inside the import's transaction."""
    from lianfang.control import services as control

    if not tube_results:
        return
    tubes = {t.pk: t for t in Tube.objects.filter(pk__in=[pk for pk, _r in tube_results])}
    members: dict[int, list[Sample]] = {}
    for s in Sample.objects.filter(tube_id__in=list(tubes)).select_related("person__village").order_by("pk"):
        members.setdefault(s.tube_id, [])
        if all(m.person_id != s.person_id for m in members[s.tube_id]):
            members[s.tube_id].append(s)
    sub = rnd.subdistrict
    for pk, result in tube_results:
        tube = tubes[pk]
        people = members.get(pk, [])
        if tube.retest:
            status = {"negative": Retest.Status.NEGATIVE, "positive": Retest.Status.POSITIVE}.get(result)
            if status:
                Retest.objects.filter(retest_tube=tube).update(status=status, done_at=timezone.now())
            elif result == "invalid":  # the re-check must be swabbed again: it waits for its next single tube
                Retest.objects.filter(retest_tube=tube).update(status=Retest.Status.PENDING, retest_tube=None)
        if result != "positive":
            continue
        pooled = len(people) > 1 or tube.pool_size > 1
        for s in people:
            person: Person = s.person
            category = POOL_CATEGORY if pooled else POSITIVE_CATEGORY
            reference = f"{rnd.name} 试管 {tube.barcode}" + ("（混管阳性，待复核）" if pooled else "（阳性）")
            case = None
            try:
                case, created = control.open_case(
                    sub, control.Subject(person=person), source="testing", category=category,
                    exposure_date=timezone.localdate(s.server_time), reference=reference,
                    detail={"round": rnd.pk, "tube": tube.barcode, "pooled": pooled}, user=user,
                    nonce=f"mt:{tube.pk}:{person.pk}", at=timezone.now())
                out.cases += int(created)
            except control.ControlError as exc:
                out.warnings.append(f"{person.name}：未能登记重点人员（{exc.message}），请人工登记")
            if pooled:
                _, made = Retest.objects.get_or_create(
                    source_tube=tube, person=person,
                    defaults={"round": rnd, "village_id": person.village_id, "case": case})
                out.retests += int(made)


def run_job(job: ResultImport) -> ResultImport:
    from lianfang.core.models import AuditEvent

    def progress(phase: str, done: int, total: int) -> None:
        cache.set(progress_key(job.pk), {"phase": phase, "done": done, "total": total}, 24 * 3600)
        if phase in {"validating", "writing"} and job.status != phase:
            job.status = phase
            ResultImport.objects.filter(pk=job.pk).update(status=phase)

    try:
        outcome = import_results(Path(job.file.path), job.filename, job.round, job.created_by, job, progress)
    except Exception as exc:
        message = exc.message if isinstance(exc, ImportFileError) else "文件读取或写入时出错，未导入任何结果；请稍后重试"
        if not isinstance(exc, ImportFileError):
            logger.exception("result import %s failed", job.pk)
        job.status = ResultImport.Status.FAILED
        job.message = message
        job.error_count = 1
        job.errors = [{"row": 0, "column": "", "value": "", "reason": message}]
    else:
        job.total_rows = outcome.total_rows
        job.error_count = len(outcome.errors)
        job.errors = [e.as_dict() for e in sorted(outcome.errors, key=lambda e: e.row)[:200]]
        if outcome.ok:
            job.status = ResultImport.Status.DONE
            job.negatives, job.positives, job.invalids = (outcome.counts["negative"], outcome.counts["positive"],
                                                          outcome.counts["invalid"])
            job.message = (f"已导入 {outcome.total_rows} 条结果：阴性 {job.negatives}，阳性 {job.positives}，"
                           f"无效 {job.invalids}；新增待复核 {outcome.retests} 人，新登记重点人员 {outcome.cases} 人"
                           + ("。" + "；".join(outcome.warnings[:5]) if outcome.warnings else ""))[:300]
        else:
            job.status = ResultImport.Status.FAILED
            job.message = f"发现 {len(outcome.errors)} 处错误，未导入任何结果。请改正后重新上传整个文件"
    job.finished_at = timezone.now()
    job.save()
    cache.set(progress_key(job.pk), {"phase": job.status, "done": job.total_rows, "total": job.total_rows}, 24 * 3600)
    AuditEvent.objects.create(user=job.created_by, action=AuditEvent.Action.IMPORT, object_type="test_results",
                              object_id=str(job.pk), detail={"status": job.status, "rows": job.total_rows,
                                                             "errors": job.error_count, "file": job.filename})
    return job


def start_import(rnd: Round, user: User, upload: Any, lab: str = "") -> ResultImport:
    from lianfang.masstesting.tasks import run_result_import

    if not user.is_command:
        raise ImportFileError("import_forbidden", "只有指挥部（数据专班）可以导入检测结果")
    name = (getattr(upload, "name", "") or "results")[:200]
    job = ResultImport(round=rnd, created_by=user, filename=name, lab=lab[:80])
    job.file.save(name, upload, save=False)
    job.save()
    run_result_import.enqueue(job.pk)
    job.refresh_from_db()
    return job
