"""Gate teams that share no one are solved as separate parts: same rules, summed objective and bound."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lianfang.engines import roster, roster_split
from lianfang.engines.roster import Demand, Problem, ShiftType, Staff

SHIFTS = (ShiftType("M", 480, start=480, name="早班"), ShiftType("N", 480, start=0, night=True, name="夜班"))


def zone(gates: int = 3, per_gate: int = 5, days: int = 7, floater: bool = False) -> Problem:
    staff = [Staff(f"g{g}s{i}", posts=frozenset({f"g{g}"}), max_consecutive=5, max_week_minutes=40 * 60)
             for g in range(gates) for i in range(per_gate)]
    if floater:
        staff.append(Staff("float", posts=frozenset({"g0", "g1"})))
    demand = [Demand(d, sh, f"g{g}", None, 1) for g in range(gates) for d in range(days) for sh in ("M", "N")]
    return Problem(days=days, shifts=SHIFTS, staff=tuple(staff), demand=tuple(demand), fairness_weight=2)


def test_parts_follow_the_people_who_link_posts() -> None:
    assert sorted(sorted(p.posts) for p in roster_split.parts(zone())) == [["g0"], ["g1"], ["g2"]]
    linked = roster_split.parts(zone(floater=True))
    assert sorted(sorted(p.posts) for p in linked) == [["g0", "g1"], ["g2"]]
    assert sum(len(p.problem.staff) for p in linked) == 16


def test_split_solution_is_legal_and_its_objective_is_the_sum_of_the_parts() -> None:
    problem = zone()
    sol = roster_split.solve_split(problem, time_limit_s=20)
    assert sol.status == "optimal" and sol.objective == sol.bound
    assert roster.check(problem, sol.assignments, sol.posts) == []
    parts = roster_split.parts(problem)
    recomputed = sum(roster.objective_value(p.problem, {k: v for k, v in sol.assignments.items()
                                                        if any(k[0] == st.id for st in p.problem.staff)},
                                            sol.posts) for p in parts)
    assert recomputed == sol.objective
    assert sol.breakdown["cover_under"] == 0 and "3 个互不相关的部分" in sol.messages[0]


def test_a_gate_nobody_serves_is_reported_short() -> None:
    problem = zone(gates=2)
    problem = replace(problem, demand=(*problem.demand, Demand(0, "M", "g9", None, 2)))
    sol = roster_split.solve_split(problem, time_limit_s=10)
    short = [s for s in sol.shortfalls if s.post == "g9"]
    assert len(short) == 1 and short[0].missing == 2 and "没有任何可排人员" in short[0].reason_zh


def test_time_left_over_goes_to_parts_not_yet_proven(monkeypatch: pytest.MonkeyPatch) -> None:
    """A part that stopped at its share is solved again from its roster with the time the others
    did not use; a better roster and its bound replace the first."""
    calls: list[tuple[int, bool]] = []

    def fake_solve(problem: Problem, time_limit_s: float = 10.0, workers: int = 2, progress: object = None,
                   hint: object = None) -> roster.Solution:
        first = problem.staff[0].id.startswith("g0")
        calls.append((int(first), hint is not None))
        if first and hint is None:
            return roster.Solution({("g0s0", 0): "M"}, {("g0s0", 0): "g0"}, 10, 5, "feasible", 0.1)
        if first:
            return roster.Solution({("g0s0", 1): "M"}, {("g0s0", 1): "g0"}, 8, 8, "optimal", 0.1)
        return roster.Solution({}, {}, 0, 0, "optimal", 0.1)

    monkeypatch.setattr(roster_split.roster, "solve", fake_solve)
    sol = roster_split.solve_split(zone(), time_limit_s=30)
    assert calls == [(1, False), (0, False), (0, False), (1, True)]
    assert sol.status == "optimal" and (sol.objective, sol.bound) == (8, 8) and sol.assignments == {("g0s0", 1): "M"}
