"""Gates (卡口). The foundation keeps the registry a user can be scoped to; scanning comes later."""

from __future__ import annotations

from django.db import models

from lianfang.core.models import AppendOnly


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
    opening_hours = models.CharField("开放时间", max_length=40, default="24小时")
    assessment_lot = models.ForeignKey("core.PointOfInterest", models.SET_NULL, null=True, blank=True,
                                       related_name="gates", verbose_name="研判停车场",
                                       limit_choices_to={"kind": "assessment_lot"})

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
    def new_site_count(self) -> int:
        return sum(1 for s in self.result.get("sites", []) if not s.get("existing"))

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


class Lane(models.Model):
    class Kind(models.TextChoices):
        CAR = "car", "小车道"
        TRUCK = "truck", "货车道"
        PEDESTRIAN = "pedestrian", "行人通道"
        GREEN = "green", "绿色通道"

    gate = models.ForeignKey(Gate, models.CASCADE, related_name="lanes", verbose_name="卡口")
    name = models.CharField("名称", max_length=30)
    kind = models.CharField("类型", max_length=12, choices=Kind.choices, default=Kind.CAR)

    class Meta:
        verbose_name = verbose_name_plural = "检查通道"
        ordering = ["gate_id", "pk"]

    def __str__(self) -> str:
        return f"{self.gate.name} {self.name}"


class ZonePass(models.Model):
    """A signed pass: one scan per zone per day. The token carries everything a gate checks offline."""

    subdistrict = models.ForeignKey("core.SubDistrict", models.CASCADE, related_name="zone_passes")
    zone = models.ForeignKey("core.Zone", models.CASCADE, related_name="passes", verbose_name="防区")
    code = models.CharField("编号", max_length=16, unique=True)
    subject_key = models.CharField(max_length=64, db_index=True)  # doc hash or "plate:<plate>"
    person = models.ForeignKey("core.Person", models.SET_NULL, null=True, blank=True, related_name="zone_passes")
    label = models.CharField("持证人", max_length=60)  # masked name/ID or the plate
    valid_from = models.DateTimeField("起")
    valid_to = models.DateTimeField("止")
    issued_at = models.DateTimeField(auto_now_add=True)
    issued_scan = models.ForeignKey("Scan", models.SET_NULL, null=True, blank=True, related_name="zone_passes_issued")
    revoked_at = models.DateTimeField("撤销时间", null=True, blank=True)
    revoked_reason = models.CharField("撤销原因", max_length=100, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "防区通行证"
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return f"{self.code} {self.label}"


class Scan(AppendOnly):
    """One check at a gate: append-only, with the raw input, both clocks and the nonce of the device."""

    class Subject(models.TextChoices):
        PERSON = "person", "人员"
        VEHICLE = "vehicle", "车辆"
        PASS = "pass", "通行证"

    subdistrict = models.ForeignKey("core.SubDistrict", models.PROTECT, related_name="scans")
    gate = models.ForeignKey(Gate, models.PROTECT, related_name="scans", verbose_name="卡口")
    lane = models.ForeignKey(Lane, models.SET_NULL, null=True, blank=True, related_name="scans")
    staff = models.ForeignKey("accounts.User", models.PROTECT, related_name="scans")
    device_id = models.CharField(max_length=64, blank=True)
    nonce = models.CharField(max_length=64)
    content_hash = models.CharField(max_length=64)
    device_time = models.DateTimeField("设备时间")
    server_time = models.DateTimeField("服务器时间", auto_now_add=True, db_index=True)
    offline = models.BooleanField("离线采集", default=False)
    late = models.BooleanField("迟到同步", default=False)
    subject = models.CharField("对象", max_length=10, choices=Subject.choices)
    person = models.ForeignKey("core.Person", models.SET_NULL, null=True, blank=True, related_name="scans")
    name = models.CharField("姓名", max_length=50, blank=True)
    doc_hash = models.CharField(max_length=64, blank=True, db_index=True)
    doc_masked = models.CharField("证件号码", max_length=40, blank=True)
    plate = models.CharField("车牌", max_length=12, blank=True, db_index=True)
    vehicle_type = models.CharField("车型", max_length=20, blank=True)
    passengers = models.PositiveSmallIntegerField("随车人数", default=0)
    temperature = models.DecimalField("体温", max_digits=4, decimal_places=1, null=True, blank=True)
    code_colour = models.CharField("健康码", max_length=8, blank=True)
    origin = models.CharField("来源地/行程", max_length=200, blank=True)
    zone_pass = models.ForeignKey(ZonePass, models.SET_NULL, null=True, blank=True, related_name="scans")
    raw = models.JSONField("原始输入")
    edition = models.ForeignKey("control.ProtocolEdition", models.SET_NULL, null=True, blank=True)
    outcome = models.CharField("结论", max_length=16, db_index=True)
    reasons = models.JSONField("原因", default=list)

    class Meta:
        verbose_name = verbose_name_plural = "卡口查验记录"
        ordering = ["-server_time"]
        constraints = [models.UniqueConstraint(fields=["subdistrict", "nonce"], name="scan_nonce_unique")]
        indexes = [models.Index(fields=["gate", "server_time"]), models.Index(fields=["subdistrict", "device_time"])]

    def __str__(self) -> str:
        return f"{self.gate} {self.device_time:%m-%d %H:%M} {self.outcome}"


class Assessment(models.Model):
    """A redirected person or vehicle at the assessment lot, and the officer's decision."""

    class Decision(models.TextChoices):
        PASS = "pass", "放行"
        TURN_BACK = "turn_back", "劝返"
        TEST = "test_on_site", "落地检"
        TRANSFER = "transfer", "转运隔离"

    scan = models.OneToOneField(Scan, models.PROTECT, related_name="assessment")
    gate = models.ForeignKey(Gate, models.PROTECT, related_name="assessments")
    decision = models.CharField("决定", max_length=16, choices=Decision.choices, blank=True)
    destination = models.ForeignKey("core.Village", models.SET_NULL, null=True, blank=True, related_name="assessments",
                                    verbose_name="目的地村/社区")
    note = models.CharField("说明", max_length=200, blank=True)
    decided_by = models.ForeignKey("accounts.User", models.SET_NULL, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    case = models.ForeignKey("control.Case", models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "研判"
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.scan} → {self.decision or '待研判'}"
