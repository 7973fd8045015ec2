from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from lianfang.accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "display_name", "role", "scope_label", "is_active"]
    list_filter = ["role", "is_active"]
    fieldsets = (
        *BaseUserAdmin.fieldsets,  # type: ignore[misc]
        ("角色与管辖范围", {"fields": ("display_name", "role", "scope_subdistrict", "scope_village",
                                 "scope_grid", "scope_gate")}),
    )
    raw_id_fields = ["scope_grid"]
