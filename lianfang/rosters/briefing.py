"""The morning briefing (早会) of a gate for a day: who is on each shift, yesterday's counts and
problems, the protocol in force and what changed, the command centre's notices, open escalations."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from django.utils import timezone

from lianfang.checkins.models import Notice
from lianfang.checkpoints.models import Assessment, Gate, Scan
from lianfang.control.models import InboxItem, ProtocolEdition, Sop
from lianfang.engines import screening
from lianfang.rosters import services
from lianfang.rosters.models import Assignment, Roster


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.make_aware(dt.datetime.combine(day, dt.time()))
    return start, start + dt.timedelta(days=1)


NIGHT_BEFORE_DAWN_MINUTES = 6 * 60  # a shift starting before 06:00 belongs to the night after the day


def build(gate: Gate, day: dt.date) -> dict[str, Any]:
    pattern = services.pattern_for(gate)
    # The meeting opens the day: a shift starting before dawn (00:00–08:00) has just ended, so the
    # one listed is tonight's, on the next day's date.
    on_duty: dict[tuple[dt.date, str], list[Assignment]] = defaultdict(list)
    for a in (Assignment.objects.filter(gate=gate, date__in=[day, day + dt.timedelta(days=1)],
                                        roster__status=Roster.Status.PUBLISHED)
              .select_related("staff").order_by("staff__kind", "staff__name")):
        on_duty[(a.date, a.shift_code)].append(a)
    # Between an early end and the next roster's publication a gate has no crew on record: say so
    # (an empty shift alone reads as a gap in a roster that is there). Tonight's crew belongs to
    # tomorrow's date, which may be past the roster's last day.
    covered = {d for d in (day, day + dt.timedelta(days=1)) if not services.unstaffed_on([gate], d)}
    # The published roster's known gaps: the chief plans around them at the meeting (e.g. who covers
    # the missing medic), so the sheet says them next to the names, as the roster grid does.
    gaps = services.gap_labels(
        Roster.objects.filter(status=Roster.Status.PUBLISHED, gates=gate, start_date__lte=day + dt.timedelta(days=1)),
        [gate.pk], [day.isoformat(), (day + dt.timedelta(days=1)).isoformat()])
    away = services.on_leave(a for crew in on_duty.values() for a in crew)  # leave recorded since publishing
    shifts = []
    uncovered: set[dt.date] = set()  # days the sheet's shifts lack a roster
    for sh in pattern.shifts:
        date = day + dt.timedelta(days=1) if sh["start"] % 1440 < NIGHT_BEFORE_DAWN_MINUTES else day
        label = services.shift_label(sh) + (f"（{date:%m月%d日}凌晨，今晚接班）" if date != day else "")
        crew = on_duty.get((date, sh["code"]), [])
        shifts.append({"label": label, "people": crew, "covered": date in covered,
                       "gaps": gaps.get((gate.pk, date.isoformat(), sh["name"]), []),
                       "away": {a.pk: away[a.pk] for a in crew if a.pk in away}})
        if date not in covered:
            uncovered.add(date)

    yesterday = day - dt.timedelta(days=1)
    y_start, y_end = _day_bounds(yesterday)
    scans = Scan.objects.filter(gate=gate, device_time__gte=y_start, device_time__lt=y_end)
    outcomes = Counter(scans.values_list("outcome", flat=True))
    assessments = Assessment.objects.filter(gate=gate, scan__device_time__gte=y_start, scan__device_time__lt=y_end)
    decisions = Counter(a.get_decision_display() or "待研判" for a in assessments)
    escalations = InboxItem.objects.filter(subdistrict=gate.subdistrict, kind=InboxItem.Kind.GATE,
                                           title__startswith=f"{gate.name}：")
    y_attendance = services.attendance(
        Assignment.objects.filter(gate=gate, date=yesterday, roster__status=Roster.Status.PUBLISHED)
        .select_related("staff").prefetch_related("attendance"))
    problems = [f"{r.assignment.staff.name}（{r.assignment.shift_name}）{r.label}" for r in y_attendance
                if r.flagged]

    d_start, _ = _day_bounds(day)
    in_force = (ProtocolEdition.objects.filter(subdistrict=gate.subdistrict, status=ProtocolEdition.Status.PUBLISHED,
                                               effective_from__lte=day).exclude(gate_rules={})
                .order_by("-effective_from", "-pk").first())
    changes = ProtocolEdition.objects.filter(subdistrict=gate.subdistrict, status=ProtocolEdition.Status.PUBLISHED,
                                             effective_from__gt=day - dt.timedelta(days=7), effective_from__lte=day)
    notices = Notice.objects.filter(subdistrict=gate.subdistrict, created_at__gte=d_start - dt.timedelta(days=3),
                                    created_at__lt=d_start + dt.timedelta(days=1))
    return {
        "shifts": shifts, "uncovered": sorted(uncovered),
        "yesterday": yesterday, "yesterday_over": yesterday < timezone.localdate(),
        "scan_total": sum(outcomes.values()),
        "outcomes": [(screening.OUTCOMES.get(k, k), outcomes.get(k, 0)) for k in screening.OUTCOMES],
        "redirects": outcomes.get("assess", 0), "assessments": sorted(decisions.items()),
        "escalations_yesterday": escalations.filter(created_at__gte=y_start, created_at__lt=y_end).count(),
        "open_escalations": list(escalations.exclude(status=InboxItem.Status.DONE).order_by("created_at")[:10]),
        "attendance_problems": problems, "edition": in_force, "changes": list(changes), "notices": list(notices[:5]),
        "sops": list(Sop.objects.filter(subdistrict=gate.subdistrict, applies_to="inbox:gate")[:5]),
    }
