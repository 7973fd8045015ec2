"""Who sees and runs which rosters, staff and teams. One function per object type; refusals are 404
and audited.

* The command centre (and the supervisor, read-only) sees everything of its sub-district and is the
  one who builds, solves and publishes rosters.
* A gate chief sees the rosters that include their gate, only that gate's shifts, the staff who may
  serve there or are rostered there, approves swaps and keeps attendance at that gate, and edits its
  demand.
* A village cadre sees the staff and the teams of their village.
* A team leader sees their team (and its groups) and approves its sign-ups.
* Anyone with a staff record sees their own shifts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.utils import timezone

from lianfang.accounts.roles import Role
from lianfang.checkpoints.models import Gate
from lianfang.core.access import denied
from lianfang.rosters.models import Assignment, Roster, StaffMember, SwapRequest, Team

if TYPE_CHECKING:
    from lianfang.accounts.models import User


def may_manage_rosters(user: User) -> bool:
    return bool(user.is_command)


def may_view_all(user: User) -> bool:
    return bool(user.is_command or user.role == Role.SUPERVISOR)


def may_see_contacts(user: User) -> bool:
    """Full phone numbers of staff: the command centre and the gate chief who calls them in."""
    return bool(user.is_command or user.role == Role.GATE_CHIEF)


def chief_gate_id(user: User) -> int | None:
    return user.scope_gate_id if user.role == Role.GATE_CHIEF else None


def gates_for_user(user: User) -> QuerySet[Gate]:
    if not user.scope_subdistrict_id:
        return Gate.objects.none()
    qs = Gate.objects.filter(subdistrict_id=user.scope_subdistrict_id)
    if may_view_all(user):
        return qs
    if user.scope_gate_id:
        return qs.filter(pk=user.scope_gate_id)
    return qs.none()


def rosters_for_user(user: User) -> QuerySet[Roster]:
    if not user.scope_subdistrict_id:
        return Roster.objects.none()
    qs = Roster.objects.filter(subdistrict_id=user.scope_subdistrict_id)
    if may_view_all(user):
        return qs
    if user.scope_gate_id and user.role in (Role.GATE_CHIEF, Role.GATE_STAFF):
        return qs.filter(gates=user.scope_gate_id, status=Roster.Status.PUBLISHED).distinct()
    return qs.none()


def get_roster_for_user(user: User, pk: int) -> Roster:
    roster = rosters_for_user(user).filter(pk=pk).first()
    if roster is None:
        raise denied(user, "roster", pk)
    return roster


def visible_gate_ids(user: User, roster: Roster) -> list[int]:
    """The gates of a roster whose shifts this user sees."""
    ids = list(roster.gates.values_list("pk", flat=True))
    if may_view_all(user):
        return ids
    return [g for g in ids if g == user.scope_gate_id]


def staff_for_user(user: User) -> QuerySet[StaffMember]:
    if not user.scope_subdistrict_id:
        return StaffMember.objects.none()
    qs = StaffMember.objects.filter(subdistrict_id=user.scope_subdistrict_id)
    if may_view_all(user):
        return qs
    if user.role == Role.GATE_CHIEF and user.scope_gate_id:
        return qs.filter(Q(gates=user.scope_gate_id) | Q(assignments__gate_id=user.scope_gate_id)).distinct()
    if user.role == Role.CADRE and user.scope_village_id:
        return qs.filter(Q(home_village_id=user.scope_village_id) | Q(memberships__team__village_id=user.scope_village_id)
                         ).distinct()
    led = Team.objects.filter(Q(leader=user) | Q(parent__leader=user))
    return qs.filter(Q(user=user) | Q(memberships__team__in=led)).distinct()


def get_staff_for_user(user: User, pk: int) -> StaffMember:
    staff = staff_for_user(user).filter(pk=pk).first()
    if staff is None:
        raise denied(user, "roster_staff", pk)
    return staff


def may_edit_staff(user: User, staff: StaffMember) -> bool:
    if user.is_command:
        return True
    if user.role == Role.CADRE:
        return staff.home_village_id is not None and staff.home_village_id == user.scope_village_id
    return False


def teams_for_user(user: User) -> QuerySet[Team]:
    if not user.scope_subdistrict_id:
        return Team.objects.none()
    qs = Team.objects.filter(subdistrict_id=user.scope_subdistrict_id)
    if may_view_all(user):
        return qs
    q = Q(leader=user) | Q(parent__leader=user)
    # members see their own teams and groups, and the squad their group belongs to (names and hours only)
    q |= Q(memberships__staff__user=user) | Q(groups__memberships__staff__user=user)
    if user.role == Role.CADRE and user.scope_village_id:
        q |= Q(village_id=user.scope_village_id) | Q(parent__village_id=user.scope_village_id)
    if user.role == Role.GATE_CHIEF and user.scope_gate_id:
        q |= Q(gate_id=user.scope_gate_id)
    return qs.filter(q).distinct()


def get_team_for_user(user: User, pk: int) -> Team:
    team = teams_for_user(user).filter(pk=pk).first()
    if team is None:
        raise denied(user, "team", pk)
    return team


def may_create_team(user: User) -> bool:
    """The command centre sets up squads and gate teams; a village cadre, their village's teams."""
    return bool(user.is_command or (user.role == Role.CADRE and user.scope_village_id))


def may_lead_team(user: User, team: Team) -> bool:
    """Approve sign-ups and manage members."""
    if user.is_command or team.leader_id == user.pk or (team.parent is not None and team.parent.leader_id == user.pk):
        return True
    return bool(user.role == Role.CADRE and team.village_id and team.village_id == user.scope_village_id)


def swaps_for_user(user: User) -> QuerySet[SwapRequest]:
    if not user.scope_subdistrict_id:
        return SwapRequest.objects.none()
    qs = SwapRequest.objects.filter(roster__subdistrict_id=user.scope_subdistrict_id)
    if may_view_all(user):
        return qs
    if user.role == Role.GATE_CHIEF and user.scope_gate_id:
        # gate: the given shift's, kept when an early end removes the shift; take: an exchange's other gate
        return qs.filter(Q(gate_id=user.scope_gate_id) | Q(take__gate_id=user.scope_gate_id))
    return qs & own_swaps(user)


def own_swaps(user: User) -> QuerySet[SwapRequest]:
    """Swap requests this user made or was asked to take part in, whatever their role."""
    return SwapRequest.objects.filter(Q(requester__user=user) | Q(partner__user=user))


def swaps_to_decide(user: User) -> QuerySet[SwapRequest]:
    """Requests the partner has confirmed, waiting for a decision by someone who sees them (the
    chief of the gate, the command centre), whose shifts have not begun."""
    return swaps_for_user(user).filter(not_begun_swaps(), status=SwapRequest.Status.PENDING)


def swaps_to_answer(user: User) -> QuerySet[SwapRequest]:
    """Requests waiting for this user to confirm as the partner (only the partner answers), whose
    shifts have not begun (a late answer could not be approved any more)."""
    return SwapRequest.objects.filter(partner__user=user, status=SwapRequest.Status.PARTNER).filter(
        not_begun_swaps())


def not_begun_swaps() -> Q:
    """Swap requests whose shifts (given and, for an exchange, taken) have not begun yet."""
    now = timezone.now()
    return Q(give__starts_at__gt=now) & (Q(take__isnull=True) | Q(take__starts_at__gt=now))


def get_swap_for_partner(user: User, pk: int) -> SwapRequest:
    """A request this user was asked to take part in (answered or not: a late answer is told why)."""
    swap = SwapRequest.objects.filter(pk=pk, partner__user=user).first()
    if swap is None:
        raise denied(user, "roster_swap", pk)
    return swap


def get_swap_for_requester(user: User, pk: int) -> SwapRequest:
    """A request this user made (only the requester withdraws it)."""
    swap = SwapRequest.objects.filter(pk=pk, requester__user=user).first()
    if swap is None:
        raise denied(user, "roster_swap", pk)
    return swap


def may_decide_any_swap(user: User) -> bool:
    """Whether this user decides swaps at all (a gate chief or the command centre)."""
    return user.is_command or chief_gate_id(user) is not None


def may_decide_swap(user: User, swap: SwapRequest) -> bool:
    """The chief of the gate (of both gates when an exchange crosses gates: then only the command
    centre), never someone deciding their own swap."""
    if user.pk in (swap.requester.user_id, swap.partner.user_id):
        return False
    if user.is_command:
        return True
    gate = chief_gate_id(user)
    return (gate is not None and swap.give is not None and swap.give.gate_id == gate
            and (swap.take is None or swap.take.gate_id == gate))


def get_assignment_for_attendance(user: User, pk: int) -> Assignment:
    """The person on the shift, the chief of its gate, or the command centre."""
    a = (Assignment.objects.filter(pk=pk, roster__subdistrict_id=user.scope_subdistrict_id or 0,
                                   roster__status=Roster.Status.PUBLISHED)
         .select_related("staff", "gate", "roster").first())
    if a is None or not (user.is_command or a.staff.user_id == user.pk or chief_gate_id(user) == a.gate_id):
        raise denied(user, "roster_assignment", pk)
    return a
