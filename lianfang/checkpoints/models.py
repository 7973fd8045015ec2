"""Gates (卡口). The foundation keeps the registry a user can be scoped to; scanning comes later."""

from __future__ import annotations

from django.db import models


class Gate(models.Model):
    class Kind(models.TextChoices):
        VILLAGE_ENTRANCE = "village_entrance", "村口"
        ROAD = "road", "道路卡口"
        HIGHWAY_EXIT = "highway_exit", "高速出口"
        RAIL_STATION = "rail_station", "火车站"

    subdistrict = models.ForeignKey("core.SubDistrict", models.PROTECT, related_name="gates", verbose_name="街道")
    zone = models.ForeignKey("core.Zone", models.PROTECT, null=True, blank=True, related_name="gates", verbose_name="防区")
    village = models.ForeignKey(
        "core.Village", models.PROTECT, null=True, blank=True, related_name="gates", verbose_name="村/社区"
    )
    name = models.CharField("名称", max_length=80)
    kind = models.CharField("类型", max_length=20, choices=Kind.choices, default=Kind.VILLAGE_ENTRANCE)
    geometry = models.JSONField("位置 (GeoJSON)", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "卡口"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(zone__isnull=False) | models.Q(village__isnull=False),
                name="gate_belongs_to_zone_or_village",
            )
        ]

    def __str__(self) -> str:
        return self.name
