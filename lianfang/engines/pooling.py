"""Pooled testing maths (Dorfman 1943) and round sizing. Pure Python, no Django.

A pool of ``k`` swabs is tested once; if it is positive every member is retested alone. With a
prevalence ``p`` the expected number of tests per person is

    E(k) = 1/k + 1 - (1 - p)^k          (k >= 2),  E(1) = 1.

The optimum k minimises E. Known values: k = 11 at p = 1 % (E ~ 0.196), k = 5 at 5 %, k = 4 at
10 %, about 32 at 0.1 %; above ~30 % pooling no longer saves tests (E(k) >= 1 for every k).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# The pool sizes the 2022 rules allow (single, 5-, 10-, 20-in-1; 20-in-1 approved January 2022).
ALLOWED_POOL_SIZES = (1, 5, 10, 20)
# Site sizing from the 2022 field notes: one site per 2,000-3,000 people; samplers ~ population / 360
# per 24-hour round; 20 tubes to a transport bag.
PEOPLE_PER_SITE = 2500
PEOPLE_PER_SAMPLER_PER_DAY = 360
TUBES_PER_BAG = 20


class PoolingError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _check_p(p: float) -> None:
    if not (0.0 <= p <= 1.0) or math.isnan(p):
        raise PoolingError("prevalence", "估计阳性率须在 0–100% 之间")


def tests_per_person(p: float, k: int) -> float:
    """Dorfman's expected tests per person for prevalence ``p`` and pool size ``k``."""
    _check_p(p)
    if k < 1:
        raise PoolingError("pool_size", "混采人数须至少为 1")
    if k == 1:
        return 1.0
    return 1.0 / k + 1.0 - (1.0 - p) ** k


@dataclass(frozen=True)
class Advice:
    prevalence: float
    optimal_k: int
    optimal_tests_per_person: float
    # The best of the allowed sizes (1/5/10/20): what a round can actually use.
    allowed_k: int
    allowed_tests_per_person: float
    by_allowed_size: tuple[tuple[int, float], ...]

    @property
    def saving(self) -> float:
        """Share of tests saved against single tubes, with the best allowed size."""
        return 1.0 - self.allowed_tests_per_person

    def summary(self) -> str:
        if self.allowed_k == 1:
            return (f"估计阳性率 {self.prevalence:.2%}：混采不再节省检测，建议单人单管")
        return (f"估计阳性率 {self.prevalence:.2%}：理论最优 {self.optimal_k} 混 1"
                f"（每人 {self.optimal_tests_per_person:.3f} 次检测）；可用规格中 {self.allowed_k} 混 1 最省，"
                f"每人 {self.allowed_tests_per_person:.3f} 次，节省 {self.saving:.0%}")


def optimal_pool_size(p: float, max_k: int = 100) -> tuple[int, float]:
    """The k in 1..max_k with the fewest expected tests per person (ties: the smaller k)."""
    _check_p(p)
    best_k, best_e = 1, 1.0
    for k in range(2, max_k + 1):
        e = tests_per_person(p, k)
        if e < best_e - 1e-12:
            best_k, best_e = k, e
    return best_k, best_e


def advise(p: float, allowed: tuple[int, ...] = ALLOWED_POOL_SIZES, max_k: int = 100) -> Advice:
    k, e = optimal_pool_size(p, max_k)
    table = tuple((a, tests_per_person(p, a)) for a in allowed)
    ak, ae = min(table, key=lambda t: (t[1], t[0]))
    return Advice(prevalence=p, optimal_k=k, optimal_tests_per_person=e, allowed_k=ak,
                  allowed_tests_per_person=ae, by_allowed_size=table)


@dataclass(frozen=True)
class RoundSize:
    people: int
    pool_size: int
    tubes: int
    bags: int
    sites: int
    samplers: int
    expected_tests: float


def size_round(people: int, pool_size: int, p: float = 0.0, hours: float = 24.0) -> RoundSize:
    """Tubes, bags, sites and samplers for ``people`` in a round of ``hours``."""
    if people < 0:
        raise PoolingError("people", "人数不能为负")
    if pool_size not in ALLOWED_POOL_SIZES:
        raise PoolingError("pool_size", "混采规格只能是单管、5 混 1、10 混 1 或 20 混 1")
    if hours <= 0:
        raise PoolingError("hours", "采样时长须大于 0")
    tubes = math.ceil(people / pool_size)
    return RoundSize(
        people=people, pool_size=pool_size, tubes=tubes, bags=math.ceil(tubes / TUBES_PER_BAG),
        sites=max(1, math.ceil(people / PEOPLE_PER_SITE)) if people else 0,
        samplers=math.ceil(people / PEOPLE_PER_SAMPLER_PER_DAY * 24.0 / hours) if people else 0,
        expected_tests=people * tests_per_person(p, pool_size),
    )
