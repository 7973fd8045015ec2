from __future__ import annotations

from django.contrib import admin

from lianfang.checkpoints.models import Gate


@admin.register(Gate)
class GateAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "zone", "village"]
    list_filter = ["kind"]
