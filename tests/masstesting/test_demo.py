"""The demo holds a round in progress, loads quickly and reloads idempotently."""

from __future__ import annotations

import time

import pytest

from lianfang.control.demo import load_control_demo
from lianfang.core.demo import load_demo
from lianfang.masstesting.demo import load_masstesting_demo
from lianfang.masstesting.models import HomeRequest, Retest, Round, Sample, TubeResult


@pytest.mark.django_db
def test_demo_round_in_progress() -> None:
    summary = load_demo(persons=3000)
    load_control_demo(summary.subdistrict)
    started = time.monotonic()
    counts = load_masstesting_demo(summary.subdistrict)
    assert time.monotonic() - started < 20
    rnd = Round.objects.get()
    assert rnd.is_open and counts["samples"] == Sample.objects.count() > 1500
    assert TubeResult.objects.filter(result="positive").count() == 1
    assert Retest.objects.filter(status="pending").count() >= 5 and all(r.case_id for r in Retest.objects.all())
    assert set(HomeRequest.objects.values_list("status", flat=True)) >= {"requested", "assigned", "done"}
    assert rnd.tubes.filter(status="open").exists() and rnd.tubes.filter(status="closed", bag__isnull=True).exists()
    assert rnd.rules.filter(kind="household").exists()
    assert load_masstesting_demo(summary.subdistrict)["samples"] == counts["samples"]
