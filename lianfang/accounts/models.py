"""Users with one role and one place scope."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models

from lianfang.accounts import roles
from lianfang.accounts.roles import Role


class User(AbstractUser):
    role = models.CharField("角色", max_length=20, choices=Role.choices, default=Role.VOLUNTEER)
    display_name = models.CharField("姓名", max_length=50, blank=True)
    # The scope is the narrowest of these that is set: grid, gate, village, sub-district.
    scope_subdistrict = models.ForeignKey(
        "core.SubDistrict", models.PROTECT, null=True, blank=True, related_name="+", verbose_name="所属街道"
    )
    scope_village = models.ForeignKey(
        "core.Village", models.PROTECT, null=True, blank=True, related_name="+", verbose_name="所属村/社区"
    )
    scope_grid = models.ForeignKey(
        "core.Grid", models.PROTECT, null=True, blank=True, related_name="+", verbose_name="所属网格"
    )
    scope_gate = models.ForeignKey(
        "checkpoints.Gate", models.PROTECT, null=True, blank=True, related_name="+", verbose_name="所属卡口"
    )

    class Meta:
        verbose_name = verbose_name_plural = "用户"

    def __str__(self) -> str:
        return self.display_name or self.username

    def clean(self) -> None:
        super().clean()
        if not self.is_superuser and not self.scope_subdistrict_id:
            raise ValidationError({"scope_subdistrict": "请选择用户所属街道"})
        if self.scope_grid_id and self.scope_grid and self.scope_grid.village_id != self.scope_village_id:
            raise ValidationError({"scope_grid": "网格必须属于所选村/社区"})

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role in Role.values else self.role

    @property
    def scope_label(self) -> str:
        if self.scope_grid_id:
            return str(self.scope_grid)
        if self.scope_gate_id:
            return str(self.scope_gate)
        if self.scope_village_id:
            return str(self.scope_village)
        return str(self.scope_subdistrict or "")

    def _has(self, allowed: set[Role]) -> bool:
        return self.is_active and self.role in allowed

    @property
    def can_view_register(self) -> bool:
        return self._has(roles.VIEW_REGISTER)

    @property
    def can_reveal(self) -> bool:
        return self._has(roles.REVEAL_PERSONAL_DATA)

    @property
    def can_export(self) -> bool:
        return self._has(roles.EXPORT_REGISTER)

    @property
    def can_import(self) -> bool:
        return self._has(roles.IMPORT_REGISTER)

    @property
    def can_edit_register(self) -> bool:
        return self._has(roles.EDIT_REGISTER)

    @property
    def can_view_audit(self) -> bool:
        return self._has(roles.VIEW_AUDIT)

    @property
    def can_view_cases(self) -> bool:
        return self._has(roles.VIEW_CASES)

    @property
    def can_manage_cases(self) -> bool:
        return self._has(roles.MANAGE_CASES)

    @property
    def can_run_transfers(self) -> bool:
        return self._has(roles.RUN_TRANSFERS)

    @property
    def can_edit_protocols(self) -> bool:
        return self._has(roles.EDIT_PROTOCOLS)

    @property
    def is_command(self) -> bool:
        return self._has({Role.COMMAND})
