"""Who sees and does what in mass testing: one helper per object type. Refusals answer 404 (and are
audited) so that probing ids tells nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from lianfang.accounts.roles import Role
from lianfang.core.access import ScopeFilter, denied
from lianfang.core.models import Person
from lianfang.masstesting.models import HomeRequest, Round, Site
from lianfang.masstesting.services import Scope, round_village_ids

if TYPE_CHECKING:
    from lianfang.accounts.models import User

# Who takes part in a round at all.
ROUND_ROLES = {Role.COMMAND, Role.SUPERVISOR, Role.CADRE, Role.GRID_WORKER, Role.GROUP_LEADER, Role.SAMPLING_LEAD,
               Role.VOLUNTEER}
# Who sees coverage and results of the people in their scope.
COVERAGE_ROLES = {Role.COMMAND, Role.SUPERVISOR, Role.CADRE, Role.GRID_WORKER, Role.GROUP_LEADER, Role.SAMPLING_LEAD}
# Who sees test results (positives, re-checks) of the people in their scope: not the samplers.
RESULT_ROLES = COVERAGE_ROLES - {Role.SAMPLING_LEAD}
# Who plans rounds, sites and rules, imports results and closes rounds.
PLAN_ROLES = {Role.COMMAND}
# Who registers exemptions and asks for home sampling (for the people in their scope).
EXEMPT_ROLES = {Role.COMMAND, Role.CADRE, Role.GRID_WORKER}
# Who sends home-sampling teams.
DISPATCH_ROLES = {Role.COMMAND, Role.CADRE, Role.SAMPLING_LEAD}
HANDOVER_ROLES = {Role.COMMAND, Role.SAMPLING_LEAD, Role.VOLUNTEER}


def _has(user: User, roles: set[Role]) -> bool:
    return bool(user.is_active and user.role in roles and user.scope_subdistrict_id)


def may_plan(user: User) -> bool:
    return _has(user, PLAN_ROLES)


def may_exempt(user: User) -> bool:
    return _has(user, EXEMPT_ROLES)


def may_dispatch(user: User) -> bool:
    return _has(user, DISPATCH_ROLES)


def may_hand_over(user: User) -> bool:
    """Hand bags over to the lab: the people at the sampling points, and the command centre."""
    return _has(user, HANDOVER_ROLES)


def dispatchable_staff(user: User, rnd: Round) -> QuerySet[User]:
    """Who a dispatcher may send to a home sampling: the round's sub-district staff of the sampling
    roles, and for a dispatcher scoped to villages (a village cadre) only those of their own
    villages or of no village (sub-district teams), so that a cadre never sees other villages' staff."""
    from lianfang.accounts import models as accounts

    qs = accounts.User.objects.filter(scope_subdistrict_id=rnd.subdistrict_id, is_active=True,
                                      role__in=[Role.VOLUNTEER, Role.SAMPLING_LEAD, Role.CADRE])
    villages = ScopeFilter(user).village_ids()
    if villages is None or user.role == Role.COMMAND:
        return qs.order_by("username")
    own = (Q(scope_village_id__in=villages) | Q(scope_grid__village_id__in=villages)
           | Q(scope_village__isnull=True, scope_grid__isnull=True, scope_gate__isnull=True))
    return qs.filter(own).order_by("username")


def may_see_coverage(user: User) -> bool:
    return _has(user, COVERAGE_ROLES)


def may_see_results(user: User) -> bool:
    return _has(user, RESULT_ROLES)


def stats_scope(user: User, rnd: Round) -> Scope | None:
    """None (the whole round) for the command centre and the supervisor, else the user's people."""
    return None if user.is_command or user.role == Role.SUPERVISOR else scope_for(user, rnd)


def rounds_for_user(user: User) -> QuerySet[Round]:
    if not _has(user, ROUND_ROLES):
        return Round.objects.none()
    qs = Round.objects.filter(subdistrict_id=user.scope_subdistrict_id or 0)
    villages = ScopeFilter(user).village_ids()
    if villages is None:
        return qs
    return qs.filter(Q(villages__in=villages) | Q(sites__staff=user) | Q(sites__lead=user)
                     | Q(home_requests__assignees=user)).distinct()


def get_round_for_user(user: User, pk: int) -> Round:
    rnd = rounds_for_user(user).filter(pk=pk).select_related("subdistrict").first()
    if rnd is None:
        raise denied(user, "test_round", pk)
    return rnd


def scope_for(user: User, rnd: Round) -> Scope:
    """The people of the round this user may see (coverage, results, untested lists)."""
    if not may_see_coverage(user) or user.scope_subdistrict_id != rnd.subdistrict_id:
        return Scope(())
    f = ScopeFilter(user)
    in_round = round_village_ids(rnd)
    villages = f.village_ids()
    ids = sorted(in_round if villages is None else in_round & set(villages))
    grids = f.grid_ids()
    return Scope(tuple(ids), tuple(grids) if grids is not None else None)


def sites_for_user(user: User, rnd: Round) -> QuerySet[Site]:
    qs = Site.objects.filter(round=rnd)
    if not _has(user, ROUND_ROLES):
        return qs.none()
    if user.role in {Role.COMMAND, Role.SUPERVISOR}:
        return qs
    villages = ScopeFilter(user).village_ids() or []
    if user.role == Role.VOLUNTEER:
        return qs.filter(Q(staff=user) | Q(lead=user)).distinct()
    return qs.filter(Q(village_id__in=villages) | Q(staff=user) | Q(lead=user)).distinct()


def get_site_for_user(user: User, rnd: Round, pk: int) -> Site:
    site = sites_for_user(user, rnd).filter(pk=pk).select_related("village").first()
    if site is None:
        raise denied(user, "sampling_site", pk)
    return site


def may_sample_at(user: User, site: Site) -> bool:
    """The site's lead and staff, a sampling lead of its village, and the command centre."""
    if not user.is_active:
        return False
    if user.is_command:
        return True
    if site.lead_id == user.pk or any(u.pk == user.pk for u in site.staff.all()):  # prefetched on lists
        return True
    if user.role == Role.SAMPLING_LEAD:
        villages = ScopeFilter(user).village_ids()
        return villages is None or site.village_id in villages
    return False


def home_requests_for_user(user: User, rnd: Round) -> QuerySet[HomeRequest]:
    qs = HomeRequest.objects.filter(round=rnd)
    if not _has(user, ROUND_ROLES):
        return qs.none()
    if user.role in {Role.COMMAND, Role.SUPERVISOR}:
        return qs
    if user.role == Role.VOLUNTEER:
        return qs.filter(assignees=user)
    f = ScopeFilter(user)
    grids = f.grid_ids()
    if grids is not None:
        return qs.filter(Q(person__grid_id__in=grids) | Q(assignees=user)).distinct()
    return qs.filter(Q(village_id__in=f.village_ids() or []) | Q(assignees=user)).distinct()


def get_home_request_for_user(user: User, rnd: Round, pk: int) -> HomeRequest:
    req = home_requests_for_user(user, rnd).filter(pk=pk).select_related("person__household__building").first()
    if req is None:
        raise denied(user, "home_request", pk)
    return req


def may_home_sample(user: User, req: HomeRequest) -> bool:
    if user.is_command:
        return True
    if any(u.pk == user.pk for u in req.assignees.all()):  # prefetched on lists
        return True
    if user.role in {Role.SAMPLING_LEAD, Role.CADRE}:
        villages = ScopeFilter(user).village_ids()
        return villages is None or req.village_id in villages
    return False


def may_sample_in(user: User, rnd: Round) -> bool:
    """Anyone who may sample at one of the round's sites or visit one of its homes."""
    if user.is_command:
        return True
    return any(may_sample_at(user, s) for s in sites_for_user(user, rnd)) or \
        home_requests_for_user(user, rnd).filter(assignees=user).exists()


def sampling_persons(rnd: Round) -> QuerySet[Person]:
    """Whom a sampler may look up: anyone in the round's villages (people may test at any site of
    the round). Pages show the name and the masked ID only."""
    return Person.objects.filter(village_id__in=round_village_ids(rnd))
