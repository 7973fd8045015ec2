"""Inspection lanes per gate: an M/M/c (Erlang C) queue.

Pure Python (no Django). Vehicles (or people) arrive at a gate at ``arrivals_per_hour`` (Poisson)
and each lane inspects one at a time, taking ``service_seconds`` on average (exponential). With
``c`` lanes and offered load ``A = arrivals x service time`` (in Erlang), the probability that an
arrival has to wait is Erlang C, and the mean wait in the queue is ``C(c, A) x service / (c - A)``.
The queue is stable only when ``A < c``; otherwise the wait grows without bound.

Erlang C is computed from the Erlang B recursion ``B(k) = A B(k-1) / (k + A B(k-1))``, which
never forms ``A^c / c!`` and so stays accurate for hundreds of lanes (or servers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class LaneError(ValueError):
    """Bad input for lane sizing; the message is shown to the user (Chinese)."""


@dataclass(frozen=True)
class LaneSizing:
    lanes: int
    arrivals_per_hour: float
    service_seconds: float
    utilisation: float  # offered load per lane, 0..1
    p_wait: float  # probability an arrival waits (Erlang C)
    expected_wait_seconds: float  # mean wait in the queue
    target_wait_seconds: float


def _positive(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise LaneError(f"{what}必须是大于 0 的数字（收到：{value!r}）。")
    return float(value)


def _servers(servers: int, what: str = "车道数") -> int:
    if isinstance(servers, bool) or not isinstance(servers, int) or servers < 1:
        raise LaneError(f"{what}必须是不小于 1 的整数（收到：{servers!r}）。")
    return servers


def erlang_b(servers: int, offered_load: float) -> float:
    """Blocking probability of an M/M/c/c system (Erlang B), by the stable recursion."""
    c = _servers(servers)
    a = _positive(offered_load, "业务量（爱尔兰）")
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival waits in an M/M/c queue; 1.0 when the queue is unstable."""
    c = _servers(servers)
    a = _positive(offered_load, "业务量（爱尔兰）")
    if a >= c:
        return 1.0
    b = erlang_b(c, a)
    return c * b / (c - a * (1.0 - b))


def expected_wait(servers: int, arrivals_per_hour: float, service_seconds: float) -> float:
    """Mean wait in the queue, in seconds; ``inf`` when arrivals outpace the lanes."""
    c = _servers(servers)
    lam = _positive(arrivals_per_hour, "每小时到达量") / 3600.0
    s = _positive(service_seconds, "平均查验时间")
    a = lam * s
    if a >= c:
        return math.inf
    return erlang_c(c, a) * s / (c - a)


def sizing_for(lanes: int, arrivals_per_hour: float, service_seconds: float, target_wait_seconds: float = 300) -> LaneSizing:
    """The queue figures for a given number of lanes."""
    c = _servers(lanes)
    lam = _positive(arrivals_per_hour, "每小时到达量")
    s = _positive(service_seconds, "平均查验时间")
    target = _positive(target_wait_seconds, "目标等待时间")
    a = lam * s / 3600.0
    return LaneSizing(
        lanes=c,
        arrivals_per_hour=lam,
        service_seconds=s,
        utilisation=a / c,
        p_wait=erlang_c(c, a),
        expected_wait_seconds=expected_wait(c, lam, s),
        target_wait_seconds=target,
    )


def lanes_needed(arrivals_per_hour: float, service_seconds: float, target_wait_seconds: float = 300,
                 max_lanes: int = 50) -> LaneSizing:
    """The fewest lanes whose mean wait is at most ``target_wait_seconds``."""
    lam = _positive(arrivals_per_hour, "每小时到达量")
    s = _positive(service_seconds, "平均查验时间")
    target = _positive(target_wait_seconds, "目标等待时间")
    limit = _servers(max_lanes, "车道数上限")
    a = lam * s / 3600.0
    c = max(1, math.floor(a) + 1)  # the first stable number of lanes
    while c <= limit:
        if expected_wait(c, lam, s) <= target:
            return sizing_for(c, lam, s, target)
        c += 1
    raise LaneError(
        f"每小时 {lam:g} 辆（人）、每辆查验 {s:g} 秒时，{limit} 条车道也无法把平均等待控制在 {target:g} 秒以内"
        f"（需要超过 {limit} 条）。请分流到其他卡口或缩短查验时间。"
    )


def staff_per_shift(sizing: LaneSizing, staff_per_lane: int = 2) -> int:
    """People needed on the gate in one shift: lanes x staff per lane."""
    per_lane = _servers(staff_per_lane, "每条车道的人数")
    return sizing.lanes * per_lane
