"""Daily roll-calls (接龙): groups and members with helpers, rounds, replies (append-only), pasted
chains and the entries a leader must settle, anomalies and their follow-up, notices, questions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from lianfang.core.models import AppendOnly


class CheckinGroup(models.Model):
    class Kind(models.TextChoices):
        VILLAGER_GROUP = "villager_group", "村民小组"
        STAIRWELL = "stairwell", "楼道"
        LANDLORDS = "landlords", "房东"
        ENTERPRISES = "enterprises", "企业"
        TOURISM = "tourism", "旅游经营户"
        TRUCK_DRIVERS = "truck_drivers", "货车司机"

    subdistrict = models.ForeignKey("core.SubDistrict", models.CASCADE, related_name="checkin_groups")
    village = models.ForeignKey("core.Village", models.CASCADE, related_name="checkin_groups", verbose_name="村/社区")
    grid = models.ForeignKey("core.Grid", models.SET_NULL, null=True, blank=True, related_name="checkin_groups")
    name = models.CharField("群名", max_length=60)
    kind = models.CharField("类型", max_length=16, choices=Kind.choices, default=Kind.VILLAGER_GROUP)
    leader = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True,
                               related_name="led_groups", verbose_name="群主/小组长")
    cadres = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="liaison_groups",
                                    verbose_name="联村干部")
    prompt = models.CharField("接龙内容模板", max_length=200, default="今日有无外来人员、有无发热？请如实接龙")
    daily_at = models.TimeField("每日发起时间", default="18:00")

    class Meta:
        verbose_name = verbose_name_plural = "接龙群"
        ordering = ["village_id", "name"]

    def __str__(self) -> str:
        return self.name


class GroupMember(models.Model):
    group = models.ForeignKey(CheckinGroup, models.CASCADE, related_name="members")
    household = models.ForeignKey("core.Household", models.SET_NULL, null=True, blank=True, related_name="+")
    person = models.ForeignKey("core.Person", models.SET_NULL, null=True, blank=True, related_name="+")
    display_name = models.CharField("名称", max_length=60)  # a person, the household head, or a business
    house = models.CharField("门牌/房号", max_length=40, blank=True)
    nicknames = models.CharField("微信昵称（逗号分隔）", max_length=200, blank=True)
    helper = models.ForeignKey("core.Person", models.SET_NULL, null=True, blank=True, related_name="+",
                               verbose_name="结对帮扶人")
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name = verbose_name_plural = "接龙成员"
        ordering = ["group_id", "pk"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def phone_masked(self) -> str:
        return self.person.phone_masked if self.person else ""


class Notice(models.Model):
    subdistrict = models.ForeignKey("core.SubDistrict", models.CASCADE, related_name="notices")
    title = models.CharField("标题", max_length=100)
    body = models.TextField("内容")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = verbose_name_plural = "通知"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class Round(models.Model):
    group = models.ForeignKey(CheckinGroup, models.CASCADE, related_name="rounds")
    day = models.DateField("日期")
    prompt = models.CharField("接龙内容", max_length=200)
    notice = models.ForeignKey(Notice, models.SET_NULL, null=True, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    closes_at = models.DateTimeField()

    class Meta:
        verbose_name = verbose_name_plural = "接龙轮次"
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["group", "day"], name="one_round_per_group_day")]

    def __str__(self) -> str:
        return f"{self.group} {self.day}"

    @property
    def is_open(self) -> bool:
        return timezone.now() < self.closes_at


class Reply(AppendOnly):
    """One answer. Append-only: a later answer of the same member supersedes, never overwrites."""

    class Status(models.TextChoices):
        OK = "ok", "无异常"
        VISITOR = "visitor", "有外来人员"
        SYMPTOM = "symptom", "有发热等症状"
        OTHER = "other", "其他"

    class Via(models.TextChoices):
        LINK = "link", "本人链接"
        PROXY = "proxy", "帮扶人代答"
        PHONE = "phone", "电话告知组长"
        PASTE = "paste", "微信接龙"

    round = models.ForeignKey(Round, models.CASCADE, related_name="replies")
    member = models.ForeignKey(GroupMember, models.CASCADE, related_name="replies")
    status = models.CharField("情况", max_length=10, choices=Status.choices)
    text = models.CharField("说明", max_length=500, blank=True)
    at_home = models.PositiveSmallIntegerField("在家人数", null=True, blank=True)
    temperature = models.DecimalField("体温", max_digits=4, decimal_places=1, null=True, blank=True)
    signals = models.JSONField("异常信号", default=list, blank=True)
    via = models.CharField("方式", max_length=8, choices=Via.choices)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True)
    nonce = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = verbose_name_plural = "接龙回复"
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.member} {self.get_status_display()}"

    @property
    def is_anomaly(self) -> bool:
        return self.status != self.Status.OK or bool(self.signals)


class PastedChain(models.Model):
    round = models.ForeignKey(Round, models.CASCADE, related_name="pastes")
    text_hash = models.CharField(max_length=64)
    entries = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    pasted_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.round} +{self.added}"


class PendingEntry(models.Model):
    """A chain entry that matched two members or none: the leader settles it, nothing is guessed."""

    round = models.ForeignKey(Round, models.CASCADE, related_name="pending")
    number = models.PositiveIntegerField()
    raw = models.CharField(max_length=500)
    candidates = models.ManyToManyField(GroupMember, blank=True, related_name="+")
    reason = models.CharField(max_length=200)
    parsed = models.JSONField(default=dict)
    settled_member = models.ForeignKey(GroupMember, models.SET_NULL, null=True, blank=True, related_name="+")
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["round_id", "number"]
        constraints = [models.UniqueConstraint(fields=["round", "number", "raw"], name="pending_entry_once")]

    def __str__(self) -> str:
        return f"{self.number}. {self.raw}"


class Anomaly(models.Model):
    class Outcome(models.TextChoices):
        OPEN = "open", "待核实"
        CHECKED = "checked", "已核实，无风险"
        TRANSFERRED = "transferred", "已转运"
        NOTHING = "nothing", "未发现异常"

    reply = models.OneToOneField(Reply, models.CASCADE, related_name="anomaly")
    outcome = models.CharField("核实结果", max_length=12, choices=Outcome.choices, default=Outcome.OPEN)
    note = models.CharField("核实情况", max_length=300, blank=True)
    case = models.ForeignKey("control.Case", models.SET_NULL, null=True, blank=True, related_name="+")
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "接龙异常"

    def __str__(self) -> str:
        return f"{self.reply} {self.get_outcome_display()}"


class Question(models.Model):
    member = models.ForeignKey(GroupMember, models.CASCADE, related_name="questions")
    text = models.CharField("问题", max_length=500)
    asked_at = models.DateTimeField(default=timezone.now)
    answer = models.TextField("答复", blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "群众提问"
        ordering = ["asked_at"]

    def __str__(self) -> str:
        return self.text[:30]
