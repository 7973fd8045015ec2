"""Mass testing operations. Views and the API call these; every refusal is a MassTestError with a
stable code and a Chinese message, and nothing is half-written."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from lianfang.checkpoints.models import Scan
from lianfang.control.models import Case
from lianfang.core import crypto
from lianfang.core.models import Household, Person, SubDistrict, Village
from lianfang.core.services import pinyin_order
from lianfang.engines import documents, pooling
from lianfang.engines.documents import DocumentError, DocumentType
from lianfang.masstesting.fastinsert import insert_rows
from lianfang.masstesting.models import (
    Bag,
    Exemption,
    HomeRequest,
    Lane,
    PoolRule,
    Retest,
    Round,
    Sample,
    Site,
    Tube,
)

if TYPE_CHECKING:
    from lianfang.accounts.models import User

TUBES_PER_BAG = pooling.TUBES_PER_BAG
# A gate scan with a yellow or red code counts for this long when no later scan shows green.
CODE_COLOUR_DAYS = 7
MAX_BATCH = 1000


class MassTestError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- rounds, rules, exemptions, sites -------------------------------------------------------

DEVICE_AHEAD = dt.timedelta(minutes=5)  # device clocks drift; a sample time beyond this is a wrong clock
DEVICE_OLDEST = dt.timedelta(days=7)  # an offline queue older than this is a wrong clock, not a queue
ROUND_LONGEST = dt.timedelta(days=7)  # from start to deadline: a round, not a campaign
ROUND_STARTED_BEFORE = dt.timedelta(days=1)  # a round may be entered a day late, not back-dated further
ROUND_STARTS_WITHIN = dt.timedelta(days=30)  # nor planned further ahead (a 2031 round is a typo)

def create_round(sub: SubDistrict, user: User | None, *, name: str, villages: Sequence[Village],
                 starts_at: dt.datetime, deadline: dt.datetime, default_pool_size: int = 10,
                 estimated_prevalence: float = 0.001) -> Round:
    name = (name or "").strip()
    if not name:
        raise MassTestError("round_name", "请填写轮次名称")
    if not villages:
        raise MassTestError("round_scope", "请至少选择一个村/社区")
    if any(v.subdistrict_id != sub.pk for v in villages):
        raise MassTestError("round_scope", "范围内有不属于本街道的村/社区")
    if deadline <= starts_at:
        raise MassTestError("round_window", "完成时限须晚于开始时间")
    if deadline - starts_at > ROUND_LONGEST:
        raise MassTestError("round_window", f"完成时限最长 {ROUND_LONGEST.days} 天（{_hours(ROUND_LONGEST)} 小时）")
    now = timezone.now()
    if starts_at < now - ROUND_STARTED_BEFORE or starts_at > now + ROUND_STARTS_WITHIN:
        raise MassTestError("round_start", f"开始时间 {timezone.localtime(starts_at):%Y-%m-%d %H:%M} 不在昨天到 "
                                           f"{ROUND_STARTS_WITHIN.days} 天后之间：请核对年份和日期")
    if default_pool_size not in pooling.ALLOWED_POOL_SIZES:
        raise MassTestError("pool_size", "混采规格只能是单管、5 混 1、10 混 1 或 20 混 1")
    if not 0 <= estimated_prevalence <= 1:
        raise MassTestError("prevalence", "估计阳性率须在 0–100% 之间")
    with transaction.atomic():
        # one round of a name at a time: a form sent twice at once makes one round (see round_list)
        SubDistrict.objects.select_for_update().filter(pk=sub.pk).first()
        if Round.objects.filter(subdistrict=sub, name=name[:80], status=Round.Status.OPEN).exists():
            raise MassTestError("round_twin", f"已有同名的进行中轮次「{name[:80]}」：请换一个名称，或先结束那一轮")
        rnd = Round.objects.create(subdistrict=sub, name=name[:80], starts_at=starts_at, deadline=deadline,
                                   default_pool_size=default_pool_size, estimated_prevalence=estimated_prevalence,
                                   created_by=user)
        rnd.villages.set(villages)
    return rnd


def _hours(span: dt.timedelta) -> int:
    return int(span.total_seconds() // 3600)


def overlapping_rounds(rnd: Round) -> list[tuple[str, str]]:
    """(village, other round) for each village of ``rnd`` also in another open round whose time
    overlaps: two rounds at once split people between them, and coverage reads wrong in both."""
    mine = round_village_ids(rnd)
    others = (Round.objects.filter(subdistrict_id=rnd.subdistrict_id, status=Round.Status.OPEN,
                                   starts_at__lt=rnd.deadline, deadline__gt=rnd.starts_at)
              .exclude(pk=rnd.pk).prefetch_related("villages"))
    return sorted((v.name, other.name) for other in others for v in other.villages.all() if v.pk in mine)


def close_round(rnd: Round) -> Round:
    if rnd.status == Round.Status.CLOSED:
        raise MassTestError("round_closed", "本轮已结束")
    rnd.status = Round.Status.CLOSED
    rnd.closed_at = timezone.now()
    rnd.save(update_fields=["status", "closed_at"])
    return rnd


def round_village_ids(rnd: Round) -> set[int]:
    cached = getattr(rnd, "_village_ids", None)
    if cached is None:
        cached = set(rnd.villages.values_list("pk", flat=True))
        rnd._village_ids = cached  # type: ignore[attr-defined]  # per-instance cache
    return cached


def set_rule(rnd: Round, village: Village, *, kind: str, pool_size: int = 10, grid_id: int | None = None,
             note: str = "") -> PoolRule:
    if village.pk not in round_village_ids(rnd):
        raise MassTestError("rule_scope", f"{village.name}不在本轮范围内")
    if kind not in PoolRule.Kind.values:
        raise MassTestError("rule_kind", "采样方式只能是混采、单人单管或一户一管")
    if kind == PoolRule.Kind.POOL and pool_size not in pooling.ALLOWED_POOL_SIZES[1:]:
        raise MassTestError("pool_size", "混采规格只能是 5 混 1、10 混 1 或 20 混 1")
    if grid_id is not None and not village.grids.filter(pk=grid_id).exists():
        raise MassTestError("rule_grid", "所选网格不属于该村/社区")
    size = pool_size if kind == PoolRule.Kind.POOL else 1
    rule, _ = PoolRule.objects.update_or_create(round=rnd, village=village, grid_id=grid_id,
                                                defaults={"kind": kind, "pool_size": size, "note": note[:100]})
    return rule


@dataclass(frozen=True)
class AreaRule:
    kind: str
    pool_size: int
    label: str


def rules_of(rnd: Round) -> dict[tuple[int, int | None], AreaRule]:
    return {(r.village_id, r.grid_id): AreaRule(r.kind, r.pool_size, r.label) for r in rnd.rules.all()}


def rule_for(rnd: Round, rules: dict[tuple[int, int | None], AreaRule], village_id: int,
             grid_id: int | None) -> AreaRule:
    rule = rules.get((village_id, grid_id)) if grid_id else None
    rule = rule or rules.get((village_id, None))
    return rule or AreaRule(PoolRule.Kind.POOL if rnd.default_pool_size > 1 else PoolRule.Kind.SINGLE,
                            rnd.default_pool_size, f"{rnd.default_pool_size} 混 1")


def add_exemption(rnd: Round, person: Person, user: User, reason: str, note: str = "") -> Exemption:
    if person.village_id not in round_village_ids(rnd):
        raise MassTestError("out_of_scope", f"{person.name}不在本轮范围内")
    if reason not in Exemption.Reason.values:
        raise MassTestError("exemption_reason", "请选择免检原因：不在本地/婴幼儿/已在隔离/住院/其他")
    if reason == Exemption.Reason.OTHER and len(note.strip()) < 2:
        raise MassTestError("exemption_note", "原因为“其他”时请写明说明")
    try:
        with transaction.atomic():
            return Exemption.objects.create(round=rnd, person=person, reason=reason, note=note[:100], created_by=user)
    except IntegrityError:
        raise MassTestError("exemption_exists", f"{person.name}已登记免检") from None


def exempt_isolated(rnd: Round, user: User | None) -> int:
    """Exempt everyone of the round's villages now in centralized isolation (an open stay)."""
    from lianfang.control.models import IsolationStay

    have = set(Exemption.objects.filter(round=rnd).values_list("person_id", flat=True))
    ids = set(IsolationStay.objects.filter(released_at__isnull=True, case__person__village_id__in=round_village_ids(rnd))
              .values_list("case__person_id", flat=True)) - have
    Exemption.objects.bulk_create([Exemption(round=rnd, person_id=pk, reason=Exemption.Reason.ISOLATED,
                                             note="集中隔离中（重点人员）", created_by=user) for pk in ids if pk])
    return len(ids)


def create_site(rnd: Round, village: Village, *, name: str, address: str = "", opens_at: str = "06:00",
                closes_at: str = "22:00", lead: User | None = None, staff: Iterable[User] = (), samplers: int = 2,
                lanes: Sequence[tuple[str, str]] = (("1号通道", Lane.Kind.GENERAL),)) -> Site:
    if village.pk not in round_village_ids(rnd):
        raise MassTestError("site_scope", f"{village.name}不在本轮范围内")
    if not name.strip():
        raise MassTestError("site_name", "请填写采样点名称")
    try:
        opening = dt.time.fromisoformat(str(opens_at)), dt.time.fromisoformat(str(closes_at))
    except ValueError as exc:
        raise MassTestError("site_hours", "开放时间格式应为 时:分，如 06:00") from exc
    if not 1 <= samplers <= 200:
        raise MassTestError("site_samplers", "采样人员数应在 1 到 200 之间")
    opens_at, closes_at = opening[0].isoformat("minutes"), opening[1].isoformat("minutes")
    with transaction.atomic():
        Round.objects.select_for_update().filter(pk=rnd.pk).first()  # one site of a name, even sent twice at once
        if Site.objects.filter(round=rnd, village=village, name=name.strip()[:80]).exists():
            raise MassTestError("site_twin", f"{village.name}本轮已有采样点「{name.strip()[:80]}」：请换一个名称")
        site = Site.objects.create(round=rnd, village=village, name=name.strip()[:80], address=address[:120],
                                   opens_at=opens_at, closes_at=closes_at, lead=lead, samplers=samplers)
        site.staff.set(list(staff))
        for lane_name, kind in lanes:
            if kind not in Lane.Kind.values:
                raise MassTestError("lane_kind", "通道类型只能是普通、学生绿色通道、老人通道或单管通道")
            Lane.objects.create(site=site, name=lane_name[:40], kind=kind)
    return site


# --- home sampling --------------------------------------------------------------------------

def request_home(rnd: Round, person: Person, user: User | None, *, reason: str = "",
                 source: str = HomeRequest.Source.CADRE) -> HomeRequest:
    if person.village_id not in round_village_ids(rnd):
        raise MassTestError("out_of_scope", f"{person.name}不在本轮范围内")
    try:
        with transaction.atomic():
            return HomeRequest.objects.create(round=rnd, person=person, village_id=person.village_id, source=source,
                                              reason=reason[:100], requested_by=user)
    except IntegrityError:
        raise MassTestError("home_exists", f"{person.name}已有上门采样申请") from None


def seed_home_requests(rnd: Round) -> int:
    """One request per person the register flags as limited in mobility (行动不便), once."""
    have = set(HomeRequest.objects.filter(round=rnd).exclude(status=HomeRequest.Status.CANCELLED)
               .values_list("person_id", flat=True))
    rows = [HomeRequest(round=rnd, person_id=pk, village_id=vid, source=HomeRequest.Source.REGISTER,
                        reason="名册标注行动不便")
            for pk, vid in Person.objects.filter(village_id__in=round_village_ids(rnd), limited_mobility=True)
            .values_list("pk", "village_id") if pk not in have]
    HomeRequest.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def assign_home(req: HomeRequest, team: str, assignees: Iterable[User]) -> HomeRequest:
    if req.status in {HomeRequest.Status.DONE, HomeRequest.Status.CANCELLED}:
        raise MassTestError("home_finished", f"该申请{req.get_status_display()}，不能再派单")
    team = team.strip()
    people = list(assignees)
    if not team and not people:
        raise MassTestError("home_team", "请填写上门小组或选择组员")
    req.team = team[:50]
    req.status = HomeRequest.Status.ASSIGNED
    req.assigned_at = timezone.now()
    req.save(update_fields=["team", "status", "assigned_at"])
    if people:
        req.assignees.set(people)
    return req


def cancel_home(req: HomeRequest) -> HomeRequest:
    if req.status == HomeRequest.Status.DONE:
        raise MassTestError("home_finished", "已采样的申请不能取消")
    req.status = HomeRequest.Status.CANCELLED
    req.save(update_fields=["status"])
    return req


# --- tubes and bags -------------------------------------------------------------------------

_BARCODE = re.compile(r"[A-Z0-9-]+")  # ASCII only: "试管一" is alphanumeric to Python, not to a barcode scanner


def _barcode(raw: str, what: str = "试管条码") -> str:
    code = "".join((raw or "").split()).upper()
    if not code:
        raise MassTestError("barcode_empty", f"请扫描{what}")
    if len(code) > 40 or not _BARCODE.fullmatch(code):
        raise MassTestError("barcode_format", f"{what}“{code[:40]}”格式有误：只能是字母、数字和 -")
    return code


def open_tube(rnd: Round, barcode: str, user: User, *, site: Site | None = None, lane: Lane | None = None,
              kind: str = "", pool_size: int | None = None, home: bool = False) -> tuple[Tube, bool]:
    """Open a tube by its barcode, or resume the same round's open tube. Returns (tube, created)."""
    code = _barcode(barcode)
    if not rnd.is_open:
        raise MassTestError("round_closed", "本轮不在采样中")
    existing = Tube.objects.filter(barcode=code).select_related("round").first()
    if existing is not None:
        if existing.round_id != rnd.pk:
            raise MassTestError("tube_other_round",
                                f"试管 {code} 已在“{existing.round.name}”中使用：试管不能跨轮次重复使用，请换新管")
        if existing.status == Tube.Status.CLOSED:
            raise MassTestError("tube_closed", f"试管 {code} 已封管（{existing.count} 人）：请换新管")
        return existing, False
    if lane is not None and site is not None and lane.site_id != site.pk:
        raise MassTestError("lane_site", "所选通道不属于该采样点")
    if lane is not None and lane.kind == Lane.Kind.SINGLE:
        kind, pool_size = Tube.Kind.SINGLE, 1
    if not kind:
        kind = Tube.Kind.POOL
    if kind not in Tube.Kind.values:
        raise MassTestError("tube_kind", "试管类型只能是混采管、单管或一户一管")
    if kind == Tube.Kind.SINGLE:
        pool_size = 1
    elif kind == Tube.Kind.HOUSEHOLD:
        pool_size = pooling.ALLOWED_POOL_SIZES[-1]  # set to the household's size at its first person
    else:
        pool_size = pool_size or (site_default_size(rnd, site))
        if pool_size not in pooling.ALLOWED_POOL_SIZES:
            raise MassTestError("pool_size", "混采规格只能是单管、5 混 1、10 混 1 或 20 混 1")
        if pool_size == 1:
            kind = Tube.Kind.SINGLE
    try:
        with transaction.atomic():
            tube = Tube.objects.create(round=rnd, barcode=code, kind=kind, pool_size=pool_size, site=site, lane=lane,
                                       home=home, opened_by=user)
    except IntegrityError:  # the same barcode opened at once elsewhere
        return open_tube(rnd, code, user, site=site, lane=lane, kind=kind, pool_size=pool_size, home=home)
    return tube, True


def site_default_size(rnd: Round, site: Site | None) -> int:
    if site is None:
        return rnd.default_pool_size
    rule = rule_for(rnd, rules_of(rnd), site.village_id, None)
    return rule.pool_size


def close_tube(tube: Tube) -> Tube:
    if tube.status == Tube.Status.CLOSED:
        raise MassTestError("tube_closed", f"试管 {tube.barcode} 已封管")
    if tube.count == 0:
        raise MassTestError("tube_empty", f"试管 {tube.barcode} 还没有采样，不能封管")
    tube.status = Tube.Status.CLOSED
    tube.closed_at = timezone.now()
    tube.save(update_fields=["status", "closed_at"])
    return tube


def unbagged(rnd: Round, site: Site | None, user: User) -> Any:
    qs = Tube.objects.filter(round=rnd, status=Tube.Status.CLOSED, bag__isnull=True)
    return qs.filter(site=site) if site is not None else qs.filter(site__isnull=True, opened_by=user)


@transaction.atomic
def pack_bag(rnd: Round, code: str, user: User, site: Site | None = None) -> Bag:
    """Put up to 20 closed tubes of the site (oldest first) into the bag with this code."""
    code = _barcode(code, "转运袋编号")
    if Bag.objects.filter(code=code).exists():
        raise MassTestError("bag_exists", f"转运袋 {code} 已使用：请换新袋")
    tubes = list(unbagged(rnd, site, user).select_for_update().order_by("closed_at", "pk")[:TUBES_PER_BAG])
    if not tubes:
        raise MassTestError("bag_empty", "没有待装袋的已封管试管")
    try:
        with transaction.atomic():
            bag = Bag.objects.create(round=rnd, site=site, code=code, packed_by=user)
    except IntegrityError as exc:  # another device packed a bag with this code at the same moment
        raise MassTestError("bag_exists", f"转运袋 {code} 已使用：请换新袋") from exc
    Tube.objects.filter(pk__in=[t.pk for t in tubes]).update(bag=bag)
    return bag


@transaction.atomic
def hand_over(sub_id: int, code: str, user: User, lab: str) -> Bag:
    code = _barcode(code, "转运袋编号")
    bag = Bag.objects.select_for_update().filter(code=code, round__subdistrict_id=sub_id).first()
    if bag is None:
        raise MassTestError("bag_unknown", f"转运袋 {code} 不存在：请核对袋上编号")
    if bag.status == Bag.Status.HANDED_OVER:
        at = timezone.localtime(bag.handed_over_at).strftime("%H:%M") if bag.handed_over_at else ""
        raise MassTestError("bag_handed_over", f"转运袋 {code} 已于 {at} 交接给 {bag.lab}，无需重复交接")
    lab = lab.strip()
    if not lab:
        raise MassTestError("bag_lab", "请填写接收的检测机构")
    bag.status = Bag.Status.HANDED_OVER
    bag.lab = lab[:80]
    bag.handed_over_by = user
    bag.handed_over_at = timezone.now()
    bag.save()
    return bag


# --- sampling -------------------------------------------------------------------------------

@dataclass
class SampleIn:
    nonce: str
    tube: str
    person_id: int | None = None
    doc_number: str = ""
    doc_type: str = DocumentType.RESIDENT_ID.value
    device_time: dt.datetime | None = None
    device_id: str = ""
    code_colour: str = ""  # what the sampler saw on the person's phone, if entered
    entered_by: str = "scan"
    # A device's offline queue also holds the tubes it opened: the first item of a tube the server
    # does not know yet says how to open it (its pool size or kind), at the batch's site and lane.
    pool_size: int | None = None
    kind: str = ""


@dataclass(frozen=True)
class OpenAt:
    """Where a batch's new tubes are opened: the device's site and lane, or a home visit."""

    site: Site | None = None
    lane: Lane | None = None
    home: bool = False


@dataclass
class SampleOut:
    nonce: str
    ok: bool
    created: bool = False
    sample_id: int | None = None
    person_id: int | None = None
    name: str = ""
    doc_masked: str = ""
    tube: str = ""
    tube_count: int = 0
    tube_size: int = 0
    tube_closed: bool = False
    duplicate: bool = False
    duplicate_of: str = ""
    alert: str = ""
    retest: bool = False
    error_code: str = ""
    error: str = ""
    warnings: list[str] = field(default_factory=list)


def _content_hash(tube: str, person_key: str) -> str:
    return hashlib.sha256(f"{tube}|{person_key}".encode()).hexdigest()


def _person_key(item: SampleIn) -> tuple[str, str]:
    """('id', '42') or ('doc', hash): what names the person, for lookup and for the content hash."""
    if item.person_id:
        return "id", str(item.person_id)
    raw = (item.doc_number or "").strip()
    if not raw:
        raise MassTestError("person_missing", "请扫描身份证或输入姓名/拼音查找人员")
    try:
        dtype = documents.parse_doc_type(item.doc_type or "resident_id")
        number = documents.normalize_document(dtype, raw)
    except DocumentError as exc:
        raise MassTestError(exc.code, exc.message) from exc
    return "doc", crypto.keyed_hash(dtype.value, number)


def alerts_for(person_ids: Iterable[int], now: dt.datetime | None = None) -> dict[int, str]:
    """People who belong in a single tube: an open key-person case, or a yellow/red code at their
    latest gate scan of the last days."""
    ids = list(set(person_ids))
    if not ids:
        return {}
    out: dict[int, str] = {}
    for pid, category in Case.objects.filter(person_id__in=ids, closed_at__isnull=True).values_list(
            "person_id", "category"):
        assert pid is not None
        out[pid] = f"重点人员（{dict(Case._meta.get_field('category').choices or []).get(category, category)}）"
    since = (now or timezone.now()) - dt.timedelta(days=CODE_COLOUR_DAYS)
    latest: dict[int, str] = {}
    for pid, colour in Scan.objects.filter(person_id__in=ids, server_time__gte=since).exclude(code_colour="") \
            .order_by("person_id", "-server_time").values_list("person_id", "code_colour"):
        assert pid is not None
        latest.setdefault(pid, colour)
    for pid, colour in latest.items():
        if colour in {"yellow", "red"} and pid not in out:
            out[pid] = "黄码" if colour == "yellow" else "红码"
    return out


COLOUR_ALERT = {"yellow": "黄码", "red": "红码"}
# The columns _judge fills, in its row order (fastinsert writes them without per-field preparation).
SAMPLE_COLUMNS = ("subdistrict_id", "round_id", "tube_id", "person_id", "village_id", "grid_id", "household_id",
                  "site_id", "lane_id", "home", "first", "duplicate", "alert", "entered_by", "nonce", "content_hash",
                  "device_id", "device_time", "server_time", "staff_id")


def record_sample(user: User, rnd: Round, item: SampleIn) -> SampleOut:
    return record_samples(user, rnd, [item])[0]


def record_samples(user: User, rnd: Round, items: Sequence[SampleIn],
                   may_use: Callable[[Tube], bool] | None = None, open_at: OpenAt | None = None) -> list[SampleOut]:
    """Record a device's samples: each item judged on its own (a bad item is refused alone), all
    accepted ones written in one transaction. A nonce already received is acknowledged, never
    written twice; the same nonce with other content is refused."""
    if len(items) > MAX_BATCH:
        raise MassTestError("batch_size", f"一次最多提交 {MAX_BATCH} 条")
    try:
        with transaction.atomic():
            return _record(user, rnd, items, may_use, open_at)
    except DatabaseError as exc:
        # SQLite reports a UNIQUE violation met while reading a RETURNING clause as a plain
        # DatabaseError, not an IntegrityError: both are the same lost race.
        if not isinstance(exc, IntegrityError) and "UNIQUE constraint failed" not in str(exc):
            raise
        # Another device won a race (the same nonce, the same tube opened offline on two syncs, or
        # the same person's first sample at once): judge the items one by one against what is now
        # in the database.
        if len(items) == 1:
            with transaction.atomic():
                return _record(user, rnd, items, may_use, open_at)
        out: list[SampleOut] = []
        for item in items:
            out.extend(record_samples(user, rnd, [item], may_use, open_at))
        return out


def _record(user: User, rnd: Round, items: Sequence[SampleIn],
            may_use: Callable[[Tube], bool] | None, open_at: OpenAt | None = None) -> list[SampleOut]:
    now = timezone.now()
    sub_id = rnd.subdistrict_id
    results: list[SampleOut | None] = [None] * len(items)
    keys: list[tuple[str, str] | None] = [None] * len(items)
    for i, item in enumerate(items):
        try:
            if not item.nonce or len(item.nonce) > 64:
                raise MassTestError("nonce", "记录缺少编号（nonce），请重试")
            keys[i] = _person_key(item)
        except MassTestError as exc:
            results[i] = SampleOut(nonce=item.nonce, ok=False, error_code=exc.code, error=exc.message)
    # Already received: acknowledge.
    nonces = [it.nonce for it in items if it.nonce]
    seen = {s.nonce: s for s in Sample.objects.filter(subdistrict_id=sub_id, nonce__in=nonces)
            .select_related("tube", "person")}
    # The people, by id or by document hash, within the sub-district.
    ids = {int(k[1]) for k in keys if k and k[0] == "id"}
    hashes = {k[1] for k in keys if k and k[0] == "doc"}
    people: dict[tuple[str, str], Person] = {}
    qs = Person.objects.filter(subdistrict_id=sub_id).only(
        "pk", "name", "doc_masked", "village_id", "grid_id", "household_id", "doc_hash", "doc_type")
    if ids:
        people.update((("id", str(p.pk)), p) for p in qs.filter(pk__in=ids))
    if hashes:
        people.update((("doc", p.doc_hash), p) for p in qs.filter(doc_hash__in=hashes))
    pids = [p.pk for p in people.values()]
    alerts = alerts_for(pids, now)
    firsts = dict(Sample.objects.filter(round=rnd, person_id__in=pids, first=True)
                  .values_list("person_id", "tube__barcode"))
    # People whose every sample so far is in a tube the lab found invalid: a new swab is a
    # re-sample (需重采), not a duplicate.
    results_by_person: dict[int, set[str | None]] = defaultdict(set)
    if firsts:
        for pid, res in Sample.objects.filter(round=rnd, person_id__in=list(firsts)).values_list(
                "person_id", "tube__result__result"):
            results_by_person[pid].add(res)
    resample = {pid for pid, found in results_by_person.items() if found == {"invalid"}}
    pending_retest = dict(Retest.objects.filter(round=rnd, person_id__in=pids, status=Retest.Status.PENDING)
                          .values_list("person_id", "pk"))
    barcodes = {"".join(it.tube.split()).upper() for it in items if it.tube}
    sites: dict[int, Site] = {}
    tubes = {t.barcode: t for t in Tube.objects.select_for_update().filter(barcode__in=barcodes)}
    if open_at is not None and len(tubes) < len(barcodes):
        tubes.update(_open_queued(rnd, user, items, tubes, open_at))
    # who is in this batch's tubes already: a probe of the (tube, person) unique index, no join
    barcode_of = {t.pk: code for code, t in tubes.items()}
    in_tube = {(barcode_of[tid], pid) for tid, pid in Sample.objects.filter(
        tube_id__in=list(barcode_of), person_id__in=pids).values_list("tube_id", "person_id")}
    site_ids = {t.site_id for t in tubes.values() if t.site_id is not None}
    if site_ids:
        sites.update((s.pk, s) for s in Site.objects.filter(pk__in=site_ids))
    for t in tubes.values():
        if t.site_id is not None:  # the sites, once, for the permission check
            t.site = sites[t.site_id]
    rules = rules_of(rnd)
    village_ids = round_village_ids(rnd)
    household_sizes: dict[int, int] = {}
    exempt = set(Exemption.objects.filter(round=rnd, person_id__in=pids).values_list("person_id", flat=True))
    new: list[tuple[Any, ...]] = []
    new_out: list[SampleOut] = []
    touched: dict[int, Tube] = {}
    retests_sampled: dict[int, Tube] = {}
    homes_done: set[int] = set()
    batch_nonces: dict[str, str] = {}
    for i, item in enumerate(items):
        if results[i] is not None:
            continue
        key = keys[i]
        assert key is not None
        code = "".join(item.tube.split()).upper()
        chash = _content_hash(code, f"{key[0]}:{key[1]}")
        prior = seen.get(item.nonce)
        if prior is not None or item.nonce in batch_nonces:
            if (prior.content_hash if prior else batch_nonces[item.nonce]) != chash:
                results[i] = SampleOut(nonce=item.nonce, ok=False, error_code="nonce_reused",
                                       error="该记录编号已用于另一条采样：请刷新页面后重新录入")
            elif prior is not None:
                results[i] = SampleOut(nonce=item.nonce, ok=True, created=False, sample_id=prior.pk,
                                       person_id=prior.person_id, name=prior.person.name,
                                       doc_masked=prior.person.doc_masked, tube=prior.tube.barcode,
                                       tube_count=prior.tube.count, tube_size=prior.tube.pool_size,
                                       tube_closed=prior.tube.status == Tube.Status.CLOSED,
                                       duplicate=prior.duplicate, alert=prior.alert)
            else:
                results[i] = SampleOut(nonce=item.nonce, ok=True, created=False, tube=code)
            continue
        try:
            tube_in = tubes.get(code)
            if tube_in is not None and may_use is not None and not may_use(tube_in):
                raise MassTestError("sampling_forbidden", f"试管 {code} 不属于您所在的采样点")
            out, sample = _judge(rnd, item, key, code, chash, people, tubes, rules, village_ids, alerts, firsts,
                                 pending_retest, exempt, household_sizes, in_tube, user, now, resample)
        except MassTestError as exc:
            results[i] = SampleOut(nonce=item.nonce, ok=False, error_code=exc.code, error=exc.message)
            continue
        batch_nonces[item.nonce] = chash
        tube = tubes[code]
        touched[tube.pk] = tube
        person_id = sample[3]
        if out.retest:
            retests_sampled[person_id] = tube
        if tube.home:
            homes_done.add(person_id)
        new.append(sample)
        new_out.append(out)
        results[i] = out
    if new:
        for sample_id, out in zip(insert_rows(Sample, SAMPLE_COLUMNS, new), new_out, strict=True):
            out.sample_id = sample_id
        for tube in touched.values():
            Tube.objects.filter(pk=tube.pk).update(count=tube.count, status=tube.status, closed_at=tube.closed_at,
                                                   household=tube.household_id, pool_size=tube.pool_size,
                                                   kind=tube.kind, retest=tube.retest)
        for pid, tube in retests_sampled.items():
            Retest.objects.filter(round=rnd, person_id=pid, status=Retest.Status.PENDING).update(
                status=Retest.Status.SAMPLED, retest_tube=tube)
        if homes_done:
            HomeRequest.objects.filter(round=rnd, person_id__in=homes_done).exclude(
                status__in=[HomeRequest.Status.DONE, HomeRequest.Status.CANCELLED]).update(
                status=HomeRequest.Status.DONE, done_at=now)
    return [r for r in results if r is not None]


def _open_queued(rnd: Round, user: User, items: Sequence[SampleIn], known: dict[str, Tube],
                 open_at: OpenAt) -> dict[str, Tube]:
    """Open the tubes a device's queue opened offline (first item of each unknown barcode)."""
    if not rnd.is_open:
        return {}
    specs: dict[str, tuple[str, int]] = {}
    for it in items:
        code = "".join(it.tube.split()).upper()
        if code in known or code in specs or not (it.pool_size or it.kind):
            continue
        try:
            code = _barcode(code)
        except MassTestError:
            continue
        kind = it.kind or (Tube.Kind.SINGLE if it.pool_size == 1 else Tube.Kind.POOL)
        if open_at.lane is not None and open_at.lane.kind == Lane.Kind.SINGLE:
            kind = Tube.Kind.SINGLE
        size = 1 if kind == Tube.Kind.SINGLE else (
            pooling.ALLOWED_POOL_SIZES[-1] if kind == Tube.Kind.HOUSEHOLD else it.pool_size or rnd.default_pool_size)
        if kind not in Tube.Kind.values or size not in pooling.ALLOWED_POOL_SIZES:
            continue  # judged later as an unknown tube
        specs[code] = (kind, size)
    if not specs:
        return {}
    # A barcode used in another round is not "unknown": it stays refused as such.
    taken = set(Tube.objects.filter(barcode__in=list(specs)).values_list("barcode", flat=True))
    new = [Tube(round=rnd, barcode=code, kind=kind, pool_size=size, site=open_at.site, lane=open_at.lane,
                home=open_at.home, opened_by=user) for code, (kind, size) in specs.items() if code not in taken]
    Tube.objects.bulk_create(new)
    if any(t.pk is None for t in new):
        return {t.barcode: t for t in Tube.objects.select_for_update().filter(barcode__in=[t.barcode for t in new])}
    return {t.barcode: t for t in new}


def _judge(rnd: Round, item: SampleIn, key: tuple[str, str], code: str, chash: str,
           people: dict[tuple[str, str], Person], tubes: dict[str, Tube], rules: dict[tuple[int, int | None], AreaRule],
           village_ids: set[int], alerts: dict[int, str], firsts: dict[int, str], pending_retest: dict[int, int],
           exempt: set[int], household_sizes: dict[int, int], in_tube: set[tuple[str, int]], user: User,
           now: dt.datetime, resample: set[int] | None = None) -> tuple[SampleOut, tuple[Any, ...]]:
    if not rnd.is_open:
        raise MassTestError("round_closed", "本轮不在采样中")
    if not code:
        raise MassTestError("barcode_empty", "请先扫描试管条码")
    tube = tubes.get(code)
    if tube is None:
        raise MassTestError("tube_unknown", f"试管 {code} 未开管登记：请先扫描试管条码开管")
    if tube.round_id != rnd.pk:
        raise MassTestError("tube_other_round", f"试管 {code} 属于另一轮次：试管不能跨轮次使用，请换新管")
    if tube.status == Tube.Status.CLOSED:
        raise MassTestError("tube_closed", f"试管 {code} 已封管（{tube.count}/{tube.pool_size}）：请扫描新试管")
    person = people.get(key)
    if person is None:
        if key[0] == "doc":
            raise MassTestError("person_unknown", "名册中没有该证件号码的人员：请核对证件，或由村干部先登记入册")
        raise MassTestError("person_unknown", "名册中没有该人员")
    if person.village_id not in village_ids:
        raise MassTestError("out_of_scope", "该人员不在本轮采样范围内：请到所属村/社区的采样点采样")
    if (code, person.pk) in in_tube:
        raise MassTestError("already_in_tube", f"{person.name}已在试管 {code} 采样，无需重复录入")
    alert = alerts.get(person.pk, "")
    colour = COLOUR_ALERT.get(item.code_colour or "")
    if colour and not alert:
        alert = colour
    retest = person.pk in pending_retest
    if tube.pool_size > 1:
        if retest:
            raise MassTestError("retest_single_tube", f"⚠ {person.name}待复核（混管阳性）：须单人单管复核采样，请换单管")
        if alert:
            raise MassTestError("alert_single_tube", f"⚠ {person.name}：{alert}。请立即报告，单人单管、分开采样，不得混管")
    rule = rule_for(rnd, rules, person.village_id, person.grid_id)
    if rule.kind == PoolRule.Kind.HOUSEHOLD and tube.kind != Tube.Kind.HOUSEHOLD and tube.pool_size > 1:
        raise MassTestError("rule_household", f"{person.name}所在区域为封控区，须一户一管：请换一户一管试管")
    if rule.kind == PoolRule.Kind.SINGLE and tube.pool_size > 1:
        raise MassTestError("rule_single", f"{person.name}所在区域要求单人单管：请换单管")
    if rule.kind == PoolRule.Kind.POOL and tube.kind == Tube.Kind.POOL and tube.pool_size > rule.pool_size:
        raise MassTestError("rule_pool_size",
                            f"{person.name}所在区域为 {rule.pool_size} 混 1，本管为 {tube.pool_size} 混 1：请换管")
    if tube.kind == Tube.Kind.HOUSEHOLD:
        if person.household_id is None:
            raise MassTestError("no_household", f"{person.name}在名册中没有户，不能装入一户一管")
        if tube.count == 0:
            if person.household_id not in household_sizes:
                household_sizes[person.household_id] = Person.objects.filter(
                    household_id=person.household_id).exclude(Exists(Exemption.objects.filter(
                        round=rnd, person_id=OuterRef("pk")))).count()
            tube.household_id = person.household_id
            tube.pool_size = max(1, min(household_sizes[person.household_id], pooling.ALLOWED_POOL_SIZES[-1]))
        elif tube.household_id != person.household_id:
            raise MassTestError("household_mismatch", f"{person.name}不是本户成员：一户一管只能装同户人员")
    device_time = item.device_time or now
    if timezone.is_naive(device_time):
        device_time = timezone.make_aware(device_time)
    if not now - DEVICE_OLDEST <= device_time <= now + DEVICE_AHEAD:
        raise MassTestError("device_time", "采样设备时间不对（晚于现在，或早于 7 天前）：请校准手机时间后重试")
    out = SampleOut(nonce=item.nonce, ok=True, created=True, person_id=person.pk, name=person.name,
                    doc_masked=person.doc_masked, tube=code, alert=alert, retest=retest)
    first = person.pk not in firsts
    resampled = not first and resample is not None and person.pk in resample
    duplicate = not first and not retest and not resampled
    if resampled:
        assert resample is not None
        resample.discard(person.pk)
        out.warnings.append(f"{person.name}上次的试管检测无效，本次为重采")
    if duplicate:
        out.duplicate = True
        out.duplicate_of = firsts[person.pk]
        out.warnings.append(f"重复采样：{person.name}本轮已在试管 {firsts[person.pk]} 采样")
    if person.pk in exempt:
        out.warnings.append(f"{person.name}已登记免检，本次仍记录采样")
    if first:
        firsts[person.pk] = code
    in_tube.add((code, person.pk))
    if retest:
        tube.retest = True
        pending_retest.pop(person.pk, None)
    tube.count += 1
    if tube.count >= tube.pool_size:
        tube.status = Tube.Status.CLOSED
        tube.closed_at = now
    out.tube_count, out.tube_size, out.tube_closed = tube.count, tube.pool_size, tube.status == Tube.Status.CLOSED
    row = (rnd.subdistrict_id, rnd.pk, tube.pk, person.pk, person.village_id, person.grid_id, person.household_id,
           tube.site_id, tube.lane_id, tube.home, first, duplicate, alert[:100], item.entered_by[:10] or "scan",
           item.nonce, chash, item.device_id[:64], device_time, now, user.pk)
    return out, row


# --- coverage -------------------------------------------------------------------------------

@dataclass
class CoverageRow:
    key: int | None
    label: str
    registered: int = 0
    exempt: int = 0
    sampled: int = 0
    village: str = ""  # of a grid: grids of different villages often share a name (第1村民小组)

    @property
    def expected(self) -> int:
        return max(self.registered - self.exempt, 0)

    @property
    def untested(self) -> int:
        return max(self.expected - self.sampled, 0)

    @property
    def rate(self) -> float:
        return round(100.0 * self.sampled / self.expected, 1) if self.expected else 100.0


LEVEL_FIELDS = {"village": "village_id", "grid": "grid_id", "building": "household__building_id",
                "household": "household_id"}


@dataclass(frozen=True)
class Scope:
    """The part of a round a user may see: villages, and for a grid worker the grids too."""

    village_ids: tuple[int, ...]
    grid_ids: tuple[int, ...] | None = None

    def narrowed(self, village_id: int | None = None, grid_id: int | None = None) -> Scope:
        villages = self.village_ids if village_id is None else tuple(v for v in self.village_ids if v == village_id)
        grids = self.grid_ids
        if grid_id is not None:
            grids = (grid_id,) if grids is None or grid_id in grids else ()
        return Scope(villages, grids)

    def persons(self) -> Any:
        qs = Person.objects.filter(village_id__in=self.village_ids)
        return qs.filter(grid_id__in=self.grid_ids) if self.grid_ids is not None else qs

    def samples(self, rnd: Round) -> Any:
        qs = Sample.objects.filter(round=rnd, first=True, village_id__in=self.village_ids)
        return qs.filter(grid_id__in=self.grid_ids) if self.grid_ids is not None else qs


def coverage(rnd: Round, scope: Scope, level: str = "village") -> list[CoverageRow]:
    """Expected (register in scope minus exemptions) against sampled, grouped by ``level``.

    Every level counts people of the register as they are now (a person sampled and then moved
    counts where they live now, as the untested list does): the register in scope, semi-joined
    with the first samples of the round (EXISTS, an index probe per person).
    """
    fieldname = LEVEL_FIELDS[level]
    persons = scope.persons()
    registered = dict(persons.values_list(fieldname).annotate(n=Count("pk")).order_by())
    # Exemptions are few: read them from their own table (a probe of the person and of the
    # first-sample index each) rather than by scanning the register or the samples again.
    exempt: dict[Any, int] = defaultdict(int)
    exempt_sampled: dict[Any, int] = defaultdict(int)
    exemptions = Exemption.objects.filter(round=rnd, person__village_id__in=scope.village_ids)
    if scope.grid_ids is not None:
        exemptions = exemptions.filter(person__grid_id__in=scope.grid_ids)
    tested_exempt = Exists(Sample.objects.filter(round=rnd, first=True, person_id=OuterRef("person_id")))
    for key, tested in exemptions.annotate(tested=tested_exempt).values_list(f"person__{fieldname}", "tested"):
        exempt[key] += 1
        exempt_sampled[key] += int(bool(tested))
    tested = Exists(Sample.objects.filter(round=rnd, first=True, person_id=OuterRef("pk")))
    sampled = dict(persons.filter(tested).values_list(fieldname).annotate(n=Count("pk")).order_by())
    for key, n in exempt_sampled.items():
        sampled[key] = max(sampled.get(key, 0) - n, 0)
    labels = _labels(level, set(registered))
    rows = []
    for k in registered:
        label, village = labels.get(k, ("（未分配）", ""))
        rows.append(CoverageRow(k, label, registered.get(k, 0), exempt.get(k, 0), sampled.get(k, 0), village))
    rows.sort(key=lambda r: (r.label == "（未分配）", pinyin_order(r.village), pinyin_order(r.label)))
    return rows


def _labels(level: str, keys: set[Any]) -> dict[Any, tuple[str, str]]:
    """(name, village name) per key; the village only for grids, whose names repeat across villages."""
    from lianfang.core.models import Building, Grid

    ids = [k for k in keys if k is not None]
    if level == "village":
        return {pk: (name, "") for pk, name in Village.objects.filter(pk__in=ids).values_list("pk", "name")}
    if level == "grid":
        return {pk: (name, village) for pk, name, village in
                Grid.objects.filter(pk__in=ids).values_list("pk", "name", "village__name")}
    if level == "building":
        return {pk: (name, "") for pk, name in Building.objects.filter(pk__in=ids).values_list("pk", "name")}
    return {h.pk: (h.address, "") for h in Household.objects.filter(pk__in=ids).select_related("building")}


def total(rows: list[CoverageRow]) -> CoverageRow:
    t = CoverageRow(None, "合计")
    for r in rows:
        t.registered += r.registered
        t.exempt += r.exempt
        t.sampled += r.sampled
    return t


def untested(rnd: Round, scope: Scope) -> Any:
    """The people still to chase: in scope, not exempt, with no sample this round."""
    # NOT EXISTS, never NOT IN: PostgreSQL runs NOT IN over a subquery bigger than work_mem as a
    # nested loop (quadratic: minutes at a million samples), NOT EXISTS as an anti-join.
    return (scope.persons()
            .exclude(Exists(Exemption.objects.filter(round=rnd, person_id=OuterRef("pk"))))
            .exclude(Exists(Sample.objects.filter(round=rnd, first=True, person_id=OuterRef("pk"))))
            .select_related("village", "grid", "household__building").order_by("village_id", "household_id", "pk"))


def helpers_of(person_ids: list[int]) -> dict[int, str]:
    """Each person's helper (结对帮扶人) from the roll-call groups, when one is named."""
    from lianfang.checkins.models import GroupMember

    out: dict[int, str] = {}
    for pid, helper in GroupMember.objects.filter(person_id__in=person_ids, helper__isnull=False).values_list(
            "person_id", "helper__name"):
        if pid is not None:
            out.setdefault(pid, helper)
    return out


@dataclass
class SitePlan:
    village: Village
    people: int
    sites: int
    samplers: int
    rule: str
    advised_sites: int
    advised_samplers: int

    @property
    def short(self) -> bool:
        return self.sites < self.advised_sites or self.samplers < self.advised_samplers


def site_plan(rnd: Round) -> list[SitePlan]:
    """Per village: the sites and samplers set up against the 2022 sizing (a site per ~2,500
    people, a sampler per 360 people a day), over the round's window."""
    villages = list(rnd.villages.order_by("code"))
    people = dict(Person.objects.filter(village__in=villages).values_list("village_id").annotate(n=Count("pk"))
                  .order_by())
    sites: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for vid, n in Site.objects.filter(round=rnd).values_list("village_id", "samplers"):
        sites[vid][0] += 1
        sites[vid][1] += n
    rules = rules_of(rnd)
    hours = max((rnd.deadline - rnd.starts_at).total_seconds() / 3600, 1.0)
    out = []
    for v in villages:
        rule = rule_for(rnd, rules, v.pk, None)
        size = pooling.size_round(people.get(v.pk, 0), rule.pool_size if rule.pool_size in pooling.ALLOWED_POOL_SIZES
                                  else 1, rnd.estimated_prevalence, hours)
        out.append(SitePlan(v, people.get(v.pk, 0), sites[v.pk][0], sites[v.pk][1], rule.label, size.sites,
                            size.samplers))
    return out


STAT_LABELS = {  # round_stats' keys, as the report's 轮次 sheet names them
    "tubes": "试管（管）", "closed": "已封管", "bagged": "已装袋", "negative": "阴性管", "positive": "阳性管",
    "invalid": "无效管（需重采）", "bags": "转运袋（袋）", "handed": "已交接检测机构", "samples": "采样（人次）",
    "duplicates": "重复采样（人次）", "alerts": "重点人员/黄码提示（人次）", "retests": "混管阳性待复核（人）",
    "pending": "复核尚未采样（人）", "homes": "上门采样申请（人）", "homes_done": "上门已采样（人）",
}


def round_stats(rnd: Round, scope: Scope | None = None) -> dict[str, int]:
    """Counts of the round; with ``scope``, only of its people (a village sees its own tubes and
    results, never the round's positives elsewhere)."""
    tube_qs = Tube.objects.filter(round=rnd)
    sample_qs = Sample.objects.filter(round=rnd)
    retest_qs = Retest.objects.filter(round=rnd)
    home_qs = HomeRequest.objects.filter(round=rnd)
    bag_qs = Bag.objects.filter(round=rnd)
    if scope is not None:
        persons = scope.persons()
        sample_qs = sample_qs.filter(person__in=persons)
        tube_qs = tube_qs.filter(pk__in=sample_qs.values("tube_id"))
        retest_qs = retest_qs.filter(person__in=persons)
        home_qs = home_qs.filter(person__in=persons)
        bag_qs = bag_qs.filter(pk__in=tube_qs.values("bag_id"))
    tubes = tube_qs.aggregate(
        tubes=Count("pk"), closed=Count("pk", filter=Q(status=Tube.Status.CLOSED)),
        bagged=Count("pk", filter=Q(bag__isnull=False)),
        negative=Count("pk", filter=Q(result__result="negative")),
        positive=Count("pk", filter=Q(result__result="positive")),
        invalid=Count("pk", filter=Q(result__result="invalid")))
    bags = bag_qs.aggregate(
        bags=Count("pk"), handed=Count("pk", filter=Q(status=Bag.Status.HANDED_OVER)))
    samples = sample_qs.aggregate(
        samples=Count("pk"), duplicates=Count("pk", filter=Q(duplicate=True)),
        alerts=Count("pk", filter=~Q(alert="")))
    retests = retest_qs.aggregate(
        retests=Count("pk"), pending=Count("pk", filter=Q(status=Retest.Status.PENDING)))
    homes = home_qs.exclude(status=HomeRequest.Status.CANCELLED).aggregate(
        homes=Count("pk"), homes_done=Count("pk", filter=Q(status=HomeRequest.Status.DONE)))
    return {k: int(v or 0) for d in (tubes, bags, samples, retests, homes) for k, v in d.items()}


def persons_by_tube(tube_ids: Iterable[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    for tid, pid in Sample.objects.filter(tube_id__in=list(tube_ids)).values_list("tube_id", "person_id"):
        if pid not in out[tid]:
            out[tid].append(pid)
    return out
