"""Reader of Curtois & Qu's shift-scheduling benchmark instances (``Instance1.txt`` … ``Instance24.txt``).

The text format (schedulingbenchmarks.org, "NRP" instances): ``#`` comment lines, sections
separated by blank lines, comma-separated fields, ``|``-separated lists inside a field:

* ``SECTION_HORIZON``: number of days (every instance starts on a Monday);
* ``SECTION_SHIFTS``: ``ShiftID, LengthInMinutes, CannotFollow`` (shifts not allowed the next day);
* ``SECTION_STAFF``: ``ID, MaxShifts (S=n|…), MaxTotalMinutes, MinTotalMinutes, MaxConsecutiveShifts,
  MinConsecutiveShifts, MinConsecutiveDaysOff, MaxWeekends``;
* ``SECTION_DAYS_OFF``: ``EmployeeID, Day, Day, …``;
* ``SECTION_SHIFT_ON_REQUESTS`` / ``SECTION_SHIFT_OFF_REQUESTS``: ``EmployeeID, Day, ShiftID, Weight``;
* ``SECTION_COVER``: ``Day, ShiftID, Requirement, WeightForUnder, WeightForOver``.

The result is a :class:`lianfang.engines.roster.Problem` whose objective is the benchmark's: the
weights of unmet on-requests and granted off-requests plus weighted under- and over-cover. The
benchmark's hard rules map one to one onto the roster engine's, including its convention that
minimum run lengths do not apply to runs touching either end of the horizon.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from lianfang.engines.roster import Demand, Problem, Request, ShiftType, Staff

SECTIONS = (
    "SECTION_HORIZON",
    "SECTION_SHIFTS",
    "SECTION_STAFF",
    "SECTION_DAYS_OFF",
    "SECTION_SHIFT_ON_REQUESTS",
    "SECTION_SHIFT_OFF_REQUESTS",
    "SECTION_COVER",
)


class NrpFormatError(ValueError):
    """A malformed instance file; the message (Chinese) names the line."""


@dataclass(frozen=True)
class _Line:
    number: int
    fields: list[str]


def _sections(text: str) -> dict[str, list[_Line]]:
    out: dict[str, list[_Line]] = {}
    current: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("SECTION_"):
            if line not in SECTIONS:
                raise NrpFormatError(f"第 {number} 行：未知的段落 {line}。")
            if line in out:
                raise NrpFormatError(f"第 {number} 行：段落 {line} 重复出现。")
            current = line
            out[current] = []
            continue
        if current is None:
            raise NrpFormatError(f"第 {number} 行：数据出现在任何段落之前。")
        out[current].append(_Line(number, [f.strip() for f in line.split(",")]))
    for name in ("SECTION_HORIZON", "SECTION_SHIFTS", "SECTION_STAFF"):
        if name not in out:
            raise NrpFormatError(f"缺少段落 {name}。")
    return out


def _int(line: _Line, i: int, what: str) -> int:
    try:
        return int(line.fields[i])
    except IndexError:
        raise NrpFormatError(f"第 {line.number} 行：缺少字段「{what}」。") from None
    except ValueError:
        raise NrpFormatError(f"第 {line.number} 行：字段「{what}」应为整数（收到：{line.fields[i]!r}）。") from None


def _field(line: _Line, i: int, what: str) -> str:
    if i >= len(line.fields) or (not line.fields[i] and what != "禁止衔接"):
        raise NrpFormatError(f"第 {line.number} 行：缺少字段「{what}」。")
    return line.fields[i]


def parse(text: str) -> Problem:
    """The instance in ``text`` as a roster problem (raises NrpFormatError on malformed input)."""
    sec = _sections(text)
    horizon = sec["SECTION_HORIZON"]
    if len(horizon) != 1:
        raise NrpFormatError("SECTION_HORIZON 应只有一行天数。")
    days = _int(horizon[0], 0, "天数")
    shifts: list[ShiftType] = []
    for line in sec["SECTION_SHIFTS"]:
        follow = _field(line, 2, "禁止衔接") if len(line.fields) > 2 else ""
        shifts.append(ShiftType(
            id=_field(line, 0, "班次编号"),
            minutes=_int(line, 1, "时长"),
            forbidden_next=frozenset(s.strip() for s in follow.split("|") if s.strip()),
        ))
    days_off: dict[str, set[int]] = {}
    for line in sec.get("SECTION_DAYS_OFF", []):
        sid = _field(line, 0, "人员编号")
        days_off.setdefault(sid, set()).update(_int(line, i, "休息日") for i in range(1, len(line.fields)) if line.fields[i])
    staff: list[Staff] = []
    for line in sec["SECTION_STAFF"]:
        sid = _field(line, 0, "人员编号")
        max_shifts: dict[str, int] = {}
        for item in _field(line, 1, "各班次上限").split("|"):
            shift, sep, most = item.partition("=")
            if not sep:
                raise NrpFormatError(f"第 {line.number} 行：班次上限应写成 班次=次数（收到：{item!r}）。")
            try:
                max_shifts[shift.strip()] = int(most)
            except ValueError:
                raise NrpFormatError(f"第 {line.number} 行：班次上限应为整数（收到：{item!r}）。") from None
        staff.append(Staff(
            id=sid,
            max_shifts=max_shifts,
            max_minutes=_int(line, 2, "最多工时"),
            min_minutes=_int(line, 3, "最少工时"),
            max_consecutive=_int(line, 4, "最多连续上班"),
            min_consecutive=_int(line, 5, "最少连续上班"),
            min_consecutive_off=_int(line, 6, "最少连续休息"),
            max_weekends=_int(line, 7, "周末上限"),
            days_off=frozenset(days_off.pop(sid, set())),
        ))
    if days_off:
        raise NrpFormatError(f"SECTION_DAYS_OFF 中有未知人员：{'、'.join(sorted(days_off))}。")
    requests: list[Request] = []
    for name, on in (("SECTION_SHIFT_ON_REQUESTS", True), ("SECTION_SHIFT_OFF_REQUESTS", False)):
        for line in sec.get(name, []):
            requests.append(Request(staff=_field(line, 0, "人员编号"), day=_int(line, 1, "日期"),
                                    shift=_field(line, 2, "班次编号"), on=on, weight=_int(line, 3, "权重")))
    demand = [
        Demand(day=_int(line, 0, "日期"), shift=_field(line, 1, "班次编号"), required=_int(line, 2, "需求人数"),
               under_weight=_int(line, 3, "缺员权重"), over_weight=_int(line, 4, "超员权重"))
        for line in sec.get("SECTION_COVER", [])
    ]
    return Problem(days=days, shifts=tuple(shifts), staff=tuple(staff), demand=tuple(demand), requests=tuple(requests))


def read_instance(path: str | Path) -> Problem:
    """Read an instance file (``Instance1.txt`` …)."""
    return parse(Path(path).read_text(encoding="utf-8"))


def read_best_known(path: str | Path) -> dict[str, tuple[int, int | None]]:
    """``best_known.csv`` as instance name -> (best upper bound, lower bound or None)."""
    out: dict[str, tuple[int, int | None]] = {}
    with Path(path).open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            lb = row.get("lower_bound") or ""
            out[row["instance"]] = (int(row["best_upper_bound"]), int(lb) if lb.strip() else None)
    return out
