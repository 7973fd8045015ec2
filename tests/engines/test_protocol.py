"""Plans from dated editions, checked against the published 2022 rules."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from lianfang.engines import protocol
from lianfang.engines.protocol import Edition, Phase, ProtocolError, Rule

DATA = Path(__file__).resolve().parents[2] / "lianfang" / "control" / "data"
EDITIONS = protocol.editions_from_data(json.loads((DATA / "editions-2022.json").read_text()))
D = dt.date


def days(plan: protocol.Plan) -> list[tuple[str, int, list[int]]]:
    """Each phase as (measure, length, test days counted from the exposure date)."""
    return [(p.measure, (p.end - p.start).days + 1, [(t - plan.exposure_date).days for t in p.test_dates])
            for p in plan.phases]


def test_close_contact_before_the_ninth_edition_gets_14_plus_7() -> None:
    plan = protocol.plan_case(EDITIONS, "close_contact", D(2022, 6, 20))
    assert plan.edition_key == "ed8-14+7"
    assert days(plan) == [("centralized_isolation", 14, [1, 4, 7, 14]), ("home_monitoring", 7, [])]
    assert (plan.start, plan.end) == (D(2022, 6, 21), D(2022, 7, 11))


def test_close_contact_after_the_ninth_edition_gets_7_plus_3() -> None:
    plan = protocol.plan_case(EDITIONS, "close_contact", D(2022, 7, 5))
    assert plan.edition_key == "ed9"
    assert days(plan) == [("centralized_isolation", 7, [1, 2, 3, 5, 7]), ("home_monitoring", 3, [8 + 2])]
    assert plan.end == D(2022, 7, 15)
    assert plan.test_dates == (D(2022, 7, 6), D(2022, 7, 7), D(2022, 7, 8), D(2022, 7, 10), D(2022, 7, 12),
                               D(2022, 7, 15))


def test_medium_risk_arrival_in_july_gets_seven_days_home_isolation_tests_1_4_7() -> None:
    plan = protocol.plan_case(EDITIONS, "medium_risk_arrival", D(2022, 7, 10))
    assert plan.edition_key == "zj-2022-07-02"
    assert days(plan) == [("home_isolation", 7, [1, 4, 7])]
    assert plan.test_dates == (D(2022, 7, 11), D(2022, 7, 14), D(2022, 7, 17))


def test_a_provincial_notice_overrides_only_its_own_categories() -> None:
    # On 2022-07-10 close contacts still follow the 9th edition, arrivals the Zhejiang notice.
    assert protocol.edition_in_force(EDITIONS, "close_contact", D(2022, 7, 10)).key == "ed9"  # type: ignore[union-attr]
    assert protocol.edition_in_force(EDITIONS, "secondary_contact", D(2022, 6, 27)).key == "ed8-14+7"  # type: ignore[union-attr]


def test_editions_agree_with_the_shared_rules() -> None:
    rules = json.loads((DATA / "rules-2022.json").read_text())
    ninth = {r["category"]: r for r in rules["key_persons_9th_edition"]}
    ed9 = next(e for e in EDITIONS if e.key == "ed9")
    close = ed9.rules["close_contact"].phases
    assert (close[0].days, list(close[0].test_days)) == (ninth["close_contact"]["centralized_days"],
                                                         ninth["close_contact"]["nat_days_centralized"])
    assert close[1].days == ninth["close_contact"]["home_monitoring_days"]
    zj = next(e for e in EDITIONS if e.key == "zj-2022-07-02")
    for row in rules["arrival_measures_zhejiang_2022_07_02"][:2]:
        cat = {"high_risk_area": "high_risk_arrival", "medium_risk_area": "medium_risk_arrival"}[row["history_7d"]]
        phase = zj.rules[cat].phases[0]
        assert (phase.measure, phase.days, list(phase.test_days)) == (row["measure"], row["days"], row["nat_days"])


def test_exposure_in_the_future_and_missing_rules_are_refused() -> None:
    with pytest.raises(ProtocolError) as exc:
        protocol.plan_case(EDITIONS, "close_contact", D(2022, 7, 20), today=D(2022, 7, 19))
    assert exc.value.code == "exposure_future"
    with pytest.raises(ProtocolError) as exc:
        protocol.plan_case(EDITIONS, "low_risk_arrival", D(2022, 6, 1))
    assert exc.value.code == "no_rule" and "方案" in exc.value.message


def test_bad_rules_are_refused() -> None:
    with pytest.raises(ProtocolError):
        Rule("close_contact", (Phase("centralized_isolation", 7, (9,)),)).check()
    with pytest.raises(ProtocolError):
        Rule("close_contact", (Phase("teleport", 7),)).check()
    with pytest.raises(ProtocolError):
        Rule("nobody", (Phase("home_isolation", 7),)).check()


def test_describe_change_lists_what_moves() -> None:
    old = protocol.plan_case(EDITIONS, "close_contact", D(2022, 7, 5))
    edited = Edition("ed9b", "第九版（修订）", D(2022, 6, 28), {
        "close_contact": Rule("close_contact", (Phase("centralized_isolation", 5, (1, 3, 5)),
                                                Phase("home_monitoring", 3, (3,))))})
    new = protocol.plan_case([*EDITIONS, edited], "close_contact", D(2022, 7, 5))
    changes = protocol.describe_change(old, new)
    assert any("第九版方案 → 第九版（修订）" in c for c in changes)
    assert any("解除日期：2022-07-15 → 2022-07-13" in c for c in changes)
    assert protocol.describe_change(old, old) == []
