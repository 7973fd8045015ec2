from __future__ import annotations

from django.contrib import admin

from lianfang.control.models import (
    Case,
    InboxItem,
    IsolationRoom,
    IsolationSite,
    ProtocolEdition,
    RiskArea,
    Sop,
    StageLimit,
    TransferTask,
)
from lianfang.core.admin import ScopedAdmin


@admin.register(ProtocolEdition)
class EditionAdmin(ScopedAdmin):
    list_display = ["name", "effective_from", "status"]

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False  # editions change through their pages, which keep the history


@admin.register(Case)
class CaseAdmin(ScopedAdmin):
    list_display = ["name", "category", "stage", "village", "exposure_date", "plan_end"]
    list_filter = ["stage", "category"]
    readonly_fields = ["doc_masked", "phone_masked"]
    exclude = ["person"]

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False  # stages change through the pipeline, which checks the order and logs it


class RoomInline(admin.TabularInline[IsolationRoom, IsolationSite]):
    model = IsolationRoom
    extra = 0


@admin.register(IsolationSite)
class SiteAdmin(ScopedAdmin):
    list_display = ["name", "capacity", "contact_name"]
    inlines = [RoomInline]


@admin.register(TransferTask)
class TransferAdmin(ScopedAdmin):
    subdistrict_path = "case__subdistrict"
    list_display = ["case", "status", "vehicle", "destination", "planned_at"]


@admin.register(RiskArea)
class RiskAreaAdmin(ScopedAdmin):
    list_display = ["place", "level", "valid_from", "valid_to"]


@admin.register(StageLimit)
class StageLimitAdmin(ScopedAdmin):
    list_display = ["stage", "owner", "limit_hours"]


@admin.register(InboxItem)
class InboxAdmin(ScopedAdmin):
    list_display = ["title", "kind", "status", "assignee", "created_at"]


@admin.register(Sop)
class SopAdmin(ScopedAdmin):
    list_display = ["title", "applies_to"]
