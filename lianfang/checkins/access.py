"""Who sees which roll-call groups (and so their rounds, replies, anomalies and questions)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.http import Http404

from lianfang.accounts.roles import Role
from lianfang.checkins.models import CheckinGroup
from lianfang.core.access import ScopeFilter
from lianfang.core.models import AuditEvent

if TYPE_CHECKING:
    from lianfang.accounts.models import User

ROLES = {Role.COMMAND, Role.SUPERVISOR, Role.CADRE, Role.GRID_WORKER, Role.GROUP_LEADER}


def groups_for_user(user: User) -> QuerySet[CheckinGroup]:
    if user.role not in ROLES or not user.scope_subdistrict_id:
        return CheckinGroup.objects.none()
    qs = CheckinGroup.objects.filter(subdistrict_id=user.scope_subdistrict_id)
    if user.is_command or user.role == Role.SUPERVISOR:
        return qs
    scope = ScopeFilter(user)
    grids = scope.grid_ids()
    if grids is not None:
        return qs.filter(Q(grid_id__in=grids) | Q(leader=user)).distinct()
    villages = scope.village_ids() or []
    return qs.filter(Q(village_id__in=villages) | Q(leader=user) | Q(cadres=user)).distinct()


def get_group_for_user(user: User, pk: int) -> CheckinGroup:
    group = groups_for_user(user).filter(pk=pk).select_related("village", "leader").first()
    if group is None:
        AuditEvent.objects.create(user=user, action=AuditEvent.Action.DENIED, object_type="checkin_group",
                                  object_id=str(pk))
        raise Http404("不存在，或不在您的管辖范围内")
    return group
