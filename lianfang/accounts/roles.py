"""Roles and what each may do. The one table that answers "may this role …?"."""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    COMMAND = "command", "指挥部"
    CADRE = "cadre", "村/社区干部"
    GATE_CHIEF = "gate_chief", "卡口长"
    GATE_STAFF = "gate_staff", "卡口工作人员"
    GRID_WORKER = "grid_worker", "网格员/楼道长"
    GROUP_LEADER = "group_leader", "村民小组长"
    VOLUNTEER = "volunteer", "志愿者"
    SAMPLING_LEAD = "sampling_lead", "采样点负责人"
    SUPERVISOR = "supervisor", "督查员"
    TRANSFER = "transfer", "转运专班"


# Who may browse the register at all (within their scope). Volunteers work from tasks handed
# to them, not from the register.
VIEW_REGISTER = {
    Role.COMMAND, Role.CADRE, Role.GATE_CHIEF, Role.GATE_STAFF, Role.GRID_WORKER,
    Role.GROUP_LEADER, Role.SAMPLING_LEAD, Role.SUPERVISOR,
}
# Who may see an ID number or phone in full (always audited, with a reason).
REVEAL_PERSONAL_DATA = {Role.COMMAND, Role.CADRE, Role.GRID_WORKER}
EXPORT_REGISTER = {Role.COMMAND, Role.CADRE, Role.GRID_WORKER, Role.SUPERVISOR}
IMPORT_REGISTER = {Role.COMMAND, Role.CADRE}
EDIT_REGISTER = {Role.COMMAND, Role.CADRE, Role.GRID_WORKER}
VIEW_AUDIT = {Role.COMMAND, Role.SUPERVISOR}
# Key-person cases (control app).
VIEW_CASES = {Role.COMMAND, Role.CADRE, Role.GRID_WORKER, Role.SUPERVISOR, Role.TRANSFER}
MANAGE_CASES = {Role.COMMAND, Role.CADRE}
RUN_TRANSFERS = {Role.COMMAND, Role.TRANSFER}
EDIT_PROTOCOLS = {Role.COMMAND}
