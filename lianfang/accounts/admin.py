from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from lianfang.accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "display_name", "role", "scope", "is_active"]

    @admin.display(description="管辖范围")
    def scope(self, obj: User) -> str:
        return obj.scope_label
    list_filter = ["role", "is_active"]
    fieldsets = (
        *BaseUserAdmin.fieldsets,  # type: ignore[misc]
        ("角色与管辖范围", {"fields": ("display_name", "role", "scope_subdistrict", "scope_village",
                                 "scope_grid", "scope_gate")}),
    )
    raw_id_fields = ["scope_grid"]
