"""Dorfman pooling against the published values (Dorfman 1943; Hanel & Thurner 2020)."""

from __future__ import annotations

import pytest

from lianfang.engines import pooling


@pytest.mark.parametrize(("p", "k"), [(0.001, 32), (0.01, 11), (0.05, 5), (0.10, 4)])
def test_optimal_pool_size_matches_known_values(p: float, k: int) -> None:
    assert pooling.optimal_pool_size(p)[0] == k


def test_one_percent_needs_about_a_fifth_of_the_tests() -> None:
    k, e = pooling.optimal_pool_size(0.01)
    assert k == 11
    assert e == pytest.approx(0.1956, abs=5e-4)
    assert pooling.tests_per_person(0.01, 10) == pytest.approx(0.1 + 1 - 0.99 ** 10)


def test_no_gain_above_thirty_percent() -> None:
    assert pooling.optimal_pool_size(0.35)[0] == 1
    assert pooling.advise(0.35).allowed_k == 1
    assert "单人单管" in pooling.advise(0.35).summary()


def test_advice_among_allowed_sizes() -> None:
    a = pooling.advise(0.001)
    assert a.optimal_k == 32 and a.allowed_k == 20
    assert dict(a.by_allowed_size)[1] == 1.0
    assert "20 混 1" in a.summary()
    assert pooling.advise(0.05).allowed_k == 5
    assert pooling.advise(0.0).allowed_k == 20


def test_bad_input_is_refused_in_chinese() -> None:
    with pytest.raises(pooling.PoolingError, match="阳性率"):
        pooling.tests_per_person(1.5, 10)
    with pytest.raises(pooling.PoolingError):
        pooling.tests_per_person(0.01, 0)
    with pytest.raises(pooling.PoolingError, match="混采规格"):
        pooling.size_round(100, 7)


def test_round_sizing() -> None:
    r = pooling.size_round(10_000, 10, p=0.01)
    assert (r.tubes, r.bags, r.sites, r.samplers) == (1000, 50, 4, 28)
    assert r.expected_tests == pytest.approx(10_000 * pooling.tests_per_person(0.01, 10))
    assert pooling.size_round(0, 20).sites == 0
