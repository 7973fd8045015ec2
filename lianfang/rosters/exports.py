"""Roster documents: the printable PDF (WeasyPrint, Debian's Noto CJK fonts), Excel and iCalendar."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

from lianfang.checkpoints.models import Gate
from lianfang.core.importer import safe_cell
from lianfang.rosters import services
from lianfang.rosters.models import Assignment, CancelledShift, Roster, requirement_short_label


def pdf(template: str, context: dict[str, Any]) -> bytes:
    from weasyprint import HTML  # imported here: loading Pango is slow and only PDFs need it

    return bytes(HTML(string=render_to_string(template, context)).write_pdf())


def roster_xlsx(roster: Roster, gates: Iterable[Gate], *, with_phones: bool) -> bytes:
    """One sheet per gate (dates down, shifts across, gaps in the cells), one list of every shift
    and one of the gaps with their reasons."""
    wb = Workbook()
    wb.remove(wb.worksheets[0])
    head = Font(bold=True)
    weekend = PatternFill("solid", fgColor="FDECEA")
    rows: list[list[Any]] = []
    gates = list(gates)
    # The roster's known gaps, as on the page and the PDF: in the cells and listed with their reasons.
    names = {g.pk: g.name for g in gates}
    gaps = services.gap_labels([roster], names)
    short_rows = [[dt.date.fromisoformat(short["date"]), short["shift"], names[short["gate_id"]],
                   requirement_short_label(short["skill"]) if short.get("skill") else "任何人", short["required"],
                   short["assigned"], short["missing"], short.get("reason", "")]
                  for short in roster.shortfalls if short.get("gate_id") in names]
    for gate in gates:
        shifts = services.pattern_for(gate).shifts
        ws = wb.create_sheet(gate.name[:31])
        ws.append([f"{roster.name}（{roster.start_date:%Y-%m-%d} 至 {roster.end_date:%Y-%m-%d}）{gate.name}"])
        ws.append(["日期", "星期", *[services.shift_label(s) for s in shifts]])
        for cell in ws[2]:
            cell.font = head
        people: dict[tuple[dt.date, str], list[str]] = {}
        for a in roster.assignments.filter(gate=gate).select_related("staff").order_by("staff__kind", "staff__name"):
            people.setdefault((a.date, a.shift_code), []).append(f"{a.staff.name}（{a.staff.get_kind_display()}）")
            rows.append([a.date, a.shift_name, gate.name, a.staff.name, a.staff.get_kind_display(),
                         a.staff.phone_number() if with_phones else a.staff.phone_masked,
                         timezone.localtime(a.starts_at).strftime("%Y-%m-%d %H:%M"),
                         timezone.localtime(a.ends_at).strftime("%Y-%m-%d %H:%M")])
        for day in roster.dates():
            ws.append([day, "一二三四五六日"[day.weekday()],
                       *[safe_cell("\n".join(people.get((day, s["code"]), [])
                                              + gaps.get((gate.pk, day.isoformat(), s["name"]), []))) for s in shifts]])
            if day.weekday() >= 5:
                for cell in ws[ws.max_row]:
                    cell.fill = weekend
            for cell in ws[ws.max_row]:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.column_dimensions["A"].width = 12
        for col in "CDEFG":
            ws.column_dimensions[col].width = 30
    ws = wb.create_sheet("全部班次")
    ws.append(["日期", "班次", "卡口", "姓名", "类别", "手机号", "开始", "结束"])
    for row in sorted(rows, key=lambda r: (r[0], r[6], r[2])):
        ws.append([safe_cell(v) for v in row])
    ws = wb.create_sheet("缺员清单")
    ws.append(["日期", "班次", "卡口", "缺何人", "需要", "已排", "缺", "原因"])
    for row in sorted(short_rows, key=lambda r: (r[0], r[2], r[1])):
        ws.append([safe_cell(v) for v in row])
    if not short_rows:
        ws.append(["无缺员"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def ical(assignments: Iterable[Assignment], name: str, *, with_person: bool = True,
         cancelled: Iterable[CancelledShift] = ()) -> bytes:
    """An iCalendar file: one event per shift, with a stable UID so a re-import updates it.

    A gate's calendar names the person in each event's title (calendar apps show only titles);
    a person's own calendar (``with_person=False``) does not repeat their name. ``cancelled`` shifts
    (a roster ended early) keep their UID with STATUS:CANCELLED, so the calendar drops them too."""
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//Lianfang//Roster//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    stamp = timezone.now()
    for a in assignments:
        ev = Event()
        ev.add("uid", f"assignment-{a.pk}@lianfang")
        ev.add("dtstamp", stamp)
        ev.add("dtstart", a.starts_at)
        ev.add("dtend", a.ends_at)
        ev.add("summary", f"{a.shift_name} · {a.gate.name}" + (f" · {a.staff.name}" if with_person else ""))
        ev.add("description", f"{a.staff.name}（{a.staff.get_kind_display()}）")
        ev.add("location", a.gate.name)
        cal.add_component(ev)
    for c in cancelled:
        if c.assignment_pk is None:
            continue
        ev = Event()
        ev.add("uid", f"assignment-{c.assignment_pk}@lianfang")
        ev.add("dtstamp", stamp)
        ev.add("dtstart", c.starts_at)
        ev.add("summary", f"已取消：{c.shift_name} · {c.gate_name}")
        ev.add("description", f"排班表提前结束，原因：{c.reason}")
        ev.add("status", "CANCELLED")
        cal.add_component(ev)
    return bytes(cal.to_ical())
