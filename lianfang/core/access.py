"""Who may see what: one helper per object type, used by every page, export and API route.

A user's scope is a place (sub-district, village, grid) or a gate. Objects outside the scope do
not exist for that user: the ``get_*_for_user`` helpers raise ``Http404`` rather than 403, so that
probing IDs tells nothing. Each refusal of a direct lookup is audited.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.http import Http404

from lianfang.core.models import AuditEvent, Building, Grid, Household, Person, Village

if TYPE_CHECKING:
    from lianfang.accounts.models import User


class ScopeFilter:
    """The places a user's scope covers, as lookups usable on any place-bearing model."""

    def __init__(self, user: User) -> None:
        self.user = user

    def village_ids(self) -> list[int] | None:
        """Villages in scope, or None when the whole sub-district is in scope.

        Evaluated to a short list so that the planner sees ``village_id IN (1, 2)`` and uses the
        (village, …) indexes instead of a sub-select.
        """
        u = self.user
        if u.scope_village_id:
            return [u.scope_village_id]
        if u.scope_grid_id:
            return list(Village.objects.filter(grids__pk=u.scope_grid_id).values_list("pk", flat=True))
        if u.scope_gate_id:
            gate = u.scope_gate
            assert gate is not None
            if gate.village_id:
                return [gate.village_id]
            return list(Village.objects.filter(
                zone_memberships__zone=gate.zone, zone_memberships__valid_to__isnull=True).values_list("pk", flat=True))
        return None

    def grid_ids(self) -> list[int] | None:
        gid = self.user.scope_grid_id
        if not gid:
            return None
        # A grid covers its micro-grids too.
        return [gid, *Grid.objects.filter(parent_id=gid).values_list("pk", flat=True)]

    def q(self, village_field: str = "village", grid_field: str | None = "grid",
          subdistrict_field: str = "village__subdistrict") -> Q:
        u = self.user
        if not u.is_active or (not u.scope_subdistrict_id and not u.is_superuser):
            return Q(pk__in=[])
        if u.is_superuser and not u.scope_subdistrict_id:
            return Q()
        q = Q(**{f"{subdistrict_field}_id": u.scope_subdistrict_id})
        grids = self.grid_ids()
        if grids is not None:
            if grid_field is None:
                return Q(pk__in=[])
            return q & Q(**{f"{grid_field}_id__in": grids})
        villages = self.village_ids()
        if villages is not None:
            q &= Q(**{f"{village_field}_id__in": villages})
        return q


def denied(user: User, object_type: str, object_id: object) -> Http404:
    """A refusal: audited, and answered as 404 so that probing ids tells nothing."""
    AuditEvent.objects.create(
        user=user, action=AuditEvent.Action.DENIED, object_type=object_type, object_id=str(object_id)
    )
    return Http404("不存在，或不在您的管辖范围内")


def villages_for_user(user: User) -> QuerySet[Village]:
    if not user.can_view_register:
        return Village.objects.none()
    scope = ScopeFilter(user)
    qs = Village.objects.all()
    if user.scope_subdistrict_id:
        qs = qs.filter(subdistrict_id=user.scope_subdistrict_id)
    villages = scope.village_ids()
    return qs.filter(pk__in=villages) if villages is not None else qs


def get_village_for_user(user: User, pk: int) -> Village:
    try:
        return villages_for_user(user).get(pk=pk)
    except Village.DoesNotExist:
        raise denied(user, "village", pk) from None


def grids_for_user(user: User) -> QuerySet[Grid]:
    if not user.can_view_register:
        return Grid.objects.none()
    scope = ScopeFilter(user)
    grids = scope.grid_ids()
    qs = Grid.objects.filter(village__in=villages_for_user(user))
    return qs.filter(pk__in=grids) if grids is not None else qs


def buildings_for_user(user: User) -> QuerySet[Building]:
    if not user.can_view_register:
        return Building.objects.none()
    return Building.objects.filter(ScopeFilter(user).q())


def households_for_user(user: User) -> QuerySet[Household]:
    if not user.can_view_register:
        return Household.objects.none()
    return Household.objects.filter(ScopeFilter(user).q())


def get_household_for_user(user: User, pk: int) -> Household:
    try:
        return households_for_user(user).select_related("village", "grid", "building").get(pk=pk)
    except Household.DoesNotExist:
        raise denied(user, "household", pk) from None


def persons_for_user(user: User) -> QuerySet[Person]:
    if not user.can_view_register:
        return Person.objects.none()
    return Person.objects.filter(ScopeFilter(user).q(subdistrict_field="subdistrict"))


def get_person_for_user(user: User, pk: int) -> Person:
    try:
        return persons_for_user(user).select_related("village", "grid", "household__building").get(pk=pk)
    except (Person.DoesNotExist, ValueError):
        raise denied(user, "person", pk) from None
