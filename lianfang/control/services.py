"""The case pipeline's operations. Every refusal is a ControlError with a code and a Chinese message."""

from __future__ import annotations

import datetime as dt
import hashlib
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from lianfang.control.models import (
    NEXT_STAGE,
    OPEN_STAGES,
    Case,
    CaseEvent,
    CaseSource,
    InboxEvent,
    InboxItem,
    IsolationRoom,
    IsolationSite,
    IsolationStay,
    MeasureRule,
    ProtocolEdition,
    ProtocolRevision,
    Stage,
    StageLimit,
    TransferTask,
)
from lianfang.core import crypto
from lianfang.core import services as register
from lianfang.core.models import Person, SubDistrict, Village
from lianfang.engines import plates, protocol
from lianfang.engines.documents import DocumentType

if TYPE_CHECKING:
    from lianfang.accounts.models import User


class ControlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


DEFAULT_LIMITS = [  # (stage, owner, hours): configurable per sub-district on the limits page
    (Stage.VERIFY, "数据专班", 2.0),
    (Stage.HANDOFF, "村/社区干部", 2.0),
    (Stage.TRANSFER, "转运专班", 6.0),
    (Stage.CONTROL, "村/社区干部", None),
]


# --- protocol editions ----------------------------------------------------------------------

def engine_editions(subdistrict_id: int) -> list[protocol.Edition]:
    editions = ProtocolEdition.objects.filter(subdistrict_id=subdistrict_id, status=ProtocolEdition.Status.PUBLISHED)
    return [e.to_engine() for e in editions.prefetch_related("rules")]


def plan_json(plan: protocol.Plan) -> dict[str, Any]:
    return {
        "edition": plan.edition_key, "edition_name": plan.edition_name, "category": plan.category,
        "exposure_date": plan.exposure_date.isoformat(), "summary": plan.summary(),
        "phases": [{"measure": p.measure, "start": p.start.isoformat(), "end": p.end.isoformat(),
                    "tests": [t.isoformat() for t in p.test_dates]} for p in plan.phases],
    }


def compute_plan(subdistrict_id: int, category: str, exposure_date: dt.date,
                 editions: list[protocol.Edition] | None = None) -> tuple[protocol.Plan, ProtocolEdition]:
    try:
        plan = protocol.plan_case(editions if editions is not None else engine_editions(subdistrict_id),
                                  category, exposure_date, today=timezone.localdate())
    except protocol.ProtocolError as exc:
        raise ControlError(exc.code, exc.message) from exc
    edition = ProtocolEdition.objects.get(subdistrict_id=subdistrict_id, key=plan.edition_key)
    return plan, edition


def snapshot(edition: ProtocolEdition) -> dict[str, Any]:
    return {"key": edition.key, "name": edition.name, "effective_from": edition.effective_from.isoformat(),
            "status": edition.status, "rules": {r.category: r.phases for r in edition.rules.all()},
            "gate_rules": edition.gate_rules}


def _revise(edition: ProtocolEdition, user: User | None, action: str) -> None:
    ProtocolRevision.objects.create(edition=edition, user=user, action=action, snapshot=snapshot(edition))


@transaction.atomic
def create_edition(subdistrict: SubDistrict, *, key: str, name: str, effective_from: dt.date,
                   rules: dict[str, list[list[Any]]], source: str = "", user: User | None = None,
                   published: bool = False, copied_from: ProtocolEdition | None = None,
                   gate_rules: dict[str, Any] | None = None) -> ProtocolEdition:
    if ProtocolEdition.objects.filter(subdistrict=subdistrict, key=key).exists():
        raise ControlError("edition_key", f"编号“{key}”已被使用：请换一个编号")
    edition = ProtocolEdition.objects.create(
        subdistrict=subdistrict, key=key, name=name, effective_from=effective_from, source=source, created_by=user,
        copied_from=copied_from, gate_rules=_checked_gate_rules(gate_rules or {}),
        status=ProtocolEdition.Status.PUBLISHED if published else ProtocolEdition.Status.DRAFT)
    _set_rules(edition, rules)
    _revise(edition, user, "copied" if copied_from else "created")
    return edition


def _checked_gate_rules(gate_rules: dict[str, Any]) -> dict[str, Any]:
    if not gate_rules:
        return {}
    from lianfang.engines import screening

    try:
        return screening.GateRules.from_json(gate_rules).to_json()
    except screening.ScreeningError as exc:
        raise ControlError(exc.code, exc.message) from exc


def _set_rules(edition: ProtocolEdition, rules: dict[str, list[list[Any]]]) -> None:
    for category, phases in rules.items():
        rule = MeasureRule(edition=edition, category=category, phases=phases)
        try:
            rule.to_engine().check()
        except protocol.ProtocolError as exc:
            raise ControlError(exc.code, exc.message) from exc
        except (TypeError, ValueError) as exc:
            raise ControlError("phases", f"{protocol.CATEGORIES.get(category, category)}：管控阶段格式有误") from exc
    edition.rules.exclude(category__in=list(rules)).delete()
    for category, phases in rules.items():
        MeasureRule.objects.update_or_create(edition=edition, category=category, defaults={"phases": phases})


def copy_edition(edition: ProtocolEdition, user: User, *, key: str, name: str,
                 effective_from: dt.date) -> ProtocolEdition:
    rules = {r.category: r.phases for r in edition.rules.all()}
    return create_edition(edition.subdistrict, key=key, name=name, effective_from=effective_from, rules=rules,
                          source=f"复制自 {edition.name}", user=user, copied_from=edition, gate_rules=edition.gate_rules)


@transaction.atomic
def update_edition(edition: ProtocolEdition, user: User, *, name: str, effective_from: dt.date,
                   rules: dict[str, list[list[Any]]], gate_rules: dict[str, Any] | None = None) -> ProtocolEdition:
    edition.name = name
    edition.effective_from = effective_from
    if gate_rules is not None:
        edition.gate_rules = _checked_gate_rules(gate_rules)
    edition.save()
    _set_rules(edition, rules)
    _revise(edition, user, "edited")
    return edition


@transaction.atomic
def publish_edition(edition: ProtocolEdition, user: User) -> ProtocolEdition:
    edition.status = ProtocolEdition.Status.PUBLISHED
    edition.save(update_fields=["status", "updated_at"])
    _revise(edition, user, "published")
    return edition


@dataclass
class Replan:
    case: Case
    old: dict[str, Any]
    new: protocol.Plan | None
    changes: list[str]
    error: str = ""

    @property
    def digest(self) -> str:
        """Identifies the exact plan previewed, so confirming applies only what was seen."""
        import json

        body = json.dumps(plan_json(self.new), sort_keys=True) if self.new else ""
        return hashlib.sha256(body.encode()).hexdigest()[:16]


def replan_preview(subdistrict_id: int) -> list[Replan]:
    """Open cases whose plan the editions now in force would change. Nothing is written."""
    editions = engine_editions(subdistrict_id)
    out: list[Replan] = []
    for case in Case.objects.filter(subdistrict_id=subdistrict_id, closed_at__isnull=True).order_by("pk"):
        try:
            new = protocol.plan_case(editions, case.category, case.exposure_date)
        except protocol.ProtocolError as exc:
            out.append(Replan(case, case.plan, None, [], exc.message))
            continue
        if plan_json(new) != case.plan:
            out.append(Replan(case, case.plan, new, _describe(case.plan, new)))
    return out


def _describe(old: dict[str, Any], new: protocol.Plan) -> list[str]:
    changes = []
    if old.get("edition_name") != new.edition_name:
        changes.append(f"方案版本：{old.get('edition_name', '无')} → {new.edition_name}")
    if old.get("summary") != new.summary():
        changes.append(f"措施：{old.get('summary', '无')} → {new.summary()}")
    old_end = old["phases"][-1]["end"] if old.get("phases") else "无"
    if old_end != new.end.isoformat():
        changes.append(f"解除日期：{old_end} → {new.end}")
    old_tests = [t for p in old.get("phases", []) for t in p["tests"]]
    if old_tests != [t.isoformat() for t in new.test_dates]:
        changes.append("检测日：" + ("、".join(t[5:] for t in old_tests) or "无") + " → "
                       + ("、".join(t.strftime("%m-%d") for t in new.test_dates) or "无"))
    return changes


@transaction.atomic
def replan_apply(subdistrict_id: int, user: User, confirmed: dict[int, str] | list[int]) -> int:
    """Re-plan the confirmed cases, each with an event. ``confirmed`` maps case id → the digest of
    the plan the officer saw; a plan that changed since the preview is skipped."""
    done = 0
    for item in replan_preview(subdistrict_id):
        if item.case.pk not in confirmed or item.new is None:
            continue
        if isinstance(confirmed, dict) and confirmed[item.case.pk] != item.digest:
            continue
        case = item.case
        edition = ProtocolEdition.objects.get(subdistrict_id=subdistrict_id, key=item.new.edition_key)
        CaseEvent.objects.create(case=case, user=user, kind="replanned", note="；".join(item.changes)[:300],
                                 detail={"old": case.plan})
        case.plan, case.edition, case.plan_end = plan_json(item.new), edition, item.new.end
        case.save(update_fields=["plan", "edition", "plan_end"])
        done += 1
    return done


# --- opening and merging cases --------------------------------------------------------------

@dataclass
class Subject:
    """Who a case is about: a register person, or someone identified only by a document."""

    person: Person | None = None
    name: str = ""
    doc_type: str = DocumentType.RESIDENT_ID.value
    doc_number: str = ""
    phone: str = ""


def _released_after(person: Person | None, doc_hash: str, exposure_date: dt.date, subdistrict_id: int) -> Case | None:
    qs = Case.objects.filter(subdistrict_id=subdistrict_id, stage=Stage.RELEASED, plan_end__gte=exposure_date)
    qs = qs.filter(person=person) if person else qs.filter(person__isnull=True, doc_hash=doc_hash)
    return qs.order_by("-plan_end").first() if (person or doc_hash) else None


# Categories that replace a weaker category of an open case when merged into it (and re-plan it).
ESCALATING = {"red_code"}


@transaction.atomic
def open_case(subdistrict: SubDistrict, subject: Subject, *, source: str, category: str, exposure_date: dt.date,
              reference: str = "", detail: dict[str, Any] | None = None, nonce: str | None = None,
              user: User | None = None, village: Village | None = None, address: str = "",
              editions: list[protocol.Edition] | None = None, at: dt.datetime | None = None) -> tuple[Case, bool]:
    """Open a case, or merge this source into the person's open case. Retries with a nonce are no-ops.

    Returns (case, created).
    """
    if nonce:
        # Nonces come from devices and other systems: scope them to the sub-district so one
        # sub-district's retry can never return another's case.
        nonce = f"{subdistrict.pk}:{nonce}"[:64]
        existing_source = CaseSource.objects.filter(nonce=nonce).select_related("case").first()
        if existing_source is not None:
            return existing_source.case, False
    if category not in protocol.CATEGORIES:
        raise ControlError("category", f"未知的人员类别：{category}")
    if exposure_date > timezone.localdate():
        raise ControlError("exposure_future", f"暴露日期 {exposure_date} 晚于今天：请核对日期")
    at = at or timezone.now()
    person = subject.person
    try:  # checked even when the person is found in the register: a bad number is a typo to fix
        phone = register.phone_fields(subject.phone)
    except register.RegisterError as exc:
        raise ControlError(exc.code, exc.message) from exc
    doc_fields: dict[str, Any] = {}
    if person is None and subject.doc_number:
        try:
            doc_fields = register.document_fields(subject.doc_type, subject.doc_number)
        except register.RegisterError as exc:
            raise ControlError(exc.code, exc.message) from exc
        person = Person.objects.filter(doc_type=doc_fields["doc_type"], doc_hash=doc_fields["doc_hash"]).first()
    if person is None and not doc_fields and not subject.name:
        raise ControlError("subject", "请提供名册人员，或姓名与证件号码")
    doc_hash = doc_fields.get("doc_hash", "")
    open_qs = Case.objects.select_for_update().filter(closed_at__isnull=True)
    case = (open_qs.filter(person=person) if person else
            open_qs.filter(person__isnull=True, doc_type=doc_fields.get("doc_type", ""), doc_hash=doc_hash)
            if doc_hash else Case.objects.none()).first()
    if case is None and person is not None and person.doc_hash:
        # Someone first known only by document, registered since: link that case, then merge.
        outsider = open_qs.filter(person__isnull=True, doc_type=person.doc_type,
                                  doc_hash=crypto.keyed_hash(person.doc_type, person.document_number())).first()
        if outsider is not None:
            outsider.person, outsider.village = person, outsider.village or person.village
            outsider.doc_cipher = outsider.doc_hash = outsider.phone_cipher = ""
            outsider.save()
            CaseEvent.objects.create(case=outsider, user=user, kind="linked", at=at, note=f"已匹配名册：{person.village.name}")
            case = outsider
    created = case is None
    if case is None:
        released = _released_after(person, doc_hash, exposure_date, subdistrict.pk)
        if released is not None:
            raise ControlError("already_released", f"该人员已于 {released.plan_end} 解除管控，本次暴露日期 {exposure_date} "
                                                   "不晚于解除日期：请核对是否为新的暴露")
        plan, edition = compute_plan(subdistrict.pk, category, exposure_date, editions)
        case = Case(
            subdistrict=subdistrict, person=person, category=category, exposure_date=exposure_date,
            village=village or (person.village if person else None), edition=edition, plan=plan_json(plan),
            plan_end=plan.end, current_address=address[:200],
            name=(person.name if person else subject.name)[:50],
            doc_type=(person.doc_type if person else doc_fields.get("doc_type", "")),
            doc_masked=(person.doc_masked if person else doc_fields.get("doc_masked", "")),
            doc_cipher="" if person else doc_fields.get("doc_cipher", ""), doc_hash="" if person else doc_hash,
            phone_masked=(person.phone_masked if person else phone.get("phone_masked", "")),
            phone_cipher="" if person else phone.get("phone_cipher", ""), opened_at=at, stage_entered_at=at,
        )
        try:
            with transaction.atomic():
                case.save()
        except IntegrityError as exc:  # a concurrent open of the same person won the race
            raise ControlError("case_race", "该人员刚刚被另一来源登记，请刷新后重试") from exc
        CaseEvent.objects.create(case=case, user=user, kind="opened", to_stage=Stage.VERIFY, at=at,
                                 note=f"{CaseSource.Kind(source).label}{'：' + reference if reference else ''}"[:300])
    else:
        note = f"并入新来源 {CaseSource.Kind(source).label}{'：' + reference if reference else ''}"
        if category in ESCALATING and case.category != category and case.closed_at is None:
            # A red code (e.g. an individual positive after a positive pool) outranks what the case was
            # opened for: its plan is recomputed from the new event, not kept from the weaker one.
            plan, edition = compute_plan(subdistrict.pk, category, exposure_date, editions)
            was = protocol.CATEGORIES.get(case.category, case.category)
            note += f"；由{was}升级为{protocol.CATEGORIES[category]}，重新计算管控方案"
            case.category, case.exposure_date, case.edition = category, exposure_date, edition
            case.plan, case.plan_end = plan_json(plan), plan.end
            case.save(update_fields=["category", "exposure_date", "edition", "plan", "plan_end"])
        CaseEvent.objects.create(case=case, user=user, kind="merged", at=at, note=note[:300],
                                 detail={"category": category, "exposure_date": exposure_date.isoformat()})
    from lianfang.checkpoints.scanning import revoke_passes

    # A key person's zone passes stop at once; devices learn it at their next sync.
    revoke_passes(person=case.person, doc_hash=case.doc_hash, reason="持证人已列为重点人员")
    try:
        with transaction.atomic():
            CaseSource.objects.create(case=case, kind=source, reference=reference[:100], category=category,
                                      exposure_date=exposure_date, detail=detail or {}, nonce=nonce, created_by=user,
                                      created_at=at)
    except IntegrityError as exc:  # the same retry arrived twice at once: the first one won
        raise ControlError("retry_race", "该记录刚刚已提交，请刷新查看") from exc
    return case, created


# --- stages ---------------------------------------------------------------------------------

def receive_handoff(case: Case, user: User) -> CaseEvent:
    """签收: the village says it has the hand-off and is on it (the 2-hour clock keeps running until
    the next step). Once per case: a second tap, or a colleague's, returns the first receipt."""
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        if case.stage != Stage.HANDOFF or not case.is_open:
            raise ControlError("receive_stage", "只有处于“流转”阶段的人员需要签收")
        if not can_act(user, case, Stage.TRANSFER):
            raise ControlError("stage_forbidden", "只有责任村/社区或指挥部可以签收")
        first = received(case)
        if first is not None:
            return first
        return CaseEvent.objects.create(case=case, user=user, kind="received", note="已签收，正在安排")


def received(case: Case) -> CaseEvent | None:
    """The receipt of the case's current hand-off, if the village has signed for it."""
    return case.events.filter(kind="received", at__gte=case.stage_entered_at).select_related("user").first()


def handoffs_for(user: User) -> list[tuple[Case, dt.datetime | None, CaseEvent | None]]:
    """Hand-offs waiting on ``user``'s villages, oldest first: (case, deadline, receipt)."""
    from lianfang.control import access

    if not user.can_manage_cases or user.is_command:  # the command centre has the whole board
        return []
    cases = [c for c in access.cases_for_user(user).filter(stage=Stage.HANDOFF, closed_at__isnull=True)
             .order_by("stage_entered_at")[:50] if can_act(user, c, Stage.TRANSFER)]
    if not cases:
        return []
    limits = stage_limits(cases[0].subdistrict_id)
    entered = {c.pk: c.stage_entered_at for c in cases}
    receipts: dict[int, CaseEvent] = {}
    for e in CaseEvent.objects.filter(case__in=cases, kind="received").select_related("user").order_by("at"):
        if e.at >= entered[e.case_id]:  # a receipt of this hand-off, not of an earlier one
            receipts.setdefault(e.case_id, e)
    return [(c, deadline(c, limits), receipts.get(c.pk)) for c in cases]


def can_act(user: User, case: Case, to_stage: str) -> bool:
    """Whether ``user`` may move ``case`` on to ``to_stage`` (the page offers the step only then)."""
    if user.is_command:
        return True
    if user.can_run_transfers and to_stage == Stage.CONTROL:
        return True  # the transfer team hands the person over at the site
    if not user.can_manage_cases or case.village_id is None:
        return False
    from lianfang.core.access import ScopeFilter

    villages = ScopeFilter(user).village_ids()
    in_scope = villages is None or case.village_id in villages
    # Verification is the data task force's: the village acts from the hand-off on.
    return in_scope and to_stage in {Stage.TRANSFER, Stage.CONTROL, Stage.RELEASED}


@transaction.atomic
def advance(case: Case, user: User, to_stage: str, *, note: str = "", village: Village | None = None,
            now: dt.datetime | None = None) -> Case:
    case = Case.objects.select_for_update().get(pk=case.pk)
    now = now or timezone.now()
    if not case.is_open:
        raise ControlError("closed", "该案件已结案，不能再办理")
    if to_stage not in Stage.values:
        raise ControlError("stage_unknown", f"未知的阶段：{to_stage}")
    expected = NEXT_STAGE.get(Stage(case.stage))
    if to_stage != expected:
        order = " → ".join(Stage(s).label for s in [*OPEN_STAGES, Stage.RELEASED])
        raise ControlError("stage_skip", f"不能从“{Stage(case.stage).label}”直接到“{Stage(to_stage).label}”："
                                         f"请按 {order} 的顺序办理")
    if not can_act(user, case, to_stage):
        raise ControlError("stage_forbidden", "您无权办理这一步")
    if to_stage == Stage.HANDOFF:
        village = village or case.village
        if village is None:
            raise ControlError("village_required", "流转前须指定责任村/社区")
        if village.subdistrict_id != case.subdistrict_id:
            raise ControlError("village_required", "责任村/社区不在本街道")
        if case.village_id != village.pk:
            CaseEvent.objects.create(case=case, user=user, kind="village", note=f"责任村/社区：{village.name}")
        case.village = village
    if to_stage == Stage.CONTROL and case.transfers.exclude(
            status__in=[TransferTask.Status.ARRIVED, TransferTask.Status.CANCELLED]).exists():
        raise ControlError("transfer_open", "转运任务尚未送达：请转运专班在任务中点“已送达”")
    if to_stage == Stage.CONTROL and case.needs_centralized_isolation and \
            not case.stays.filter(released_at__isnull=True).exists():
        raise ControlError("not_placed", "该人员须集中隔离：请在转运任务中登记送达隔离点后再转入管控")
    if to_stage == Stage.RELEASED:
        if case.plan_end and timezone.localdate(now) < case.plan_end:
            raise ControlError("too_early", f"未到计划解除日期 {case.plan_end}：不能提前解除")
        case.stays.filter(released_at__isnull=True).update(released_at=now)
        case.closed_at = now
    CaseEvent.objects.create(case=case, user=user, kind="stage", from_stage=case.stage, to_stage=to_stage,
                             note=note[:300], at=now)
    case.stage, case.stage_entered_at = to_stage, now
    case.save()
    return case


@transaction.atomic
def close_not_key_person(case: Case, user: User, reason: str) -> Case:
    if not user.is_command:
        raise ControlError("stage_forbidden", "只有指挥部可以排除重点人员")
    if not case.is_open or case.stage == Stage.CONTROL:
        raise ControlError("closed", "已在管控或已结案的人员不能直接排除：请按解除流程办理")
    if len(reason.strip()) < 2:
        raise ControlError("reason", "请填写排除理由")
    now = timezone.now()
    CaseEvent.objects.create(case=case, user=user, kind="stage", from_stage=case.stage, to_stage=Stage.CLOSED,
                             note=reason[:300], at=now)
    case.stage, case.stage_entered_at, case.closed_at, case.close_reason = Stage.CLOSED, now, now, reason[:200]
    case.save()
    return case


@transaction.atomic
def relink_to_register(case: Case, user: User) -> bool:
    """Match an outside person to the register again (after a cadre has registered them)."""
    if case.person_id or not case.doc_hash:
        return False
    person = Person.objects.filter(doc_type=case.doc_type, doc_hash=case.doc_hash).first()
    if person is None:
        return False
    other = Case.objects.filter(person=person, closed_at__isnull=True).first()
    if other is not None:
        raise ControlError("two_cases", f"{person.name}在名册中已有在办案件（{other.pk} 号）：请指挥部核对后排除其一")
    case.person = person
    case.village = case.village or person.village
    case.doc_cipher = case.doc_hash = case.phone_cipher = ""
    case.save()
    CaseEvent.objects.create(case=case, user=user, kind="linked", note=f"已匹配名册：{person.village.name}")
    return True


# --- isolation and transfers ----------------------------------------------------------------

def release_finished_stays(subdistrict_id: int, today: dt.date | None = None) -> int:
    """End the stays of people whose centralized phase is over (7+3: home after day 7)."""
    today = today or timezone.localdate()
    n = 0
    for stay in IsolationStay.objects.filter(site__subdistrict_id=subdistrict_id, released_at__isnull=True
                                             ).select_related("case"):
        ends = [p["end"] for p in stay.case.plan_phases if p["measure"] == protocol.CENTRALIZED]
        if ends and max(ends) < today:
            stay.released_at = timezone.make_aware(dt.datetime.combine(max(ends) + dt.timedelta(days=1), dt.time.min))
            stay.save(update_fields=["released_at"])
            CaseEvent.objects.create(case=stay.case, kind="note", note=f"集中隔离期满，离开{stay.site.name}")
            n += 1
    return n


@transaction.atomic
def place_in_isolation(case: Case, site: IsolationSite, user: User | None,
                       room: IsolationRoom | None = None, now: dt.datetime | None = None) -> IsolationStay:
    release_finished_stays(site.subdistrict_id)
    site = IsolationSite.objects.select_for_update().get(pk=site.pk)
    occupied = site.occupied()
    if occupied >= site.capacity:
        raise ControlError("site_full", f"隔离点“{site.name}”已满（{occupied}/{site.capacity}）：请选择其他隔离点")
    if case.stays.filter(released_at__isnull=True).exists():
        raise ControlError("already_placed", "该人员已在隔离点")
    if room is None:
        busy = IsolationStay.objects.filter(site=site, released_at__isnull=True).values("room_id")
        room = site.rooms.exclude(pk__in=busy).first()
    elif room.stays.filter(released_at__isnull=True).exists():
        raise ControlError("room_busy", f"房间 {room.number} 已有人入住")
    stay = IsolationStay.objects.create(case=case, site=site, room=room, arrived_at=now or timezone.now())
    CaseEvent.objects.create(case=case, user=user, kind="note", note=f"入住 {site.name} {room.number if room else ''}")
    return stay


def _vehicle(raw: str) -> str:
    """A transfer vehicle's plate, normalised as at the gates (浙a 12345 → 浙A12345); empty stays empty."""
    if not raw.strip():
        return ""
    try:
        return plates.normalize_plate(raw).number
    except plates.PlateError as exc:
        raise ControlError("vehicle", exc.message) from exc


@transaction.atomic
def create_transfer(case: Case, user: User, *, pickup_place: str, destination: IsolationSite | None,
                    vehicle: str = "", team: str = "", assigned_to: User | None = None,
                    planned_at: dt.datetime | None = None) -> TransferTask:
    if case.stage != Stage.TRANSFER:
        raise ControlError("stage", "只有处于“转运”阶段的人员可以派转运任务")
    if case.needs_centralized_isolation and destination is None:
        raise ControlError("destination", "该人员须集中隔离：请选择目的地隔离点")
    if destination is not None and destination.occupied() >= destination.capacity:
        raise ControlError("site_full", f"隔离点“{destination.name}”已满：请选择其他隔离点")
    if not pickup_place.strip():
        raise ControlError("pickup", "请填写接人地点")
    if case.transfers.exclude(status__in=[TransferTask.Status.ARRIVED, TransferTask.Status.CANCELLED]).exists():
        raise ControlError("transfer_open", "该人员已有进行中的转运任务")
    task = TransferTask.objects.create(case=case, pickup_place=pickup_place[:200], destination=destination,
                                       vehicle=_vehicle(vehicle), team=team[:50], assigned_to=assigned_to,
                                       planned_at=planned_at or timezone.now())
    CaseEvent.objects.create(case=case, user=user, kind="note", note=f"派转运任务：{pickup_place} → {destination or '居家'}")
    return task


TRANSFER_FLOW = {
    TransferTask.Status.PENDING: TransferTask.Status.DISPATCHED,
    TransferTask.Status.DISPATCHED: TransferTask.Status.PICKED_UP,
    TransferTask.Status.PICKED_UP: TransferTask.Status.ARRIVED,
}


@transaction.atomic
def update_transfer(task: TransferTask, user: User, status: str, vehicle: str = "") -> TransferTask:
    task = TransferTask.objects.select_for_update(of=("self",)).select_related("case", "destination").get(pk=task.pk)
    now = timezone.now()
    if status not in TransferTask.Status.values:
        raise ControlError("transfer_status", "未知的转运状态")
    if status == TransferTask.Status.CANCELLED:
        if task.status == TransferTask.Status.ARRIVED:
            raise ControlError("transfer_done", "已送达的任务不能取消")
    elif TRANSFER_FLOW.get(TransferTask.Status(task.status)) != status:
        raise ControlError("transfer_order", f"转运任务当前为“{task.get_status_display()}”，不能直接改为"
                                             f"“{TransferTask.Status(status).label}”")
    if status == TransferTask.Status.DISPATCHED:
        if vehicle.strip():
            task.vehicle = _vehicle(vehicle)
        if not task.vehicle:
            raise ControlError("vehicle", "派车须填写车牌号")
        task.dispatched_at = now
    elif status == TransferTask.Status.PICKED_UP:
        task.picked_up_at = now
    elif status == TransferTask.Status.ARRIVED:
        task.arrived_at = now
        task.status = status
        task.save()
        if task.destination is not None:
            place_in_isolation(task.case, task.destination, user, now=now)
        advance(task.case, user, Stage.CONTROL, note="转运送达", now=now)
        return task
    task.status = status
    task.save()
    return task


# --- time limits, the board and the inbox ---------------------------------------------------

def stage_limits(subdistrict_id: int) -> dict[str, StageLimit]:
    limits = {sl.stage: sl for sl in StageLimit.objects.filter(subdistrict_id=subdistrict_id)}
    for stage, owner, hours in DEFAULT_LIMITS:
        if stage not in limits:
            limits[stage] = StageLimit.objects.create(subdistrict_id=subdistrict_id, stage=stage, owner=owner,
                                                      limit_hours=hours)
    return limits


def deadline(case: Case, limits: dict[str, StageLimit]) -> dt.datetime | None:
    if not case.is_open:
        return None
    if case.stage == Stage.CONTROL:
        if case.plan_end is None:
            return None
        end = dt.datetime.combine(case.plan_end + dt.timedelta(days=1), dt.time.min)
        return timezone.make_aware(end)
    limit = limits.get(case.stage)
    if limit is None or limit.limit_hours is None:
        return None
    return case.stage_entered_at + dt.timedelta(hours=limit.limit_hours)


@dataclass
class BoardRow:
    case: Case
    deadline: dt.datetime | None
    overdue: bool
    age: dt.timedelta


def board(cases: QuerySet[Case], now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    sub_ids = set(cases.values_list("subdistrict_id", flat=True).distinct())
    limits = {sid: stage_limits(sid) for sid in sub_ids}
    rows = []
    for c in cases.filter(closed_at__isnull=True).select_related("village", "person"):
        d = deadline(c, limits[c.subdistrict_id])
        rows.append(BoardRow(c, d, bool(d and now > d), now - c.stage_entered_at))
    rows.sort(key=lambda r: (not r.overdue, OPEN_STAGES.index(Stage(r.case.stage)), -r.age.total_seconds()))
    by_stage = {s.value: sum(1 for r in rows if r.case.stage == s) for s in OPEN_STAGES}
    by_village: dict[str, dict[str, int]] = defaultdict(lambda: {s.value: 0 for s in OPEN_STAGES})
    for r in rows:
        by_village[r.case.village.name if r.case.village else "未指定"][r.case.stage] += 1
    return {"rows": rows, "by_stage": by_stage, "by_village": dict(by_village),
            "overdue": sum(r.overdue for r in rows), "limits": limits}


def stage_speed(cases: QuerySet[Case], since: dt.datetime | None = None) -> list[dict[str, Any]]:
    """How long each stage took (median and worst), from the stage events, for the daily report."""
    events = CaseEvent.objects.filter(case__in=cases, kind__in=["opened", "stage"]).order_by("case_id", "at", "pk")
    entered: dict[int, tuple[str, dt.datetime]] = {}
    durations: dict[str, list[float]] = defaultdict(list)
    for e in events.values("case_id", "kind", "to_stage", "from_stage", "at"):
        if e["kind"] == "stage":
            prev = entered.get(e["case_id"])
            if prev and prev[0] == e["from_stage"] and (since is None or e["at"] >= since):
                durations[prev[0]].append((e["at"] - prev[1]).total_seconds() / 3600)
        entered[e["case_id"]] = (e["to_stage"], e["at"])
    out = []
    for stage in OPEN_STAGES:
        values = durations.get(stage.value, [])
        out.append({"stage": stage.label, "count": len(values),
                    "median_h": round(statistics.median(values), 1) if values else None,
                    "worst_h": round(max(values), 1) if values else None})
    return out


@transaction.atomic
def raise_inbox_item(subdistrict: SubDistrict, *, kind: str, title: str, body: str = "", case: Case | None = None,
                     village: Village | None = None, nonce: str | None = None, user: User | None = None,
                     gate: Any = None, person: Person | None = None) -> InboxItem:
    if nonce:
        existing = InboxItem.objects.filter(nonce=nonce).first()
        if existing is not None:
            return existing
    item = InboxItem.objects.create(subdistrict=subdistrict, kind=kind, title=title[:200], body=body, case=case,
                                    village=village or (case.village if case else None), nonce=nonce, gate=gate,
                                    person=person)
    InboxEvent.objects.create(item=item, user=user, kind="created", text=body[:1000])
    return item


def escalate_overdue(subdistrict: SubDistrict, now: dt.datetime | None = None) -> int:
    """Put every overdue case in the inbox once per stage (the nonce keeps it to once)."""
    data = board(Case.objects.filter(subdistrict=subdistrict), now)
    n = 0
    for r in data["rows"]:
        if r.overdue:
            key = f"overdue:{r.case.pk}:{r.case.stage}:{r.case.stage_entered_at:%Y%m%d%H%M%S}"
            if not InboxItem.objects.filter(nonce=key).exists():
                raise_inbox_item(subdistrict, kind=InboxItem.Kind.OVERDUE, case=r.case, nonce=key,
                                 title=f"{r.case.name} “{Stage(r.case.stage).label}”超时",
                                 body=f"应于 {timezone.localtime(r.deadline):%m-%d %H:%M} 前完成" if r.deadline else "")
                n += 1
    return n


@transaction.atomic
def update_inbox(item: InboxItem, user: User, *, status: str | None = None, assignee: User | None = None,
                 comment: str = "") -> InboxItem:
    if status and status != item.status:
        if status not in InboxItem.Status.values:
            raise ControlError("status", "未知的状态")
        InboxEvent.objects.create(item=item, user=user, kind="status",
                                  text=f"{item.get_status_display()} → {InboxItem.Status(status).label}")
        item.status = status
    if assignee is not None and assignee.pk != item.assignee_id:
        if assignee.scope_subdistrict_id != item.subdistrict_id:
            raise ControlError("assignee", "承办人不在本街道")
        InboxEvent.objects.create(item=item, user=user, kind="assigned", text=f"交 {assignee} 办理")
        item.assignee = assignee
    if comment.strip():
        InboxEvent.objects.create(item=item, user=user, kind="comment", text=comment.strip()[:2000])
    item.save()
    return item


def source_nonce(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:40]


def doc_hash_for(doc_type: str, number: str) -> str:
    return crypto.keyed_hash(doc_type, number)
