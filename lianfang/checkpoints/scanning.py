"""Scanning at the gates: the verdict from the edition in force at the device's time, zone passes,
the assessment lot, escalation. Every scan is one append-only row; a retried nonce returns it."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from lianfang.checkpoints import passes
from lianfang.checkpoints.models import Assessment, Gate, Lane, Scan, ZonePass
from lianfang.control.models import Case, ProtocolEdition
from lianfang.core import crypto
from lianfang.core import services as register
from lianfang.core.models import Person, Village
from lianfang.engines import plates, screening
from lianfang.engines.documents import DocumentType

if TYPE_CHECKING:
    from lianfang.accounts.models import User

FUTURE_SKEW = dt.timedelta(minutes=5)  # device clocks drift; beyond this a time is refused
OLDEST_SYNC = dt.timedelta(days=7)  # an offline queue older than this is a wrong clock, not a queue
LATE_AFTER = dt.timedelta(minutes=10)  # an offline scan synced later than this is marked late
REFUSED = "refused"
REFUSED_LABEL = "通行证无效，请按常规查验"


def outcome_label(outcome: str, *, short: bool = False) -> str:
    """A scan's 结论 in Chinese (放行, 劝返 …); a refused zone pass is 通行证无效 where space is short."""
    if outcome == REFUSED:
        return "通行证无效" if short else REFUSED_LABEL
    return screening.OUTCOMES.get(outcome, outcome)


class ScanError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- rules in force -------------------------------------------------------------------------

def rules_on(subdistrict_id: int, when: dt.datetime) -> tuple[ProtocolEdition, screening.GateRules]:
    day = timezone.localdate(when)
    edition = (ProtocolEdition.objects.filter(subdistrict_id=subdistrict_id, status=ProtocolEdition.Status.PUBLISHED,
                                              effective_from__lte=day).exclude(gate_rules={})
               .order_by("-effective_from", "-pk").first())
    if edition is None:
        raise ScanError("no_rules", f"{day} 没有生效的卡口查验规则：请指挥部在防控方案中设置")
    try:
        return edition, _parsed_rules(edition.pk, edition.updated_at.isoformat(), json.dumps(edition.gate_rules))
    except screening.ScreeningError as exc:
        raise ScanError("rules", exc.message) from exc


@lru_cache(maxsize=64)
def _parsed_rules(edition_id: int, updated: str, rules_json: str) -> screening.GateRules:
    # Keyed by the edition's last change, so an edited edition is parsed afresh.
    return screening.GateRules.from_json(json.loads(rules_json))


def gate_editions(subdistrict_id: int) -> list[dict[str, Any]]:
    """Every published edition's gate rules with its date, so a device judges by its own clock."""
    qs = ProtocolEdition.objects.filter(subdistrict_id=subdistrict_id, status=ProtocolEdition.Status.PUBLISHED
                                        ).exclude(gate_rules={}).order_by("effective_from", "pk")
    return [{"id": e.pk, "name": e.name, "effective_from": e.effective_from.isoformat(), "rules": e.gate_rules}
            for e in qs]


# --- passes ---------------------------------------------------------------------------------

def _subject_key(doc_hash: str = "", plate: str = "") -> str:
    return f"plate:{plate}" if plate else doc_hash


def issue_pass(scan: Scan, zone_id: int) -> ZonePass:
    now = timezone.localtime()
    end = timezone.make_aware(dt.datetime.combine(now.date(), dt.time(23, 59, 59)))
    label = scan.plate or f"{scan.name} {scan.doc_masked}".strip()
    zp = ZonePass.objects.create(subdistrict_id=scan.subdistrict_id, zone_id=zone_id, code=secrets.token_hex(6),
                                 subject_key=_subject_key(scan.doc_hash, scan.plate), person=scan.person,
                                 label=label[:60], valid_from=now, valid_to=end, issued_scan=scan)
    return zp


def pass_token(zp: ZonePass) -> str:
    return passes.sign({"v": 1, "c": zp.code, "z": zp.zone_id, "l": zp.label,
                        "f": int(zp.valid_from.timestamp()), "t": int(zp.valid_to.timestamp())})


def revoke_passes(*, person: Person | None = None, doc_hash: str = "", reason: str) -> int:
    from django.db.models import Q

    qs = ZonePass.objects.filter(revoked_at__isnull=True, valid_to__gte=timezone.now())
    doc_hash = doc_hash or (person.doc_hash if person is not None else "")
    match = Q(pk__in=[])
    if person is not None:
        match |= Q(person=person)
    if doc_hash:
        match |= Q(subject_key=doc_hash)  # also passes issued before the person was in the register
    qs = qs.filter(match)
    return qs.update(revoked_at=timezone.now(), revoked_reason=reason[:100])


def revoked_codes(subdistrict_id: int) -> list[str]:
    """Codes of still-valid passes that are revoked: what devices must refuse offline."""
    return list(ZonePass.objects.filter(subdistrict_id=subdistrict_id, revoked_at__isnull=False,
                                        valid_to__gte=timezone.now()).values_list("code", flat=True))


@dataclass(frozen=True)
class PassCheck:
    ok: bool
    reason_code: str
    reason: str
    zone_pass: ZonePass | None


PASS_REASONS = {
    "malformed": "无法识别的通行证", "forged": "通行证签名无效（伪造或被篡改）", "expired": "通行证已过期",
    "not_yet": "通行证尚未生效", "other_zone": "不是本防区的通行证", "revoked": "通行证已撤销", "unknown": "系统中没有这张通行证",
}


def check_pass(token: str, gate: Gate, when: dt.datetime) -> PassCheck:
    checked = passes.verify(token)
    if not checked.ok:
        return PassCheck(False, checked.reason, PASS_REASONS[checked.reason], None)
    p = checked.payload
    zp = ZonePass.objects.filter(code=p.get("c")).first()
    if zp is None:
        return PassCheck(False, "unknown", PASS_REASONS["unknown"], None)
    if gate.zone_id != p.get("z"):
        return PassCheck(False, "other_zone", PASS_REASONS["other_zone"], zp)
    stamp = when.timestamp()
    if stamp > p.get("t", 0):
        return PassCheck(False, "expired", PASS_REASONS["expired"], zp)
    if stamp < p.get("f", 0) - FUTURE_SKEW.total_seconds():
        return PassCheck(False, "not_yet", PASS_REASONS["not_yet"], zp)
    if zp.revoked_at is not None:
        return PassCheck(False, "revoked", f"{PASS_REASONS['revoked']}：{zp.revoked_reason}", zp)
    if zp.person_id and Case.objects.filter(person_id=zp.person_id, closed_at__isnull=True).exists():
        revoke_passes(person=zp.person, reason="持证人已列为重点人员")
        return PassCheck(False, "revoked", f"{PASS_REASONS['revoked']}：持证人已列为重点人员", zp)
    return PassCheck(True, "ok", "凭防区通行证放行", zp)


# --- recording a scan -----------------------------------------------------------------------

def _redacted(data: dict[str, Any]) -> dict[str, Any]:
    """The raw input as kept: an ID number is stored encrypted, never in clear."""
    raw = dict(data)
    number = str(raw.pop("id_number", "") or "").strip()
    if number:
        raw["id_cipher"] = crypto.encrypt(number)
    return raw


def _parse_time(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise ScanError("device_time", "设备时间格式有误") from exc
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def _facts(data: dict[str, Any], subdistrict_id: int, when: dt.datetime) -> tuple[screening.ScanFacts, str]:
    temp = data.get("temperature")
    temperature = None
    if temp not in (None, ""):
        try:
            temperature = float(str(temp))
        except ValueError as exc:
            raise ScanError("temperature", "体温须为数字，如 36.5") from exc
        try:
            screening.check_temperature(temperature)
        except screening.ScreeningError as exc:
            raise ScanError(exc.code, exc.message) from exc
    colour = data.get("code_colour") or None
    if colour not in (None, "green", "yellow", "red"):
        raise ScanError("code_colour", "健康码颜色只能是 绿/黄/红")
    origins: list[tuple[str, int]] = []
    labels = []
    from lianfang.control.importer import risk_level_on

    origins_in = data.get("origins") or []
    if not isinstance(origins_in, list) or not all(isinstance(o, dict) for o in origins_in):
        raise ScanError("origins", "来源地格式有误")
    for o in origins_in:
        place = str(o.get("place", "")).strip()
        try:
            days = int(o.get("days_ago", 0))
        except (TypeError, ValueError) as exc:
            raise ScanError("origins", "离开来源地的天数须为整数") from exc
        if not place or days < 0:
            raise ScanError("origins", "来源地须填写地名，天数不能为负")
        # The risk register decides, never the device.
        level = risk_level_on(subdistrict_id, place, timezone.localdate(when) - dt.timedelta(days=days))
        labels.append(f"{place}（{days}天前）")
        if level:
            origins.append((level, days))
    hours = data.get("negative_test_hours_ago")
    try:
        test_hours = None if hours in (None, "") else float(str(hours))
    except ValueError as exc:
        raise ScanError("test", "核酸证明时间须为小时数") from exc
    facts = screening.ScanFacts(temperature_c=temperature, code_colour=colour,
                                itinerary_star=bool(data.get("itinerary_star")), origins=tuple(origins),
                                negative_test_hours_ago=test_hours)
    return facts, "、".join(labels)[:200]


@dataclass
class ScanResult:
    scan: Scan
    created: bool
    token: str = ""  # the zone pass issued, when the verdict is pass


@transaction.atomic
def record_scan(gate: Gate, user: User, data: dict[str, Any], *, nonce: str, device_time: object,
                offline: bool = False, device_id: str = "", lane_id: int | None = None) -> ScanResult:
    """Judge and record one scan. The same nonce with the same content returns the first result."""
    if not nonce or len(nonce) > 64:
        raise ScanError("nonce", "缺少扫描编号（nonce）")
    content_hash = crypto.keyed_hash("scan", json.dumps({"data": data, "device_time": str(device_time), "gate": gate.pk},
                                                         sort_keys=True, ensure_ascii=False, default=str))
    existing = Scan.objects.filter(subdistrict_id=gate.subdistrict_id, nonce=nonce).first()
    if existing is not None:
        if existing.content_hash != content_hash:
            raise ScanError("nonce_reused", "同一扫描编号提交了不同内容：已拒绝，请重新扫描")
        return ScanResult(existing, False)
    now = timezone.now()
    when = _parse_time(device_time)
    if when > now + FUTURE_SKEW:
        raise ScanError("device_time", "设备时间晚于服务器时间：请校准手机时间后重试")
    if when < now - OLDEST_SYNC:
        raise ScanError("device_time", "设备时间早于 7 天前：请校准手机时间；如是积压的离线记录，请联系指挥部")
    # Online, a pass is checked against the server's clock: a device set to yesterday cannot revive
    # yesterday's pass. Offline scans are judged at the time they were made.
    check_time = when if offline else now
    lane = Lane.objects.filter(pk=lane_id, gate=gate).first() if lane_id else None
    scan = Scan(subdistrict_id=gate.subdistrict_id, gate=gate, lane=lane, staff=user, device_id=device_id[:64],
                nonce=nonce, content_hash=content_hash, device_time=when, offline=offline,
                late=offline and now - when > LATE_AFTER, raw=_redacted(data))
    kind = data.get("subject", "person")
    token = ""
    if kind == "pass":
        if not str(data.get("token", "")).strip():  # nothing scanned: nobody to record
            raise ScanError("pass_empty", "请扫描或粘贴防区通行证")
        check = check_pass(str(data.get("token", "")), gate, check_time)
        scan.subject = Scan.Subject.PASS
        scan.zone_pass = check.zone_pass
        if check.zone_pass is not None:
            scan.person, scan.name = check.zone_pass.person, check.zone_pass.label[:50]
        scan.outcome = "pass" if check.ok else REFUSED
        scan.reasons = [{"code": "zone_pass" if check.ok else f"pass_{check.reason_code}", "text": check.reason}]
        _save(scan)
        return ScanResult(scan, True)
    if kind == "vehicle":
        try:
            plate = plates.normalize_plate(str(data.get("plate", "")))
        except plates.PlateError as exc:
            raise ScanError(exc.code, exc.message) from exc
        scan.subject, scan.plate = Scan.Subject.VEHICLE, plate.number
        scan.vehicle_type = str(data.get("vehicle_type", ""))[:20]
        try:
            scan.passengers = max(0, min(int(data.get("passengers") or 0), 99))
        except (TypeError, ValueError) as exc:
            raise ScanError("passengers", "随车人数须为数字") from exc
    else:
        scan.subject = Scan.Subject.PERSON
        number = str(data.get("id_number", "")).strip()
        scan.name = str(data.get("name", "")).strip()[:50]
        if number:
            try:
                fields = register.document_fields(str(data.get("doc_type") or DocumentType.RESIDENT_ID.value), number)
            except register.RegisterError as exc:
                raise ScanError(exc.code, exc.message) from exc
            scan.doc_hash, scan.doc_masked = fields["doc_hash"], fields["doc_masked"]
            scan.person = Person.objects.filter(doc_type=fields["doc_type"], doc_hash=fields["doc_hash"]).first()
            if scan.person and not scan.name:
                scan.name = scan.person.name
        elif not scan.name:
            raise ScanError("subject", "请扫描身份证、输入证件号码，或无证件时手工填写姓名")
    edition, rules = rules_on(gate.subdistrict_id, when)
    facts, origin_text = _facts(data, gate.subdistrict_id, when)
    try:
        verdict = screening.evaluate(rules, facts)
    except screening.ScreeningError as exc:
        raise ScanError(exc.code, exc.message) from exc
    scan.edition, scan.outcome = edition, verdict.outcome
    scan.reasons = [{"code": r.code, "text": r.text} for r in verdict.reasons]
    scan.temperature = facts.temperature_c
    scan.code_colour = facts.code_colour or ""
    scan.origin = origin_text
    _save(scan)
    if facts.code_colour in ("yellow", "red") and (scan.person or scan.doc_hash):
        colour = "黄" if facts.code_colour == "yellow" else "红"
        revoke_passes(person=scan.person, doc_hash=scan.doc_hash, reason=f"健康码转为{colour}码")
    if verdict.outcome == "assess":
        Assessment.objects.create(scan=scan, gate=gate, destination=scan.person.village if scan.person else None)
    if verdict.outcome in ("transfer", "fever_clinic"):
        # Closed-loop transfer and the fever clinic need the command centre at once.
        escalate(scan, user, "卡口自动上报")
    # A pass needs someone identified: a document or a plate, never a name alone.
    if verdict.outcome == "pass" and gate.zone_id and (scan.doc_hash or scan.plate) and not offline:
        token = pass_token(issue_pass(scan, gate.zone_id))
    return ScanResult(scan, True, token)


def _save(scan: Scan) -> None:
    try:
        with transaction.atomic():
            scan.save()
    except IntegrityError as exc:  # the same nonce raced in from a second sync
        raise ScanError("nonce_race", "该扫描正在同步，请稍后刷新") from exc


# --- assessment and escalation --------------------------------------------------------------

@transaction.atomic
def decide(assessment: Assessment, user: User, decision: str, *, destination: Village | None = None,
           note: str = "", category: str = "medium_risk_arrival") -> Assessment:
    from lianfang.control import services as control

    if assessment.decided_at is not None:
        raise ScanError("decided", "该人员/车辆已研判")
    if decision not in Assessment.Decision.values:
        raise ScanError("decision", "请选择研判结论")
    scan = assessment.scan
    assessment.decision, assessment.note = decision, note[:200]
    assessment.destination = destination or assessment.destination
    assessment.decided_by, assessment.decided_at = user, timezone.now()
    if decision == Assessment.Decision.TRANSFER:
        sub = assessment.gate.subdistrict
        if scan.person is not None:
            subject = control.Subject(person=scan.person)
        elif scan.raw.get("id_cipher"):
            subject = control.Subject(name=scan.name or "未留名", doc_number=crypto.decrypt(scan.raw["id_cipher"]),
                                      doc_type=str(scan.raw.get("doc_type") or DocumentType.RESIDENT_ID.value))
        else:
            subject = control.Subject(name=scan.name or f"车辆 {scan.plate} 驾驶人")
        try:
            case, _ = control.open_case(sub, subject, source="gate", category=category,
                                        exposure_date=timezone.localdate(scan.device_time),
                                        reference=f"{assessment.gate.name} 研判", user=user,
                                        village=assessment.destination, nonce=f"assessment:{assessment.pk}",
                                        address=scan.origin)
        except control.ControlError as exc:
            raise ScanError(exc.code, exc.message) from exc
        assessment.case = case
    assessment.save()
    return assessment


def escalate(scan: Scan, user: User, note: str = "") -> Any:
    """一键直达: the scan, as it is, into the command centre's inbox."""
    from lianfang.control import services as control

    who = scan.plate or f"{scan.name} {scan.doc_masked}".strip()
    reasons = "；".join(r["text"] for r in scan.reasons) or "无"
    body = (f"卡口：{scan.gate.name}\n时间：{timezone.localtime(scan.device_time):%m-%d %H:%M}\n对象：{who}\n"
            f"结论：{outcome_label(scan.outcome)}\n原因：{reasons}\n现场说明：{note}")
    item = control.raise_inbox_item(scan.gate.subdistrict, kind="gate", title=f"{scan.gate.name}：{who}"[:200],
                                    body=body, village=scan.person.village if scan.person else None,
                                    nonce=f"escalate:{scan.pk}", user=user, gate=scan.gate, person=scan.person)
    if note and note not in item.body:  # escalated again (or after the automatic report): add what is new
        control.update_inbox(item, user, comment=note)
    return item

