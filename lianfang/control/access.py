"""Who sees which cases, transfer tasks, inbox items and isolation sites: one helper per type."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from lianfang.accounts.roles import Role
from lianfang.control.models import Case, InboxItem, IsolationSite, TransferTask
from lianfang.core.access import ScopeFilter, denied

if TYPE_CHECKING:
    from lianfang.accounts.models import User


def cases_for_user(user: User) -> QuerySet[Case]:
    if not user.can_view_cases or not user.scope_subdistrict_id:
        return Case.objects.none()
    qs = Case.objects.filter(subdistrict_id=user.scope_subdistrict_id)
    if user.role == Role.TRANSFER:
        # The transfer team sees the people it has to move, nothing else.
        return qs.filter(Q(transfers__assigned_to=user) | Q(transfers__assigned_to__isnull=True,
                                                            transfers__status="pending")).distinct()
    scope = ScopeFilter(user)
    grids = scope.grid_ids()
    if grids is not None:
        return qs.filter(person__grid_id__in=grids)
    villages = scope.village_ids()
    return qs if villages is None else qs.filter(village_id__in=villages)


def get_case_for_user(user: User, pk: int) -> Case:
    try:
        return cases_for_user(user).select_related("village", "person", "edition").get(pk=pk)
    except Case.DoesNotExist:
        raise denied(user, "case", pk) from None


def transfers_for_user(user: User) -> QuerySet[TransferTask]:
    if not user.scope_subdistrict_id:
        return TransferTask.objects.none()
    qs = TransferTask.objects.filter(case__subdistrict_id=user.scope_subdistrict_id)
    if user.is_command:
        return qs
    if user.role == Role.TRANSFER:
        return qs.filter(Q(assigned_to=user) | Q(assigned_to__isnull=True, status="pending"))
    return qs.filter(case__in=cases_for_user(user))


def get_transfer_for_user(user: User, pk: int) -> TransferTask:
    try:
        return transfers_for_user(user).select_related("case", "destination").get(pk=pk)
    except TransferTask.DoesNotExist:
        raise denied(user, "transfer", pk) from None


def inbox_for_user(user: User) -> QuerySet[InboxItem]:
    if not user.scope_subdistrict_id:
        return InboxItem.objects.none()
    qs = InboxItem.objects.filter(subdistrict_id=user.scope_subdistrict_id)
    if user.is_command or user.role == Role.SUPERVISOR:
        return qs
    if user.role in (Role.GATE_CHIEF, Role.GATE_STAFF) and user.scope_gate_id:  # their gate's reports, to follow
        return qs.filter(Q(assignee=user) | Q(gate_id=user.scope_gate_id))  # up on site and see what became of them
    return qs.filter(assignee=user)


def may_handle_inbox_item(user: User, item: InboxItem) -> bool:
    """Change an item's status, assignee or add a note: the command centre, or the one it was given to."""
    return user.is_command or item.assignee_id == user.pk


def get_inbox_item_for_user(user: User, pk: int) -> InboxItem:
    try:
        return inbox_for_user(user).get(pk=pk)
    except InboxItem.DoesNotExist:
        raise denied(user, "inbox", pk) from None


def sites_for_user(user: User) -> QuerySet[IsolationSite]:
    if not user.can_view_cases or not user.scope_subdistrict_id:
        return IsolationSite.objects.none()
    return IsolationSite.objects.filter(subdistrict_id=user.scope_subdistrict_id)
