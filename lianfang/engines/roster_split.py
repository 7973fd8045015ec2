"""Solve a roster as independent parts when its people and posts fall apart into separate teams.

A gate roster where every person serves only their own gate (or a few neighbouring gates) is, for
the solver, several unrelated problems glued together: no hard rule and no demand links people who
share no post. One CP-SAT model for all of them is much harder than the parts (the search wanders
across the whole zone and the LP bound stalls), so :func:`solve_split` cuts the problem along the
connected components of the people–posts graph and solves each part with
:func:`lianfang.engines.roster.solve`, giving every part a share of the time limit by its size and
passing on the time a part did not need, and what is left at the end to the parts not yet proven
optimal (warm-started from their roster). The objective and the bound of the whole are the sums of
the parts'; fairness is then measured within each part (a gate team), which is what a gate chief
compares. Pure Python, no Django.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from lianfang.engines import roster
from lianfang.engines.roster import Problem, Solution

PartProgress = Callable[[int, int, Solution | None], None]  # (parts done, parts, last part's solution)


@dataclass(frozen=True)
class Part:
    posts: frozenset[str]
    problem: Problem

    @property
    def size(self) -> int:
        return max(1, len(self.problem.staff)) * self.problem.days * len(self.problem.shifts) * max(1, len(self.posts))


def parts(problem: Problem) -> list[Part]:
    """The independent parts: people linked through the posts they may staff (no posts = any post).

    Posts without demand are ignored; a person who may staff no post with demand joins the first
    part (so that the roster still says they have nothing to do)."""
    demand_posts = sorted({dm.post for dm in problem.demand})
    parent = {p: p for p in demand_posts}

    def find(p: str) -> str:
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    def posts_of(st: roster.Staff) -> list[str]:
        return [p for p in demand_posts if not st.posts or p in st.posts]

    for st in problem.staff:
        mine = posts_of(st)
        for p in mine[1:]:
            a, b = find(mine[0]), find(p)
            if a != b:
                parent[b] = a
    groups: dict[str, set[str]] = {}
    for p in demand_posts:
        groups.setdefault(find(p), set()).add(p)
    if not groups:
        return [Part(frozenset(), problem)]
    ordered = sorted(groups.values(), key=lambda g: min(g))
    staff_of: dict[int, list[roster.Staff]] = {i: [] for i in range(len(ordered))}
    for st in problem.staff:
        mine = posts_of(st)
        index = next((i for i, g in enumerate(ordered) if mine and mine[0] in g), 0)
        staff_of[index].append(st)
    out = []
    for i, group in enumerate(ordered):
        ids = {st.id for st in staff_of[i]}
        out.append(Part(frozenset(group), replace(
            problem,
            staff=tuple(staff_of[i]),
            demand=tuple(dm for dm in problem.demand if dm.post in group),
            requests=tuple(rq for rq in problem.requests if rq.staff in ids),
        )))
    return out


def _summary(message: str) -> bool:
    """A part's own totals, replaced by the whole roster's."""
    return message.startswith("已在时限内") or (message.startswith("有 ") and "详见缺员清单" in message)


def solve_split(problem: Problem, time_limit_s: float = 60.0, workers: int = 2,
                progress: PartProgress | None = None, hint: roster.Assignments | None = None) -> Solution:
    """Solve part by part; one part is exactly :func:`roster.solve`."""
    started = time.perf_counter()
    pieces = parts(problem)
    if len(pieces) == 1:
        solution = roster.solve(problem, time_limit_s=time_limit_s, workers=workers, hint=hint)
        if progress:
            progress(1, 1, solution)
        return solution
    total_size = sum(p.size for p in pieces)
    remaining_size = total_size
    solutions: list[Solution] = []
    for done, piece in enumerate(pieces):
        left = time_limit_s - (time.perf_counter() - started)
        share = max(1.0, left * piece.size / remaining_size)
        remaining_size -= piece.size
        ids = {st.id for st in piece.problem.staff}
        part_hint = {k: v for k, v in hint.items() if k[0] in ids} if hint else None
        solutions.append(roster.solve(piece.problem, time_limit_s=share, workers=workers, hint=part_hint or None))
        if progress:
            progress(done + 1, len(pieces), solutions[-1])
    # Parts proven optimal early leave time over: give it to the others, warm-started from their
    # roster; a part is tried again only while its retries improve it.
    tried: set[int] = set()
    while True:
        open_parts = [i for i, sol in enumerate(solutions) if sol.status == "feasible" and i not in tried]
        left = time_limit_s - (time.perf_counter() - started)
        if not open_parts or left < 2:
            break
        i = max(open_parts, key=lambda k: solutions[k].objective - solutions[k].bound)
        tried.add(i)
        before = solutions[i]
        again = roster.solve(pieces[i].problem, time_limit_s=max(1.0, left / len(open_parts)), workers=workers,
                             hint=before.assignments)
        if again.status in ("optimal", "feasible") and again.objective <= before.objective:
            again.bound = max(again.bound, before.bound)
            if again.bound >= again.objective:
                again.status = "optimal"
            solutions[i] = again
            if again.objective < before.objective:
                tried.discard(i)
        elif again.status in ("optimal", "feasible"):
            before.bound = max(before.bound, again.bound)  # a proven bound of the same part still holds
        if progress:
            progress(len(pieces), len(pieces), solutions[i])
    merged = Solution({}, {}, 0, 0, "optimal", 0.0)
    statuses = [sol.status for sol in solutions]
    for sol in solutions:
        merged.assignments.update(sol.assignments)
        merged.posts.update(sol.posts)
        merged.objective += sol.objective
        merged.bound += sol.bound
        merged.shortfalls.extend(sol.shortfalls)
        merged.messages.extend(m for m in sol.messages if m not in merged.messages and not _summary(m))
        for key, value in sol.breakdown.items():
            merged.breakdown[key] = merged.breakdown.get(key, 0) + value
    if "infeasible" in statuses:
        merged.status = "infeasible"
    elif "unknown" in statuses:
        merged.status = "unknown"
    elif "feasible" in statuses:
        merged.status = "feasible"
    if merged.shortfalls:
        missing = sum(s.missing for s in merged.shortfalls)
        merged.messages.append(f"有 {len(merged.shortfalls)} 个班次/岗位缺员，共缺 {missing} 人次，详见缺员清单。")
    if merged.status == "feasible":
        merged.messages.append(f"已在时限内找到合法班表，目标值 {merged.objective}，已证明的下界 {merged.bound}"
                               f"（差距 {merged.gap:.1%}）。")
    merged.messages.insert(0, f"按卡口班组分为 {len(pieces)} 个互不相关的部分分别求解。")
    merged.seconds = time.perf_counter() - started
    return merged
