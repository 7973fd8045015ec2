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

    def sample(code: str, nonce: str) -> list[services.SampleOut]:
        return services.record_samples(vol, mt.rnd, [services.SampleIn(nonce=nonce, tube=code,
                                                                        person_id=mt.w.zhang.pk)])

    a, b = run_together(lambda: sample("A1", uuid.uuid4().hex), lambda: sample("A2", uuid.uuid4().hex))
    outs = [a[0], b[0]]  # type: ignore[index]
    assert all(o.ok for o in outs) and sorted(o.duplicate for o in outs) == [False, True]
    assert Sample.objects.filter(person=mt.w.zhang, first=True).count() == 1
    n = uuid.uuid4().hex
    run_together(lambda: sample("A1", n), lambda: sample("A1", n))
    assert Sample.objects.filter(nonce=n).count() == 1
    assert Tube.objects.get(barcode="A1").count == Sample.objects.filter(tube__barcode="A1").count()
