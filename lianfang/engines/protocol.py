"""Key-person measures from dated protocol editions: which rule is in force, and the plan it gives.

Pure Python (no Django). An edition holds rules per category; the rule for a category on a date is
the one in the most recent edition, effective on or before that date, that defines the category
(so a provincial arrival notice can override one category of a national edition).

Days are counted from the exposure date (last contact, or leaving the risk area): day *k* of the
first phase is ``exposure + k days``; a second phase (home monitoring after centralized
isolation, say) counts on from the end of the first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

CATEGORIES: dict[str, str] = {
    "close_contact": "密切接触者",
    "secondary_contact": "密接的密接",
    "high_risk_arrival": "高风险区来返人员",
    "medium_risk_arrival": "中风险区来返人员",
    "low_risk_arrival": "低风险区（风险县）来返人员",
    "spacetime_companion": "时空伴随者",
    "inbound": "入境人员",
    "yellow_code": "黄码人员",
    "red_code": "红码人员",
    "fever": "发热人员",
}

MEASURES: dict[str, str] = {
    "centralized_isolation": "集中隔离",
    "home_isolation": "居家隔离",
    "home_monitoring": "居家健康监测",
    "three_days_two_tests": "三天两检",
    "fever_clinic": "发热门诊就诊",
}
CENTRALIZED = "centralized_isolation"


class ProtocolError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Phase:
    measure: str
    days: int
    test_days: tuple[int, ...] = ()

    def check(self) -> None:
        if self.measure not in MEASURES:
            raise ProtocolError("measure", f"未知的管控措施：{self.measure}")
        if self.days < 0 or self.days > 60:
            raise ProtocolError("days", "管控天数须在 0–60 天之间")
        bad = [d for d in self.test_days if d < 1 or d > max(self.days, 1)]
        if bad:
            raise ProtocolError("test_days", f"核酸检测日 {bad} 超出管控天数 {self.days} 天")


@dataclass(frozen=True)
class Rule:
    category: str
    phases: tuple[Phase, ...]

    def check(self) -> None:
        if self.category not in CATEGORIES:
            raise ProtocolError("category", f"未知的人员类别：{self.category}")
        if not self.phases:
            raise ProtocolError("phases", f"{CATEGORIES[self.category]}：至少需要一个管控阶段")
        for p in self.phases:
            p.check()


@dataclass(frozen=True)
class Edition:
    key: str
    name: str
    effective_from: dt.date
    rules: dict[str, Rule] = field(default_factory=dict)


@dataclass(frozen=True)
class PlannedPhase:
    measure: str
    start: dt.date  # first day under the measure (day 1)
    end: dt.date  # last day under the measure
    test_dates: tuple[dt.date, ...]

    @property
    def label(self) -> str:
        return MEASURES.get(self.measure, self.measure)


@dataclass(frozen=True)
class Plan:
    edition_key: str
    edition_name: str
    category: str
    exposure_date: dt.date
    phases: tuple[PlannedPhase, ...]

    @property
    def start(self) -> dt.date:
        return self.phases[0].start

    @property
    def end(self) -> dt.date:
        return self.phases[-1].end

    @property
    def test_dates(self) -> tuple[dt.date, ...]:
        return tuple(d for p in self.phases for d in p.test_dates)

    @property
    def needs_centralized_isolation(self) -> bool:
        return any(p.measure == CENTRALIZED for p in self.phases)

    def measure_on(self, day: dt.date) -> str | None:
        for p in self.phases:
            if p.start <= day <= p.end:
                return p.measure
        return None

    def summary(self) -> str:
        parts = [f"{p.label}{(p.end - p.start).days + 1}天" for p in self.phases]
        return " + ".join(parts)


def edition_in_force(editions: Iterable[Edition], category: str, on: dt.date) -> Edition | None:
    candidates = [e for e in editions if e.effective_from <= on and category in e.rules]
    return max(candidates, key=lambda e: (e.effective_from, e.key), default=None)


def plan_case(editions: Sequence[Edition], category: str, exposure_date: dt.date,
              today: dt.date | None = None) -> Plan:
    if category not in CATEGORIES:
        raise ProtocolError("category", f"未知的人员类别：{category}")
    if today is not None and exposure_date > today:
        raise ProtocolError("exposure_future", f"暴露日期 {exposure_date} 晚于今天：请核对日期")
    edition = edition_in_force(editions, category, exposure_date)
    if edition is None:
        raise ProtocolError("no_rule", f"{exposure_date} 时没有适用于“{CATEGORIES[category]}”的防控方案：请先在方案版本中补充")
    rule = edition.rules[category]
    phases: list[PlannedPhase] = []
    day0 = exposure_date
    for phase in rule.phases:
        start = day0 + dt.timedelta(days=1)
        end = day0 + dt.timedelta(days=max(phase.days, 1))
        tests = tuple(day0 + dt.timedelta(days=k) for k in sorted(set(phase.test_days)))
        phases.append(PlannedPhase(phase.measure, start, end, tests))
        day0 = end
    return Plan(edition.key, edition.name, category, exposure_date, tuple(phases))


def describe_change(old: Plan | None, new: Plan) -> list[str]:
    """What a re-plan changes, in words a command-centre officer reads before confirming."""
    if old is None:
        return [f"新方案：{new.summary()}，{new.start}–{new.end}"]
    changes: list[str] = []
    if old.edition_key != new.edition_key:
        changes.append(f"方案版本：{old.edition_name} → {new.edition_name}")
    if old.summary() != new.summary():
        changes.append(f"措施：{old.summary()} → {new.summary()}")
    if old.end != new.end:
        changes.append(f"解除日期：{old.end} → {new.end}")
    if old.test_dates != new.test_dates:
        fmt = "、".join
        changes.append(f"检测日：{fmt(d.strftime('%m-%d') for d in old.test_dates) or '无'} → "
                       f"{fmt(d.strftime('%m-%d') for d in new.test_dates) or '无'}")
    return changes


def editions_from_data(data: dict[str, object]) -> list[Edition]:
    """Editions from the JSON layout of ``lianfang/control/data/editions-2022.json``."""
    out: list[Edition] = []
    raw_editions = data.get("editions")
    assert isinstance(raw_editions, list)
    for raw in raw_editions:
        rules = {
            category: Rule(category, tuple(Phase(m, int(d), tuple(int(t) for t in tests)) for m, d, tests in phases))
            for category, phases in raw["rules"].items()
        }
        for rule in rules.values():
            rule.check()
        out.append(Edition(raw["key"], raw["name"], dt.date.fromisoformat(raw["effective_from"]), rules))
    return out
