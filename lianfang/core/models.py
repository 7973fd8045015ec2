"""The register: places, zones, points of interest, roads, persons, audit and import jobs."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class AppendOnly(models.Model):
    """Rows that record what happened (audit events, scans, replies, case events): written once,
    never changed or deleted."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError(f"{type(self).__name__} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValueError(f"{type(self).__name__} rows are append-only")


class SubDistrict(models.Model):
    code = models.CharField("区划代码", max_length=9, unique=True)
    name = models.CharField("名称", max_length=50)
    geometry = models.JSONField("范围 (GeoJSON)", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "街道/镇"

    def __str__(self) -> str:
        return self.name


class Village(models.Model):
    class Kind(models.TextChoices):
        VILLAGE = "village", "村"
        COMMUNITY = "community", "社区"

    subdistrict = models.ForeignKey(SubDistrict, models.PROTECT, related_name="villages", verbose_name="街道")
    code = models.CharField("区划代码", max_length=12, unique=True)
    name = models.CharField("名称", max_length=50)
    kind = models.CharField("类型", max_length=12, choices=Kind.choices, default=Kind.VILLAGE)
    geometry = models.JSONField("范围 (GeoJSON)", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "村/社区"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    def current_zone(self) -> Zone | None:
        membership = self.zone_memberships.filter(valid_to__isnull=True).select_related("zone").first()
        return membership.zone if membership else None


class Zone(models.Model):
    """A defence zone (防区): villages guarded together behind shared gates."""

    subdistrict = models.ForeignKey(SubDistrict, models.PROTECT, related_name="zones", verbose_name="街道")
    name = models.CharField("名称", max_length=50)
    geometry = models.JSONField("范围 (GeoJSON)", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "防区"

    def __str__(self) -> str:
        return self.name

    def current_villages(self) -> models.QuerySet[Village]:
        return Village.objects.filter(
            zone_memberships__zone=self, zone_memberships__valid_to__isnull=True
        )


class ZoneMembership(models.Model):
    """A village's membership of a zone over time; at most one open row per village."""

    zone = models.ForeignKey(Zone, models.CASCADE, related_name="memberships", verbose_name="防区")
    village = models.ForeignKey(Village, models.CASCADE, related_name="zone_memberships", verbose_name="村/社区")
    valid_from = models.DateTimeField("起", default=timezone.now)
    valid_to = models.DateTimeField("止", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "防区成员"
        constraints = [
            models.UniqueConstraint(
                fields=["village"], condition=Q(valid_to__isnull=True), name="one_open_zone_per_village"
            )
        ]

    def __str__(self) -> str:
        return f"{self.village} → {self.zone}"


class Grid(models.Model):
    class Kind(models.TextChoices):
        VILLAGER_GROUP = "villager_group", "村民小组"
        GRID = "grid", "网格"
        MICRO_GRID = "micro_grid", "微网格"

    village = models.ForeignKey(Village, models.CASCADE, related_name="grids", verbose_name="村/社区")
    parent = models.ForeignKey(
        "self", models.CASCADE, null=True, blank=True, related_name="children", verbose_name="上级网格"
    )
    name = models.CharField("名称", max_length=50)
    kind = models.CharField("类型", max_length=16, choices=Kind.choices, default=Kind.GRID)
    geometry = models.JSONField("范围 (GeoJSON)", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "村民小组/网格"
        ordering = ["village_id", "id"]
        constraints = [models.UniqueConstraint(fields=["village", "name"], name="grid_name_unique_in_village")]

    def __str__(self) -> str:
        return f"{self.village.name}{self.name}"


class Building(models.Model):
    village = models.ForeignKey(Village, models.CASCADE, related_name="buildings", verbose_name="村/社区")
    grid = models.ForeignKey(Grid, models.SET_NULL, null=True, blank=True, related_name="buildings", verbose_name="网格")
    name = models.CharField("楼栋", max_length=50)
    units = models.PositiveSmallIntegerField("单元数", default=1)
    geometry = models.JSONField("位置 (GeoJSON)", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "楼栋"
        constraints = [models.UniqueConstraint(fields=["village", "name"], name="building_name_unique_in_village")]

    def __str__(self) -> str:
        return f"{self.village.name}{self.name}"


class Household(models.Model):
    village = models.ForeignKey(Village, models.CASCADE, related_name="households", verbose_name="村/社区")
    grid = models.ForeignKey(Grid, models.SET_NULL, null=True, blank=True, related_name="households", verbose_name="网格")
    building = models.ForeignKey(
        Building, models.SET_NULL, null=True, blank=True, related_name="households", verbose_name="楼栋"
    )
    unit = models.PositiveSmallIntegerField("单元", null=True, blank=True)
    room = models.CharField("门牌/房号", max_length=30, blank=True)
    code = models.CharField("户号", max_length=30)

    class Meta:
        verbose_name = verbose_name_plural = "户"
        constraints = [models.UniqueConstraint(fields=["village", "code"], name="household_code_unique_in_village")]

    def __str__(self) -> str:
        return f"{self.village.name} {self.address}"

    @property
    def address(self) -> str:
        building = self.building.name if self.building_id and self.building else ""
        parts = [building]
        if self.unit:
            parts.append(f"{self.unit}单元")
        if not (building and self.room and building.endswith(self.room)):  # "3组45号" already says "45号"
            parts.append(self.room)
        return "".join(p for p in parts if p) or self.code


class Person(models.Model):
    class DocType(models.TextChoices):
        RESIDENT_ID = "resident_id", "居民身份证"
        PASSPORT = "passport", "护照"
        HK_MACAU_PERMIT = "hk_macau_permit", "港澳居民来往内地通行证"
        TAIWAN_PERMIT = "taiwan_permit", "台湾居民来往大陆通行证"

    class Relation(models.TextChoices):
        HEAD = "head", "户主"
        SPOUSE = "spouse", "配偶"
        CHILD = "child", "子女"
        PARENT = "parent", "父母"
        GRANDCHILD = "grandchild", "孙子女"
        SIBLING = "sibling", "兄弟姐妹"
        TENANT = "tenant", "租户"
        OTHER = "other", "其他"

    class PopulationType(models.TextChoices):
        REGISTERED = "registered", "户籍"
        RESIDENT = "resident", "常住"
        FLOATING = "floating", "流动"
        TENANT = "tenant", "租户"

    class Sex(models.TextChoices):
        MALE = "M", "男"
        FEMALE = "F", "女"

    subdistrict = models.ForeignKey(SubDistrict, models.PROTECT, related_name="persons", verbose_name="街道")
    village = models.ForeignKey(Village, models.PROTECT, related_name="persons", verbose_name="村/社区")
    grid = models.ForeignKey(Grid, models.SET_NULL, null=True, blank=True, related_name="persons", verbose_name="网格")
    household = models.ForeignKey(
        Household, models.SET_NULL, null=True, blank=True, related_name="members", verbose_name="户"
    )
    name = models.CharField("姓名", max_length=50)
    name_pinyin = models.CharField("姓名拼音", max_length=200, db_index=True, editable=False)
    name_initials = models.CharField("拼音首字母", max_length=50, db_index=True, editable=False)
    relation = models.CharField("与户主关系", max_length=12, choices=Relation.choices, default=Relation.HEAD)
    doc_type = models.CharField("证件类型", max_length=20, choices=DocType.choices, default=DocType.RESIDENT_ID)
    # Personal data: ciphertext, a keyed hash for exact lookup, the masked form shown on pages
    # and the last four characters (also visible in the mask) for "last digits" search.
    doc_cipher = models.TextField(editable=False)
    doc_hash = models.CharField(max_length=64, editable=False)
    doc_masked = models.CharField("证件号码", max_length=40, editable=False)
    doc_last4 = models.CharField(max_length=4, db_index=True, editable=False)
    phone_cipher = models.TextField(blank=True, editable=False)
    phone_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    phone_masked = models.CharField("手机号", max_length=20, blank=True, editable=False)
    phone_last4 = models.CharField(max_length=4, blank=True, db_index=True, editable=False)
    sex = models.CharField("性别", max_length=1, choices=Sex.choices, blank=True)
    birth_date = models.DateField("出生日期", null=True, blank=True)
    population_type = models.CharField(
        "人口类型", max_length=12, choices=PopulationType.choices, default=PopulationType.REGISTERED
    )
    elderly_alone = models.BooleanField("独居老人", default=False)
    no_smartphone = models.BooleanField("无智能手机", default=False)
    limited_mobility = models.BooleanField("行动不便", default=False)
    student = models.BooleanField("学生", default=False)
    party_member = models.BooleanField("党员", default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    FLAG_FIELDS = ("elderly_alone", "no_smartphone", "limited_mobility", "student", "party_member")

    class Meta:
        verbose_name = verbose_name_plural = "人员"
        constraints = [models.UniqueConstraint(fields=["doc_type", "doc_hash"], name="person_document_unique")]
        indexes = [
            models.Index(fields=["village", "name_pinyin"]),
            models.Index(fields=["village", "name_initials"]),
            models.Index(fields=["village", "name"]),
            models.Index(fields=["subdistrict", "name"]),
            # The list pages' order: by village, then household; these avoid sorting every row.
            models.Index(fields=["subdistrict", "village", "household"]),
            models.Index(fields=["village", "household"]),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def age(self) -> int | None:
        if not self.birth_date:
            return None
        today = timezone.localdate()
        b = self.birth_date
        return today.year - b.year - ((today.month, today.day) < (b.month, b.day))

    @property
    def flag_labels(self) -> list[str]:
        return [flag_label(f) for f in self.FLAG_FIELDS if getattr(self, f)]

    def document_number(self) -> str:
        """The clear document number. Callers must audit the reveal (see services.reveal)."""
        from lianfang.core import crypto

        return crypto.decrypt(self.doc_cipher)

    def phone_number(self) -> str:
        from lianfang.core import crypto

        return crypto.decrypt(self.phone_cipher) if self.phone_cipher else ""


def flag_label(field_name: str) -> str:
    field = Person._meta.get_field(field_name)
    assert isinstance(field, models.Field)
    return str(field.verbose_name)


class PointOfInterest(models.Model):
    class Kind(models.TextChoices):
        PARTY_STATION = "party_station", "党群驿站"
        MATERIAL_STORE = "material_store", "物资储备点"
        ASSESSMENT_LOT = "assessment_lot", "研判停车场"
        ISOLATION_SITE = "isolation_site", "集中隔离点"
        SAMPLING_SITE = "sampling_site", "采样点"

    subdistrict = models.ForeignKey(SubDistrict, models.CASCADE, related_name="pois", verbose_name="街道")
    village = models.ForeignKey(Village, models.SET_NULL, null=True, blank=True, related_name="pois", verbose_name="村/社区")
    kind = models.CharField("类型", max_length=20, choices=Kind.choices)
    name = models.CharField("名称", max_length=80)
    geometry = models.JSONField("位置 (GeoJSON)")
    contact_name = models.CharField("联系人", max_length=50, blank=True)
    contact_phone = models.CharField("联系电话", max_length=20, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "点位"

    def __str__(self) -> str:
        return self.name


class Road(models.Model):
    subdistrict = models.ForeignKey(SubDistrict, models.CASCADE, related_name="roads", verbose_name="街道")
    name = models.CharField("路名", max_length=80, blank=True)
    road_class = models.CharField("道路等级", max_length=20)
    oneway = models.BooleanField("单行", default=False)
    geometry = models.JSONField("线形 (GeoJSON)")
    start_node = models.CharField(max_length=40, blank=True)
    end_node = models.CharField(max_length=40, blank=True)
    synthetic = models.BooleanField("示意数据", default=False)

    class Meta:
        verbose_name = verbose_name_plural = "道路"

    def __str__(self) -> str:
        return self.name or f"{self.start_node}–{self.end_node}"


class AuditEvent(AppendOnly):
    """Append-only record of every reveal, export and import of personal data."""

    class Action(models.TextChoices):
        REVEAL = "reveal", "查看完整信息"
        EXPORT = "export", "导出"
        IMPORT = "import", "导入"
        CHANGE = "change", "修改"
        DENIED = "denied", "越权访问被拒"

    at = models.DateTimeField("时间", default=timezone.now, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, verbose_name="用户")
    action = models.CharField("操作", max_length=12, choices=Action.choices)
    object_type = models.CharField("对象类型", max_length=30)
    object_id = models.CharField("对象", max_length=40, blank=True)
    fields = models.CharField("字段", max_length=100, blank=True)
    reason = models.CharField("事由", max_length=200, blank=True)
    detail = models.JSONField("详情", default=dict, blank=True)
    ip = models.GenericIPAddressField("IP", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "审计日志"
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_type} {self.object_id}"


class ImportJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "排队中"
        VALIDATING = "validating", "校验中"
        WRITING = "writing", "写入中"
        DONE = "done", "已完成"
        FAILED = "failed", "未导入"

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, verbose_name="导入人")
    subdistrict = models.ForeignKey(SubDistrict, models.CASCADE, verbose_name="街道")
    filename = models.CharField("文件名", max_length=200)
    file = models.FileField(upload_to="imports/%Y/%m/")
    status = models.CharField("状态", max_length=12, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField("总行数", default=0)
    households_created = models.PositiveIntegerField("新建户数", default=0)
    persons_created = models.PositiveIntegerField("新建人数", default=0)
    error_count = models.PositiveIntegerField("错误数", default=0)
    errors = models.JSONField("错误 (前 200 条)", default=list, blank=True)
    error_report = models.FileField(upload_to="imports/reports/%Y/%m/", blank=True)
    message = models.CharField("说明", max_length=300, blank=True)
    created_at = models.DateTimeField("创建时间", default=timezone.now)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "导入任务"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.filename

    @property
    def finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED}

    @property
    def duration(self) -> datetime.timedelta | None:
        return self.finished_at - self.created_at if self.finished_at else None


def refresh_planner_statistics() -> None:
    """Refresh the query planner's statistics of the register after a bulk load.

    Without them SQLite picks the sub-district index for a pinyin search and scans every person.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for table in ("core_person", "core_household"):
                cursor.execute(f"ANALYZE {table}")
        elif connection.vendor == "postgresql":
            cursor.execute("ANALYZE core_person, core_household")
