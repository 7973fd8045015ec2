"""The register's domain operations. Views and the API call these; they raise RegisterError."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from pypinyin import lazy_pinyin

from lianfang.core import crypto
from lianfang.core.models import AuditEvent, Person, Village, Zone, ZoneMembership
from lianfang.engines import documents
from lianfang.engines.documents import DocumentError, DocumentType

if TYPE_CHECKING:
    from lianfang.accounts.models import User


class RegisterError(Exception):
    """A refusal with a stable code for the API and a Chinese message for pages."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- derived fields -------------------------------------------------------------------------

# Characters read differently as a surname than in ordinary words (pypinyin reads 曾 as "ceng",
# 单 as "dan"); a villager searching "zgf" for 曾国藩 expects the surname reading.
SURNAME_READINGS = {
    "曾": "zeng", "单": "shan", "解": "xie", "区": "ou", "仇": "qiu", "查": "zha", "朴": "piao", "覃": "qin",
    "翟": "zhai", "盖": "ge", "缪": "miao", "尉": "yu", "召": "shao", "员": "yun", "冼": "xian", "秘": "bi",
    "种": "chong", "繁": "po", "句": "gou", "乐": "yue", "万": "wan", "黑": "he", "隗": "wei",
}


def _latin_words(text: str) -> Any:
    # pypinyin accepts a list here (one syllable per word) though its stubs say str.
    return re.findall(r"[A-Za-z]+", text)


def pinyin_fields(name: str) -> dict[str, str]:
    # Latin names (foreign residents, passports) keep their words: "John Smith" → johnsmith / js.
    syllables = [s.lower() for s in lazy_pinyin(name, errors=_latin_words)]
    if name and name[0] in SURNAME_READINGS and syllables:
        syllables[0] = SURNAME_READINGS[name[0]]
    initials = [s[0] for s in syllables if s]
    return {
        "name_pinyin": "".join(syllables).lower()[:200],
        "name_initials": "".join(initials).lower()[:50],
    }


_ORDINAL = re.compile(r"\d+|(?<=第)[零〇一二两三四五六七八九十百千]+")  # 12, 第十二 (not 十里铺: a name)
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}


def _cn_number(text: str) -> int:
    """第 *十二* 村民小组 → 12; 一百零五 → 105."""
    if text.isdigit():
        return int(text)
    total = digit = 0
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        else:
            total += (digit or 1) * _CN_UNITS[ch]
            digit = 0
    return total + digit


def pinyin_order(text: str) -> tuple[tuple[tuple[int, int, str], ...], str]:
    """Sort key in the order Chinese readers expect: by pinyin (as a dictionary or a roll is
    ordered), not by code point, and numbers by value (第二 before 第十, 2号 before 10号); the text
    itself breaks ties between homophones."""
    parts: list[tuple[int, int, str]] = []
    at = 0
    for m in _ORDINAL.finditer(text):
        if m.start() > at:
            parts.append((1, 0, pinyin_fields(text[at:m.start()])["name_pinyin"]))
        parts.append((0, _cn_number(m.group()), ""))
        at = m.end()
    if at < len(text) or not parts:
        parts.append((1, 0, pinyin_fields(text[at:])["name_pinyin"]))
    return tuple(parts), text


def name_problem(name: str) -> str | None:
    """Why a person's name cannot be right, in Chinese, or None. Letters of any script, spaces and
    the middle dot of minority and foreign names (阿卜杜·热合曼, Zhou Lin) pass; digits, emoji and
    other symbols are typing slips."""
    if any(c.isdigit() for c in name):
        return "姓名不能含数字"
    odd = next((c for c in name if (c not in "·• -'" and not c.isalpha() and not c.isspace())
                or unicodedata.category(c).startswith(("S", "C"))), None)
    if odd is not None:
        return f"姓名中有符号「{odd}」：只能是文字、空格和间隔号“·”"
    return None


def document_fields(doc_type: str, raw: str) -> dict[str, Any]:
    """Validate a document and return the Person fields it sets (cipher, hash, mask, sex, birth)."""
    try:
        dtype = documents.parse_doc_type(doc_type)
        number = documents.normalize_document(dtype, raw)
    except DocumentError as exc:
        raise RegisterError(exc.code, exc.message) from exc
    fields: dict[str, Any] = {
        "doc_type": dtype.value,
        "doc_cipher": crypto.encrypt(number),
        "doc_hash": crypto.keyed_hash(dtype.value, number),
        "doc_masked": documents.mask_document(dtype, number),
        # Only what the mask shows may be searched: the last four of a resident ID. Passports and
        # permits show two, so they are found by their full number only.
        "doc_last4": number[-4:] if dtype is DocumentType.RESIDENT_ID else "",
    }
    if dtype is DocumentType.RESIDENT_ID:
        rid = documents.parse_resident_id(number)
        fields["sex"] = rid.sex
        fields["birth_date"] = rid.birth_date
    return fields


def phone_fields(raw: str | None) -> dict[str, str]:
    if not raw or not str(raw).strip():
        return {"phone_cipher": "", "phone_hash": "", "phone_masked": "", "phone_last4": ""}
    try:
        number = documents.normalize_mobile(str(raw))
    except DocumentError as exc:
        raise RegisterError(exc.code, exc.message) from exc
    return {
        "phone_cipher": crypto.encrypt(number),
        "phone_hash": crypto.keyed_hash("phone", number),
        "phone_masked": documents.mask_mobile(number),
        "phone_last4": number[-4:],
    }


# --- search ---------------------------------------------------------------------------------

_CJK = re.compile(r"[\u3400-\u9fff]")
_DIGITS = re.compile(r"^[0-9]+[0-9Xx]?$")
_LETTERS = re.compile(r"^[a-zA-Z]+$")


def _prefix_range(field: str, prefix: str) -> Q:
    # A range instead of LIKE 'x%' so SQLite and PostgreSQL both use the index.
    return Q(**{f"{field}__gte": prefix, f"{field}__lt": prefix + "\uffff"})


def search_persons(qs: QuerySet[Person], query: str) -> QuerySet[Person]:
    """Name, pinyin (full or initials), or the last digits of the ID or phone; exact full numbers."""
    q = re.sub(r"\s+", "", query or "")
    if not q:
        return qs
    if _CJK.search(q):
        return qs.filter(name__contains=q)
    if _LETTERS.match(q):
        low = q.lower()
        return qs.filter(_prefix_range("name_initials", low) | _prefix_range("name_pinyin", low))
    if _DIGITS.match(q):
        q = q.upper()
        if len(q) == 18:
            try:
                number = documents.normalize_document(DocumentType.RESIDENT_ID, q)
                return qs.filter(doc_type=DocumentType.RESIDENT_ID.value,
                                 doc_hash=crypto.keyed_hash(DocumentType.RESIDENT_ID.value, number))
            except DocumentError:
                return qs.none()
        if len(q) == 11 and q.startswith("1"):
            by_phone = qs.filter(phone_hash=crypto.keyed_hash("phone", q))
            return by_phone
        if len(q) == 4:  # equality, so both last-four indexes serve it
            return qs.filter(Q(doc_last4=q) | Q(phone_last4=q))
        if len(q) < 4:
            return qs.filter(Q(doc_last4__endswith=q) | Q(phone_last4__endswith=q))
        # Matching 5-17 trailing digits would let anyone uncover masked digits one at a time.
        raise RegisterError("search_digits", "请输入证件号或手机号的后四位，或完整的号码")
    # Anything else (a passport number, say): exact match over every document type.
    number = q.upper()
    return qs.filter(
        doc_hash__in=[crypto.keyed_hash(t.value, number) for t in DocumentType]
    )


# --- reveal and audit -----------------------------------------------------------------------

@dataclass(frozen=True)
class Revealed:
    field: str
    value: str


REVEALABLE = {"doc": "证件号码", "phone": "手机号"}


class Revealable(Protocol):
    """Whose number may be shown in full: a person of the register, or a key-person case."""

    pk: Any
    village_id: Any

    def document_number(self) -> str: ...

    def phone_number(self) -> str: ...


def reveal(user: User, person: Revealable, field: str, reason: str, ip: str | None = None, *,
           object_type: str = "person") -> Revealed:
    """Show one personal field in full, after checking the role, and audit it."""
    if field not in REVEALABLE:
        raise RegisterError("reveal_field", "只能查看证件号码或手机号")
    if not user.can_reveal:
        raise RegisterError("reveal_forbidden", "您的角色无权查看完整个人信息")
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise RegisterError("reveal_reason", "请填写查看事由（至少 2 个字）")
    value = person.document_number() if field == "doc" else person.phone_number()
    AuditEvent.objects.create(
        user=user, action=AuditEvent.Action.REVEAL, object_type=object_type, object_id=str(person.pk),
        fields=field, reason=reason[:200], ip=ip, detail={"village": person.village_id},
    )
    return Revealed(field=field, value=value)


def mask_search_term(q: str) -> str:
    """A search term fit for the audit log: numbers longer than four digits are masked."""
    digits = sum(c.isdigit() for c in q)
    return q if digits <= 4 else q[:3] + "*" * max(len(q) - 7, 2) + q[-4:]


def audit_export(user: User, object_type: str, count: int, *, unmasked: bool, reason: str,
                 filters: dict[str, Any], ip: str | None = None) -> None:
    filters = {k: mask_search_term(str(v)) if k == "q" and v else v for k, v in filters.items()}
    AuditEvent.objects.create(
        user=user, action=AuditEvent.Action.EXPORT, object_type=object_type, object_id="",
        fields="doc,phone" if unmasked else "", reason=reason[:200], ip=ip,
        detail={"rows": count, "unmasked": unmasked, "filters": filters},
    )


# --- changes --------------------------------------------------------------------------------

EDITABLE_FIELDS = ("name", "relation", "population_type", "grid", *Person.FLAG_FIELDS)


@transaction.atomic
def update_person(user: User, person: Person, data: dict[str, Any], ip: str | None = None) -> list[str]:
    """Apply a cadre's corrections; returns the changed field names and audits them (no values)."""
    if not user.can_edit_register:
        raise RegisterError("edit_forbidden", "您的角色无权修改人员信息")
    grid = data.get("grid")
    if grid is not None and grid.village_id != person.village_id:
        raise RegisterError("grid_village", "所选网格不属于该人员所在村/社区")
    changed: list[str] = []
    for f in EDITABLE_FIELDS:
        if f in data and getattr(person, f) != data[f]:
            setattr(person, f, data[f])
            changed.append(f)
    if "name" in changed:
        for k, v in pinyin_fields(person.name).items():
            setattr(person, k, v)
    if data.get("clear_phone") and person.phone_cipher:
        for k, v in phone_fields(None).items():
            setattr(person, k, v)
        changed.append("phone")
    elif data.get("phone"):
        new = phone_fields(data["phone"])
        if new["phone_hash"] != person.phone_hash:
            for k, v in new.items():
                setattr(person, k, v)
            changed.append("phone")
    if changed:
        person.save()
        AuditEvent.objects.create(user=user, action=AuditEvent.Action.CHANGE, object_type="person",
                                  object_id=str(person.pk), fields=",".join(changed)[:100], ip=ip)
    return changed


# --- zones ----------------------------------------------------------------------------------

@transaction.atomic
def move_village_to_zone(village: Village, zone: Zone | None) -> ZoneMembership | None:
    """Close the village's open membership and open one in ``zone`` (None: leave all zones)."""
    if zone is not None and zone.subdistrict_id != village.subdistrict_id:
        raise RegisterError("zone_subdistrict", "防区与村/社区不属于同一街道")
    now = timezone.now()
    current = ZoneMembership.objects.select_for_update().filter(village=village, valid_to__isnull=True).first()
    if current and zone and current.zone_id == zone.pk:
        return current
    if current:
        current.valid_to = now
        current.save(update_fields=["valid_to"])
    if zone is None:
        return None
    return ZoneMembership.objects.create(zone=zone, village=village, valid_from=now)
