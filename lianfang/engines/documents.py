"""Validation and normalisation of identity documents and mainland mobile numbers.

Pure Python (no Django import) so it can be used from models, forms, API
schemas, spreadsheet imports and background tasks alike.

Every validation failure raises :class:`DocumentError`, a ``ValueError`` with a
machine-readable ``code`` and a Chinese ``message`` written for the village
cadre doing data entry: it says what is wrong and what to check or fix.

Supported documents:

* 居民身份证 (GB 11643-1999, 18 digits, ISO 7064 MOD 11-2 check digit).  The
  港澳台居民居住证 (codes 810000/820000/830000) use the same format and are
  validated as resident IDs.
* 护照 (Chinese passports E/G + 8 digits or E + letter + 7 digits, and foreign
  passports of 5-17 letters/digits).
* 港澳居民来往内地通行证 (回乡证, H/M + 8 or 10 digits).
* 台湾居民来往大陆通行证 (台胞证, 8 digits, or the old 10-character forms).
"""

from __future__ import annotations

import datetime
import enum
import functools
import re
from dataclasses import dataclass
from typing import Final, Literal

from stdnum import numdb
from stdnum.cn import ric

__all__ = [
    "DOCUMENT_TYPE_LABELS",
    "DocumentError",
    "DocumentType",
    "ResidentId",
    "looks_like_resident_id_suffix",
    "mask_document",
    "mask_mobile",
    "normalize_document",
    "normalize_mobile",
    "parse_doc_type",
    "parse_resident_id",
]


class DocumentType(str, enum.Enum):
    """Identity document types accepted by the register."""

    RESIDENT_ID = "resident_id"
    PASSPORT = "passport"
    HK_MACAU_PERMIT = "hk_macau_permit"
    TAIWAN_PERMIT = "taiwan_permit"


DOCUMENT_TYPE_LABELS: dict[DocumentType, str] = {
    DocumentType.RESIDENT_ID: "居民身份证",
    DocumentType.PASSPORT: "护照",
    DocumentType.HK_MACAU_PERMIT: "港澳居民来往内地通行证",
    DocumentType.TAIWAN_PERMIT: "台湾居民来往大陆通行证",
}


class DocumentError(ValueError):
    """A document number or mobile number failed validation.

    ``code`` is a stable identifier (e.g. ``"id_checksum"``) for programs and
    tests; ``message`` is the Chinese explanation to show to the user.
    """

    code: str
    message: str

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[type[DocumentError], tuple[str, str]]:
        # Keep the exception picklable (task queues) despite the 2-arg __init__.
        return (type(self), (self.code, self.message))

    def __repr__(self) -> str:
        return f"DocumentError(code={self.code!r}, message={self.message!r})"


@dataclass(frozen=True)
class ResidentId:
    """A validated 18-digit resident ID number and the data encoded in it."""

    number: str
    region_code: str
    birth_date: datetime.date
    sex: Literal["M", "F"]


# --------------------------------------------------------------------------
# Input cleaning helpers
# --------------------------------------------------------------------------

# Full-width ASCII variants (U+FF01..U+FF5E) -> ASCII, ideographic space -> space.
_FULLWIDTH_TABLE: Final[dict[int, int]] = {
    **{0xFF01 + i: 0x21 + i for i in range(94)},
    0x3000: 0x20,
}
# Invisible characters that sneak in when copying from chat apps / web pages.
_INVISIBLE_RE: Final = re.compile("[\u200b-\u200f\u2060\ufeff]")
_WHITESPACE_RE: Final = re.compile(r"\s+")


def _clean(raw: str) -> str:
    """Fold full-width characters, drop whitespace and invisible characters."""
    text = raw.translate(_FULLWIDTH_TABLE)
    text = _INVISIBLE_RE.sub("", text)
    return _WHITESPACE_RE.sub("", text)


def _first_bad_char(text: str, allowed: str) -> tuple[int, str] | None:
    """Return (1-based position, char) of the first char not in ``allowed``."""
    for index, char in enumerate(text, start=1):
        if char not in allowed:
            return index, char
    return None


_DIGITS: Final = "0123456789"


def _is_ascii_digits(text: str) -> bool:
    # str.isdigit() / \d accept non-ASCII digits, which we must not.
    return bool(text) and all(char in _DIGITS for char in text)


# --------------------------------------------------------------------------
# Resident ID (居民身份证)
# --------------------------------------------------------------------------

_MIN_BIRTH_DATE: Final = datetime.date(1890, 1, 1)

# Province-level codes of GB/T 2260 (first two digits of the ID number).
_PROVINCE_CODES: Final[frozenset[str]] = frozenset(
    f"{code:02d}"
    for code in (
        *range(11, 16),
        *range(21, 24),
        *range(31, 38),
        *range(41, 47),
        *range(50, 55),
        *range(61, 66),
        71,
        81,
        82,
    )
)

# Region codes missing from python-stdnum's cn/loc table that real ID numbers
# carry.  Keep this list short, documented and sourced.
_SUPPLEMENTARY_REGION_CODES: Final[dict[str, str]] = {
    # Hangzhou district reform, April 2021 (国函〔2021〕26号): 下城/江干 merged,
    # 余杭 split.  New IDs issued in these districts use the new codes.
    "330113": "浙江省杭州市临平区",
    "330114": "浙江省杭州市钱塘区",
    # 港澳台居民居住证 (2018): same 18-digit format as the resident ID.
    "810000": "香港特别行政区（港澳台居民居住证）",
    "820000": "澳门特别行政区（港澳台居民居住证）",
    "830000": "台湾地区（港澳台居民居住证）",
}


@functools.lru_cache(maxsize=4096)
def _is_known_region(code: str) -> bool:
    """Whether ``code`` is a known county- (or prefecture-) level region code.

    Uses python-stdnum's GB/T 2260 table but deliberately ignores the
    ``[start-end]`` validity years stored in it: an ID number keeps the region
    code of first registration, and codes are also reassigned in bulk when a
    county is converted, so the birth year says nothing about which codes are
    admissible (``stdnum.cn.ric.validate`` wrongly rejects e.g. 330109 for
    people born before 2001).

    Province-level rows (``xx0000``) are not accepted except for the
    residence-permit codes in the supplement.
    """
    if code in _SUPPLEMENTARY_REGION_CODES:
        return True
    if len(code) != 6 or not _is_ascii_digits(code):
        return False
    if code[:2] not in _PROVINCE_CODES or code.endswith("0000"):
        return False
    parts = numdb.get("cn/loc").info(code)
    if len(parts) != 2:
        return False
    (province_part, province_props), (county_part, county_props) = parts
    return (
        province_part == code[:2]
        and "province" in province_props
        and county_part == code[2:]
        and bool(county_props.get("county"))
    )


def parse_resident_id(raw: str, today: datetime.date | None = None) -> ResidentId:
    """Validate and normalise an 18-digit resident ID number.

    Accepts spaces, full-width digits/letters and a lower-case ``x``.  Raises
    :class:`DocumentError` with one of the codes ``id_length``, ``id_format``,
    ``id_birth_date``, ``id_region`` or ``id_checksum``.
    """
    today = today if today is not None else datetime.date.today()
    number = _clean(raw).upper()

    if not number:
        raise DocumentError("id_length", "身份证号为空，请填写18位身份证号码")
    if len(number) == 15 and _is_ascii_digits(number):
        raise DocumentError(
            "id_length",
            "这是15位的旧身份证号，已停止使用，请填写18位的新身份证号码"
            "（可查看本人现行身份证或户口簿）",
        )
    if len(number) != 18:
        raise DocumentError(
            "id_length",
            f"身份证号应为18位，当前为{len(number)}位，请核对是否漏输或多输了数字",
        )
    bad = _first_bad_char(number[:17], _DIGITS)
    if bad is not None:
        position, char = bad
        raise DocumentError(
            "id_format",
            f"身份证号第{position}位“{char}”不是数字：前17位只能是数字，"
            "最后一位是数字或字母X，请核对（注意字母O与数字0、字母I/l与数字1）",
        )
    if number[17] not in _DIGITS + "X":
        raise DocumentError(
            "id_format",
            f"身份证号最后一位“{number[17]}”无效：最后一位只能是数字或字母X，请核对",
        )

    digits = number[6:14]
    try:
        birth_date = datetime.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise DocumentError(
            "id_birth_date",
            f"身份证号第7-14位的出生日期“{digits}”不是有效日期"
            f"（{digits[:4]}年{digits[4:6]}月{digits[6:]}日不存在），请核对出生年月日",
        ) from None
    if birth_date > today:
        raise DocumentError(
            "id_birth_date",
            f"身份证号中的出生日期 {birth_date.isoformat()} 晚于今天，"
            "请核对第7-14位出生年月日",
        )
    if birth_date < _MIN_BIRTH_DATE:
        raise DocumentError(
            "id_birth_date",
            f"身份证号中的出生日期 {birth_date.isoformat()} 早于1890年，"
            "请核对第7-14位出生年月日",
        )

    region_code = number[:6]
    if region_code not in _SUPPLEMENTARY_REGION_CODES:
        if region_code[:2] not in _PROVINCE_CODES:
            raise DocumentError(
                "id_region",
                f"身份证号前两位“{region_code[:2]}”不是有效的省份代码，"
                "请核对号码开头几位",
            )
        if not _is_known_region(region_code):
            raise DocumentError(
                "id_region",
                f"身份证号前6位地区码“{region_code}”不存在，请核对前6位数字",
            )

    expected = ric.calc_check_digit(number)
    if number[17] != expected:
        raise DocumentError(
            "id_checksum",
            f"身份证号校验位错误：最后一位应为 {expected}，请核对号码"
            "（若最后一位无误，则前17位中有数字输错）",
        )

    sex: Literal["M", "F"] = "M" if int(number[16]) % 2 == 1 else "F"
    return ResidentId(
        number=number,
        region_code=region_code,
        birth_date=birth_date,
        sex=sex,
    )


# --------------------------------------------------------------------------
# Other documents
# --------------------------------------------------------------------------

# Chinese ordinary passports: E/G + 8 digits (2012+ e-passports / older),
# or E + letter + 7 digits (EA1234567, EB..., issued once E+8 digits ran out).
_CN_PASSPORT_RE: Final = re.compile(r"[EG][0-9]{8}|E[A-Z][0-9]{7}")
# Foreign passports: 5-17 letters/digits with at least one digit.
_FOREIGN_PASSPORT_RE: Final = re.compile(r"(?=[A-Z]*[0-9])[A-Z0-9]{5,17}")
_HK_MACAU_RE: Final = re.compile(r"[HM](?:[0-9]{8}|[0-9]{10})")
_TAIWAN_RE: Final = re.compile(
    r"(?P<new>[0-9]{8})"
    r"|(?P<old10>[0-9]{10})"
    r"|(?P<base>[0-9]{8})(?:\((?P<paren>[A-Z]{1,2})\)|(?P<bare>[A-Z]{1,2}))"
)
_TAIWAN_NATIONAL_ID_RE: Final = re.compile(r"[A-Z][12][0-9]{8}")


def _normalize_passport(raw: str) -> str:
    number = _clean(raw).upper()
    if not number:
        raise DocumentError("passport_format", "护照号码为空，请填写护照号码")
    if _CN_PASSPORT_RE.fullmatch(number) or _FOREIGN_PASSPORT_RE.fullmatch(number):
        return number
    hint = (
        "中国护照为E或G加8位数字（如E12345678）或E加1位字母再加7位数字（如EA1234567）；"
    )
    hint += "外国护照为5-17位字母或数字"
    bad = _first_bad_char(number, _DIGITS + "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    if bad is not None:
        position, char = bad
        problem = f"第{position}位“{char}”不是字母或数字"
    elif len(number) < 5:
        problem = f"只有{len(number)}位，太短"
    elif len(number) > 17:
        problem = f"有{len(number)}位，太长"
    else:
        problem = "没有数字"
    raise DocumentError(
        "passport_format", f"护照号码格式不正确：{problem}。{hint}，请对照护照核对"
    )


def _normalize_hk_macau(raw: str) -> str:
    number = _clean(raw).upper()
    if _HK_MACAU_RE.fullmatch(number):
        return number
    message = (
        "港澳居民来往内地通行证（回乡证）号码格式不正确：应为字母H（香港）或M（澳门）"
        "加8位数字（如H12345678），旧版为H或M加10位数字，请对照证件核对"
    )
    if not number:
        message = "港澳居民来往内地通行证号码为空，请填写H或M开头的证件号码"
    elif _is_ascii_digits(number) and len(number) in (8, 10):
        message = (
            "港澳居民来往内地通行证号码缺少开头字母：请在数字前加上H（香港居民）"
            "或M（澳门居民），请对照证件核对"
        )
    elif number.startswith("C"):
        message = (
            "C开头的是内地居民往来港澳通行证，不是港澳居民来往内地通行证（回乡证）；"
            "请填写H或M开头的回乡证号码"
        )
    raise DocumentError("hk_macau_format", message)


def _normalize_taiwan(raw: str) -> str:
    number = _clean(raw).upper()
    match = _TAIWAN_RE.fullmatch(number)
    if match:
        if match.group("base") is not None:
            suffix = match.group("paren") or match.group("bare") or ""
            return match.group("base") + suffix
        return number
    message = (
        "台湾居民来往大陆通行证（台胞证）号码格式不正确：新版为8位数字，"
        "旧版为10位数字或8位数字加1-2位字母，请对照证件核对"
    )
    if not number:
        message = "台湾居民来往大陆通行证号码为空，请填写8位数字的台胞证号码"
    elif _TAIWAN_NATIONAL_ID_RE.fullmatch(number):
        message = (
            "这像是台湾地区身份证号（字母加9位数字），请改填台湾居民来往大陆通行证"
            "（台胞证）号码：新版为8位数字"
        )
    raise DocumentError("taiwan_format", message)


# --------------------------------------------------------------------------
# Document type parsing and dispatch
# --------------------------------------------------------------------------

_DOC_TYPE_ALIASES: Final[dict[str, DocumentType]] = {
    # resident ID (港澳台居民居住证 share its 18-digit format and rules)
    "身份证": DocumentType.RESIDENT_ID,
    "居民身份证": DocumentType.RESIDENT_ID,
    "二代身份证": DocumentType.RESIDENT_ID,
    "第二代居民身份证": DocumentType.RESIDENT_ID,
    "大陆身份证": DocumentType.RESIDENT_ID,
    "内地身份证": DocumentType.RESIDENT_ID,
    "身份证号": DocumentType.RESIDENT_ID,
    "港澳台居民居住证": DocumentType.RESIDENT_ID,
    "港澳居民居住证": DocumentType.RESIDENT_ID,
    "台湾居民居住证": DocumentType.RESIDENT_ID,
    "id": DocumentType.RESIDENT_ID,
    "idcard": DocumentType.RESIDENT_ID,
    "id_card": DocumentType.RESIDENT_ID,
    # passport
    "护照": DocumentType.PASSPORT,
    "中国护照": DocumentType.PASSPORT,
    "外国护照": DocumentType.PASSPORT,
    "普通护照": DocumentType.PASSPORT,
    # home return permit
    "港澳居民来往内地通行证": DocumentType.HK_MACAU_PERMIT,
    "港澳居民往来内地通行证": DocumentType.HK_MACAU_PERMIT,
    "港澳通行证": DocumentType.HK_MACAU_PERMIT,
    "回乡证": DocumentType.HK_MACAU_PERMIT,
    "港澳回乡证": DocumentType.HK_MACAU_PERMIT,
    # Taiwan compatriot permit
    "台湾居民来往大陆通行证": DocumentType.TAIWAN_PERMIT,
    "台湾居民往来大陆通行证": DocumentType.TAIWAN_PERMIT,
    "台胞证": DocumentType.TAIWAN_PERMIT,
    "台湾通行证": DocumentType.TAIWAN_PERMIT,
}


def parse_doc_type(label_or_code: str) -> DocumentType:
    """Map a code (``"passport"``), a label (``"护照"``) or a common short form
    (``"身份证"``, ``"港澳通行证"``, ``"台胞证"`` ...) to a :class:`DocumentType`.

    Note: "港澳通行证" is taken to mean the 港澳居民来往内地通行证 (回乡证), the
    only HK/Macau document this register records.
    """
    if isinstance(label_or_code, DocumentType):
        return label_or_code
    key = _clean(label_or_code).lower().replace("-", "_")
    for doc_type in DocumentType:
        if key == doc_type.value or key == DOCUMENT_TYPE_LABELS[doc_type]:
            return doc_type
    found = _DOC_TYPE_ALIASES.get(key)
    if found is not None:
        return found
    options = "、".join(DOCUMENT_TYPE_LABELS.values())
    shown = label_or_code.strip() or "（空）"
    raise DocumentError(
        "doc_type", f"无法识别的证件类型“{shown}”，请从以下类型中选择：{options}"
    )


def normalize_document(
    doc_type: DocumentType | str, raw: str, today: datetime.date | None = None
) -> str:
    """Validate ``raw`` as a number of ``doc_type`` and return it normalised.

    ``today`` only matters for resident IDs (birth date must not be later).
    """
    kind = parse_doc_type(doc_type)
    if kind is DocumentType.RESIDENT_ID:
        return parse_resident_id(raw, today=today).number
    if kind is DocumentType.PASSPORT:
        return _normalize_passport(raw)
    if kind is DocumentType.HK_MACAU_PERMIT:
        return _normalize_hk_macau(raw)
    return _normalize_taiwan(raw)


# --------------------------------------------------------------------------
# Mobile numbers
# --------------------------------------------------------------------------

_MOBILE_SEPARATORS_RE: Final = re.compile(r"[\s\-()\u2010-\u2015]")


def normalize_mobile(raw: str) -> str:
    """Validate a mainland China mobile number and return its 11 digits.

    Accepts spaces, dashes, parentheses, full-width digits and a +86 / 0086 /
    86 country prefix.  Raises :class:`DocumentError` (code ``phone_format``).
    """
    text = _MOBILE_SEPARATORS_RE.sub("", _clean(raw))
    if not text:
        raise DocumentError("phone_format", "手机号为空，请填写11位手机号码")
    if text.startswith("+"):
        text = text[1:]
        if not text.startswith("86"):
            raise DocumentError(
                "phone_format",
                "只支持中国大陆手机号（+86），请填写11位大陆手机号码",
            )
    bad = _first_bad_char(text, _DIGITS)
    if bad is not None:
        raise DocumentError(
            "phone_format",
            f"手机号中有非数字字符“{bad[1]}”，请只填写11位数字",
        )
    if len(text) == 15 and text.startswith("0086"):
        text = text[4:]
    elif len(text) == 13 and text.startswith("86"):
        text = text[2:]
    if text.startswith("00"):
        raise DocumentError(
            "phone_format",
            "只支持中国大陆手机号（国际区号0086），请填写11位大陆手机号码",
        )
    if text.startswith("0"):
        raise DocumentError(
            "phone_format",
            "这像是固定电话号码（以0开头），请填写以1开头的11位手机号码",
        )
    if len(text) != 11:
        raise DocumentError(
            "phone_format",
            f"手机号应为11位数字，当前为{len(text)}位，请核对是否漏输或多输",
        )
    if text[0] != "1" or text[1] not in "3456789":
        raise DocumentError(
            "phone_format",
            f"手机号“{text}”开头不正确：大陆手机号以13-19开头，请核对",
        )
    return text


# --------------------------------------------------------------------------
# Masking for display
# --------------------------------------------------------------------------


def _mask_middle(number: str) -> str:
    """Keep up to 2 leading and 2 trailing chars, always hiding >= 2 chars."""
    length = len(number)
    if length == 0:
        return ""
    hidden = max(2, length - 4)
    visible = max(0, length - hidden)
    head = (visible + 1) // 2
    tail = visible - head
    return number[:head] + "*" * hidden + (number[length - tail :] if tail else "")


def mask_document(doc_type: DocumentType | str, number: str) -> str:
    """Mask a (normalised) document number for display.

    Resident IDs: first 6 + 8 ``*`` + last 4 (``330114********1234``).
    Other documents: first 2 + ``*`` for the middle + last 2 (at least 2 ``*``;
    very short values show fewer characters).  Raises :class:`DocumentError`
    (``doc_type``) for an unknown document type.
    """
    kind = parse_doc_type(doc_type)
    value = number.strip()
    if kind is DocumentType.RESIDENT_ID and len(value) == 18:
        return value[:6] + "*" * 8 + value[-4:]
    return _mask_middle(value)


def mask_mobile(number: str) -> str:
    """Mask a mobile number as ``138****1234``.

    Values that are not valid mainland mobiles are masked generically rather
    than raising, as this is for display only.
    """
    try:
        digits = normalize_mobile(number)
    except DocumentError:
        return _mask_middle(number.strip())
    return digits[:3] + "****" + digits[-4:]


# --------------------------------------------------------------------------
# Search helper
# --------------------------------------------------------------------------

_ID_SUFFIX_RE: Final = re.compile(r"[0-9]{1,18}|[0-9]{1,17}[Xx]")


def looks_like_resident_id_suffix(q: str) -> bool:
    """True if ``q`` (surrounding whitespace ignored) is 1-18 ASCII digits,
    optionally ending in ``X``/``x`` (at least one digit), i.e. could be the
    tail of a resident ID number typed into a search box."""
    return _ID_SUFFIX_RE.fullmatch(q.strip()) is not None
