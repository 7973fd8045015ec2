"""Key persons (重点人员): protocol editions, risk areas, cases and their stages, isolation sites,
transfers, the command centre's inbox and its SOPs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from lianfang.core.models import AppendOnly
from lianfang.engines import protocol

CATEGORY_CHOICES = list(protocol.CATEGORIES.items())
MEASURE_CHOICES = list(protocol.MEASURES.items())


# --- protocol editions ----------------------------------------------------------------------

class ProtocolEdition(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        PUBLISHED = "published", "已发布"

    subdistrict = models.ForeignKey("core.SubDistrict", models.CASCADE, related_name="editions", verbose_name="街道")
    key = models.SlugField("编号", max_length=40)
    name = models.CharField("名称", max_length=100)
    effective_from = models.DateField("生效日期")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.DRAFT)
    source = models.TextField("依据/来源", blank=True)
    # The gate screening rules of this edition (engines.screening.GateRules as JSON); {} = none.
    gate_rules = models.JSONField("卡口查验规则", default=dict, blank=True)
    copied_from = models.ForeignKey("self", models.SET_NULL, null=True, blank=True, verbose_name="复制自")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "防控方案版本"
        ordering = ["-effective_from", "-pk"]
        constraints = [models.UniqueConstraint(fields=["subdistrict", "key"], name="edition_key_unique")]

    def __str__(self) -> str:
        return f"{self.name}（{self.effective_from} 起）"

    def to_engine(self) -> protocol.Edition:
        rules = {r.category: r.to_engine() for r in self.rules.all()}
        return protocol.Edition(self.key, self.name, self.effective_from, rules)


class MeasureRule(models.Model):
    edition = models.ForeignKey(ProtocolEdition, models.CASCADE, related_name="rules", verbose_name="方案版本")
    category = models.CharField("人员类别", max_length=30, choices=CATEGORY_CHOICES)
    # [[measure, days, [test days]], ...]: e.g. 7 days centralized then 3 days home monitoring.
    phases = models.JSONField("管控阶段")

    class Meta:
        verbose_name = verbose_name_plural = "管控措施"
        constraints = [models.UniqueConstraint(fields=["edition", "category"], name="rule_category_unique")]

    def __str__(self) -> str:
        return f"{self.get_category_display()}：{self.to_engine().phases}"

    def to_engine(self) -> protocol.Rule:
        return protocol.Rule(self.category, tuple(
            protocol.Phase(str(m), int(d), tuple(int(t) for t in tests)) for m, d, tests in self.phases))


class ProtocolRevision(AppendOnly):
    """Each save of an edition, as a snapshot: the edition's history."""

    edition = models.ForeignKey(ProtocolEdition, models.CASCADE, related_name="revisions")
    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True)
    action = models.CharField(max_length=20)
    snapshot = models.JSONField()

    ACTION_LABELS = {"created": "新建", "copied": "复制为新版本", "edited": "修改", "published": "发布"}

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.edition} {self.action} {self.at:%Y-%m-%d %H:%M}"

    @property
    def action_label(self) -> str:
        return self.ACTION_LABELS.get(self.action, self.action)


class RiskArea(models.Model):
    class Level(models.TextChoices):
        HIGH = "high", "高风险"
        MEDIUM = "medium", "中风险"
        LOW = "low", "低风险"

    subdistrict = models.ForeignKey("core.SubDistrict", models.CASCADE, related_name="risk_areas")
    place = models.CharField("地区", max_length=100)
    level = models.CharField("等级", max_length=10, choices=Level.choices)
    valid_from = models.DateField("起")
    valid_to = models.DateField("止", null=True, blank=True)
    source = models.CharField("来源", max_length=200, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "风险地区"
        ordering = ["-valid_from", "place"]

    def __str__(self) -> str:
        return f"{self.place} {self.get_level_display()}"


# --- stages and cases -----------------------------------------------------------------------

class Stage(models.TextChoices):
    VERIFY = "verify", "核查"
    HANDOFF = "handoff", "流转"
    TRANSFER = "transfer", "转运"
    CONTROL = "control", "管控"
    RELEASED = "released", "解除"
    CLOSED = "closed", "排除"


OPEN_STAGES = [Stage.VERIFY, Stage.HANDOFF, Stage.TRANSFER, Stage.CONTROL]
NEXT_STAGE = {Stage.VERIFY: Stage.HANDOFF, Stage.HANDOFF: Stage.TRANSFER, Stage.TRANSFER: Stage.CONTROL,
              Stage.CONTROL: Stage.RELEASED}


class StageLimit(models.Model):
    subdistrict = models.ForeignKey("core.SubDistrict", models.CASCADE, related_name="stage_limits")
    stage = models.CharField("阶段", max_length=10, choices=Stage.choices)
    owner = models.CharField("责任方", max_length=50)
    limit_hours = models.FloatField("时限（小时）", null=True, blank=True,
                                    help_text="管控阶段留空：以方案解除日期为限")

    class Meta:
        verbose_name = verbose_name_plural = "阶段时限"
        constraints = [models.UniqueConstraint(fields=["subdistrict", "stage"], name="stage_limit_unique")]

    def __str__(self) -> str:
        return f"{self.get_stage_display()} {self.limit_hours} h"


class Case(models.Model):
    subdistrict = models.ForeignKey("core.SubDistrict", models.PROTECT, related_name="cases")
    person = models.ForeignKey("core.Person", models.PROTECT, null=True, blank=True, related_name="cases",
                               verbose_name="名册人员")
    # A person not in the register (a truck driver passing through): kept like Person's fields.
    name = models.CharField("姓名", max_length=50)
    doc_type = models.CharField("证件类型", max_length=20, blank=True)
    doc_cipher = models.TextField(blank=True, editable=False)
    doc_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    doc_masked = models.CharField("证件号码", max_length=40, blank=True)
    phone_cipher = models.TextField(blank=True, editable=False)
    phone_masked = models.CharField("手机号", max_length=20, blank=True)
    village = models.ForeignKey("core.Village", models.PROTECT, null=True, blank=True, related_name="cases",
                                verbose_name="责任村/社区")
    category = models.CharField("人员类别", max_length=30, choices=CATEGORY_CHOICES)
    exposure_date = models.DateField("暴露/离开风险区日期")
    stage = models.CharField("阶段", max_length=10, choices=Stage.choices, default=Stage.VERIFY, db_index=True)
    stage_entered_at = models.DateTimeField("进入本阶段", default=timezone.now)
    opened_at = models.DateTimeField("发现时间", default=timezone.now)
    closed_at = models.DateTimeField("结案时间", null=True, blank=True)
    close_reason = models.CharField("结案说明", max_length=200, blank=True)
    edition = models.ForeignKey(ProtocolEdition, models.PROTECT, null=True, blank=True, verbose_name="适用方案")
    plan = models.JSONField("管控方案", default=dict, blank=True)
    plan_end = models.DateField("计划解除日期", null=True, blank=True)
    current_address = models.CharField("现住址/落脚点", max_length=200, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "重点人员"
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(fields=["person"], condition=Q(closed_at__isnull=True, person__isnull=False),
                                    name="one_open_case_per_person"),
            models.UniqueConstraint(fields=["doc_type", "doc_hash"],
                                    condition=Q(closed_at__isnull=True, person__isnull=True) & ~Q(doc_hash=""),
                                    name="one_open_case_per_external_document"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.get_category_display()}）"

    def document_number(self) -> str:
        """The clear document number: the register's, or the one recorded with the case for a person
        not in the register. Callers must audit the reveal (see core.services.reveal)."""
        from lianfang.core import crypto

        if self.person is not None:
            return self.person.document_number()
        return crypto.decrypt(self.doc_cipher) if self.doc_cipher else ""

    def phone_number(self) -> str:
        from lianfang.core import crypto

        if self.person is not None:
            return self.person.phone_number()
        return crypto.decrypt(self.phone_cipher) if self.phone_cipher else ""

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def plan_phases(self) -> list[dict[str, Any]]:
        phases = self.plan.get("phases", []) if self.plan else []
        return [
            {**p, "label": protocol.MEASURES.get(p["measure"], p["measure"]),
             "start": dt.date.fromisoformat(p["start"]), "end": dt.date.fromisoformat(p["end"]),
             "tests": [dt.date.fromisoformat(t) for t in p["tests"]]}
            for p in phases
        ]

    @property
    def needs_centralized_isolation(self) -> bool:
        return any(p["measure"] == protocol.CENTRALIZED for p in (self.plan or {}).get("phases", []))

    def measure_on(self, day: dt.date) -> str | None:
        for p in self.plan_phases:
            if p["start"] <= day <= p["end"]:
                return str(p["measure"])
        return None

    def tests_due(self, day: dt.date) -> bool:
        return any(day in p["tests"] for p in self.plan_phases)


class CaseSource(models.Model):
    """Where a case came from; a second source merges into the open case and is kept."""

    class Kind(models.TextChoices):
        GATE = "gate", "卡口研判"
        ROLLCALL = "rollcall", "接龙异常"
        TESTING = "testing", "核酸阳性"
        SWEEP = "sweep", "排查"
        DISTRICT_LIST = "district_list", "区协查名单"
        MANUAL = "manual", "人工登记"

    case = models.ForeignKey(Case, models.CASCADE, related_name="sources")
    kind = models.CharField("来源", max_length=20, choices=Kind.choices)
    reference = models.CharField("来源编号", max_length=100, blank=True)
    category = models.CharField("类别", max_length=30, choices=CATEGORY_CHOICES)
    exposure_date = models.DateField("暴露日期")
    detail = models.JSONField(default=dict, blank=True)
    nonce = models.CharField(max_length=64, null=True, blank=True, unique=True)  # idempotent retries
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.reference}"


class CaseEvent(AppendOnly):
    case = models.ForeignKey(Case, models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True)
    kind = models.CharField(max_length=20)  # opened, merged, stage, replanned, village, linked, note
    from_stage = models.CharField(max_length=10, blank=True)
    to_stage = models.CharField(max_length=10, blank=True)
    note = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    KIND_LABELS = {"opened": "登记", "merged": "并入来源", "replanned": "重新计算方案", "village": "指定责任村/社区",
                   "linked": "匹配名册", "note": "记录", "received": "村/社区签收"}

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} {self.at:%m-%d %H:%M}"

    @property
    def label(self) -> str:
        if self.kind == "stage":
            return f"{Stage(self.from_stage).label} → {Stage(self.to_stage).label}"
        return self.KIND_LABELS.get(self.kind, self.kind)


# --- isolation and transfer -----------------------------------------------------------------

class IsolationSite(models.Model):
    subdistrict = models.ForeignKey("core.SubDistrict", models.CASCADE, related_name="isolation_sites")
    poi = models.OneToOneField("core.PointOfInterest", models.SET_NULL, null=True, blank=True,
                               related_name="isolation_site")
    name = models.CharField("名称", max_length=80)
    address = models.CharField("地址", max_length=200, blank=True)
    capacity = models.PositiveIntegerField("床位数")
    contact_name = models.CharField("联系人", max_length=50, blank=True)
    contact_phone = models.CharField("联系电话", max_length=20, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "集中隔离点"

    def __str__(self) -> str:
        return self.name

    def occupied(self) -> int:
        return self.stays.filter(released_at__isnull=True).count()


class IsolationRoom(models.Model):
    site = models.ForeignKey(IsolationSite, models.CASCADE, related_name="rooms")
    number = models.CharField("房间号", max_length=20)

    class Meta:
        ordering = ["site_id", "number"]
        constraints = [models.UniqueConstraint(fields=["site", "number"], name="room_unique_in_site")]

    def __str__(self) -> str:
        return f"{self.site.name} {self.number}"


class IsolationStay(models.Model):
    case = models.ForeignKey(Case, models.CASCADE, related_name="stays")
    site = models.ForeignKey(IsolationSite, models.PROTECT, related_name="stays")
    room = models.ForeignKey(IsolationRoom, models.PROTECT, null=True, blank=True, related_name="stays")
    arrived_at = models.DateTimeField(default=timezone.now)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room"], condition=Q(released_at__isnull=True), name="one_guest_per_room"),
            models.UniqueConstraint(fields=["case"], condition=Q(released_at__isnull=True), name="one_stay_per_case"),
        ]

    def __str__(self) -> str:
        return f"{self.case} @ {self.site}"


class TransferTask(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "待派车"
        DISPATCHED = "dispatched", "已派车"
        PICKED_UP = "picked_up", "已接到"
        ARRIVED = "arrived", "已送达"
        CANCELLED = "cancelled", "已取消"

    case = models.ForeignKey(Case, models.CASCADE, related_name="transfers")
    status = models.CharField("状态", max_length=12, choices=Status.choices, default=Status.PENDING)
    vehicle = models.CharField("车辆", max_length=20, blank=True)
    team = models.CharField("转运小组", max_length=50, blank=True)
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True,
                                    related_name="transfer_tasks", verbose_name="负责人")
    pickup_place = models.CharField("接人地点", max_length=200)
    destination = models.ForeignKey(IsolationSite, models.PROTECT, null=True, blank=True, verbose_name="目的地隔离点")
    planned_at = models.DateTimeField("计划时间", default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    picked_up_at = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = verbose_name_plural = "转运任务"
        ordering = ["planned_at"]

    def __str__(self) -> str:
        return f"{self.case.name} → {self.destination or '居家'}"


# --- the command centre's inbox -------------------------------------------------------------

class InboxItem(models.Model):
    class Kind(models.TextChoices):
        GATE = "gate", "卡口一键直达"
        ANOMALY = "anomaly", "接龙/排查异常"
        OVERDUE = "overdue", "超时未办"
        DISTRICT = "district", "上级交办"
        OTHER = "other", "其他"

    class Status(models.TextChoices):
        OPEN = "open", "待处理"
        IN_PROGRESS = "in_progress", "处理中"
        DONE = "done", "已办结"

    subdistrict = models.ForeignKey("core.SubDistrict", models.CASCADE, related_name="inbox")
    kind = models.CharField("类型", max_length=12, choices=Kind.choices)
    title = models.CharField("事项", max_length=200)
    body = models.TextField("详情", blank=True)
    case = models.ForeignKey(Case, models.SET_NULL, null=True, blank=True, related_name="inbox_items")
    village = models.ForeignKey("core.Village", models.SET_NULL, null=True, blank=True)
    # a gate's report (一键直达): its chief follows it too; the person scanned, when in the register
    gate = models.ForeignKey("checkpoints.Gate", models.SET_NULL, null=True, blank=True, related_name="+")
    person = models.ForeignKey("core.Person", models.SET_NULL, null=True, blank=True, related_name="+")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True,
                                 related_name="inbox_items", verbose_name="承办人")
    status = models.CharField("状态", max_length=12, choices=Status.choices, default=Status.OPEN)
    nonce = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "指挥部待办"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class InboxEvent(AppendOnly):
    item = models.ForeignKey(InboxItem, models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True)
    kind = models.CharField(max_length=12)  # created, assigned, status, comment
    text = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.item_id} {self.kind}"


class Sop(models.Model):
    """A common problem and its handling, shown where it applies."""

    APPLIES_TO = [*[(f"inbox:{k}", f"待办·{label}") for k, label in InboxItem.Kind.choices],
                  *[(f"stage:{k}", f"阶段·{label}") for k, label in Stage.choices]]

    subdistrict = models.ForeignKey("core.SubDistrict", models.CASCADE, related_name="sops")
    applies_to = models.CharField("适用", max_length=30, choices=APPLIES_TO)
    title = models.CharField("常见问题", max_length=200)
    body = models.TextField("处置办法")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "处置规范（SOP）"
        ordering = ["applies_to", "title"]

    def __str__(self) -> str:
        return self.title


# --- district assist-check lists ------------------------------------------------------------

class AssistList(models.Model):
    subdistrict = models.ForeignKey("core.SubDistrict", models.CASCADE, related_name="assist_lists")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT)
    filename = models.CharField("文件", max_length=200)
    reference = models.CharField("协查函编号", max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    rows_total = models.PositiveIntegerField(default=0)
    opened = models.PositiveIntegerField("新建", default=0)
    merged = models.PositiveIntegerField("并入已有", default=0)
    unmatched = models.PositiveIntegerField("名册未匹配", default=0)

    class Meta:
        verbose_name = verbose_name_plural = "协查名单"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.filename


class AssistListRow(models.Model):
    class Outcome(models.TextChoices):
        OPENED = "opened", "新建"
        MERGED = "merged", "并入已有"

    assist_list = models.ForeignKey(AssistList, models.CASCADE, related_name="rows")
    row_no = models.PositiveIntegerField("行号")
    name = models.CharField("姓名", max_length=50)
    doc_masked = models.CharField("证件号码", max_length=40)
    case = models.ForeignKey(Case, models.CASCADE, related_name="assist_rows")
    matched = models.BooleanField("名册已匹配", default=False)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)

    class Meta:
        ordering = ["row_no"]

    def __str__(self) -> str:
        return f"{self.assist_list_id}:{self.row_no}"
