"""Two devices at once: the same person sampled at two lanes, the same queue sent twice."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from lianfang.masstesting import services
from lianfang.masstesting.models import Sample, Tube
from tests.concurrency import run_together
from tests.masstesting.conftest import MT

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)")
def test_concurrent_devices_never_double_count(mt: MT) -> None:
    vol = mt.users["volunteer"]
    for code in ("A1", "A2"):
        services.open_tube(mt.rnd, code, vol, site=mt.site, pool_size=5)

    def sample(code: str, nonce: str, person_id: int = mt.w.zhang.pk) -> list[services.SampleOut]:
        return services.record_samples(vol, mt.rnd, [services.SampleIn(nonce=nonce, tube=code, person_id=person_id)])

    a, b = run_together(lambda: sample("A1", uuid.uuid4().hex), lambda: sample("A2", uuid.uuid4().hex))
    outs = [a[0], b[0]]  # type: ignore[index]
    assert all(o.ok for o in outs) and sorted(o.duplicate for o in outs) == [False, True]
    assert Sample.objects.filter(person=mt.w.zhang, first=True).count() == 1
    n = uuid.uuid4().hex  # one device's retry racing its first send: another person, once
    run_together(lambda: sample("A1", n, mt.w.wang.pk), lambda: sample("A1", n, mt.w.wang.pk))
    assert Sample.objects.filter(nonce=n).count() == 1
    # The same person into the same tube from two devices at once (two taps): once, by the constraint.
    run_together(lambda: sample("A2", uuid.uuid4().hex, mt.w.li.pk), lambda: sample("A2", uuid.uuid4().hex, mt.w.li.pk))
    assert Sample.objects.filter(tube__barcode="A2", person=mt.w.li).count() == 1
    assert Tube.objects.get(barcode="A2").count == Sample.objects.filter(tube__barcode="A2").count()
    assert Tube.objects.get(barcode="A1").count == Sample.objects.filter(tube__barcode="A1").count()
