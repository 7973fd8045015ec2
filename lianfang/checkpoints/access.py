"""Who sees which gates, scans and assessments."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.http import Http404

from lianfang.accounts.roles import Role
from lianfang.checkpoints.models import Assessment, Gate, Scan
from lianfang.core.access import ScopeFilter
from lianfang.core.models import AuditEvent

if TYPE_CHECKING:
    from lianfang.accounts.models import User

GATE_ROLES = {Role.GATE_CHIEF, Role.GATE_STAFF}


def gates_for_user(user: User) -> QuerySet[Gate]:
    """The command centre and supervisors see every gate of the sub-district; gate staff their own;
    a village cadre the gates of their village and of its zone."""
    if not user.scope_subdistrict_id:
        return Gate.objects.none()
    qs = Gate.objects.filter(subdistrict_id=user.scope_subdistrict_id)
    if user.is_command or user.role == Role.SUPERVISOR:
        return qs
    if user.scope_gate_id:
        return qs.filter(pk=user.scope_gate_id)
    if user.role == Role.CADRE:
        villages = ScopeFilter(user).village_ids() or []
        return qs.filter(Q(village_id__in=villages) | Q(zone__memberships__village_id__in=villages,
                                                        zone__memberships__valid_to__isnull=True)).distinct()
    return qs.none()


def get_gate_for_user(user: User, pk: int, *, to_scan: bool = False) -> Gate:
    gate = gates_for_user(user).filter(pk=pk).select_related("zone", "subdistrict").first()
    if gate is None or (to_scan and not may_scan(user)):
        AuditEvent.objects.create(user=user, action=AuditEvent.Action.DENIED, object_type="gate", object_id=str(pk))
        raise Http404("不存在，或不在您的管辖范围内")
    return gate


def may_scan(user: User) -> bool:
    """Check people and vehicles through a gate: its staff and chief, and the command centre."""
    return user.is_command or user.role in GATE_ROLES


def scans_for_user(user: User) -> QuerySet[Scan]:
    return Scan.objects.filter(gate__in=gates_for_user(user))


def assessments_for_user(user: User) -> QuerySet[Assessment]:
    """The lot's queue: the zone's gates for command and gate staff; a cadre sees the people
    bound for their village (the record pushed to the destination's list)."""
    if user.role == Role.CADRE and user.scope_subdistrict_id is not None:
        villages = ScopeFilter(user).village_ids() or []
        return Assessment.objects.filter(gate__subdistrict_id=user.scope_subdistrict_id, destination_id__in=villages)
    return Assessment.objects.filter(gate__in=gates_for_user(user))
