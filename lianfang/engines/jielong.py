"""WeChat 群接龙 (chain) texts: parse a pasted chain and match its entries to the members of a roll-call group.

Pure Python (no Django). The format (``shared/domain/notes.md``, rules ``jielong_format``)::

    #接龙
    7月12日 居家健康监测人员体温(8点前)
    例 姓名 楼栋-房号 体温 有无症状

    1. 王建国 6-2-301 36.5 无
    2. 李秀英 6-2-302 36.7 无

    以上为今日接龙

:func:`parse_chain` accepts the header ``#接龙`` (also ``#接龍`` and ``#Group Note``; lines before it are
ignored), a title (one or more lines), an optional ``例 …`` line, blank lines, entries numbered
``1. x`` / ``1.x`` / ``1、x`` / ``1)x`` / ``(1) x`` in ASCII or full width, entries wrapping onto
following lines (a line that does not start the next number continues the entry, so a numbered list
inside an entry stays in it), and a footer: the lines after a blank line that follows the last entry,
or a last line starting with 以上 / 截至 / 截止 / 未接龙. If a paste holds several chains (one header
after another), the one with the most entries is parsed (the latest re-post on a tie).

Each :class:`Entry` keeps ``(number, raw)`` stable: ``raw`` is the entry's own text without its
number, wrapped lines joined by one space and runs of white space collapsed, so re-posting a chain
yields the same pairs and a longer re-post only adds pairs. Fields are read from a normalised copy
(full-width to ASCII, traditional/variant characters to simplified, dashes to ``-``): the name at
the start (after a helper's ``李梅代`` / ``代报：`` or before ``（代）``), house numbers (``6-2-301``,
``6栋2单元301室``, ``6-301``, ``3组45号``, ``45号``, ``301室``, a bare room number as last resort),
temperatures (``36.5``, ``36.5℃``, ``36度5``, ``37度``; the highest one when several are given),
counts (``3/4`` = 3 of 4 at home, ``在家3人``, ``3人在家``, ``全家4人``, ``一家三口``, a bare ``3人``)
and the status with its signals (:func:`classify`).

:func:`match_entries` never guesses: an entry is given a ``member_key`` only when exactly one member
fits; otherwise the candidates (several, one unconfirmed, or none) are returned for the leader.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = [
    "MAX_BYTES",
    "MAX_ENTRIES",
    "SIGNALS",
    "STATUSES",
    "Chain",
    "ChainError",
    "Entry",
    "Match",
    "Member",
    "classify",
    "match_entries",
    "normalize",
    "normalize_house",
    "parse_chain",
]

STATUSES: Final[dict[str, str]] = {"ok": "无异常", "visitor": "有外来人员", "symptom": "有发热等症状", "other": "其他"}
SIGNALS: Final[dict[str, str]] = {"outsider": "外来人员", "vehicle": "车辆", "symptom": "症状", "returned": "返乡/返回",
                                  "other": "其他情况"}
MAX_BYTES: Final = 1024 * 1024
MAX_ENTRIES: Final = 5000
FEVER: Final = 37.3

# ---------------------------------------------------------------------------------------------- text

_LINE_BREAKS: Final = {0x0D: "\n", 0x0B: "\n", 0x0C: "\n", 0x85: "\n", 0x2028: "\n", 0x2029: "\n"}
# Light normalisation (kept in ``raw``): drop zero-width characters, make every space an ASCII space.
_LIGHT: Final[dict[int, str | None]] = {
    **{cp: None for cp in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD)},
    **{cp: " " for cp in (0x3000, 0x00A0, 0x09, 0x2002, 0x2003, 0x2009, 0x202F, 0x205F)},
}
# Full normalisation (used to read fields): one character for one, so offsets stay those of the light text.
_VARIANTS: Final = (
    "國国華华偉伟紅红麗丽張张陳陈劉刘楊杨黃黄趙赵吳吴鄭郑馬马孫孙葉叶許许蘭兰鳳凤東东軍军龍龙興兴強强飛飞慶庆"
    "貴贵發发榮荣寶宝鵬鹏廣广雲云萬万潔洁穎颖傑杰輝辉運运勝胜進进義义濤涛鋒锋剛刚紀纪劍剑蔣蒋韓韩鄧邓錢钱"
    "馮冯陸陆盧卢蘇苏賈贾譚谭嚴严羅罗謝谢鍾钟顧顾賴赖龔龚溫温燒烧熱热來来體体車车貨货輛辆親亲訪访無无沒没"
    "異异鄉乡歸归號号樓楼單单組组層层門门區区長长愛爱蓮莲雙双寧宁靜静鴻鸿曉晓彥彦橋桥樂乐聖圣權权開开間间"
    "時时電电話话齊齐豐丰圓圆將将從从幾几個个裡里裏里兒儿後后們们囯国峯峰淸清靑青眞真羣群鐵铁銀银錦锦鳴鸣"
    "聰聪綫线線线達达滿满傳传備备證证護护醫医療疗燦灿麥麦儉俭僑侨貞贞媽妈爺爷婦妇嬸婶舊旧紹绍喬乔雞鸡餘余"
    "凱凯歡欢戰战勞劳務务產产場场歲岁億亿鐘钟雄雄淑淑瑩莹鳥鸟順顺頭头聯联絡络邊边邁迈測测溫温燈灯壽寿慧慧"
    "淩凌瓊琼瑤瑶蕭萧鮑鲍閆闫閻阎龐庞"
)
_FULL: Final[dict[int, str]] = {
    **{cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)},
    **{ord(c): "-" for c in "‐‑‒–—―−﹣"},
    **{ord(_VARIANTS[i]): _VARIANTS[i + 1] for i in range(0, len(_VARIANTS), 2)},
    ord("∶"): ":", ord("﹕"): ":", ord("（"): "(", ord("）"): ")", ord("℃"): "℃",
}

_CN_DIGITS: Final = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def normalize(text: str) -> str:
    """The normalised form used for reading and matching: full width to ASCII, variants to simplified."""
    return text.translate(_LIGHT).translate(_FULL)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _cn_int(token: str) -> int | None:
    """``3`` ``三`` ``十二`` ``二十`` ``二十三`` → int; ``None`` if it is not a number."""
    if token.isdigit():
        return int(token)
    if "十" in token:
        tens, _, ones = token.partition("十")
        t = _CN_DIGITS.get(tens, -1) if tens else 1
        o = _CN_DIGITS.get(ones, -1) if ones else 0
        return None if t < 0 or o < 0 else t * 10 + o
    if len(token) == 1 and token in _CN_DIGITS:
        return _CN_DIGITS[token]
    return None


# ------------------------------------------------------------------------------------------- errors


class ChainError(ValueError):
    """A paste that cannot be read as a chain; ``code`` is not_chain, empty or too_long, ``message`` Chinese."""

    code: str
    message: str

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[type[ChainError], tuple[str, str]]:
        return (type(self), (self.code, self.message))

    def __repr__(self) -> str:
        return f"ChainError(code={self.code!r}, message={self.message!r})"


_MSG_NOT_CHAIN: Final = ("这不是一段群接龙文本：接龙的第一行是“#接龙”，下面是标题、可选的“例 …”一行，空一行后是编号条目，"
                         "如“1. 王建国 6-2-301 36.5 无”。请在微信里长按接龙消息，点“复制”，再整段粘贴到这里。")
_MSG_EMPTY: Final = "这段接龙还没有任何条目（条目形如“1. 王建国 6-2-301 无”）。请等大家接龙后，复制最新的一条接龙消息再粘贴。"


def _msg_too_long(what: str) -> str:
    return (f"粘贴的内容太长（{what}，上限为 1 MB 或 {MAX_ENTRIES} 条）：请按小组或按日期分成几段，"
            "分别粘贴。")


# --------------------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class Entry:
    number: int
    raw: str  # the entry's text without its number; wrapped lines joined by a space, white space collapsed
    name: str | None  # name or nickname at the start (normalised), best effort
    house: str | None  # normalised: 6-2-301, 6-301, 3组45号, 45号, 301
    temperature: float | None  # highest temperature given
    at_home: int | None
    household_size: int | None
    status: str  # a key of STATUSES
    signals: tuple[str, ...]  # keys of SIGNALS, in that order
    line: int  # 1-based line of the paste where the entry starts

    @property
    def key(self) -> tuple[int, str]:
        """What stays the same when the chain is re-posted."""
        return (self.number, self.raw)

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "raw": self.raw, "name": self.name, "house": self.house,
                "temperature": self.temperature, "at_home": self.at_home, "household_size": self.household_size,
                "status": self.status, "status_label": STATUSES[self.status], "signals": list(self.signals),
                "line": self.line}


@dataclass(frozen=True)
class Chain:
    title: str
    example: str | None
    entries: tuple[Entry, ...]
    footer: str | None

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "example": self.example, "footer": self.footer,
                "entries": [e.to_json() for e in self.entries]}


@dataclass(frozen=True)
class Member:
    key: str
    name: str
    house: str | None = None
    nicknames: tuple[str, ...] = ()
    pinyin: str = ""  # full pinyin of the name, lower case without spaces; computed when empty

    def __post_init__(self) -> None:
        if not isinstance(self.nicknames, tuple):
            object.__setattr__(self, "nicknames", tuple(self.nicknames))
        if self.pinyin:
            object.__setattr__(self, "pinyin", _latin_key(self.pinyin))
        else:
            object.__setattr__(self, "pinyin", _pinyin(_name_key(self.name))[0])


MatchOutcome = Literal["matched", "ambiguous", "unknown"]


@dataclass(frozen=True)
class Match:
    entry: Entry
    member_key: str | None
    candidates: tuple[str, ...]  # the member keys the leader chooses from when member_key is None
    reason: str  # Chinese, for the leader

    @property
    def outcome(self) -> MatchOutcome:
        if self.member_key is not None:
            return "matched"
        return "ambiguous" if self.candidates else "unknown"

    def to_json(self) -> dict[str, Any]:
        return {"entry": self.entry.to_json(), "member_key": self.member_key, "candidates": list(self.candidates),
                "reason": self.reason, "outcome": self.outcome}


# ------------------------------------------------------------------------------------------ parsing

_HEADER: Final = re.compile(r"\s*#\s*(?:接龙|group\s*note)(?![^\s])\s*(.*?)\s*$", re.IGNORECASE)
_MARK: Final = re.compile(r"\s*(?:\((\d{1,4})\)|(\d{1,4})\s*([.、)]))\s*")
_DECIMAL_TEMP: Final = re.compile(r"\d{1,2}(?![\d\-])")
_EXAMPLE: Final = re.compile(r"\s*例(?:如|子)?(?:\s*:\s*|\s+|$)")
_FOOTER_START: Final = re.compile(r"\s*(?:以上|截至|截止|未接龙|还未接龙|尚未接龙)")


def _start(line: str) -> tuple[int, str, int] | None:
    """If the (normalised) line starts with an entry number: (number, marker style, offset of the content)."""
    m = _MARK.match(line)
    if m is None:
        return None
    if m.group(1) is not None:
        return int(m.group(1)), "()", m.end()
    n = int(m.group(2))
    style = m.group(3)
    if style == "." and 34 <= n <= 42 and _DECIMAL_TEMP.match(line, m.end(3)):
        return None  # 36.5 on a line of its own is a temperature, not entry 36
    return n, style, m.end()


def _accepts(start: tuple[int, str, int], prev: int, prev_style: str, line: str) -> bool:
    n, style, offset = start
    if n == prev + 1:
        return True
    if n == prev:  # a number given twice: only in the same style and with content
        return style == prev_style and bool(line[offset:].strip())
    # a small gap (a line lost in copying), never when a digit follows: 8.30回来 continues an entry
    return prev + 1 < n <= prev + 5 and not line[offset:offset + 1].isdigit() and style in (".", "、")


@dataclass
class _Pending:
    number: int
    line: int
    style: str
    light: list[str] = field(default_factory=list)
    full: list[str] = field(default_factory=list)
    after_blank: list[bool] = field(default_factory=list)  # per continuation line


def parse_chain(text: str) -> Chain:
    """Parse a pasted 群接龙 text; raises :class:`ChainError` (not_chain, empty, too_long)."""
    if not isinstance(text, str):
        raise ChainError("not_chain", _MSG_NOT_CHAIN)
    if len(text) > MAX_BYTES // 4:
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_BYTES:
            raise ChainError("too_long", _msg_too_long(f"{size / MAX_BYTES:.1f} MB"))
    text = text.replace("\r\n", "\n").translate(_LINE_BREAKS)
    light_text = text.translate(_LIGHT)
    llines = light_text.split("\n")
    flines = light_text.translate(_FULL).split("\n")
    headers = [i for i, line in enumerate(flines) if "#" in line and _HEADER.match(line)]
    if not headers:
        raise ChainError("not_chain", _MSG_NOT_CHAIN)
    best: Chain | None = None
    for k, h in enumerate(headers):
        end = headers[k + 1] if k + 1 < len(headers) else len(flines)
        chain = _parse_segment(llines, flines, h, end)
        if best is None or len(chain.entries) >= len(best.entries):
            best = chain
    assert best is not None
    if not best.entries:
        raise ChainError("empty", _MSG_EMPTY)
    return best


def _parse_segment(llines: list[str], flines: list[str], h: int, end: int) -> Chain:
    header = _HEADER.match(flines[h])
    assert header is not None
    title_parts: list[str] = []
    if header.group(1):
        title_parts.append(_collapse(llines[h][header.start(1):]))
    i = h + 1
    while i < end and not flines[i].strip():
        i += 1
    first = i
    # Where the entries start: entry 1 after a blank line or the example; else the first entry 1; else any number.
    title_idx: int | None = None
    if first < end and not _EXAMPLE.match(flines[first]):
        st = _start(flines[first])
        if not (st and st[0] == 1):
            title_idx = first
    start = _find_start(flines, first if title_idx is None else first + 1, end)
    # The preamble: title lines, then the example (the 例 line and the lines glued to it).
    example_parts: list[str] = []
    in_example = False
    for j in range(first, start):
        f = flines[j]
        if not f.strip():
            in_example = False
            continue
        ex = _EXAMPLE.match(f) if not example_parts and j != title_idx else None
        if ex is not None:
            in_example = True
            example_parts.append(_collapse(llines[j][ex.end():]))
        elif in_example:
            example_parts.append(_collapse(llines[j]))
        else:
            title_parts.append(_collapse(llines[j]))
    entries: list[_Pending] = []
    cur: _Pending | None = None
    blank = False
    starts = [_start(flines[j]) for j in range(start, end)]
    main_style = starts[0][1] if starts and starts[0] is not None else "."
    # where each number is written in the chain's own style: 2、 inside entry 1 is not entry 2 when "2." follows
    main_at = {st[0]: j for j, st in enumerate(starts, start) if st is not None and st[1] == main_style}
    for j in range(start, end):
        f = flines[j]
        if not f.strip():
            blank = True
            continue
        st = starts[j - start]
        if st is not None and st[1] != main_style and main_at.get(st[0], -1) > j:
            st = None
        if st is not None and (cur is None or _accepts(st, cur.number, cur.style, f)):
            if len(entries) >= MAX_ENTRIES:
                raise ChainError("too_long", _msg_too_long(f"超过 {MAX_ENTRIES} 条"))
            cur = _Pending(st[0], j + 1, st[1], [llines[j][st[2]:]], [f[st[2]:]])
            entries.append(cur)
        elif cur is not None:
            cur.light.append(llines[j])
            cur.full.append(f)
            cur.after_blank.append(blank)
        blank = False
    footer: str | None = None
    if cur is not None:
        for c, (after_blank, f) in enumerate(zip(cur.after_blank, cur.full[1:], strict=True)):
            if after_blank or _FOOTER_START.match(f):
                footer = "\n".join(s for s in (_collapse(x) for x in cur.light[c + 1:]) if s) or None
                del cur.light[c + 1:], cur.full[c + 1:]
                break
    built = tuple(_build_entry(p) for p in entries)
    return Chain(title="\n".join(p for p in title_parts if p), example=" ".join(example_parts) or None,
                 entries=built, footer=footer)


def _find_start(flines: list[str], begin: int, end: int) -> int:
    any_one: int | None = None
    any_number: int | None = None
    prev_blank_or_example = False
    in_example = False
    for j in range(begin, end):
        f = flines[j]
        if not f.strip():
            prev_blank_or_example = True
            in_example = False
            continue
        st = _start(f)
        if st is not None:
            if st[0] == 1:
                if prev_blank_or_example or in_example:
                    return j
                if any_one is None:
                    any_one = j
            elif any_number is None:
                any_number = j
        if _EXAMPLE.match(f):
            in_example = True
        prev_blank_or_example = False
    if any_one is not None:
        return any_one
    return any_number if any_number is not None else end


# ----------------------------------------------------------------------------------- field reading

_CJK: Final = r"\u3400-\u4dbf\u4e00-\u9fff"
_N: Final = r"(?:\d{1,2}|[一二两三四五六七八九十]{1,3})"
_PROVINCES: Final = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_FIELDS: Final = re.compile(
    # the lookahead lets the scanner skip, at one test per character, every place where no field can start
    rf"(?=[0-9一二两三四五六七八九十在全共家户{_PROVINCES}])(?:"
    r"(?P<h3>(?<![\d.])(?P<h3a>\d{1,3})\s*(?:栋|幢|号楼|座|#)\s*(?P<h3b>\d{1,2})\s*(?:单元|-)\s*(?P<h3c>\d{2,4})\s*(?:室|号)?)"
    r"|(?P<d3>(?<![\d./])(?P<d3a>\d{1,3})\s?-\s?(?P<d3b>\d{1,2})\s?-\s?(?P<d3c>\d{2,4})(?![\d.])\s*(?:室|号)?)"
    r"|(?P<h2>(?<![\d.])(?P<h2a>\d{1,3})\s*(?:栋|幢|号楼)\s*(?P<h2b>\d{2,4})\s*室?)"
    r"|(?P<d2>(?<![\d./])(?P<d2a>\d{1,3})-(?P<d2b>\d{3,4})(?![\d.\-])\s*室?)"
    rf"|(?P<hz>(?<![\d.])(?P<hza>{_N})\s*组\s*(?P<hzb>\d{{1,4}})\s*号?)"
    r"|(?P<t1>(?<![\d.\-])(?P<t1a>3[4-9]|4[0-2])\.(?P<t1b>\d{1,2})(?![\d.])\s*(?:℃|°[cC]?|度|[cC](?![a-zA-Z]))?)"
    r"|(?P<t2>(?<![\d.])(?P<t2a>3[4-9]|4[0-2])\s*度\s*(?P<t2b>\d)(?![\d.]))"
    r"|(?P<t3>(?<![\d.])(?P<t3a>3[4-9]|4[0-2])\s*(?:℃|°[cC]?|度))"
    r"|(?P<sl>(?<![\d./\-])(?P<sla>\d{1,3})\s*/\s*(?P<slb>\d{1,3})(?![\d./\-])(?!\s*[号日月]))"
    rf"|(?P<ca>在家(?:人数)?\s*[:]?\s*(?P<caa>{_N})(?![\d.度℃])\s*(?:个人|人|口|个)?)"
    rf"|(?P<sz>(?:全家|共|一共|家庭|家里|家中|户籍|户内|一家)\s*(?P<sza>{_N})\s*(?:口人|口|个人|人)(?P<szb>\s*(?:都|均|全部?)在家)?)"
    rf"|(?P<cb>(?<![\d.])(?P<cba>{_N})\s*(?:个人|人|口)(?:都|均|全)?在家)"
    rf"|(?P<s2>(?<![\d.])(?P<s2a>{_N})\s*口(?:人|之家))"
    rf"|(?P<bare>(?<![\d.{_CJK}])(?P<barea>{_N})\s*个?人(?![员{_CJK}]))"
    r"|(?P<hh>(?<![\d.\-])(?P<hha>\d{1,4})\s*号(?!楼))"
    r"|(?P<rm>(?<![\d.\-/])(?P<rma>\d{3,4})\s*室)"
    r"|(?P<rb>(?<![\d.\-/:])(?P<rba>[1-9]\d{2,3})(?![\d.\-/:年元人口个号点分岁]))"
    rf"|(?P<plate>[{_PROVINCES}][A-Za-z]\s?[·.\-]?\s?[A-Za-z0-9]{{5,6}})"
    r")"
)
_NOT_PEOPLE: Final = frozenset("来客工岗租住访员机")  # 租客3人, 员工42人, 亲戚来了2人: not people at home


@dataclass
class _Fields:
    residual: str = ""
    house: str | None = None
    room: str | None = None  # bare room number, used only when no other house is given
    temps: list[float] = field(default_factory=list)
    at_home: int | None = None
    size: int | None = None


def _read_fields(s: str) -> _Fields:
    out = _Fields()
    if not any(c.isdigit() for c in s) and not any(c in s for c in "一二两三四五六七八九十"):
        out.residual = s
        return out
    parts: list[str] = []
    pos = 0
    for m in _FIELDS.finditer(s):
        kind = m.lastgroup
        g = m.group
        keep = False
        if kind in ("h3", "d3"):
            if out.house is None:
                out.house = f"{int(g(kind + 'a'))}-{int(g(kind + 'b'))}-{int(g(kind + 'c'))}"
        elif kind in ("h2", "d2"):
            if out.house is None:
                out.house = f"{int(g(kind + 'a'))}-{int(g(kind + 'b'))}"
        elif kind == "hz":
            n = _cn_int(g("hza"))
            if n is None:
                keep = True
            elif out.house is None:
                out.house = f"{n}组{int(g('hzb'))}号"
        elif kind in ("t1", "t2", "t3"):
            whole = g(kind + "a")
            frac = g(kind + "b") if kind != "t3" else "0"
            out.temps.append(float(f"{whole}.{frac}"))
        elif kind == "sl":
            a_, b_ = int(g("sla")), int(g("slb"))
            if 0 <= a_ <= b_ and b_ > 0:
                out.at_home, out.size = a_, b_
            else:
                keep = True
        elif kind in ("ca", "cb"):
            n = _cn_int(g(kind + "a"))
            if n is None:
                keep = True
            elif out.at_home is None:
                out.at_home = n
        elif kind in ("sz", "s2"):
            n = _cn_int(g(kind + "a"))
            if n is None:
                keep = True
            else:
                if out.size is None:
                    out.size = n
                if kind == "sz" and g("szb") and out.at_home is None:
                    out.at_home = n
        elif kind == "bare":
            n = _cn_int(g("barea"))
            before = s[max(0, m.start() - 3):m.start()]
            if n is None or any(c in _NOT_PEOPLE for c in before) or n == 0:
                keep = True
            elif out.at_home is None:
                out.at_home = n
        elif kind == "hh":
            if out.house is None:
                out.house = f"{int(g('hha'))}号"
        elif kind == "rm":
            if out.house is None:
                out.house = str(int(g("rma")))
        elif kind == "rb":
            if out.room is None:
                out.room = g("rba")
        # plates: dropped from the residual only
        if keep:
            continue
        parts.append(s[pos:m.start()])
        parts.append(" ")
        pos = m.end()
    parts.append(s[pos:])
    out.residual = "".join(parts)
    if out.house is None and out.room is not None:
        out.house = out.room
    return out


@functools.lru_cache(maxsize=4096)
def normalize_house(text: str | None) -> str | None:
    """A house number as the engine writes it: 6栋2单元301室 → 6-2-301, 三组45号 → 3组45号; ``None`` if empty."""
    if text is None:
        return None
    s = _collapse(normalize(text))
    if not s:
        return None
    f = _read_fields(s)
    return f.house or s


def _house_parts(house: str) -> tuple[str, ...]:
    if "组" in house:
        g, _, rest = house.partition("组")
        return (g + "组", rest.rstrip("号"))
    return tuple(house.rstrip("号").split("-"))


# ------------------------------------------------------------------------------------------ names

_NAME_RUN: Final = re.compile(rf"[{_CJK}]+(?:·[{_CJK}]+)*|[A-Za-z][A-Za-z'\-]*(?: [A-Za-z][A-Za-z'\-]*)*")
_HAS_CJK: Final = re.compile(f"[{_CJK}]")
# helper marks: 王奶奶（代） / 何奶奶(李梅代) / 代报：李爷爷 / 帮钱阿姨接龙 / 李梅代王奶奶 / … 陈志强代
_PROXY_PAREN: Final = re.compile(rf"\(\s*[{_CJK}]{{0,5}}(?:代|帮扶|助老|结对)[{_CJK}]{{0,4}}\s*\)"
                                 rf"|[\[【]\s*代[{_CJK}]{{0,3}}\s*[\]】]")
_PROXY_LEAD: Final = re.compile(rf"\s*(?:由)?(?:代(?:报|填|发|接龙|接|报告)\s*:?|代\s*:|代\s+|代(?=[{_CJK}]{{3}})|帮(?:忙)?)"
                                rf"\s*(?=[{_CJK}])")  # bare 代 only before three characters: 代丽华 is a name
_SPACED_NAME: Final = re.compile(rf"\s+([{_CJK}]{{1,2}})(?![{_CJK}])")
_PROXY_MID: Final = re.compile(rf"([{_CJK}]{{2,4}})(?:代|帮)(?:报|填|发|接龙|接)?\s*[:]?\s*([{_CJK}]{{2,}})")
_PROXY_TAIL: Final = re.compile(rf"(?:由)?[{_CJK}]{{2,4}}(?:代|帮忙)(?:报|填|发|接龙|接)?(?=[\s,。;!?]|$)")
_STOPWORDS: Final = (
    "在家", "家里", "家中", "全家", "一家", "无", "没有", "没", "正常", "体温", "已", "有外", "有发", "有亲", "有客", "有症",
    "有车", "外来", "外地", "发热", "发烧", "今日", "今天", "今晚", "共计", "从", "回来", "回家", "返", "到家", "在岗", "员工",
    "职工", "租客", "房客", "入住", "客人", "接龙", "报平安", "平安", "都在", "都好", "都正常", "均在", "均正常", "收到",
    "咳嗽", "亲戚", "户主", "测温", "停车", "刚回", "刚到", "明天", "昨天", "一切", "无异常", "健康", "身体", "人员",
)
_STOP_RE: Final = re.compile("|".join(sorted(_STOPWORDS, key=len, reverse=True)))
_NAME_SUFFIXES: Final = ("一家", "全家", "家庭", "家", "户")
_LATIN_NOT_NAMES: Final = frozenset({"ok", "okay", "yes", "no", "none", "fine", "good", "c", "nil", "na", "n"})


def _name_key(name: str) -> str:
    return "".join(normalize(name).split()).lower()


def _latin_key(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


# surnames read otherwise than the character's usual reading: 曾 zeng (not ceng), 单 shan, 查 zha, 解 xie …
_SURNAME_PINYIN: Final = {"曾": "zeng", "单": "shan", "查": "zha", "解": "xie", "仇": "qiu", "朴": "piao", "区": "ou",
                          "盖": "ge", "乐": "yue", "缪": "miao", "覃": "qin", "翟": "zhai", "召": "shao", "种": "chong",
                          "员": "yun", "洗": "xian", "燕": "yan", "任": "ren", "华": "hua", "纪": "ji", "尉": "yu"}


@functools.lru_cache(maxsize=4096)
def _pinyin(name: str) -> tuple[str, str]:
    """(full pinyin, initials) of a normalised name, the first character read as a surname; latin stays."""
    from pypinyin import Style, lazy_pinyin

    full = lazy_pinyin(name, style=Style.NORMAL, errors="default")
    if name[:1] in _SURNAME_PINYIN and full and full[0] != name[0]:
        full[0] = _SURNAME_PINYIN[name[0]]
    return _latin_key("".join(full)), _latin_key("".join(w[:1] for w in full))


def _extract_name(r: str) -> tuple[str | None, str]:
    """(name, residual without the name and helper marks) from the field-stripped text."""
    r = _PROXY_PAREN.sub(" ", r)
    lead = _PROXY_LEAD.match(r)
    if lead is None:
        m0 = _NAME_RUN.search(r)
        if m0 is not None and m0.group()[0] in "代帮":
            lead = _PROXY_LEAD.match(r, m0.start())
    if lead is not None:
        r = r[:lead.start()] + " " + r[lead.end():]
    m = _NAME_RUN.search(r)
    if m is None:
        return None, r
    run = m.group()
    start, stop = m.start(), m.end()
    if run[0].isascii():
        if run.lower() in _LATIN_NOT_NAMES:
            return None, r
        return run, r[:start] + " " + r[stop:]
    mid = _PROXY_MID.match(r, start)
    if mid is not None and mid.start(2) <= stop:
        m2 = _NAME_RUN.match(r, mid.start(2))
        assert m2 is not None
        run, stop = m2.group(), m2.end()
    elif len(run) == 1:
        # 王 芳: a two-character name typed with a space
        m2 = _SPACED_NAME.match(r, stop)
        if m2 is not None:
            run = run + m2.group(1)
            stop = m2.end()
    if _STOP_RE.match(run):
        return None, r
    cut = _STOP_RE.search(run, 2)  # a name is at least two characters: 张无忌无 → 张无忌
    if cut is not None:
        stop -= len(run) - cut.start()
        run = run[:cut.start()]
    for suffix in _NAME_SUFFIXES:
        if run.endswith(suffix) and len(run) - len(suffix) >= 2:
            run = run[:-len(suffix)]
            break
    residual = r[:start] + " " + r[stop:]
    residual = _PROXY_TAIL.sub(" ", residual)
    if len(run) < 2:
        return None, residual
    return run, residual


# ----------------------------------------------------------------------------------- classification

_KEYWORDS: Final = re.compile(
    r"(?P<vehicle>外地牌照?|外省牌照?|车辆|货车|卡车|车(?!间))"
    r"|(?P<symptom>发热|发烧|低烧|高烧|咳嗽|干咳|咳|咽痛|咽喉痛|喉咙痛|嗓子疼|嗓子痛|乏力|腹泻|拉肚子|流鼻涕|流涕|鼻塞|"
    r"头痛|头疼|感冒|不舒服|身体不适|不适|症状|体温偏高|体温高)"
    r"|(?P<returned>返回|返乡|返村|返杭|回乡|回村|回来|回家|到家|刚到|外[地省市](?:回|返)|从[^,。;!?\s]{1,8}?(?:回|返))"
    r"|(?P<outsider>外来|外地|外省|外市|访客|来访|来客|客人|游客|陌生人?|朋友来|新(?:来|到|搬来|入住|租客|租户|房客)|"
    r"从[^,。;!?\s]{1,8}?(?:过来|来)|"
    r"来了?(?:个|位|几个|两个|一个)?(?:亲戚|朋友)|(?<![去到回])亲戚们?)"
)
_NEGATOR: Final = re.compile(r"[无没不未非否莫别]")
_AFFIRM: Final = re.compile(r"[有但却是]")
_NEG_AFTER: Final = re.compile(
    r"[的人员们都也还辆等情况症状况者\s]{0,4}:?\s*(?:(?:无|没有|没|否|0|×|✗)(?=$|[\s,。;!?、)])|(?:没有|没|未|不)(?:来|到|在|回))")
_ANSWER: Final = re.compile(r"[的人员们等情况症状况者\s]{0,4}:?\s*(?:(?P<yes>有|是)|(?P<no>无|没有|没|否|0))")
_LATIN_WORD: Final = re.compile(r"[A-Za-z]{2,}")
_LIST_GAP: Final = re.compile(r"(?:[、和及与或/\s等]|人员)*")
_FILLER_WORDS: Final = (
    # answers meaning "nothing to report"
    "无异常", "一切正常", "均正常", "都正常", "全部正常", "正常", "无", "没有", "没", "否", "不", "未", "非", "√", "✓", "✔", "✅",
    "☑", "👌", "👍", "×", "✗", "好", "都好", "良好", "平安", "安好", "健康", "ok", "okay", "yes", "no", "none", "fine", "收到",
    "已阅", "绿码", "码绿", "阴性", "核酸阴性", "无症状", "未外出", "没外出", "无外出", "没出门", "未出门", "在家", "在岗",
    "正常上班", "报平安", "已接龙", "接龙", "已测", "已报", "已", "了", "的", "啊", "哈", "呢", "吧", "哦", "嗯", "呀", "哟",
    # neutral words of the chain's own vocabulary
    "谢谢", "谢谢组长", "辛苦了", "辛苦", "组长", "书记", "今日", "今天", "今晚", "晚上", "早上", "家里", "家中", "全家", "我家",
    "本户", "一家", "人员", "人数", "人", "口", "都", "均", "全部", "全", "也", "代报", "代填", "代接龙", "代", "帮", "户", "家",
    "员工", "职工", "租客", "房客", "住户", "在住", "体温", "测温", "温度", "情况", "其他", "共", "一共", "室", "号", "组", "楼",
    "栋", "单元", "有无", "是否有", "是否", "等", "车间", "及", "和", "与", "或", "次", "个", "位", "名", "身体", "现", "目前",
    "暂", "状况", "里", "中", "上报", "报", "房东", "出租房", "村", "小区", "租户", "无客", "没客", "入住", "正常营业", "营业",
    "休息", "在家休息", "没来", "没到", "任何", "未见", "异常",
)
_FILLER: Final = re.compile("|".join(re.escape(w) for w in sorted(_FILLER_WORDS, key=len, reverse=True)), re.IGNORECASE)
# words that always ask for the leader's eye, even among the filler above: 体温异常, 身体不好, 有问题
_ATTENTION: Final = re.compile(r"(?<![无没未何见])(?<!没有)异常|不太?好|有问题|有情况")
_SIGNAL_ORDER: Final = ("outsider", "vehicle", "symptom", "returned", "other")


def _negated(s: str, start: int, end: int) -> bool:
    w = s[max(0, start - 4):start]
    w = w[max(w.rfind(c) for c in ",。;!?") + 1:].replace("没有", "没").replace(" ", "")
    if w.endswith(("有无", "是否", "是否有")):
        ans = _ANSWER.match(s, end)
        return not (ans is not None and ans.group("yes"))
    if not w.endswith("有") and _NEG_AFTER.match(s, end):
        return True
    last_neg = -1
    for m in _NEGATOR.finditer(w):
        last_neg = m.start()
    if last_neg < 0:
        return False
    last_aff = -1
    for m in _AFFIRM.finditer(w):
        last_aff = m.start()
    return last_neg > last_aff


def _classify(s: str, temps: Iterable[float]) -> tuple[str, tuple[str, ...]]:
    found: set[str] = set()
    pieces: list[str] = []
    pos = 0
    prev_end = -1
    prev_neg = False
    for m in _KEYWORDS.finditer(s):
        kind = m.lastgroup
        assert kind is not None
        if prev_end >= 0 and prev_neg and _LIST_GAP.fullmatch(s, prev_end, m.start()):
            neg = True  # 无发热、咳嗽: the list shares its negation
        else:
            neg = _negated(s, m.start(), m.end())
        if not neg:
            found.add(kind)
        prev_end, prev_neg = m.end(), neg
        pieces.append(s[pos:m.start()])
        pieces.append(" ")
        pos = m.end()
    if any(t >= FEVER for t in temps):
        found.add("symptom")
    pieces.append(s[pos:])
    rest = "".join(pieces)
    unexplained = _ATTENTION.search(rest) is not None
    rest = _FILLER.sub(" ", rest)
    unexplained = unexplained or _HAS_CJK.search(rest) is not None or _LATIN_WORD.search(rest) is not None
    if "symptom" in found:
        status = "symptom"
    elif "outsider" in found:
        status = "visitor"
    elif found or unexplained:
        status = "other"
    else:
        status = "ok"
    if status == "other" and not found:
        found.add("other")
    return status, tuple(k for k in _SIGNAL_ORDER if k in found)


def classify(text: str) -> tuple[str, tuple[str, ...]]:
    """Status (a key of STATUSES) and signals of a free-text answer.

    无 / 无异常 / 正常 / 没有 / √ / 好 → ok; 外来 / 外地 / 访客 / 亲戚来 / 客人 → visitor (signal outsider);
    车 / 货车 / 车辆 / 外地牌 → signal vehicle; 发热 / 发烧 / 咳嗽 / 体温 ≥ 37.3 → symptom; 回来 / 返回 / 从…回 /
    返乡 → signal returned; any other text → other (signal other when nothing more specific was found).
    Negations are read: 无发热、咳嗽 / 外来人员：无 / 亲戚没来 / 有无外来人员：无 report nothing. House numbers,
    temperatures, counts and plates are ignored; names are not removed (they count as other text).
    Empty text → ok.
    """
    f = _read_fields(_collapse(normalize(text)))
    return _classify(f.residual, f.temps)


def _build_entry(p: _Pending) -> Entry:
    raw = _collapse(" ".join(p.light))
    s = _collapse(" ".join(p.full))
    f = _read_fields(s)
    name, residual = _extract_name(f.residual)
    status, signals = _classify(residual, f.temps)
    return Entry(number=p.number, raw=raw, name=name, house=f.house, temperature=max(f.temps) if f.temps else None,
                 at_home=f.at_home, household_size=f.size, status=status, signals=signals, line=p.line)


# ----------------------------------------------------------------------------------------- matching


@dataclass
class _Index:
    order: dict[str, int]
    names: dict[str, str]  # key → name for messages
    houses: dict[str, str | None]
    house_parts: dict[str, tuple[str, ...]]
    by_name: dict[str, list[str]]
    by_nick: dict[str, list[str]]
    by_latin: dict[str, list[str]]
    by_suffix: dict[tuple[str, ...], list[str]]  # every suffix of every member's house parts
    by_house: dict[tuple[str, ...], list[str]]
    aliases_re: re.Pattern[str] | None
    alias_keys: dict[str, list[str]]
    typo_pool: list[tuple[str, str]]  # (normalised name, key): names only, never nicknames (钱师傅 is no typo of 张师傅)


def _add(d: dict[Any, list[str]], k: Any, key: str) -> None:
    lst = d.setdefault(k, [])
    if key not in lst:
        lst.append(key)


def _build_index(members: Sequence[Member]) -> _Index:
    idx = _Index({}, {}, {}, {}, {}, {}, {}, {}, {}, None, {}, [])
    for i, mem in enumerate(members):
        key = mem.key
        if key in idx.order:
            continue
        idx.order[key] = i
        idx.names[key] = mem.name
        nk = _name_key(mem.name)
        _add(idx.by_name, nk, key)
        _add(idx.alias_keys, nk, key)
        idx.typo_pool.append((nk, key))
        full, initials = _pinyin(nk)
        for latin in (mem.pinyin or full, full, initials):
            if len(latin) >= 2:
                _add(idx.by_latin, latin, key)
        for nick in mem.nicknames:
            nn = _name_key(nick)
            if not nn:
                continue
            _add(idx.by_nick, nn, key)
            _add(idx.alias_keys, nn, key)
            if _HAS_CJK.search(nn):
                nfull, _ = _pinyin(nn)
                if len(nfull) >= 2:
                    _add(idx.by_latin, nfull, key)
            else:
                _add(idx.by_latin, _latin_key(nn), key)
        house = normalize_house(mem.house)
        idx.houses[key] = house
        if house:
            parts = _house_parts(house)
            idx.house_parts[key] = parts
            _add(idx.by_house, parts, key)
            for k in range(len(parts)):
                _add(idx.by_suffix, parts[k:], key)
    cjk_aliases = [a for a in idx.alias_keys if len(a) >= 2 and _HAS_CJK.search(a)]
    if cjk_aliases:
        idx.aliases_re = re.compile("|".join(re.escape(a) for a in sorted(cjk_aliases, key=len, reverse=True)))
    return idx


def _house_candidates(idx: _Index, house: str | None) -> list[str]:
    if not house:
        return []
    parts = _house_parts(house)
    found = list(idx.by_suffix.get(parts, ()))
    for k in range(1, len(parts)):  # the member's house is shorter: 45号 against 3组45号
        for key in idx.by_house.get(parts[k:], ()):
            if key not in found:
                found.append(key)
    return sorted(found, key=idx.order.__getitem__)


def _compatible(idx: _Index, key: str, house: str | None) -> bool | None:
    """None when either house is unknown."""
    mine = idx.house_parts.get(key)
    if not house or mine is None:
        return None
    theirs = _house_parts(house)
    short, long_ = (mine, theirs) if len(mine) <= len(theirs) else (theirs, mine)
    return long_[len(long_) - len(short):] == short


def _one_edit(a: str, b: str) -> bool:
    """True when a and b differ by exactly one substituted, inserted or deleted character."""
    la, lb = len(a), len(b)
    if a == b or abs(la - lb) > 1:
        return False
    if la == lb:
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    if la > lb:
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1:]


def _name_evidence(idx: _Index, entry: Entry) -> tuple[list[str], str]:
    """Members the entry's name designates, and how (for the reason)."""
    if not entry.name:
        return [], ""
    found, how = _name_lookup(idx, entry, _name_key(entry.name))
    if not found and entry.name[0] in "代帮" and len(entry.name) >= 3:  # 代李梅: a helper's mark the reader kept
        found, how = _name_lookup(idx, entry, _name_key(entry.name[1:]))
    return found, how


def _name_lookup(idx: _Index, entry: Entry, nk: str) -> tuple[list[str], str]:
    if _HAS_CJK.search(nk):
        if nk in idx.by_name or nk in idx.by_nick:  # both, when one member's name is another's nickname
            keys = [*idx.by_name.get(nk, ()), *(k for k in idx.by_nick.get(nk, ()) if k not in idx.by_name.get(nk, ()))]
            return sorted(keys, key=idx.order.__getitem__), "姓名" if nk in idx.by_name else "昵称"
        # the name glued to a word the reader did not cut (张无忌无): a member's name at the same place
        if idx.aliases_re is not None:
            s = _collapse(normalize(entry.raw))
            pos = s.find(nk)
            if pos >= 0:
                m = idx.aliases_re.match(s, pos)
                if m is not None:
                    after = s[m.end():m.end() + 4]
                    if not after or not _HAS_CJK.match(after) or _STOP_RE.match(after):
                        alias = m.group()
                        return list(idx.alias_keys[alias]), "姓名" if alias in idx.by_name else "昵称"
        # a business or long name written in part: 宏达机械 for 杭州宏达机械有限公司
        if len(nk) >= 4:
            hits: list[str] = []
            for alias, keys in idx.alias_keys.items():
                if len(alias) >= 4 and (nk in alias or alias in nk):
                    hits.extend(k for k in keys if k not in hits)
            if hits:
                return sorted(hits, key=idx.order.__getitem__), "名称"
        return [], ""
    latin = _latin_key(nk)
    if latin in idx.by_latin:
        return list(idx.by_latin[latin]), "拼音"
    return [], ""


def _fmt(idx: _Index, keys: Iterable[str]) -> str:
    return "、".join(f"{idx.names[k]}（{idx.houses[k]}）" if idx.houses.get(k) else idx.names[k] for k in keys)


def _match_one(idx: _Index, entry: Entry) -> Match:
    house = entry.house
    names, how = _name_evidence(idx, entry)
    label = f"「{entry.name}」" if entry.name else ""
    if names:
        if len(names) == 1:
            key = names[0]
            ok = _compatible(idx, key, house)
            if ok is None or ok:
                reason = f"{how}一致：{idx.names[key]}" + (f"，门牌 {house} 一致" if ok else "")
                return Match(entry, key, (key,), reason)
            others = [k for k in _house_candidates(idx, house) if k != key]
            if not others:
                return Match(entry, key, (key,), f"{how}一致：{idx.names[key]}（名单门牌 {idx.houses[key]}，接龙写的"
                                                  f" {house} 不在名单中）")
            cands = tuple(sorted([key, *others], key=idx.order.__getitem__))
            return Match(entry, None, cands, f"{how}{label}对应{_fmt(idx, [key])}，但门牌 {house} 属于{_fmt(idx, others)}，"
                                             "请组长确认")
        by_house = [k for k in names if _compatible(idx, k, house)]
        if len(by_house) == 1:
            return Match(entry, by_house[0], (by_house[0],), f"同{how}{len(names)}人，按门牌 {house} 区分："
                                                                f"{idx.names[by_house[0]]}")
        cands = tuple(sorted(by_house or names, key=idx.order.__getitem__))
        why = f"门牌 {house} 也不能区分" if house else "接龙没写门牌，无法区分"
        return Match(entry, None, cands, f"{label}对应{len(cands)}人（{_fmt(idx, cands)}），{why}，请组长确认")
    at_house = _house_candidates(idx, house)
    nk = _name_key(entry.name) if entry.name else ""
    typos: list[str] = []
    if nk and _HAS_CJK.search(nk) and len(nk) >= 2:
        for alias, key in idx.typo_pool:
            if key not in typos and _one_edit(nk, alias):
                typos.append(key)
    if typos:
        same = [k for k in typos if _compatible(idx, k, house)]
        if len(same) == 1 and all(k in typos for k in at_house):
            key = same[0]
            return Match(entry, key, (key,), f"姓名疑有错字（{entry.name} → {idx.names[key]}），门牌 {house} 一致")
        cands = tuple(sorted({*typos, *at_house}, key=idx.order.__getitem__))
        why = "接龙没写门牌" if not house else f"门牌 {house} 不能确认"
        return Match(entry, None, cands, f"{label}与{_fmt(idx, typos)}只差一个字，{why}，请组长确认")
    if len(at_house) == 1:
        key = at_house[0]
        extra = f"（接龙姓名{label}不在名单中）" if entry.name else ""
        return Match(entry, key, (key,), f"门牌 {house} 一致：{idx.names[key]}{extra}")
    if at_house:
        return Match(entry, None, tuple(at_house), f"门牌 {house} 对应{len(at_house)}户（{_fmt(idx, at_house)}），"
                                                     "请组长确认")
    if entry.name:
        where = f"，门牌 {house} 也不在名单中" if house else ""
        return Match(entry, None, (), f"名单中找不到{label}{where}，请组长确认")
    if house:
        return Match(entry, None, (), f"门牌 {house} 不在名单中，请组长确认")
    return Match(entry, None, (), "接龙没写姓名或门牌，无法对应，请组长确认")


def match_entries(entries: Sequence[Entry], members: Sequence[Member]) -> list[Match]:
    """Match each entry to at most one member; never a guess (see the module docstring).

    In order: the name (exact, after full-width/variant normalisation and without 家/户), a nickname, the
    pinyin of a romanised name (full or initials), part of a long business name; several members with that
    name are told apart by the house. A name whose house belongs to another member is ambiguous. No name
    match: a one-character typo is accepted only when exactly one such member has the entry's house; else
    the house alone when exactly one member has it. Otherwise ambiguous (candidates) or unknown (none).
    """
    idx = _build_index(members)
    return [_match_one(idx, e) for e in entries]
