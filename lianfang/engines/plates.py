"""Mainland vehicle plates (机动车号牌, GA 36): normalise what a gate worker typed and check the format.

Pure Python (no Django); ``static/js/screening.js`` (``normalizePlate``) mirrors it for offline gates.

Input may use full-width letters and digits, lower case, spaces and the separators ``·`` ``-``
(and their look-alikes); they are converted or stripped. Accepted formats (letters never I or O):

- ordinary (普通): province + issuing-office letter + 5 letters/digits, e.g. 浙A12345, 浙A8B2C7;
- new energy (新能源, 8 characters): small vehicles province + letter + D/F + a letter or digit +
  4 digits (浙AD12345, 沪ADA1234); large vehicles province + letter + 5 digits + D/F (浙A12345D);
- trailer (挂车): province + letter + 4 letters/digits + 挂, e.g. 浙A1234挂;
- police (警车): province + letter + 4 letters/digits + 警, e.g. 浙A0123警;
- embassy/consulate (使馆、领馆): 使 + 6 digits (使014123), or province + letter + 4 letters/digits + 领;
- other: province + letter + 4 letters/digits + 学 (learner), 港 or 澳 (Guangdong cross-border).

Anything else raises :class:`PlateError` with a ``code`` ("type", "empty", "chars", "province",
"length", "issuer", "letter_io", "format") and a Chinese message naming what is wrong.
Not covered: the 2022 extension of new-energy letters beyond D/F, military and armed-police plates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = ["PROVINCES", "Plate", "PlateError", "PlateKind", "normalize_plate"]

PlateKind = Literal["ordinary", "new_energy", "trailer", "police", "embassy", "other"]

PROVINCES: Final = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
SUFFIXES: Final[dict[str, PlateKind]] = {"挂": "trailer", "警": "police", "领": "embassy", "学": "other", "港": "other",
                                         "澳": "other"}
EMBASSY: Final = "使"
# Stripped wherever they appear: whitespace and the separators people type between the parts.
SEPARATORS: Final = " \t\r\n\u00a0\u3000·•‧・･-‐‑–—_.．"
LETTERS: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, no O
SERIAL: Final = LETTERS + "0123456789"

_SMALL_NEW_ENERGY: Final = re.compile(f"[DF][{SERIAL}][0-9]{{4}}")
_LARGE_NEW_ENERGY: Final = re.compile("[0-9]{5}[DF]")
_EXAMPLE: Final = "如 浙A12345、新能源 浙AD12345"


class PlateError(ValueError):
    """A plate number that is not a mainland plate; ``message`` says what is wrong, in Chinese."""

    code: str
    message: str

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[type[PlateError], tuple[str, str]]:
        return (type(self), (self.code, self.message))

    def __repr__(self) -> str:
        return f"PlateError(code={self.code!r}, message={self.message!r})"


@dataclass(frozen=True)
class Plate:
    number: str  # normalised, no separators: 浙AD12345
    kind: PlateKind
    province: str  # first character: 浙, or 使 for embassy plates

    @property
    def display(self) -> str:
        """As printed on the plate: 浙A·D12345 (使 plates have no dot)."""
        return self.number if self.province == EMBASSY else f"{self.number[:2]}·{self.number[2:]}"

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "kind": self.kind, "province": self.province, "display": self.display}


def _clean(raw: str) -> str:
    out: list[str] = []
    for ch in raw:
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E:  # full-width ASCII
            ch = chr(code - 0xFEE0)
        if ch in SEPARATORS:
            continue
        if "a" <= ch <= "z":
            ch = chr(ord(ch) - 32)
        out.append(ch)
    return "".join(out)


def normalize_plate(raw: str) -> Plate:
    """The normalised plate of ``raw``, or :class:`PlateError`."""
    if not isinstance(raw, str):
        raise PlateError("type", "车牌号应为文字")
    number = _clean(raw)
    if not number:
        raise PlateError("empty", "请输入车牌号")
    allowed = PROVINCES + EMBASSY + "".join(SUFFIXES) + SERIAL + "IO"
    for ch in number:
        if ch not in allowed:
            raise PlateError("chars", f"车牌号中有无效字符「{ch}」：只能是省份简称、字母和数字")

    first = number[0]
    if first == EMBASSY:
        if len(number) == 7 and number[1:].isascii() and number[1:].isdigit():
            return Plate(number, "embassy", EMBASSY)
        raise PlateError("format", f"使馆车牌应为「使」加 6 位数字，如 使014123（现为 {number}）")
    if first not in PROVINCES:
        raise PlateError("province", f"车牌号应以省份简称开头（{_EXAMPLE}），「{first}」不是省份简称")
    if len(number) not in (7, 8):
        raise PlateError("length", f"车牌号长度不对：普通车牌 7 位、新能源车牌 8 位，现为 {len(number)} 位（{number}）")
    issuer = number[1]
    if issuer in "IO":
        raise PlateError("letter_io", f"车牌号不使用字母 I 和 O（易与数字 1、0 混淆），第 2 位「{issuer}」请核对")
    if issuer not in LETTERS:
        raise PlateError("issuer", f"车牌号第 2 位应为发牌机关字母（A–Z），现为「{issuer}」")
    for i, ch in enumerate(number[2:], start=3):
        if ch in "IO":
            raise PlateError("letter_io", f"车牌号不使用字母 I 和 O（易与数字 1、0 混淆），第 {i} 位「{ch}」请核对")

    rest = number[2:]
    if len(number) == 7:
        last = rest[-1]
        body = rest[:-1] if last in SUFFIXES else rest
        for i, ch in enumerate(body, start=3):
            if ch not in SERIAL:
                raise PlateError("format", f"车牌号第 {i} 位应为字母或数字，现为「{ch}」")
        return Plate(number, SUFFIXES.get(last, "ordinary"), first)

    if _SMALL_NEW_ENERGY.fullmatch(rest) or _LARGE_NEW_ENERGY.fullmatch(rest):
        return Plate(number, "new_energy", first)
    raise PlateError("format", f"8 位车牌应为新能源号牌：第 3 位为 D 或 F 且后 4 位为数字（如 浙AD12345），"
                               f"或 5 位数字后接 D 或 F（如 浙A12345D），现为 {number}")
