"""Two tabs at once: two requests for the same shift must not both wait; a form sent thrice makes one team."""

from __future__ import annotations

from functools import partial

import pytest
from django.db import connection

from lianfang.rosters import services
from lianfang.rosters.models import Roster, SwapRequest, Team
from tests.concurrency import run_together
from tests.rosters.conftest import RosterWorld, place

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)")
def test_two_requests_for_one_shift_at_once_leave_one_waiting(rw: RosterWorld, published: Roster) -> None:
    give = place(published, rw.staff["v1"], published.dates()[2], "M")

    def ask(partner: str, nonce: str) -> str:
        try:
            services.request_swap(rw.staff["v1"], give, rw.staff[partner], None, reason="", nonce=nonce,
                                  user=rw.w.users["volunteer"])
            return "waiting"
        except services.RosterServiceError as exc:
            return exc.code

    for attempt in range(3):  # each round starts from no open request
        SwapRequest.objects.all().delete()
        outcomes = run_together(partial(ask, "l1", f"a{attempt}"), partial(ask, "l2", f"b{attempt}"))
        assert sorted(outcomes) == ["swap_waiting", "waiting"], outcomes  # type: ignore[type-var]
        assert SwapRequest.objects.filter(give=give, status__in=SwapRequest.OPEN_STATUSES).count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)")
def test_a_team_form_sent_three_times_at_once_makes_one_team(rw: RosterWorld) -> None:
    def create(name: str) -> str:
        try:
            services.create_team(rw.w.sub, rw.w.users["command"], name=name, kind="squad")
            return "created"
        except services.RosterServiceError as exc:
            return exc.code

    for attempt in range(3):
        outcomes = run_together(*[partial(create, f"并发测试队{attempt}")] * 3)
        assert sorted(outcomes) == ["created", "team_twin", "team_twin"], outcomes  # type: ignore[type-var]
        assert Team.objects.filter(name=f"并发测试队{attempt}").count() == 1
