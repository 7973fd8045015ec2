"""Background work of rosters, run by the django-tasks database worker."""

from __future__ import annotations

from django_tasks import task

from lianfang.rosters import services
from lianfang.rosters.models import Roster


@task()
def solve_roster(roster_id: int) -> str:
    roster = Roster.objects.get(pk=roster_id)
    if roster.status != Roster.Status.SOLVING:  # a retried task never overwrites a finished solve
        return roster.status
    return services.run_solve(roster).status
