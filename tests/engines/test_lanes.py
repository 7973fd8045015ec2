"""Erlang C lane sizing, checked against closed forms and an exact rational evaluation."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from lianfang.engines import lanes
from lianfang.engines.lanes import LaneError


def erlang_c_direct(c: int, a: Fraction) -> Fraction:
    """Textbook formula, exact: (A^c/c! * c/(c-A)) / (sum_{k<c} A^k/k! + A^c/c! * c/(c-A))."""
    top = a**c / math.factorial(c) * Fraction(c) / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def test_two_erlang_on_three_servers_waits_four_ninths() -> None:
    assert lanes.erlang_c(3, 2.0) == pytest.approx(4 / 9, rel=1e-12)


@pytest.mark.parametrize("rho", [0.1, 0.5, 0.9, 0.99])
def test_closed_forms_for_one_and_two_servers(rho: float) -> None:
    assert lanes.erlang_c(1, rho) == pytest.approx(rho)  # M/M/1: P(wait) = rho
    assert lanes.erlang_c(2, 2 * rho) == pytest.approx(2 * rho**2 / (1 + rho))  # M/M/2


@pytest.mark.parametrize(("c", "a"), [(3, "2"), (10, "7.5"), (28, "24"), (55, "48"), (120, "110.25")])
def test_matches_the_direct_formula(c: int, a: str) -> None:
    exact = erlang_c_direct(c, Fraction(a))
    assert lanes.erlang_c(c, float(a)) == pytest.approx(float(exact), rel=1e-10)


def test_hundreds_of_servers_stay_finite_and_accurate() -> None:
    exact = erlang_c_direct(400, Fraction(380))
    value = lanes.erlang_c(400, 380.0)
    assert 0 < value < 1 and value == pytest.approx(float(exact), rel=1e-9)
    assert 0 < lanes.erlang_c(2000, 1990.0) < 1  # 1990^2000 / 2000! would overflow a float


def test_call_centre_example() -> None:
    # 360 calls an hour, 4 minutes each: A = 24 Erlang; answer in 20 s on average
    sizing = lanes.lanes_needed(360, 240, target_wait_seconds=20)
    assert sizing.lanes == 28
    for c, expect_ok in ((27, False), (28, True)):
        wait = float(erlang_c_direct(c, Fraction(24)) * 240 / (c - 24))
        assert lanes.expected_wait(c, 360, 240) == pytest.approx(wait, rel=1e-10)
        assert (wait <= 20) is expect_ok
    assert sizing.utilisation == pytest.approx(24 / 28)
    assert sizing.p_wait == pytest.approx(float(erlang_c_direct(28, Fraction(24))))
    assert sizing.expected_wait_seconds <= sizing.target_wait_seconds == 20


def test_gate_example_and_staff() -> None:
    # 120 vehicles an hour, 90 s each (code scan + temperature + registration): A = 3
    sizing = lanes.lanes_needed(120, 90)  # default target: 5 minutes
    assert sizing.lanes == 4
    assert lanes.expected_wait(3, 120, 90) == math.inf
    assert sizing.expected_wait_seconds == pytest.approx(float(erlang_c_direct(4, Fraction(3)) * 90))  # about 46 s
    assert lanes.staff_per_shift(sizing) == 8
    assert lanes.staff_per_shift(sizing, staff_per_lane=3) == 12


def test_unstable_load_means_infinite_wait_and_more_lanes() -> None:
    assert lanes.erlang_c(2, 2.0) == 1.0 and lanes.erlang_c(2, 3.5) == 1.0
    assert lanes.expected_wait(2, 240, 30) == math.inf  # A = 2 on 2 lanes
    assert lanes.lanes_needed(240, 30).lanes >= 3
    with pytest.raises(LaneError) as err:
        lanes.lanes_needed(3600, 60, target_wait_seconds=1, max_lanes=50)  # A = 60 > 50 lanes
    assert "50 条车道也无法" in str(err.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda: lanes.lanes_needed(0, 60),
        lambda: lanes.lanes_needed(-5, 60),
        lambda: lanes.lanes_needed(100, 0),
        lambda: lanes.lanes_needed(100, -1),
        lambda: lanes.lanes_needed(100, 60, target_wait_seconds=0),
        lambda: lanes.lanes_needed(100, 60, max_lanes=0),
        lambda: lanes.lanes_needed(float("nan"), 60),
        lambda: lanes.erlang_c(0, 1.0),
        lambda: lanes.erlang_c(3, -1.0),
        lambda: lanes.expected_wait(2, 100, float("inf")),
        lambda: lanes.staff_per_shift(lanes.lanes_needed(100, 60), staff_per_lane=0),
    ],
)
def test_bad_input_is_refused_in_chinese(call: object) -> None:
    with pytest.raises(ValueError) as err:
        call()  # type: ignore[operator]
    assert "必须" in str(err.value)
