"""The Django admin (in Chinese) for the command centre; rows limited to the user's sub-district."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from lianfang.core.models import (
    AuditEvent,
    Building,
    Grid,
    Household,
    ImportJob,
    Person,
    PointOfInterest,
    Road,
    SubDistrict,
    Village,
    Zone,
    ZoneMembership,
)


class ScopedAdmin(admin.ModelAdmin):
    subdistrict_path = "subdistrict"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        user: Any = request.user
        if user.is_superuser and not user.scope_subdistrict_id:
            return qs
        return qs.filter(**{f"{self.subdistrict_path}_id": user.scope_subdistrict_id})


@admin.register(SubDistrict)
class SubDistrictAdmin(ScopedAdmin):
    subdistrict_path = "pk"
    list_display = ["code", "name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        user: Any = request.user
        qs = SubDistrict.objects.all()
        return qs if user.is_superuser and not user.scope_subdistrict_id else qs.filter(pk=user.scope_subdistrict_id)


@admin.register(Village)
class VillageAdmin(ScopedAdmin):
    list_display = ["code", "name", "kind"]
    list_filter = ["kind"]
    search_fields = ["name", "code"]


class MembershipInline(admin.TabularInline):
    model = ZoneMembership
    extra = 0


@admin.register(Zone)
class ZoneAdmin(ScopedAdmin):
    list_display = ["name"]
    inlines = [MembershipInline]


@admin.register(Grid)
class GridAdmin(ScopedAdmin):
    subdistrict_path = "village__subdistrict"
    list_display = ["name", "village", "kind", "parent"]
    list_filter = ["kind", "village"]


@admin.register(Building)
class BuildingAdmin(ScopedAdmin):
    subdistrict_path = "village__subdistrict"
    list_display = ["name", "village", "grid", "units"]
    list_filter = ["village"]
    search_fields = ["name"]


@admin.register(Household)
class HouseholdAdmin(ScopedAdmin):
    subdistrict_path = "village__subdistrict"
    list_display = ["code", "village", "grid", "building", "unit", "room"]
    list_filter = ["village"]
    search_fields = ["code", "room"]
    raw_id_fields = ["building", "grid"]


@admin.register(Person)
class PersonAdmin(ScopedAdmin):
    list_display = ["name", "village", "doc_masked", "phone_masked", "population_type"]
    list_filter = ["village", "population_type", "elderly_alone", "no_smartphone", "limited_mobility"]
    readonly_fields = ["doc_type", "doc_masked", "phone_masked", "sex", "age_years"]
    exclude = ["birth_date"]  # with the masked ID it would give the whole number
    raw_id_fields = ["household", "grid"]
    list_select_related = ["village"]
    show_full_result_count = False

    @admin.display(description="年龄")
    def age_years(self, obj: Person) -> int | None:
        return obj.age

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> Any:
        from lianfang.core.services import RegisterError, search_persons

        try:
            return search_persons(queryset, search_term), False
        except RegisterError:
            return queryset.none(), False

    search_fields = ["name"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # persons enter through the validated import, never raw

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # changes go through the site's form: pinyin kept in step, every change audited


@admin.register(PointOfInterest)
class PoiAdmin(ScopedAdmin):
    list_display = ["name", "kind", "village", "contact_name", "contact_phone"]
    list_filter = ["kind"]


@admin.register(Road)
class RoadAdmin(ScopedAdmin):
    list_display = ["name", "road_class", "oneway", "synthetic"]
    list_filter = ["road_class"]


def _unregister_task_results() -> None:
    # The task queue's own table is technical and English; import outcomes live in 导入任务.
    from django_tasks_db.models import DBTaskResult

    if admin.site.is_registered(DBTaskResult):
        admin.site.unregister(DBTaskResult)


_unregister_task_results()


@admin.register(AuditEvent)
class AuditAdmin(admin.ModelAdmin):
    list_display = ["at", "user", "action", "object_type", "object_id", "fields", "reason"]
    list_filter = ["action", "object_type"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ImportJob)
class ImportJobAdmin(ScopedAdmin):
    list_display = ["created_at", "created_by", "filename", "status", "total_rows", "persons_created", "error_count"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


