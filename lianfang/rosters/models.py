"""Duty rosters: staff and their teams, shift patterns and demand per gate, rosters solved by
lianfang.engines.roster, swaps, attendance and the service-hours ledger fed by it."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from lianfang.core import crypto
from lianfang.core.models import AppendOnly


class Kind(models.TextChoices):
    LOCAL = "local", "属地工作人员"
    POLICE = "police", "交警"
    VOLUNTEER = "volunteer", "志愿者"
    MEDICAL = "medical", "医护人员"


class Skill(models.TextChoices):
    DRIVER = "driver", "驾驶"
    MEDICAL = "medical", "医疗"
    PARTY = "party", "党员"
    NIGHT = "night", "可上夜班"


def requirement_choices() -> list[tuple[str, str]]:
    """What a demand row may ask for: a kind of staff or a skill. A value that is both (``medical``:
    medical staff, or anyone with the medical skill) is one choice; the engine matches either."""
    skills = dict(Skill.choices)
    both = [(v, f"{label}或有{skills[v]}技能者") for v, label in Kind.choices if v in skills]
    return both + [c for c in Kind.choices if c[0] not in skills] + [c for c in Skill.choices if c[0] not in dict(Kind.choices)]


def requirement_label(value: str) -> str:
    return dict(requirement_choices()).get(value, value) if value else "任何人"


def minutes_zh(minutes: int) -> str:
    """A length of time as a gate chief reads it: 45 分钟, 2 小时, 7 小时 58 分钟."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} 分钟"
    return f"{hours} 小时" + (f" {rest} 分钟" if rest else "")


def requirement_short_label(value: str) -> str:
    """The kind's (else the skill's) own name, short enough for a grid cell: 缺交警 1, 缺医护人员 1."""
    return dict(Kind.choices).get(value) or dict(Skill.choices).get(value) or value


class StaffMember(models.Model):
    subdistrict = models.ForeignKey("core.SubDistrict", models.CASCADE, related_name="roster_staff")
    name = models.CharField("姓名", max_length=50)
    kind = models.CharField("类别", max_length=12, choices=Kind.choices, default=Kind.VOLUNTEER)
    skills = models.JSONField("技能", default=list, blank=True)
    home_village = models.ForeignKey("core.Village", models.SET_NULL, null=True, blank=True, related_name="roster_staff",
                                     verbose_name="所属村/社区")
    phone_cipher = models.TextField(blank=True)
    phone_hash = models.CharField(max_length=64, blank=True, db_index=True)
    phone_masked = models.CharField("手机号", max_length=20, blank=True)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True,
                                related_name="staff_member", verbose_name="登录账号")
    gates = models.ManyToManyField("checkpoints.Gate", blank=True, related_name="roster_staff",
                                   verbose_name="可驻卡口（空 = 任意卡口）")
    max_week_hours = models.PositiveSmallIntegerField("每周最多工时", default=48)
    max_consecutive_days = models.PositiveSmallIntegerField("最多连续上班天数", default=6)
    min_days_off_in_row = models.PositiveSmallIntegerField("每次至少连休天数", default=1)
    active = models.BooleanField("在岗", default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = verbose_name_plural = "值守人员"
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.name}（{self.get_kind_display()}）"

    def skill_labels(self) -> list[str]:
        labels = dict(Skill.choices)
        return [labels.get(s, s) for s in self.skills]

    def phone_number(self) -> str:
        return crypto.decrypt(self.phone_cipher) if self.phone_cipher else ""


class Unavailability(models.Model):
    staff = models.ForeignKey(StaffMember, models.CASCADE, related_name="unavailable")
    date_from = models.DateField("开始日期")
    date_to = models.DateField("结束日期")
    shift_code = models.CharField("班次（空 = 全天）", max_length=8, blank=True)
    reason = models.CharField("原因", max_length=100, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "不可排班时段"

    def __str__(self) -> str:
        return f"{self.staff.name} {self.date_from}–{self.date_to} {self.reason}"


class ShiftRequest(models.Model):
    """A wish for a day: to work (on) or to be off, optionally for one shift. Soft; weighed by the solver."""

    staff = models.ForeignKey(StaffMember, models.CASCADE, related_name="shift_requests")
    date = models.DateField("日期")
    shift_code = models.CharField("班次（空 = 任意）", max_length=8, blank=True)
    on = models.BooleanField("想上班", default=False)
    weight = models.PositiveSmallIntegerField("权重", default=3)
    note = models.CharField("说明", max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = verbose_name_plural = "排班意愿"
        constraints = [models.UniqueConstraint(fields=["staff", "date", "shift_code"], name="one_request_per_slot")]

    def __str__(self) -> str:
        return f"{self.staff.name} {self.date} {'想上班' if self.on else '想休息'}"


class Team(models.Model):
    class TeamKind(models.TextChoices):
        SQUAD = "squad", "党员先锋队"
        GROUP = "group", "分组"
        VILLAGE = "village", "村志愿者队"
        GATE = "gate", "卡口班组"

    subdistrict = models.ForeignKey("core.SubDistrict", models.CASCADE, related_name="teams")
    name = models.CharField("名称", max_length=60)
    kind = models.CharField("类型", max_length=10, choices=TeamKind.choices, default=TeamKind.VILLAGE)
    parent = models.ForeignKey("self", models.CASCADE, null=True, blank=True, related_name="groups",
                               verbose_name="上级队伍")
    village = models.ForeignKey("core.Village", models.SET_NULL, null=True, blank=True, related_name="teams")
    gate = models.ForeignKey("checkpoints.Gate", models.SET_NULL, null=True, blank=True, related_name="teams")
    duty = models.CharField("分工", max_length=100, blank=True, help_text="如：特殊车辆引导、夜间巡逻、后勤保障")
    leader = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True,
                               related_name="led_teams", verbose_name="负责人")
    signup_open = models.BooleanField("开放报名", default=True)
    signup_token = models.CharField(max_length=64, unique=True, default=secrets.token_urlsafe)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = verbose_name_plural = "队伍"
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    team = models.ForeignKey(Team, models.CASCADE, related_name="memberships")
    staff = models.ForeignKey(StaffMember, models.CASCADE, related_name="memberships")
    is_leader = models.BooleanField("组长", default=False)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = verbose_name_plural = "队员"
        constraints = [models.UniqueConstraint(fields=["team", "staff"], name="one_membership_per_team")]

    def __str__(self) -> str:
        return f"{self.team.name}：{self.staff.name}"


class SignUp(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "待审核"
        APPROVED = "approved", "已通过"
        REJECTED = "rejected", "未通过"

    team = models.ForeignKey(Team, models.CASCADE, related_name="signups")
    name = models.CharField("姓名", max_length=50)
    phone_cipher = models.TextField(blank=True)
    phone_hash = models.CharField(max_length=64, blank=True)
    phone_masked = models.CharField("手机号", max_length=20, blank=True)
    kind = models.CharField("类别", max_length=12, choices=Kind.choices, default=Kind.VOLUNTEER)
    skills = models.JSONField("技能", default=list, blank=True)
    village = models.ForeignKey("core.Village", models.SET_NULL, null=True, blank=True)
    note = models.CharField("备注", max_length=200, blank=True)
    nonce = models.CharField(max_length=64)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.PENDING)
    staff = models.ForeignKey(StaffMember, models.SET_NULL, null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = verbose_name_plural = "报名"
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["team", "nonce"], name="signup_nonce_per_team")]

    def __str__(self) -> str:
        return f"{self.team.name}：{self.name}（{self.get_status_display()}）"


class ShiftPattern(models.Model):
    """The shifts of a day at a gate, e.g. three 8-hour shifts or two 12-hour shifts.

    ``shifts``: [{"code": "M", "name": "早班", "start": 480, "minutes": 480, "night": false}, ...]; the
    start is the minute of the day the shift begins; a shift belongs to the date it begins on (the
    night shift of 3 December is 00:00–08:00 on 3 December; a 12-hour night begins at 20:00 and
    ends the next morning)."""

    subdistrict = models.ForeignKey("core.SubDistrict", models.CASCADE, related_name="shift_patterns")
    name = models.CharField("名称", max_length=40)
    shifts = models.JSONField("班次")
    is_default = models.BooleanField("默认", default=False)

    class Meta:
        verbose_name = verbose_name_plural = "班次模式"
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name


class GateStaffing(models.Model):
    gate = models.OneToOneField("checkpoints.Gate", models.CASCADE, related_name="staffing")
    pattern = models.ForeignKey(ShiftPattern, models.PROTECT, verbose_name="班次模式")

    class Meta:
        verbose_name = verbose_name_plural = "卡口班次设置"

    def __str__(self) -> str:
        return f"{self.gate.name}：{self.pattern.name}"


class DemandRule(models.Model):
    """People needed at a gate in a shift (optionally: a lane, weekdays, a kind or skill)."""

    class Source(models.TextChoices):
        MANUAL = "manual", "手工录入"
        PLANNING = "planning", "卡口规划（通道测算）"

    gate = models.ForeignKey("checkpoints.Gate", models.CASCADE, related_name="demand_rules")
    shift_code = models.CharField("班次", max_length=8)
    lane = models.ForeignKey("checkpoints.Lane", models.SET_NULL, null=True, blank=True, verbose_name="通道")
    weekdays = models.JSONField("适用星期（空 = 每天）", default=list, blank=True)  # 0 = Monday
    skill = models.CharField("类别或技能（空 = 任何人）", max_length=12, blank=True)
    required = models.PositiveSmallIntegerField("人数")
    source = models.CharField("来源", max_length=10, choices=Source.choices, default=Source.MANUAL)
    note = models.CharField("说明", max_length=100, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "人力需求"
        ordering = ["gate_id", "shift_code", "pk"]

    def __str__(self) -> str:
        return f"{self.gate.name} {self.shift_code} {self.skill or '任何人'} × {self.required}"

    def applies_on(self, day: dt.date) -> bool:
        return not self.weekdays or day.weekday() in self.weekdays


MAX_ROSTER_DAYS = 42  # the longest roster the form accepts (six weeks)


class Roster(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        SOLVING = "solving", "求解中"
        SOLVED = "solved", "已求解（待发布）"
        FAILED = "failed", "未排出"
        PUBLISHED = "published", "已发布"

    subdistrict = models.ForeignKey("core.SubDistrict", models.CASCADE, related_name="rosters")
    name = models.CharField("名称", max_length=60)
    start_date = models.DateField("开始日期")
    days = models.PositiveSmallIntegerField("天数", default=28)
    gates = models.ManyToManyField("checkpoints.Gate", related_name="rosters", verbose_name="卡口")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.DRAFT)
    time_limit_s = models.PositiveSmallIntegerField("求解时限（秒）", default=60)
    min_rest_hours = models.PositiveSmallIntegerField("两班之间最少休息（小时）", default=8)
    night_needs_skill = models.BooleanField("夜班只排可上夜班人员", default=True)
    fairness_weight = models.PositiveSmallIntegerField("夜班/周末公平权重", default=5)
    continuity_weight = models.PositiveSmallIntegerField("岗位连续性权重", default=2)
    solver_status = models.CharField(max_length=12, blank=True)
    objective = models.IntegerField(null=True, blank=True)
    bound = models.IntegerField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)
    breakdown = models.JSONField(default=dict, blank=True)
    shortfalls = models.JSONField(default=list, blank=True)
    messages = models.JSONField(default=list, blank=True)
    solve_requested_at = models.DateTimeField(null=True, blank=True)
    solved_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    published_at = models.DateTimeField(null=True, blank=True)
    ended_early_at = models.DateTimeField("提前结束时间", null=True, blank=True)
    ended_early_reason = models.CharField("提前结束原因", max_length=200, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "排班表"
        ordering = ["-start_date", "-pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def end_date(self) -> dt.date:
        return self.start_date + dt.timedelta(days=self.days - 1)

    def dates(self) -> list[dt.date]:
        return [self.start_date + dt.timedelta(days=i) for i in range(self.days)]

    @property
    def gap_pct(self) -> float | None:
        if self.objective is None or self.bound is None:
            return None
        return round(100 * (self.objective - self.bound) / max(abs(self.objective), 1), 2)


class Assignment(models.Model):
    roster = models.ForeignKey(Roster, models.CASCADE, related_name="assignments")
    staff = models.ForeignKey(StaffMember, models.CASCADE, related_name="assignments")
    date = models.DateField("日期")
    gate = models.ForeignKey("checkpoints.Gate", models.CASCADE, related_name="assignments")
    shift_code = models.CharField("班次", max_length=8)
    shift_name = models.CharField("班次名称", max_length=20)
    starts_at = models.DateTimeField("开始")
    ends_at = models.DateTimeField("结束")

    class Meta:
        verbose_name = verbose_name_plural = "班次安排"
        ordering = ["date", "starts_at", "gate_id", "staff_id"]
        constraints = [models.UniqueConstraint(fields=["roster", "staff", "date"], name="one_shift_per_person_day")]
        indexes = [models.Index(fields=["gate", "date"])]

    def __str__(self) -> str:
        return f"{self.date} {self.shift_name} {self.staff.name}"


class SwapRequest(models.Model):
    class Status(models.TextChoices):
        REFUSED = "refused", "不符合排班规则"
        PARTNER = "partner", "待对方确认"
        DECLINED = "declined", "对方未同意"
        PENDING = "pending", "待卡口长审批"
        APPROVED = "approved", "已批准"
        REJECTED = "rejected", "未批准"
        WITHDRAWN = "withdrawn", "已撤回"
        VOIDED = "voided", "已作废（排班表提前结束）"

    OPEN_STATUSES: ClassVar[tuple[str, ...]] = (Status.PARTNER, Status.PENDING)  # still waiting for someone

    roster = models.ForeignKey(Roster, models.CASCADE, related_name="swaps")
    requester = models.ForeignKey(StaffMember, models.CASCADE, related_name="swap_requests")
    # A shift removed when its roster ends early leaves the request (voided, its summary kept) in
    # both people's history: then give (and take) are empty.
    give = models.ForeignKey(Assignment, models.SET_NULL, null=True, blank=True, related_name="+",
                             verbose_name="让出的班")
    partner = models.ForeignKey(StaffMember, models.CASCADE, related_name="swap_partners", verbose_name="对方")
    take = models.ForeignKey(Assignment, models.SET_NULL, null=True, blank=True, related_name="+",
                             verbose_name="换来的班（空 = 对方代班）")
    # The given shift's gate, kept when the shift goes: the gate chief still sees the request.
    gate = models.ForeignKey("checkpoints.Gate", models.SET_NULL, null=True, blank=True, related_name="+")
    reason = models.CharField("原因", max_length=200, blank=True)
    status = models.CharField("状态", max_length=10, choices=Status.choices)
    problems = models.JSONField("规则检查", default=list, blank=True)
    summary = models.CharField("申请内容", max_length=300, blank=True)  # as it was when asked
    nonce = models.CharField(max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    # A partner with an account confirms in the app before the chief sees the request; a partner
    # without one is asked by the chief (then this stays empty).
    partner_answered_at = models.DateTimeField("对方确认时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "换班申请"
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["requester", "nonce"], name="swap_nonce_per_requester")]

    def __str__(self) -> str:
        return f"{self.requester.name} → {self.partner.name}（{self.get_status_display()}）"

    @staticmethod
    def never_sent() -> Q:
        """Requests refused by the rules when made: neither the partner nor the chief ever got them,
        so only the requester's own history shows them."""
        return Q(status=SwapRequest.Status.REFUSED, partner_answered_at__isnull=True, decided_at__isnull=True)

    @property
    def open(self) -> bool:
        """Still waiting for the partner or the gate chief."""
        return self.status in self.OPEN_STATUSES

    @property
    def expired(self) -> bool:
        """Still waiting, but a shift in it has begun: it can no longer be answered or approved
        (both refuse with ``swap_past``), so it is shown as lapsed rather than waiting."""
        now = timezone.now()
        return self.open and self.give is not None and (
            self.give.starts_at <= now or (self.take is not None and self.take.starts_at <= now))

    @property
    def status_label(self) -> str:
        return "已过期（班次已开始）" if self.expired else self.get_status_display()


class AttendanceEvent(AppendOnly):
    class Action(models.TextChoices):
        IN = "in", "签到"
        OUT = "out", "签退"

    assignment = models.ForeignKey(Assignment, models.PROTECT, related_name="attendance")
    action = models.CharField(max_length=4, choices=Action.choices)
    at = models.DateTimeField("时间", default=timezone.now)
    late_minutes = models.PositiveIntegerField("迟到（分钟）", default=0)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    nonce = models.CharField(max_length=64)

    class Meta:
        verbose_name = verbose_name_plural = "考勤记录"
        ordering = ["at"]
        constraints = [models.UniqueConstraint(fields=["assignment", "nonce"], name="attendance_nonce"),
                       models.UniqueConstraint(fields=["assignment", "action"], name="one_clock_per_action")]


class CancelledShift(AppendOnly):
    """A published shift taken away when its roster ended early, so the person sees on their phone
    that it is off and why (the shift row itself is gone)."""

    staff = models.ForeignKey(StaffMember, models.CASCADE, related_name="cancelled_shifts")
    roster = models.ForeignKey(Roster, models.SET_NULL, null=True, blank=True, related_name="cancelled_shifts")
    assignment_pk = models.PositiveIntegerField(null=True)  # the shift's calendar UID, to cancel it there
    date = models.DateField("日期")
    shift_name = models.CharField("班次名称", max_length=20)
    gate = models.ForeignKey("checkpoints.Gate", models.SET_NULL, null=True, related_name="+")  # to match a shift given back
    gate_name = models.CharField("卡口", max_length=100)  # as it was, shown even if the gate goes
    starts_at = models.DateTimeField("开始")
    reason = models.CharField("原因", max_length=200)
    cancelled_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = verbose_name_plural = "已取消的班次"
        ordering = ["starts_at"]


class ServiceHours(AppendOnly):
    """The service-hours ledger (志愿服务时长): one row per worked shift, from attendance."""

    staff = models.ForeignKey(StaffMember, models.PROTECT, related_name="service_hours")
    team = models.ForeignKey(Team, models.SET_NULL, null=True, blank=True, related_name="service_hours")
    assignment = models.OneToOneField(Assignment, models.PROTECT, null=True, blank=True, related_name="service_hours")
    date = models.DateField("日期")
    minutes = models.PositiveIntegerField("时长（分钟）")
    note = models.CharField("说明", max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = verbose_name_plural = "服务时长"
        ordering = ["-date"]

    @property
    def minutes_zh(self) -> str:
        return minutes_zh(self.minutes)


def default_shifts() -> list[dict[str, Any]]:
    return [{"code": "M", "name": "早班", "start": 480, "minutes": 480, "night": False},
            {"code": "E", "name": "中班", "start": 960, "minutes": 480, "night": False},
            {"code": "N", "name": "夜班", "start": 0, "minutes": 480, "night": True}]


def twelve_hour_shifts() -> list[dict[str, Any]]:
    return [{"code": "D", "name": "白班", "start": 480, "minutes": 720, "night": False},
            {"code": "NT", "name": "夜班", "start": 1200, "minutes": 720, "night": True}]
