"""Mass nucleic-acid testing (全员核酸): rounds with their pooling rules and exemptions, sites and
lanes, home-sampling requests, tubes and transport bags, samples (append-only, nonce), lab
results, result imports, and the single-tube retests of positive pools."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from lianfang.core.models import AppendOnly

POOL_SIZE_CHOICES = [(1, "单人单管"), (5, "5 混 1"), (10, "10 混 1"), (20, "20 混 1")]


class Round(models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", "筹备中"
        OPEN = "open", "采样中"
        CLOSED = "closed", "已结束"

    subdistrict = models.ForeignKey("core.SubDistrict", models.CASCADE, related_name="test_rounds")
    name = models.CharField("轮次名称", max_length=80)
    villages = models.ManyToManyField("core.Village", related_name="test_rounds", verbose_name="范围（村/社区）")
    starts_at = models.DateTimeField("开始时间")
    deadline = models.DateTimeField("完成时限")
    default_pool_size = models.PositiveSmallIntegerField("默认混采规格", choices=POOL_SIZE_CHOICES, default=10)
    estimated_prevalence = models.FloatField("估计阳性率", default=0.001)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "核酸轮次"
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class PoolRule(models.Model):
    """How an area is pooled in a round: the most specific rule (grid over village) applies."""

    class Kind(models.TextChoices):
        POOL = "pool", "混采"
        SINGLE = "single", "单人单管"
        HOUSEHOLD = "household", "一户一管（封控区）"

    round = models.ForeignKey(Round, models.CASCADE, related_name="rules")
    village = models.ForeignKey("core.Village", models.CASCADE, related_name="+", verbose_name="村/社区")
    grid = models.ForeignKey("core.Grid", models.CASCADE, null=True, blank=True, related_name="+", verbose_name="网格")
    kind = models.CharField("方式", max_length=10, choices=Kind.choices, default=Kind.POOL)
    pool_size = models.PositiveSmallIntegerField("混采规格", choices=POOL_SIZE_CHOICES, default=10)
    note = models.CharField("说明", max_length=100, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "混采规则"
        constraints = [models.UniqueConstraint(fields=["round", "village", "grid"], name="pool_rule_once"),
                       models.UniqueConstraint(fields=["round", "village"], condition=Q(grid__isnull=True),
                                               name="pool_rule_once_per_village")]

    def __str__(self) -> str:
        return f"{self.village_id}/{self.grid_id}: {self.label}"

    @property
    def label(self) -> str:
        if self.kind == self.Kind.POOL:
            return f"{self.pool_size} 混 1"
        return self.get_kind_display()


class Exemption(models.Model):
    class Reason(models.TextChoices):
        AWAY = "away", "不在本地"
        INFANT = "infant", "婴幼儿"
        ISOLATED = "isolated", "已在隔离"
        HOSPITAL = "hospital", "住院"
        OTHER = "other", "其他"

    round = models.ForeignKey(Round, models.CASCADE, related_name="exemptions")
    person = models.ForeignKey("core.Person", models.CASCADE, related_name="+")
    reason = models.CharField("原因", max_length=10, choices=Reason.choices)
    note = models.CharField("说明", max_length=100, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = verbose_name_plural = "免检人员"
        constraints = [models.UniqueConstraint(fields=["round", "person"], name="exemption_once")]

    def __str__(self) -> str:
        return f"{self.person_id} {self.get_reason_display()}"


class Site(models.Model):
    round = models.ForeignKey(Round, models.CASCADE, related_name="sites")
    village = models.ForeignKey("core.Village", models.CASCADE, related_name="+", verbose_name="村/社区")
    name = models.CharField("采样点", max_length=80)
    address = models.CharField("地址", max_length=120, blank=True)
    opens_at = models.TimeField("开放时间", default="06:00")
    closes_at = models.TimeField("结束时间", default="22:00")
    lead = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+",
                             verbose_name="负责人")
    staff = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="sampling_sites",
                                   verbose_name="工作人员")
    samplers = models.PositiveSmallIntegerField("采样人员数", default=2)

    class Meta:
        verbose_name = verbose_name_plural = "采样点"
        ordering = ["round_id", "name"]

    def __str__(self) -> str:
        return self.name


class Lane(models.Model):
    class Kind(models.TextChoices):
        GENERAL = "general", "普通通道"
        STUDENT = "student", "学生绿色通道"
        ELDERLY = "elderly", "老人通道"
        SINGLE = "single", "单管通道（黄码/红码/重点人员）"

    site = models.ForeignKey(Site, models.CASCADE, related_name="lanes")
    name = models.CharField("名称", max_length=40)
    kind = models.CharField("类型", max_length=10, choices=Kind.choices, default=Kind.GENERAL)

    class Meta:
        verbose_name = verbose_name_plural = "采样通道"
        ordering = ["site_id", "pk"]

    def __str__(self) -> str:
        return f"{self.site.name} {self.name}"


class HomeRequest(models.Model):
    """Home sampling (上门采样) for someone who cannot come, tracked to done."""

    class Source(models.TextChoices):
        REGISTER = "register", "名册（行动不便）"
        CADRE = "cadre", "干部申请"

    class Status(models.TextChoices):
        REQUESTED = "requested", "待派单"
        ASSIGNED = "assigned", "已派单"
        DONE = "done", "已采样"
        CANCELLED = "cancelled", "已取消"

    round = models.ForeignKey(Round, models.CASCADE, related_name="home_requests")
    person = models.ForeignKey("core.Person", models.CASCADE, related_name="+")
    village = models.ForeignKey("core.Village", models.CASCADE, related_name="+")
    source = models.CharField("来源", max_length=10, choices=Source.choices)
    reason = models.CharField("原因", max_length=100, blank=True)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.REQUESTED)
    team = models.CharField("上门小组", max_length=50, blank=True)
    assignees = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="home_requests",
                                       verbose_name="组员")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    assigned_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "上门采样"
        ordering = ["status", "requested_at"]
        constraints = [models.UniqueConstraint(fields=["round", "person"], condition=~Q(status="cancelled"),
                                               name="one_home_request_per_person")]

    def __str__(self) -> str:
        return f"{self.person_id} {self.get_status_display()}"


class Bag(models.Model):
    """A transport bag of up to 20 closed tubes, handed over by scan at the lab."""

    class Status(models.TextChoices):
        PACKED = "packed", "已装袋"
        HANDED_OVER = "handed_over", "已交接"

    round = models.ForeignKey(Round, models.CASCADE, related_name="bags")
    site = models.ForeignKey(Site, models.SET_NULL, null=True, blank=True, related_name="bags")
    code = models.CharField("转运袋编号", max_length=40, unique=True)
    status = models.CharField("状态", max_length=12, choices=Status.choices, default=Status.PACKED)
    packed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    packed_at = models.DateTimeField(default=timezone.now)
    lab = models.CharField("检测机构", max_length=80, blank=True)
    handed_over_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True,
                                       related_name="+")
    handed_over_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "转运袋"
        ordering = ["-packed_at"]

    def __str__(self) -> str:
        return self.code


class Tube(models.Model):
    class Kind(models.TextChoices):
        POOL = "pool", "混采管"
        SINGLE = "single", "单管"
        HOUSEHOLD = "household", "一户一管"

    class Status(models.TextChoices):
        OPEN = "open", "采样中"
        CLOSED = "closed", "已封管"

    round = models.ForeignKey(Round, models.CASCADE, related_name="tubes")
    # A barcode names one tube for ever: reusing it in another round is refused.
    barcode = models.CharField("试管条码", max_length=40, unique=True)
    kind = models.CharField("类型", max_length=10, choices=Kind.choices, default=Kind.POOL)
    pool_size = models.PositiveSmallIntegerField("容量", default=10)
    household = models.ForeignKey("core.Household", models.SET_NULL, null=True, blank=True, related_name="+")
    site = models.ForeignKey(Site, models.SET_NULL, null=True, blank=True, related_name="tubes")
    lane = models.ForeignKey(Lane, models.SET_NULL, null=True, blank=True, related_name="tubes")
    home = models.BooleanField("上门采样", default=False)
    retest = models.BooleanField("单采复核", default=False)
    status = models.CharField("状态", max_length=8, choices=Status.choices, default=Status.OPEN)
    count = models.PositiveSmallIntegerField("人数", default=0)
    bag = models.ForeignKey(Bag, models.SET_NULL, null=True, blank=True, related_name="tubes")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "试管"
        indexes = [models.Index(fields=["site", "status", "bag"])]

    def __str__(self) -> str:
        return self.barcode

    @property
    def is_full(self) -> bool:
        return self.count >= self.pool_size


class Sample(AppendOnly):
    """One person's swab into one tube. Append-only; ``first`` marks the person's first sample of the
    round (one per person and round, by a partial unique index), which the coverage counts."""

    subdistrict = models.ForeignKey("core.SubDistrict", models.PROTECT, related_name="+")
    round = models.ForeignKey(Round, models.CASCADE, related_name="samples")
    tube = models.ForeignKey(Tube, models.CASCADE, related_name="samples")
    person = models.ForeignKey("core.Person", models.CASCADE, related_name="samples")
    # Where the person lives, copied at sampling so that coverage is one grouped scan of this table.
    village = models.ForeignKey("core.Village", models.CASCADE, related_name="+", db_index=False)
    grid = models.ForeignKey("core.Grid", models.SET_NULL, null=True, blank=True, related_name="+", db_index=False)
    household = models.ForeignKey("core.Household", models.SET_NULL, null=True, blank=True, related_name="+", db_index=False)
    site = models.ForeignKey(Site, models.SET_NULL, null=True, blank=True, related_name="+", db_index=False)
    lane = models.ForeignKey(Lane, models.SET_NULL, null=True, blank=True, related_name="+", db_index=False)
    home = models.BooleanField("上门采样", default=False)
    first = models.BooleanField(default=True)
    duplicate = models.BooleanField("重复采样", default=False)
    alert = models.CharField("预警", max_length=100, blank=True)
    entered_by = models.CharField("录入方式", max_length=10, default="scan")  # scan (ID) / search / home
    nonce = models.CharField(max_length=64)
    content_hash = models.CharField(max_length=64)
    device_id = models.CharField(max_length=64, blank=True)
    device_time = models.DateTimeField("设备时间")
    server_time = models.DateTimeField("服务器时间", default=timezone.now)
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")

    class Meta:
        verbose_name = verbose_name_plural = "采样记录"
        constraints = [
            models.UniqueConstraint(fields=["subdistrict", "nonce"], name="sample_nonce_unique"),
            models.UniqueConstraint(fields=["round", "person"], condition=Q(first=True), name="sample_first_once"),
            # one swab per person per tube: a second entry is a double tap, and would take a real person's place
            models.UniqueConstraint(fields=["tube", "person"], name="sample_once_per_tube"),
        ]
        indexes = [
            models.Index(fields=["round", "village", "grid"], condition=Q(first=True), name="sample_cov_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.tube_id}:{self.person_id}"


class ResultImport(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "排队中"
        VALIDATING = "validating", "校验中"
        WRITING = "writing", "写入中"
        DONE = "done", "已完成"
        FAILED = "failed", "未导入"

    round = models.ForeignKey(Round, models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    filename = models.CharField("文件名", max_length=200)
    file = models.FileField(upload_to="results/%Y/%m/")
    lab = models.CharField("检测机构", max_length=80, blank=True)
    status = models.CharField("状态", max_length=12, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(default=0)
    negatives = models.PositiveIntegerField(default=0)
    positives = models.PositiveIntegerField(default=0)
    invalids = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "结果导入"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.filename

    @property
    def finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED}


class TubeResult(AppendOnly):
    class Result(models.TextChoices):
        NEGATIVE = "negative", "阴性"
        POSITIVE = "positive", "阳性"
        INVALID = "invalid", "无效（需重采）"

    tube = models.OneToOneField(Tube, models.CASCADE, related_name="result")
    result = models.CharField("结果", max_length=10, choices=Result.choices)
    tested_at = models.DateTimeField("检测时间")
    imported = models.ForeignKey(ResultImport, models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = verbose_name_plural = "检测结果"
        indexes = [models.Index(fields=["result"], condition=~Q(result="negative"), name="tube_result_notneg_idx")]

    def __str__(self) -> str:
        return f"{self.tube_id} {self.result}"


class Retest(models.Model):
    """A member of a positive pool: 待复核, isolated in place, one single-tube retest."""

    class Status(models.TextChoices):
        PENDING = "pending", "待复核"
        SAMPLED = "sampled", "已单采，待结果"
        NEGATIVE = "negative", "复核阴性"
        POSITIVE = "positive", "复核阳性"

    round = models.ForeignKey(Round, models.CASCADE, related_name="retests")
    person = models.ForeignKey("core.Person", models.CASCADE, related_name="+")
    village = models.ForeignKey("core.Village", models.CASCADE, related_name="+")
    source_tube = models.ForeignKey(Tube, models.CASCADE, related_name="retests")
    retest_tube = models.ForeignKey(Tube, models.SET_NULL, null=True, blank=True, related_name="+")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.PENDING)
    case = models.ForeignKey("control.Case", models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "单采复核"
        ordering = ["status", "created_at"]
        constraints = [models.UniqueConstraint(fields=["source_tube", "person"], name="retest_once")]

    def __str__(self) -> str:
        return f"{self.person_id} {self.get_status_display()}"
