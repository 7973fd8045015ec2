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
    junction = models.CharField("路网节点", max_length=40, blank=True, help_text="规划时所在的路口或路段编号")

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


class GatePlan(models.Model):
    """One run of the gate planner for a zone: the sites it chose, the baseline, and whether applied."""

    class Mode(models.TextChoices):
        JUNCTION = "junction", "路口设卡"
        EDGE = "edge", "路段设卡"

    subdistrict = models.ForeignKey("core.SubDistrict", models.CASCADE, related_name="gate_plans")
    zone = models.ForeignKey("core.Zone", models.CASCADE, related_name="gate_plans", verbose_name="防区")
    mode = models.CharField("方式", max_length=10, choices=Mode.choices, default=Mode.JUNCTION)
    options = models.JSONField("条件", default=dict, blank=True)
    result = models.JSONField("结果", default=dict)
    baseline = models.JSONField("各村自守", default=dict)
    created_by = models.ForeignKey("accounts.User", models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField("计算时间", auto_now_add=True)
    applied_at = models.DateTimeField("应用时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "卡口规划"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.zone} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def site_count(self) -> int:
        return len(self.result.get("sites", []))

    @property
    def baseline_total(self) -> int:
        return int(sum(self.baseline.values())) if self.baseline else 0

    @property
    def reduction_percent(self) -> float | None:
        base = self.baseline_total
        return round(100 * (base - self.site_count) / base, 1) if base else None


class GateDemand(models.Model):
    """Inspection lanes and staff a gate needs per shift, from Erlang C; the roster reads these."""

    gate = models.ForeignKey(Gate, models.CASCADE, related_name="demands", verbose_name="卡口")
    shift = models.CharField("班次", max_length=20)
    arrivals_per_hour = models.FloatField("每小时到达")
    service_seconds = models.FloatField("平均查验用时（秒）")
    target_wait_seconds = models.FloatField("目标等待（秒）", default=300)
    lanes = models.PositiveSmallIntegerField("检查通道数")
    staff = models.PositiveSmallIntegerField("所需人数")
    expected_wait_seconds = models.FloatField("预计等待（秒）")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "卡口通道与人力需求"
        constraints = [models.UniqueConstraint(fields=["gate", "shift"], name="gate_demand_per_shift")]

    def __str__(self) -> str:
        return f"{self.gate} {self.shift}: {self.lanes} 通道"
