"""Gate screening (卡口查验): a scan's verdict from the gate rules of the protocol edition in force.

Pure Python (no Django). The rules are DATA: a :class:`GateRules` is stored as JSON on a dated
protocol edition (``GateRules.to_json()`` / ``GateRules.from_json()``), so the command centre changes
them without a release. ``RULES_2022_05_21`` and ``RULES_2022_07_08`` below are defaults for tests
and for seeding editions only; a gate always judges a scan by the edition in force at its device time.

``static/js/screening.js`` mirrors this module line for line so that a gate device computes the same
verdict offline from the cached edition; ``tests/engines/test_screening.py`` holds the two to
identical outcomes, reason codes, reason texts and error codes.

How a scan is judged (:func:`evaluate`):

- every triggered rule adds a :class:`Reason` with the rule's outcome: fever (temperature at or
  above ``fever_threshold_c``), a yellow or red health code, a visit to a place of a risk level
  within a rule's window (``days_ago <= within_days``; the most recent such visit is quoted), an
  itinerary-card star (when the edition counts it), a negative test certificate missing or older
  than ``test_required_hours`` (a certificate exactly N hours old still counts);
- a rule whose outcome is ``"pass"`` permits and adds no reason; a green code never adds one;
- the verdict is the most severe outcome by ``rules.precedence``; the reasons are listed most
  severe first (in check order within one outcome); no reason at all gives ``pass`` with none.

Facts are checked before judging (temperature 34–43 °C, a known code colour, origins as
(risk level, whole days ago >= 0), certificate age 0–100000 hours); bad input raises
:class:`ScreeningError` with a machine-readable ``code`` and a Chinese ``message``.

Numbers in texts are rounded half up to at most two decimals (``_fmt``), computed so that Python
and JavaScript print exactly the same digits; certificate ages are printed as whole hours, rounded up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = [
    "CODE_COLOURS",
    "OUTCOMES",
    "REASON_CODES",
    "RISK_LEVELS",
    "RULES_2022_05_21",
    "RULES_2022_07_08",
    "GateRules",
    "OriginRule",
    "Reason",
    "ScanFacts",
    "ScreeningError",
    "Verdict",
    "check_temperature",
    "evaluate",
]

OUTCOMES: dict[str, str] = {
    "pass": "放行",
    "assess": "引导至研判点",
    "turn_back": "劝返",
    "transfer": "闭环转运",
    "fever_clinic": "发热门诊",
}
RISK_LEVELS: dict[str, str] = {"high": "高", "medium": "中", "low": "低"}
CODE_COLOURS: dict[str, str] = {"green": "绿码", "yellow": "黄码", "red": "红码"}
REASON_CODES: dict[str, str] = {
    "fever": "发热",
    "code_yellow": "黄码",
    "code_red": "红码",
    "origin_high": "高风险地区旅居史",
    "origin_medium": "中风险地区旅居史",
    "origin_low": "低风险地区旅居史",
    "itinerary_star": "行程卡带星号",
    "no_test": "无核酸阴性证明",
    "test_expired": "核酸阴性证明过期",
}

# Plausibility limits of inputs, not rules.
TEMPERATURE_MIN_C: Final = 34.0
TEMPERATURE_MAX_C: Final = 43.0
MAX_TEST_HOURS_AGO: Final = 100000.0
# Bounds a rule set must respect to be accepted.
FEVER_THRESHOLD_RANGE_C: Final = (36.0, 40.0)
MAX_WINDOW_DAYS: Final = 60
MAX_TEST_HOURS: Final = 240

RULE_KEYS: Final = ("fever_threshold_c", "code_outcomes", "origin_rules", "star_outcome", "test_required_hours",
                    "missing_test_outcome", "precedence")
OPTIONAL_RULE_KEYS: Final = ("fever_outcome",)
ORIGIN_RULE_KEYS: Final = ("level", "within_days", "outcome")
FACT_KEYS: Final = ("temperature_c", "code_colour", "itinerary_star", "origins", "negative_test_hours_ago")

RiskLevel = Literal["high", "medium", "low"]
CodeColour = Literal["green", "yellow", "red"]


class ScreeningError(ValueError):
    """Rules or scan facts that cannot be judged.

    ``code`` is stable for programs and tests ("rules", "facts", "temperature", "code_colour",
    "itinerary_star", "origin", "test"); ``message`` is the Chinese text shown to the user.
    """

    code: str
    message: str

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[type[ScreeningError], tuple[str, str]]:
        return (type(self), (self.code, self.message))

    def __repr__(self) -> str:
        return f"ScreeningError(code={self.code!r}, message={self.message!r})"


# --- helpers shared (in spirit and in digits) with static/js/screening.js -------------------------


def _as_float(value: object) -> float | None:
    """A finite JSON number as a float, else None (booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        f = float(value)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def _as_int(value: object) -> int | None:
    """A JSON number with an integral value as an int, else None (3.0 counts, as in JavaScript)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def _fmt(x: float) -> str:
    """``x`` rounded half up to at most 2 decimals, printed as JavaScript's ``String()`` prints it."""
    r = math.floor(x * 100 + 0.5) / 100
    s = repr(r)
    return s[:-2] if s.endswith(".0") else s


def _is_object(value: object) -> bool:
    return isinstance(value, dict)


def _check_keys(obj: dict[Any, Any], required: Sequence[str], optional: Sequence[str], what: str, code: str) -> None:
    for key in required:
        if key not in obj:
            raise ScreeningError(code, f"{what}缺少「{key}」")
    unknown = sorted(str(k) for k in obj if k not in required and k not in optional)
    if unknown:
        raise ScreeningError(code, f"{what}含有未知项「{'、'.join(unknown)}」")


def _outcome(value: object, what: str) -> str:
    if isinstance(value, str) and value in OUTCOMES:
        return value
    shown = f"「{value}」" if isinstance(value, str) else ""
    raise ScreeningError("rules", f"{what}{shown}不是有效的处置结果（可选：{'、'.join(OUTCOMES)}）")


# --- rules ---------------------------------------------------------------------------------------


def _check_rules_json(d: object) -> dict[str, Any]:
    """Validate rules in their JSON form; return them normalized (floats, ints, lists)."""
    if not _is_object(d):
        raise ScreeningError("rules", "查验规则应为 JSON 对象")
    assert isinstance(d, dict)
    _check_keys(d, RULE_KEYS, OPTIONAL_RULE_KEYS, "查验规则", "rules")

    lo, hi = FEVER_THRESHOLD_RANGE_C
    threshold = _as_float(d["fever_threshold_c"])
    if threshold is None or threshold < lo or threshold > hi:
        raise ScreeningError("rules", f"发热标准应为 {_fmt(lo)}–{_fmt(hi)}℃ 之间的数值")
    fever_outcome = _outcome(d.get("fever_outcome", "fever_clinic"), "发热的处置")

    codes = d["code_outcomes"]
    if not _is_object(codes):
        raise ScreeningError("rules", "健康码处置应为 JSON 对象（green、yellow、red）")
    assert isinstance(codes, dict)
    _check_keys(codes, tuple(CODE_COLOURS), (), "健康码处置", "rules")
    code_outcomes = {colour: _outcome(codes[colour], f"{CODE_COLOURS[colour]}的处置") for colour in CODE_COLOURS}
    if code_outcomes["green"] != "pass":
        raise ScreeningError("rules", "绿码的处置必须是放行")

    raw_origins = d["origin_rules"]
    if not isinstance(raw_origins, list | tuple):
        raise ScreeningError("rules", "来源地规则应为列表")
    origin_rules: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    for i, raw in enumerate(raw_origins):
        what = f"第 {i + 1} 条来源地规则"
        if not _is_object(raw):
            raise ScreeningError("rules", f"{what}应为 JSON 对象")
        assert isinstance(raw, dict)
        _check_keys(raw, ORIGIN_RULE_KEYS, (), what, "rules")
        level = raw["level"]
        if not isinstance(level, str) or level not in RISK_LEVELS:
            raise ScreeningError("rules", f"{what}的风险等级应为 high、medium 或 low")
        days = _as_int(raw["within_days"])
        if days is None or days < 1 or days > MAX_WINDOW_DAYS:
            raise ScreeningError("rules", f"{what}的天数应为 1–{MAX_WINDOW_DAYS} 的整数")
        outcome = _outcome(raw["outcome"], f"{what}的处置")
        if (level, days) in seen:
            raise ScreeningError("rules", f"{what}与前面的规则重复（{days} 天内{RISK_LEVELS[level]}风险地区）")
        seen.add((level, days))
        origin_rules.append({"level": level, "within_days": days, "outcome": outcome})

    star = d["star_outcome"]
    star_outcome = None if star is None else _outcome(star, "行程卡星号的处置")

    hours_raw = d["test_required_hours"]
    hours: int | None = None
    if hours_raw is not None:
        hours = _as_int(hours_raw)
        if hours is None or hours < 1 or hours > MAX_TEST_HOURS:
            raise ScreeningError("rules", f"核酸证明时限应为 1–{MAX_TEST_HOURS} 小时的整数，或不要求（null）")
    missing = _outcome(d["missing_test_outcome"], "无有效核酸证明的处置")

    raw_prec = d["precedence"]
    if not isinstance(raw_prec, list | tuple):
        raise ScreeningError("rules", "处置优先级应为列表")
    precedence: list[str] = []
    for value in raw_prec:
        outcome = _outcome(value, "处置优先级中")
        if outcome in precedence:
            raise ScreeningError("rules", f"处置优先级中「{outcome}」重复")
        precedence.append(outcome)
    absent = [o for o in OUTCOMES if o not in precedence]
    if absent:
        raise ScreeningError("rules", f"处置优先级缺少「{'、'.join(absent)}」")

    return {
        "fever_threshold_c": threshold,
        "code_outcomes": code_outcomes,
        "origin_rules": origin_rules,
        "star_outcome": star_outcome,
        "test_required_hours": hours,
        "missing_test_outcome": missing,
        "precedence": precedence,
        "fever_outcome": fever_outcome,
    }


@dataclass(frozen=True)
class OriginRule:
    """A visit to a place of ``level`` within ``within_days`` days (days ago <= within_days) leads to ``outcome``."""

    level: RiskLevel
    within_days: int
    outcome: str


@dataclass(frozen=True)
class GateRules:
    """The gate rules of one protocol edition. Validated on construction (:class:`ScreeningError` code "rules")."""

    fever_threshold_c: float  # temperature >= threshold is fever
    code_outcomes: dict[str, str]  # {"green": "pass", "yellow": ..., "red": ...}
    origin_rules: tuple[OriginRule, ...]
    star_outcome: str | None  # None: the itinerary-card star is ignored
    test_required_hours: int | None  # None: no negative test required
    missing_test_outcome: str  # the test is required and missing or too old
    precedence: tuple[str, ...]  # every outcome once, most severe first
    fever_outcome: str = "fever_clinic"

    def __post_init__(self) -> None:
        _check_rules_json(self.to_json())

    def to_json(self) -> dict[str, Any]:
        return {
            "fever_threshold_c": self.fever_threshold_c,
            "code_outcomes": dict(self.code_outcomes),
            "origin_rules": [
                {"level": r.level, "within_days": r.within_days, "outcome": r.outcome} if isinstance(r, OriginRule) else r
                for r in self.origin_rules
            ],
            "star_outcome": self.star_outcome,
            "test_required_hours": self.test_required_hours,
            "missing_test_outcome": self.missing_test_outcome,
            "precedence": list(self.precedence),
            "fever_outcome": self.fever_outcome,
        }

    @staticmethod
    def from_json(d: object) -> GateRules:
        """Rules from their JSON form (``fever_outcome`` may be left out: "fever_clinic")."""
        n = _check_rules_json(d)
        return GateRules(
            fever_threshold_c=n["fever_threshold_c"],
            code_outcomes=n["code_outcomes"],
            origin_rules=tuple(OriginRule(r["level"], r["within_days"], r["outcome"]) for r in n["origin_rules"]),
            star_outcome=n["star_outcome"],
            test_required_hours=n["test_required_hours"],
            missing_test_outcome=n["missing_test_outcome"],
            precedence=tuple(n["precedence"]),
            fever_outcome=n["fever_outcome"],
        )


# --- facts ---------------------------------------------------------------------------------------


def check_temperature(t: float) -> None:
    """Refuse a reading outside 34–43 °C (or not a number): the thermometer must be used again."""
    f = _as_float(t)
    if f is None:
        raise ScreeningError("temperature", "体温读数无效，请重新测量")
    if f < TEMPERATURE_MIN_C or f > TEMPERATURE_MAX_C:
        shown = f"体温 {_fmt(f)}℃" if -1000 < f < 1000 else "体温读数"
        raise ScreeningError("temperature", f"{shown}超出 34–43℃ 的测量范围，请重新测量")


def _check_facts_json(d: object) -> dict[str, Any]:
    """Validate scan facts in their JSON form (fields may be left out); return them normalized."""
    if not _is_object(d):
        raise ScreeningError("facts", "查验信息应为 JSON 对象")
    assert isinstance(d, dict)
    _check_keys(d, (), FACT_KEYS, "查验信息", "facts")

    temperature = d.get("temperature_c")
    if temperature is not None:
        check_temperature(temperature)
        temperature = _as_float(temperature)

    colour = d.get("code_colour")
    if colour is not None and (not isinstance(colour, str) or colour not in CODE_COLOURS):
        shown = f"「{colour}」" if isinstance(colour, str) else ""
        raise ScreeningError("code_colour", f"健康码颜色{shown}无效，应为 green、yellow 或 red")

    star = d.get("itinerary_star", False)
    if star is None:
        star = False
    if not isinstance(star, bool):
        raise ScreeningError("itinerary_star", "行程卡星号应为 true 或 false")

    raw_origins = d.get("origins", [])
    if raw_origins is None:
        raw_origins = []
    if not isinstance(raw_origins, list | tuple):
        raise ScreeningError("origin", "来源地应为（风险等级，几天前）的列表")
    origins: list[list[Any]] = []
    for i, item in enumerate(raw_origins):
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise ScreeningError("origin", f"第 {i + 1} 个来源地应为（风险等级，几天前）")
        level, days_raw = item
        if not isinstance(level, str) or level not in RISK_LEVELS:
            shown = f"「{level}」" if isinstance(level, str) else ""
            raise ScreeningError("origin", f"第 {i + 1} 个来源地的风险等级{shown}无效，应为 high、medium 或 low")
        days = _as_int(days_raw)
        if days is None or days < 0:
            raise ScreeningError("origin", f"第 {i + 1} 个来源地的到访时间应为不小于 0 的整数天")
        origins.append([level, days])

    hours_raw = d.get("negative_test_hours_ago")
    hours: float | None = None
    if hours_raw is not None:
        hours = _as_float(hours_raw)
        if hours is None:
            raise ScreeningError("test", "核酸证明时间无效")
        if hours < 0:
            raise ScreeningError("test", "核酸证明的时间晚于现在，请核对")
        if hours > MAX_TEST_HOURS_AGO:
            raise ScreeningError("test", "核酸证明的时间过早，请核对")

    return {
        "temperature_c": temperature,
        "code_colour": colour,
        "itinerary_star": star,
        "origins": origins,
        "negative_test_hours_ago": hours,
    }


@dataclass(frozen=True)
class ScanFacts:
    """What the gate worker recorded. ``origins`` are (risk level of a place visited, days ago)."""

    temperature_c: float | None = None
    code_colour: CodeColour | None = None
    itinerary_star: bool = False
    origins: tuple[tuple[str, int], ...] = ()
    negative_test_hours_ago: float | None = None  # None: no certificate shown

    def to_json(self) -> dict[str, Any]:
        return {
            "temperature_c": self.temperature_c,
            "code_colour": self.code_colour,
            "itinerary_star": self.itinerary_star,
            "origins": [list(o) if isinstance(o, list | tuple) else o for o in self.origins],
            "negative_test_hours_ago": self.negative_test_hours_ago,
        }

    @staticmethod
    def from_json(d: object) -> ScanFacts:
        """Facts from JSON (the field names as keys; any may be left out). Raises :class:`ScreeningError`."""
        n = _check_facts_json(d)
        return ScanFacts(
            temperature_c=n["temperature_c"],
            code_colour=n["code_colour"],
            itinerary_star=n["itinerary_star"],
            origins=tuple((level, days) for level, days in n["origins"]),
            negative_test_hours_ago=n["negative_test_hours_ago"],
        )


# --- verdict -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    code: str
    text: str


@dataclass(frozen=True)
class Verdict:
    outcome: str
    label: str
    reasons: tuple[Reason, ...]

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "label": self.label,
                "reasons": [{"code": r.code, "text": r.text} for r in self.reasons]}


def evaluate(rules: GateRules, facts: ScanFacts) -> Verdict:
    """The verdict of a scan under ``rules``. Raises :class:`ScreeningError` on bad facts."""
    f = _check_facts_json(facts.to_json())
    found: list[tuple[str, Reason]] = []

    t = f["temperature_c"]
    if t is not None and t >= rules.fever_threshold_c:
        found.append((rules.fever_outcome,
                      Reason("fever", f"体温 {_fmt(t)}℃，达到发热标准 {_fmt(rules.fever_threshold_c)}℃")))

    colour = f["code_colour"]
    if colour is not None and colour != "green":
        found.append((rules.code_outcomes[colour], Reason(f"code_{colour}", CODE_COLOURS[colour])))

    for rule in rules.origin_rules:
        days = [d for level, d in f["origins"] if level == rule.level and d <= rule.within_days]
        if days:
            nearest = min(days)
            when = "今天" if nearest == 0 else f"{nearest} 天前"
            text = f"{rule.within_days} 天内到过{RISK_LEVELS[rule.level]}风险地区（{when}）"
            found.append((rule.outcome, Reason(f"origin_{rule.level}", text)))

    if f["itinerary_star"] and rules.star_outcome is not None:
        found.append((rules.star_outcome, Reason("itinerary_star", "行程卡带星号（途经城市有中高风险地区）")))

    limit = rules.test_required_hours
    if limit is not None:
        hours = f["negative_test_hours_ago"]
        if hours is None:
            found.append((rules.missing_test_outcome, Reason("no_test", f"无 {limit} 小时内核酸阴性证明")))
        elif hours > limit:
            text = f"核酸阴性证明已超过 {limit} 小时（{math.ceil(hours)} 小时前）"
            found.append((rules.missing_test_outcome, Reason("test_expired", text)))

    rank = {outcome: i for i, outcome in enumerate(rules.precedence)}
    held = sorted(((rank[o], i, o, r) for i, (o, r) in enumerate(found) if o != "pass"), key=lambda x: (x[0], x[1]))
    if not held:
        return Verdict("pass", OUTCOMES["pass"], ())
    outcome = held[0][2]
    return Verdict(outcome, OUTCOMES[outcome], tuple(r for _, _, _, r in held))


# --- defaults for tests and for seeding editions (a gate reads its rules from the edition) --------

_PRECEDENCE: Final = ("transfer", "fever_clinic", "assess", "turn_back", "pass")

# Hangzhou gates from 2022-05-21 (notes.md "At the gate"; S14–S20): 14-day itinerary window with the star.
RULES_2022_05_21: Final = GateRules(
    fever_threshold_c=37.3,
    code_outcomes={"green": "pass", "yellow": "turn_back", "red": "transfer"},
    origin_rules=(OriginRule("high", 14, "transfer"), OriginRule("medium", 14, "transfer")),
    star_outcome="assess",
    test_required_hours=48,
    missing_test_outcome="turn_back",
    precedence=_PRECEDENCE,
)

# After the star was removed (2022-06-29) and the window became 7 days (2022-07-08); Zhejiang arrival
# measures from 2022-07-02 (high -> centralized isolation, medium -> home isolation, so assessed);
# city-wide testing every 72 h from 2022-05-27 (S21).
RULES_2022_07_08: Final = GateRules(
    fever_threshold_c=37.3,
    code_outcomes={"green": "pass", "yellow": "turn_back", "red": "transfer"},
    origin_rules=(OriginRule("high", 7, "transfer"), OriginRule("medium", 7, "assess")),
    star_outcome=None,
    test_required_hours=72,
    missing_test_outcome="turn_back",
    precedence=_PRECEDENCE,
)
