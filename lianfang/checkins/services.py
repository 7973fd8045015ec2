"""Roll-call operations: rounds, signed personal links, replies, pasted chains, the board,
anomaly follow-up, notices and questions. Refusals are CheckinError with a Chinese message."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from lianfang.checkins.models import (
    Anomaly,
    CheckinGroup,
    GroupMember,
    Notice,
    PastedChain,
    PendingEntry,
    Question,
    Reply,
    Round,
)
from lianfang.engines import jielong

if TYPE_CHECKING:
    from lianfang.accounts.models import User

LINK_SALT = "lianfang.checkins.reply"
LINK_MAX_AGE = 48 * 3600
MAX_PASTE_BYTES = 1024 * 1024


class CheckinError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- rounds and links -----------------------------------------------------------------------

def open_round(group: CheckinGroup, day: dt.date | None = None) -> Round:
    """Today's round of the group (opened once); the newest notice since the last round heads it."""
    day = day or timezone.localdate()
    existing = Round.objects.filter(group=group, day=day).first()
    if existing:
        return existing
    last = Round.objects.filter(group=group, day__lt=day).order_by("-day").first()
    notices = Notice.objects.filter(subdistrict_id=group.subdistrict_id)
    if last:
        notices = notices.filter(created_at__gt=last.opened_at)
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    try:
        with transaction.atomic():
            return Round.objects.create(group=group, day=day, prompt=group.prompt, notice=notices.first(),
                                        closes_at=start + dt.timedelta(days=1, hours=12))
    except IntegrityError:
        return Round.objects.get(group=group, day=day)


def member_link(member: GroupMember, rnd: Round, proxy: bool = False) -> str:
    return signing.dumps({"m": member.pk, "r": rnd.pk, "p": int(proxy)}, salt=LINK_SALT, compress=True)


@dataclass(frozen=True)
class LinkTarget:
    member: GroupMember
    round: Round
    proxy: bool


def read_link(token: str) -> LinkTarget:
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=LINK_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise CheckinError("link_expired", "链接已过期：请向小组长索取今天的接龙链接") from exc
    except signing.BadSignature as exc:
        raise CheckinError("link_invalid", "链接无效（可能复制不完整或被改动）：请向小组长重新索取") from exc
    member = GroupMember.objects.filter(pk=data.get("m"), active=True).select_related("group", "helper").first()
    rnd = Round.objects.filter(pk=data.get("r")).select_related("group", "notice").first()
    if member is None or rnd is None or rnd.group_id != member.group_id:
        raise CheckinError("link_invalid", "链接无效：请向小组长重新索取")
    if not rnd.is_open:
        raise CheckinError("round_closed", f"{rnd.day} 的接龙已结束：请等待下一轮")
    return LinkTarget(member, rnd, bool(data.get("p")))


# --- replies --------------------------------------------------------------------------------

@transaction.atomic
def record_reply(rnd: Round, member: GroupMember, *, status: str, text: str = "", at_home: int | None = None,
                 via: str, nonce: str, user: User | None = None, temperature: float | None = None,
                 signals: tuple[str, ...] | None = None) -> tuple[Reply, bool]:
    if not nonce:
        raise CheckinError("nonce", "提交缺少编号：请刷新页面后再回复")
    # Scoped to this member and round: one member's nonce can never find or block another's reply.
    nonce = f"{rnd.pk}:{member.pk}:{nonce}"[:64]
    existing = Reply.objects.filter(nonce=nonce).first()
    if existing is not None:
        return existing, False
    if status not in Reply.Status.values:
        raise CheckinError("status", "请选择：无异常 / 有外来人员 / 有发热等症状 / 其他")
    if member.group_id != rnd.group_id:
        raise CheckinError("member", "不是本群成员")
    text = (text or "").strip()[:500]
    if status == Reply.Status.OTHER and not text:
        raise CheckinError("text", "选择“其他”时请写明情况")
    if at_home is not None and not 0 <= at_home <= 30:
        raise CheckinError("at_home", "在家人数须在 0–30 之间")
    found = signals if signals is not None else (jielong.classify(text)[1] if text else ())
    try:
        with transaction.atomic():
            reply = Reply.objects.create(round=rnd, member=member, status=status, text=text, at_home=at_home,
                                         temperature=temperature, signals=list(found), via=via, recorded_by=user,
                                         nonce=nonce)
    except IntegrityError:
        return Reply.objects.get(nonce=nonce), False
    if reply.is_anomaly:
        Anomaly.objects.create(reply=reply)
    return reply, True


# --- pasted chains --------------------------------------------------------------------------

@dataclass
class PasteResult:
    entries: int = 0
    added: int = 0
    already: int = 0
    pending: list[PendingEntry] = field(default_factory=list)


def _members(group: CheckinGroup) -> list[jielong.Member]:
    return [jielong.Member(key=str(m.pk), name=m.display_name, house=m.house or None,
                           nicknames=tuple(n.strip() for n in m.nicknames.split(",") if n.strip()))
            for m in group.members.filter(active=True)]


@transaction.atomic
def paste_chain(rnd: Round, text: str, user: User | None) -> PasteResult:
    if len(text.encode("utf-8")) > MAX_PASTE_BYTES:
        raise CheckinError("too_long", "粘贴内容超过 1 MB：请只粘贴本群当天的接龙")
    try:
        chain = jielong.parse_chain(text)
    except jielong.ChainError as exc:
        raise CheckinError(exc.code, exc.message) from exc
    matches = jielong.match_entries(chain.entries, _members(rnd.group))
    matched = sum(1 for m in matches if m.member_key)
    if len(matches) >= 3 and matched * 5 < len(matches):
        raise CheckinError("other_group", f"这条接龙似乎不是“{rnd.group.name}”的：{len(matches)} 条中只有 {matched} 条"
                                          "对得上本群成员。请确认粘贴的是本群接龙")
    members = {str(m.pk): m for m in rnd.group.members.all()}
    result = PasteResult(entries=len(matches))
    for m in matches:
        e = m.entry
        nonce = "paste:" + hashlib.sha256(f"{rnd.pk}|{e.number}|{e.raw}".encode()).hexdigest()[:50]
        if m.member_key and rnd.replies.filter(member_id=int(m.member_key)).exclude(via=Reply.Via.PASTE).exists():
            result.already += 1  # the member's own (or helper's, or phoned) answer stands
        elif m.member_key:
            at_home = e.at_home if e.at_home is not None and 0 <= e.at_home <= 30 else None  # "在家45人" is a typo
            _, created = record_reply(rnd, members[m.member_key], status=e.status, text=e.raw, at_home=at_home,
                                      via=Reply.Via.PASTE, nonce=nonce, user=user, temperature=e.temperature,
                                      signals=e.signals)
            result.added += created
            result.already += not created
        else:
            pending, created = PendingEntry.objects.get_or_create(
                round=rnd, number=e.number, raw=e.raw[:500],
                defaults={"reason": m.reason[:200], "parsed": {"status": e.status, "at_home": e.at_home,
                                                               "temperature": e.temperature, "signals": list(e.signals)}})
            if created:
                pending.candidates.set([members[k] for k in m.candidates if k in members])
            result.pending.append(pending)
            result.already += not created
    PastedChain.objects.create(round=rnd, text_hash=hashlib.sha256(text.encode()).hexdigest(), entries=len(matches),
                               added=result.added, pasted_by=user)
    return result


@transaction.atomic
def settle(pending: PendingEntry, member: GroupMember, user: User) -> Reply:
    if pending.settled_at is not None:
        raise CheckinError("settled", "这条已处理")
    p = pending.parsed
    reply, _ = record_reply(pending.round, member, status=p.get("status", "other"), text=pending.raw,
                            at_home=p.get("at_home"), via=Reply.Via.PASTE, user=user, temperature=p.get("temperature"),
                            signals=tuple(p.get("signals", [])),
                            nonce="settle:" + hashlib.sha256(f"{pending.pk}".encode()).hexdigest()[:50])
    pending.settled_member, pending.settled_at = member, timezone.now()
    pending.save(update_fields=["settled_member", "settled_at"])
    return reply


def dismiss(pending: PendingEntry) -> None:
    """The entry is nobody of the group: settled with no member, so it leaves the list unrecorded."""
    n = PendingEntry.objects.filter(pk=pending.pk, settled_at__isnull=True).update(settled_at=timezone.now())
    if not n:
        raise CheckinError("settled", "这条已处理")


# --- the board ------------------------------------------------------------------------------

def latest_replies(rnd: Round) -> dict[int, Reply]:
    """Each member's latest reply in the round (a later one supersedes)."""
    out: dict[int, Reply] = {}
    for r in rnd.replies.order_by("created_at", "pk"):
        out[r.member_id] = r
    return out


@dataclass
class GroupRow:
    group: CheckinGroup
    round: Round
    members: int
    answered: int
    proxy: int
    anomalies: int

    @property
    def rate(self) -> float:
        return round(100 * self.answered / self.members, 1) if self.members else 0.0


def board(groups: QuerySet[CheckinGroup], day: dt.date) -> list[GroupRow]:
    rows = []
    for g in groups.annotate(n=Count("members", filter=Q(members__active=True), distinct=True)):
        rnd = open_round(g, day)
        stats = rnd.replies.aggregate(answered=Count("member", distinct=True),
                                      proxy=Count("member", distinct=True, filter=Q(via=Reply.Via.PROXY)),
                                      anomalies=Count("anomaly", filter=Q(anomaly__outcome=Anomaly.Outcome.OPEN)))
        rows.append(GroupRow(g, rnd, g.n, stats["answered"], stats["proxy"], stats["anomalies"]))
    return rows


def non_responders(rnd: Round) -> QuerySet[GroupMember]:
    answered = rnd.replies.values("member_id")
    return rnd.group.members.filter(active=True).exclude(pk__in=answered).select_related("person", "helper")


# --- anomalies, notices, questions ----------------------------------------------------------

@transaction.atomic
def follow_up(anomaly: Anomaly, user: User, outcome: str, note: str, *, subject_name: str = "",
              subject_id: str = "", category: str = "high_risk_arrival") -> Anomaly:
    """The cadre's check of an anomaly; a transfer opens a key-person case for whoever was found."""
    from lianfang.control import services as control

    if outcome not in Anomaly.Outcome.values or outcome == Anomaly.Outcome.OPEN:
        raise CheckinError("outcome", "请选择核实结果")
    if len(note.strip()) < 2:
        raise CheckinError("note", "请写明核实情况")
    reply = anomaly.reply
    if outcome == Anomaly.Outcome.TRANSFERRED:
        group = reply.round.group
        if subject_id or subject_name:
            subject = control.Subject(name=subject_name or "未留名", doc_number=subject_id)
        elif reply.member.person is not None:
            subject = control.Subject(person=reply.member.person)
        else:
            raise CheckinError("subject", "转运须填写被转运人员的姓名（和证件号码）")
        try:
            case, _ = control.open_case(group.subdistrict, subject, source="rollcall", category=category,
                                        exposure_date=reply.round.day, reference=f"{group.name}接龙：{reply.text[:60]}",
                                        user=user, village=group.village, nonce=f"anomaly:{anomaly.pk}",
                                        address=note[:200])
        except control.ControlError as exc:
            raise CheckinError(exc.code, exc.message) from exc
        anomaly.case = case
    anomaly.outcome, anomaly.note = outcome, note.strip()[:300]
    anomaly.handled_by, anomaly.handled_at = user, timezone.now()
    anomaly.save()
    return anomaly


def notice_text(notice: Notice, group: CheckinGroup) -> str:
    """Ready to paste into the WeChat group, with today's chain under it."""
    return (f"【{notice.subdistrict.name}通知】{notice.title}\n{notice.body}\n\n#接龙\n{timezone.localdate():%m月%d日} "
            f"{group.prompt}\n例 姓名 门牌号 无异常\n\n1. ")


def ask(member: GroupMember, text: str) -> Question:
    text = (text or "").strip()
    if len(text) < 2:
        raise CheckinError("question", "请写下您的问题")
    return Question.objects.create(member=member, text=text[:500])


def answer(question: Question, user: User, text: str) -> Question:
    if len(text.strip()) < 2:
        raise CheckinError("answer", "请填写答复")
    question.answer, question.answered_by, question.answered_at = text.strip(), user, timezone.now()
    question.save()
    return question
