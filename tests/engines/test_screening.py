"""Gate screening (lianfang.engines.screening) and its JavaScript mirror (static/js/screening.js)."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lianfang.engines.screening import (
    OUTCOMES,
    RULES_2022_05_21,
    RULES_2022_07_08,
    GateRules,
    OriginRule,
    Reason,
    ScanFacts,
    ScreeningError,
    Verdict,
    check_temperature,
    evaluate,
)

ROOT = Path(__file__).resolve().parents[2]
JS_FILE = ROOT / "static" / "js" / "screening.js"
DATA = ROOT / "lianfang" / "control" / "data"

MAY = RULES_2022_05_21
JULY = RULES_2022_07_08
FRESH = 10.0  # hours since a negative test: fresh under both editions
# Assess low-risk arrivals within 3 days, fever ranks above transfer, fever threshold 37.5.
CUSTOM = GateRules(
    fever_threshold_c=37.5,
    code_outcomes={"green": "pass", "yellow": "assess", "red": "transfer"},
    origin_rules=(OriginRule("high", 7, "transfer"), OriginRule("low", 3, "assess"), OriginRule("medium", 7, "pass")),
    star_outcome="turn_back",
    test_required_hours=None,
    missing_test_outcome="turn_back",
    precedence=("fever_clinic", "transfer", "assess", "turn_back", "pass"),
)


def verdict(rules: GateRules, **facts: Any) -> Verdict:
    facts.setdefault("negative_test_hours_ago", FRESH)
    return evaluate(rules, ScanFacts(**facts))


def codes(v: Verdict) -> list[str]:
    return [r.code for r in v.reasons]


def error_of(func: Any, *args: Any, **kwargs: Any) -> ScreeningError:
    with pytest.raises(ScreeningError) as info:
        func(*args, **kwargs)
    return info.value


# --- the two editions ----------------------------------------------------------------------------


def test_all_normal_passes_with_no_reasons() -> None:
    for rules in (MAY, JULY):
        v = verdict(rules, temperature_c=36.5, code_colour="green", origins=(("low", 1),))
        assert v == Verdict("pass", "放行", ())


@pytest.mark.parametrize("rules", [MAY, JULY])
def test_fever_starts_at_exactly_the_threshold(rules: GateRules) -> None:
    v = verdict(rules, temperature_c=37.3, code_colour="green")
    assert (v.outcome, v.label) == ("fever_clinic", "发热门诊")
    assert v.reasons == (Reason("fever", "体温 37.3℃，达到发热标准 37.3℃"),)
    assert verdict(rules, temperature_c=37.2, code_colour="green").outcome == "pass"
    assert verdict(rules, temperature_c=37.8).reasons[0].text == "体温 37.8℃，达到发热标准 37.3℃"


@pytest.mark.parametrize("rules", [MAY, JULY])
def test_code_colours(rules: GateRules) -> None:
    assert verdict(rules, code_colour="yellow") == Verdict("turn_back", "劝返", (Reason("code_yellow", "黄码"),))
    assert verdict(rules, code_colour="red") == Verdict("transfer", "闭环转运", (Reason("code_red", "红码"),))
    assert verdict(rules, code_colour="green").reasons == ()


def test_may_origins_within_14_days_lead_to_transfer() -> None:
    v = verdict(MAY, origins=(("high", 3),))
    assert v.outcome == "transfer"
    assert v.reasons == (Reason("origin_high", "14 天内到过高风险地区（3 天前）"),)
    assert verdict(MAY, origins=(("high", 14),)).outcome == "transfer"  # the window includes its last day
    assert verdict(MAY, origins=(("high", 15),)).outcome == "pass"
    assert verdict(MAY, origins=(("medium", 10),)).reasons == (Reason("origin_medium", "14 天内到过中风险地区（10 天前）"),)
    assert verdict(MAY, origins=(("medium", 10),)).outcome == "transfer"
    assert verdict(MAY, origins=(("medium", 15),)).outcome == "pass"
    assert verdict(MAY, origins=(("low", 2),)).outcome == "pass"  # no rule for low-risk areas


def test_july_origins_within_7_days_high_transfer_medium_assess() -> None:
    assert verdict(JULY, origins=(("high", 3),)).reasons == (Reason("origin_high", "7 天内到过高风险地区（3 天前）"),)
    assert verdict(JULY, origins=(("high", 7),)).outcome == "transfer"
    assert verdict(JULY, origins=(("high", 8),)).outcome == "pass"
    v = verdict(JULY, origins=(("medium", 7),))
    assert (v.outcome, v.label) == ("assess", "引导至研判点")
    assert verdict(JULY, origins=(("medium", 8),)).outcome == "pass"
    assert verdict(JULY, origins=(("medium", 10),)).outcome == "pass"  # inside May's 14 days, outside July's 7
    assert verdict(JULY, origins=(("low", 0),)).outcome == "pass"


def test_low_risk_origin_counts_when_an_edition_says_so() -> None:
    v = verdict(CUSTOM, origins=(("low", 0),))
    assert v == Verdict("assess", "引导至研判点", (Reason("origin_low", "3 天内到过低风险地区（今天）"),))
    assert verdict(CUSTOM, origins=(("low", 4),)).outcome == "pass"


def test_the_most_recent_visit_is_quoted() -> None:
    v = verdict(JULY, origins=(("high", 6), ("medium", 1), ("high", 2), ("high", 30)))
    assert [r.text for r in v.reasons] == ["7 天内到过高风险地区（2 天前）", "7 天内到过中风险地区（1 天前）"]


def test_a_rule_leading_to_pass_adds_no_reason() -> None:
    assert verdict(CUSTOM, origins=(("medium", 1),)) == Verdict("pass", "放行", ())


def test_star_counts_in_may_and_is_ignored_in_july() -> None:
    v = verdict(MAY, itinerary_star=True)
    assert v == Verdict("assess", "引导至研判点", (Reason("itinerary_star", "行程卡带星号（途经城市有中高风险地区）"),))
    assert verdict(JULY, itinerary_star=True) == Verdict("pass", "放行", ())


def test_negative_test_missing_expired_or_fresh() -> None:
    assert evaluate(MAY, ScanFacts()) == Verdict("turn_back", "劝返", (Reason("no_test", "无 48 小时内核酸阴性证明"),))
    assert evaluate(JULY, ScanFacts()).reasons == (Reason("no_test", "无 72 小时内核酸阴性证明"),)
    assert evaluate(MAY, ScanFacts(negative_test_hours_ago=48)).outcome == "pass"  # exactly 48 h still counts
    v = evaluate(MAY, ScanFacts(negative_test_hours_ago=48.5))
    assert v == Verdict("turn_back", "劝返", (Reason("test_expired", "核酸阴性证明已超过 48 小时（49 小时前）"),))
    assert evaluate(JULY, ScanFacts(negative_test_hours_ago=60)).outcome == "pass"
    assert codes(evaluate(JULY, ScanFacts(negative_test_hours_ago=72.01))) == ["test_expired"]
    assert evaluate(CUSTOM, ScanFacts()).outcome == "pass"  # no test required


def test_combinations_take_the_most_severe_and_list_reasons_most_severe_first() -> None:
    v = evaluate(MAY, ScanFacts(temperature_c=38.2, code_colour="red", itinerary_star=True, origins=(("medium", 5),)))
    assert v.outcome == "transfer"
    assert codes(v) == ["code_red", "origin_medium", "fever", "itinerary_star", "no_test"]
    assert codes(verdict(MAY, code_colour="yellow", itinerary_star=True)) == ["itinerary_star", "code_yellow"]
    assert verdict(MAY, code_colour="yellow", itinerary_star=True).outcome == "assess"
    assert evaluate(JULY, ScanFacts(temperature_c=37.5, code_colour="yellow")).outcome == "fever_clinic"
    assert evaluate(JULY, ScanFacts(origins=(("medium", 2),))).outcome == "assess"  # assess above the missing test
    # An edition may rank the fever clinic above transfer.
    v = verdict(CUSTOM, temperature_c=37.6, code_colour="red")
    assert (v.outcome, codes(v)) == ("fever_clinic", ["fever", "code_red"])


@pytest.mark.parametrize("t", [33.9, 43.1, -5.0, 370.0, math.nan, math.inf])
def test_temperature_outside_34_to_43_is_refused(t: float) -> None:
    e = error_of(check_temperature, t)
    assert e.code == "temperature" and "重新测量" in e.message
    assert error_of(evaluate, MAY, ScanFacts(temperature_c=t, negative_test_hours_ago=FRESH)).code == "temperature"


def test_temperature_messages_and_limits() -> None:
    assert error_of(check_temperature, 33.9).message == "体温 33.9℃超出 34–43℃ 的测量范围，请重新测量"
    assert error_of(check_temperature, "37.5").message == "体温读数无效，请重新测量"
    assert error_of(check_temperature, True).code == "temperature"
    check_temperature(34.0)
    check_temperature(43)
    assert verdict(MAY, temperature_c=43.0).outcome == "fever_clinic"
    assert verdict(MAY, temperature_c=34.0).outcome == "pass"


def test_numbers_in_texts_round_half_up_to_two_decimals() -> None:
    # 38.125 is exact in binary; Python's format() would print 38.12, JavaScript's toFixed 38.13.
    assert verdict(MAY, temperature_c=38.125).reasons[0].text == "体温 38.13℃，达到发热标准 37.3℃"
    assert verdict(MAY, temperature_c=38).reasons[0].text == "体温 38℃，达到发热标准 37.3℃"


def test_bad_facts_are_refused_with_a_code() -> None:
    cases: list[tuple[ScanFacts, str]] = [
        (ScanFacts(code_colour="blue"), "code_colour"),  # type: ignore[arg-type]
        (ScanFacts(itinerary_star=1), "itinerary_star"),  # type: ignore[arg-type]
        (ScanFacts(origins=(("extreme", 1),)), "origin"),
        (ScanFacts(origins=(("high", -1),)), "origin"),
        (ScanFacts(origins=(("high", 1.5),)), "origin"),  # type: ignore[arg-type]
        (ScanFacts(origins=(("high",),)), "origin"),  # type: ignore[arg-type]
        (ScanFacts(negative_test_hours_ago=-1), "test"),
        (ScanFacts(negative_test_hours_ago=1e9), "test"),
    ]
    for facts, code in cases:
        assert error_of(evaluate, MAY, facts).code == code, facts


def test_facts_from_json() -> None:
    facts = ScanFacts.from_json({"temperature_c": 36.6, "code_colour": "yellow", "origins": [["high", 3.0]],
                                 "negative_test_hours_ago": 5})
    assert facts == ScanFacts(36.6, "yellow", False, (("high", 3),), 5.0)
    assert ScanFacts.from_json(facts.to_json()) == facts
    assert ScanFacts.from_json({}) == ScanFacts()
    assert error_of(ScanFacts.from_json, {"temprature_c": 36.6}).code == "facts"
    assert error_of(ScanFacts.from_json, []).code == "facts"
    assert error_of(ScanFacts.from_json, {"origins": "high"}).code == "origin"
    assert error_of(ScanFacts.from_json, {"temperature_c": 33}).code == "temperature"


# --- rules as data -------------------------------------------------------------------------------


def test_rules_json_round_trip() -> None:
    for rules in (MAY, JULY, CUSTOM):
        data = rules.to_json()
        assert GateRules.from_json(json.loads(json.dumps(data))) == rules
    assert MAY.to_json()["origin_rules"] == [{"level": "high", "within_days": 14, "outcome": "transfer"},
                                             {"level": "medium", "within_days": 14, "outcome": "transfer"}]
    without_fever_outcome = {k: v for k, v in JULY.to_json().items() if k != "fever_outcome"}
    assert GateRules.from_json(without_fever_outcome) == JULY


def test_defaults_agree_with_the_shared_rules() -> None:
    shared = json.loads((DATA / "rules-2022.json").read_text())
    assert MAY.fever_threshold_c == JULY.fever_threshold_c == shared["temperature"]["fever_threshold_c"]
    card = shared["itinerary_card"]
    assert {r.within_days for r in MAY.origin_rules} == {card["window_days"]}
    assert {r.within_days for r in JULY.origin_rules} == {card["window_days_from_2022_07_08"]}


def _broken(**changes: Any) -> dict[str, Any]:
    data = MAY.to_json()
    for key, value in changes.items():
        if value is ...:
            del data[key]
        else:
            data[key] = value
    return data


INVALID_RULES: list[tuple[str, Any]] = [
    ("not an object", ["fever_threshold_c"]),
    ("missing key", _broken(precedence=...)),
    ("unknown key", _broken(fever_threshhold=37.3)),
    ("threshold too low", _broken(fever_threshold_c=35.0)),
    ("threshold not a number", _broken(fever_threshold_c="37.3")),
    ("threshold a boolean", _broken(fever_threshold_c=True)),
    ("colour missing", _broken(code_outcomes={"green": "pass", "red": "transfer"})),
    ("colour unknown", _broken(code_outcomes={"green": "pass", "yellow": "turn_back", "red": "transfer", "blue": "pass"})),
    ("green not pass", _broken(code_outcomes={"green": "assess", "yellow": "turn_back", "red": "transfer"})),
    ("unknown outcome", _broken(code_outcomes={"green": "pass", "yellow": "quarantine", "red": "transfer"})),
    ("origins not a list", _broken(origin_rules={"high": 7})),
    ("origin level", _broken(origin_rules=[{"level": "severe", "within_days": 7, "outcome": "transfer"}])),
    ("origin days 0", _broken(origin_rules=[{"level": "high", "within_days": 0, "outcome": "transfer"}])),
    ("origin days 61", _broken(origin_rules=[{"level": "high", "within_days": 61, "outcome": "transfer"}])),
    ("origin days 7.5", _broken(origin_rules=[{"level": "high", "within_days": 7.5, "outcome": "transfer"}])),
    ("origin duplicate", _broken(origin_rules=[{"level": "high", "within_days": 7, "outcome": "transfer"},
                                               {"level": "high", "within_days": 7, "outcome": "assess"}])),
    ("origin missing outcome", _broken(origin_rules=[{"level": "high", "within_days": 7}])),
    ("star outcome", _broken(star_outcome="yes")),
    ("test hours 0", _broken(test_required_hours=0)),
    ("test hours boolean", _broken(test_required_hours=True)),
    ("missing-test outcome", _broken(missing_test_outcome=None)),
    ("precedence incomplete", _broken(precedence=["transfer", "fever_clinic", "assess", "turn_back"])),
    ("precedence duplicate", _broken(precedence=["transfer", "transfer", "fever_clinic", "assess", "turn_back", "pass"])),
    ("fever outcome", _broken(fever_outcome="hospital")),
]


@pytest.mark.parametrize(("name", "data"), INVALID_RULES, ids=[n for n, _ in INVALID_RULES])
def test_invalid_rules_are_refused(name: str, data: Any) -> None:
    e = error_of(GateRules.from_json, data)
    assert e.code == "rules" and e.message


def test_invalid_rules_are_refused_on_construction_too() -> None:
    assert error_of(dataclasses.replace, MAY, fever_threshold_c=45.0).code == "rules"
    assert error_of(dataclasses.replace, MAY, precedence=("pass",)).code == "rules"
    assert error_of(dataclasses.replace, MAY, origin_rules=(OriginRule("high", 0, "transfer"),)).code == "rules"
    e = error_of(GateRules.from_json, _broken(code_outcomes={"green": "pass", "yellow": "quarantine", "red": "transfer"}))
    assert e.message.startswith("黄码的处置「quarantine」不是有效的处置结果")


def test_error_pickles_and_outcome_labels() -> None:
    e = pickle.loads(pickle.dumps(ScreeningError("rules", "查验规则应为 JSON 对象")))
    assert (e.code, e.message) == ("rules", "查验规则应为 JSON 对象")
    assert OUTCOMES == {"pass": "放行", "assess": "引导至研判点", "turn_back": "劝返", "transfer": "闭环转运",
                        "fever_clinic": "发热门诊"}
    assert verdict(MAY, code_colour="red").to_json() == {"outcome": "transfer", "label": "闭环转运",
                                                          "reasons": [{"code": "code_red", "text": "红码"}]}


# --- parity with static/js/screening.js -------------------------------------------------------------

NODE = shutil.which("node")
# The parity tests must run (scripts/system-deps.sh installs node when missing): no silent skip.
def needs_node(fn: Any) -> Any:
    """Marks a test that runs the JavaScript under node (kept as a name for readers)."""
    return fn

RUNNER = """
const api = require(process.argv[2]);
const cases = JSON.parse(require("fs").readFileSync(process.argv[3], "utf8"));
const out = cases.map(function (c) {
  try { return api[c.fn].apply(null, c.args); }
  catch (e) { if (e.code === undefined) throw e; return {error: e.code, message: e.message}; }
});
process.stdout.write(JSON.stringify(out));
"""


def run_js(tmp_path: Path, calls: list[dict[str, Any]]) -> list[Any]:
    """Call ``LianfangScreening[fn](*args)`` in node for each call; results or {error, message}."""
    assert NODE is not None
    script = tmp_path / "runner.js"
    script.write_text(RUNNER, encoding="utf-8")
    data = tmp_path / "cases.json"
    data.write_text(json.dumps(calls, ensure_ascii=False), encoding="utf-8")
    proc = subprocess.run([NODE, str(script), str(JS_FILE), str(data)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    result: list[Any] = json.loads(proc.stdout)
    return result


def python_verdict(rules: Any, facts: Any) -> dict[str, Any]:
    try:
        return evaluate(GateRules.from_json(rules), ScanFacts.from_json(facts)).to_json()
    except ScreeningError as e:
        return {"error": e.code, "message": e.message}


FACTS_TABLE: list[dict[str, Any]] = [
    {},
    {"temperature_c": 36.5, "code_colour": "green", "negative_test_hours_ago": 5},
    {"temperature_c": 37.3, "code_colour": "green", "negative_test_hours_ago": 5},
    {"temperature_c": 37.2, "negative_test_hours_ago": 47.9},
    {"temperature_c": 37.5, "negative_test_hours_ago": 5},
    {"temperature_c": 38.125, "code_colour": "yellow", "negative_test_hours_ago": 5},
    {"temperature_c": 39, "code_colour": "red"},
    {"code_colour": "yellow", "negative_test_hours_ago": 48},
    {"code_colour": "red", "itinerary_star": True, "negative_test_hours_ago": 1},
    {"origins": [["high", 3]], "negative_test_hours_ago": 5},
    {"origins": [["high", 7], ["medium", 14]], "negative_test_hours_ago": 48.5},
    {"origins": [["high", 8], ["medium", 8], ["low", 0]], "negative_test_hours_ago": 72},
    {"origins": [["medium", 0], ["medium", 5.0]], "negative_test_hours_ago": 72.01},
    {"origins": [["low", 3], ["high", 15]], "negative_test_hours_ago": 100},
    {"itinerary_star": True, "negative_test_hours_ago": 0},
    {"temperature_c": 38.2, "code_colour": "red", "itinerary_star": True, "origins": [["medium", 5]]},
    {"temperature_c": 37.6, "code_colour": "yellow", "itinerary_star": True, "origins": [["low", 1]],
     "negative_test_hours_ago": 49},
    {"temperature_c": None, "code_colour": None, "itinerary_star": None, "origins": None, "negative_test_hours_ago": None},
]
BAD_FACTS: list[dict[str, Any] | list[Any]] = [
    {"temperature_c": 33.9},
    {"temperature_c": 43.1},
    {"temperature_c": -2000, "negative_test_hours_ago": 5},
    {"temperature_c": "37"},
    {"code_colour": "blue"},
    {"code_colour": 1},
    {"itinerary_star": "yes"},
    {"origins": "high"},
    {"origins": [["high"]]},
    {"origins": [["severe", 1]]},
    {"origins": [["high", -1]]},
    {"origins": [["high", 2.5]]},
    {"negative_test_hours_ago": -0.5},
    {"negative_test_hours_ago": 1e9},
    {"negative_test_hours_ago": "yesterday"},
    {"temprature_c": 36.5, "zzz": 1},
    [],
]


def parity_cases() -> list[tuple[Any, Any]]:
    good_rules = [MAY.to_json(), JULY.to_json(), CUSTOM.to_json()]
    cases: list[tuple[Any, Any]] = [(r, f) for r in good_rules for f in FACTS_TABLE]
    cases += [(good_rules[i % 2], f) for i, f in enumerate(BAD_FACTS)]
    cases += [(data, {}) for _, data in INVALID_RULES]
    cases.append((dict(MAY.to_json(), fever_threshold_c=37.25), {"temperature_c": 37.25, "negative_test_hours_ago": 1}))
    return cases


@needs_node
def test_python_and_javascript_give_identical_verdicts(tmp_path: Path) -> None:
    cases = parity_cases()
    assert len(cases) >= 40
    expected = [python_verdict(r, f) for r, f in cases]
    actual = run_js(tmp_path, [{"fn": "evaluate", "args": [r, f]} for r, f in cases])
    for (rules, facts), want, got in zip(cases, expected, actual, strict=True):
        assert got == want, (rules, facts)
    outcomes = {v.get("outcome") for v in expected}
    errors = {v.get("error") for v in expected}
    assert set(OUTCOMES) <= outcomes  # the table reaches every outcome ...
    assert {"rules", "facts", "temperature", "code_colour", "itinerary_star", "origin", "test"} <= errors  # ... and error


@needs_node
def test_javascript_check_temperature_and_rules_from_json(tmp_path: Path) -> None:
    temps: list[Any] = [34, 43, 33.9, 43.1, 36.6, None, "x"]
    calls: list[dict[str, Any]] = [{"fn": "checkTemperature", "args": [t]} for t in temps]
    calls += [{"fn": "rulesFromJson", "args": [r.to_json()]} for r in (MAY, JULY, CUSTOM)]
    got = run_js(tmp_path, calls)
    for t, result in zip(temps, got, strict=False):
        try:
            check_temperature(t)
            want: Any = None
        except ScreeningError as e:
            want = {"error": e.code, "message": e.message}
        assert result == want, t
    assert got[len(temps):] == [r.to_json() for r in (MAY, JULY, CUSTOM)]


@needs_node
def test_javascript_works_as_a_classic_script(tmp_path: Path) -> None:
    script = tmp_path / "classic.js"
    script.write_text("""
const vm = require("vm");
const src = require("fs").readFileSync(process.argv[2], "utf8");
const window = {};
vm.runInNewContext(src, {window: window});
const api = window.LianfangScreening;
process.stdout.write(JSON.stringify({keys: Object.keys(api).sort(), label: api.OUTCOMES.transfer,
  plate: api.normalizePlate("浙a·12345").number}));
""", encoding="utf-8")
    assert NODE is not None
    proc = subprocess.run([NODE, str(script), str(JS_FILE)], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert {"OUTCOMES", "evaluate", "checkTemperature", "normalizePlate", "rulesFromJson"} <= set(out["keys"])
    assert (out["label"], out["plate"]) == ("闭环转运", "浙A12345")
