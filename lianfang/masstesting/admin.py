from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from lianfang.core.admin import ScopedAdmin
from lianfang.masstesting.models import Bag, HomeRequest, Lane, Round, Site, Tube


@admin.register(Round)
class RoundAdmin(ScopedAdmin):
    list_display = ["name", "status", "starts_at", "deadline", "default_pool_size"]
    list_filter = ["status"]
    filter_horizontal = ["villages"]


class LaneInline(admin.TabularInline[Lane, Site]):
    model = Lane
    extra = 0


@admin.register(Site)
class SiteAdmin(ScopedAdmin):
    subdistrict_path = "round__subdistrict"
    list_display = ["name", "village", "round", "opens_at", "closes_at", "samplers"]
    inlines = [LaneInline]
    filter_horizontal = ["staff"]


class ReadOnly(ScopedAdmin):
    """Tubes, bags and home visits change through the sampling pages, which check and log."""

    subdistrict_path = "round__subdistrict"

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Tube)
class TubeAdmin(ReadOnly):
    list_display = ["barcode", "round", "kind", "pool_size", "count", "status", "bag"]
    list_filter = ["status", "kind"]
    search_fields = ["barcode"]


@admin.register(Bag)
class BagAdmin(ReadOnly):
    list_display = ["code", "round", "status", "lab", "handed_over_at"]
    search_fields = ["code"]


@admin.register(HomeRequest)
class HomeRequestAdmin(ReadOnly):
    list_display = ["round", "village", "source", "status", "team", "requested_at", "done_at"]
    list_filter = ["status", "source"]
