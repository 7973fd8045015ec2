"""Lower bounds on Curtois & Qu's instances from splitting weekends from weekdays (a measurement, not a target).

On instances 10-12 almost all of a roster's cost is weekend cover: people may work a few weekends
only. This splits the instance into two relaxations whose optima add up to a lower bound:

- weekends only: each person picks, per weekend, at most one pair (Saturday's shift or none,
  Sunday's shift or none) allowed by their days off, shift types and successions, and at most
  their weekend limit of such weekends; the weekend cover and requests are counted. One variable
  per pair makes this model easy for CP-SAT (instance 12: proven in about a second), where the
  whole model's per-day variables with weekend flags give it no useful bound in a minute;
- weekdays only: at most one shift a day, days off and successions, weekday cover and requests.

Every other rule (runs, minutes, shift maxima) is dropped, and the two parts share nothing, so the
sum is at most the optimum of the instance. The report gives each part's optimum, the weekend
people-shifts short in the weekend part, the sum and the best-known value.

    .venv/bin/python bench/roster_weekend_bound.py --instances 10,11,12
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

from ortools.sat.python import cp_model

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lianfang.engines import nrp_format  # noqa: E402
from lianfang.engines.roster import Problem, Staff  # noqa: E402

DATA = ROOT.parent / "shared" / "benchmarks" / "shift-scheduling"


def _weekend(problem: Problem, day: int) -> bool:
    return (problem.first_weekday + day) % 7 >= 5


def _request_cost(problem: Problem, st: Staff, day: int, shift: str | None) -> int:
    """Requests of ``st`` on ``day`` broken when working ``shift`` (None: off)."""
    cost = 0
    for rq in problem.requests:
        if rq.staff == st.id and rq.day == day:
            hit = shift is not None and (rq.shift is None or rq.shift == shift)
            cost += rq.weight * int(hit != rq.on)
    return cost


def _allowed(st: Staff, problem: Problem, day: int) -> list[str]:
    if day in st.days_off:
        return []
    return [sh.id for sh in problem.shifts
            if st.max_shifts.get(sh.id, 1) != 0 and (day, sh.id) not in st.unavailable]


def _cover(model: cp_model.CpModel, problem: Problem, count: dict[tuple[int, str], list[cp_model.IntVar]],
           weekend: bool, terms: list[cp_model.LinearExprT]) -> list[cp_model.IntVar]:
    """Cover terms of the demand rows on weekend (or weekday) days; returns the shortfall variables."""
    short = []
    for dm in problem.demand:
        if _weekend(problem, dm.day) != weekend or dm.skill or dm.post:
            continue
        under = model.new_int_var(0, dm.required, "")
        over = model.new_int_var(0, len(problem.staff), "")
        model.add(sum(count[(dm.day, dm.shift)]) + under - over == dm.required)
        terms += [dm.under_weight * under, dm.over_weight * over]
        short.append(under)
    return short


def weekend_part(problem: Problem, seconds: float) -> tuple[int, int, bool]:
    """(value, weekend people-shifts short, proven) of the weekends-only relaxation."""
    forbidden = {(sh.id, nxt) for sh in problem.shifts for nxt in sh.forbidden_next}
    model = cp_model.CpModel()
    count: dict[tuple[int, str], list[cp_model.IntVar]] = defaultdict(list)
    terms: list[cp_model.LinearExprT] = []
    constant = 0
    saturdays = [d for d in range(problem.days - 1) if (problem.first_weekday + d) % 7 == 5]
    for st in problem.staff:
        weekends = []
        for sat in saturdays:
            idle = _request_cost(problem, st, sat, None) + _request_cost(problem, st, sat + 1, None)
            constant += idle
            pairs = []
            for a in [None, *_allowed(st, problem, sat)]:
                for b in [None, *_allowed(st, problem, sat + 1)]:
                    if (a is None and b is None) or (a, b) in forbidden:
                        continue
                    var = model.new_bool_var(f"{st.id}:{sat}:{a}:{b}")
                    pairs.append(var)
                    for day, shift in ((sat, a), (sat + 1, b)):
                        if shift is not None:
                            count[(day, shift)].append(var)
                    extra = _request_cost(problem, st, sat, a) + _request_cost(problem, st, sat + 1, b) - idle
                    if extra:
                        terms.append(extra * var)
            model.add_at_most_one(pairs)
            weekends += pairs
        if st.max_weekends is not None:
            model.add(sum(weekends) <= st.max_weekends)
    short = _cover(model, problem, count, True, terms)
    model.minimize(sum(terms) + constant)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = 2
    code = solver.solve(model)
    return (round(solver.best_objective_bound), sum(solver.value(v) for v in short) if code != cp_model.UNKNOWN else -1,
            code == cp_model.OPTIMAL)


def weekday_part(problem: Problem, seconds: float) -> tuple[int, bool]:
    """(value, proven) of the weekdays-only relaxation."""
    forbidden = {(sh.id, nxt) for sh in problem.shifts for nxt in sh.forbidden_next}
    model = cp_model.CpModel()
    count: dict[tuple[int, str], list[cp_model.IntVar]] = defaultdict(list)
    terms: list[cp_model.LinearExprT] = []
    constant = 0
    days = [d for d in range(problem.days) if not _weekend(problem, d)]
    for st in problem.staff:
        x: dict[tuple[int, str], cp_model.IntVar] = {}
        for d in days:
            idle = _request_cost(problem, st, d, None)
            constant += idle
            for shift in _allowed(st, problem, d):
                x[(d, shift)] = var = model.new_bool_var("")
                count[(d, shift)].append(var)
                if extra := _request_cost(problem, st, d, shift) - idle:
                    terms.append(extra * var)
            model.add_at_most_one(v for (day, _s), v in x.items() if day == d)
        for (d, a), first in x.items():
            for (e, b), second in x.items():
                if e == d + 1 and (a, b) in forbidden:
                    model.add_bool_or([first.Not(), second.Not()])
    _cover(model, problem, count, False, terms)
    model.minimize(sum(terms) + constant)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = 2
    code = solver.solve(model)
    return round(solver.best_objective_bound), code == cp_model.OPTIMAL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", default="7,8,9,10,11,12")
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds per part")
    args = parser.parse_args()
    best = {int(line.split(",")[0].removeprefix("Instance")): int(line.split(",")[1])
            for line in (DATA / "best_known.csv").read_text().splitlines()[1:]}
    print("| instance | weekends only | short on weekends | weekdays only | lower bound | best known | seconds |")
    print("|---|---|---|---|---|---|---|")
    for n in (int(s) for s in args.instances.split(",")):
        problem = nrp_format.read_instance(DATA / f"Instance{n}.txt")
        began = time.perf_counter()
        weekend, short, weekend_proven = weekend_part(problem, args.time_limit)
        weekday, weekday_proven = weekday_part(problem, args.time_limit)
        mark = "" if weekend_proven and weekday_proven else " (bounds only)"
        print(f"| {n} | {weekend:,} | {short} | {weekday:,} | {weekend + weekday:,}{mark} | {best[n]:,} |"
              f" {time.perf_counter() - began:.1f} |", flush=True)


if __name__ == "__main__":
    main()
