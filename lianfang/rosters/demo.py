"""Demo rosters: the zone's first eight gates staffed by about 120 local staff, traffic police,
volunteers and medical staff in three shifts over 28 days; the Party-member squad and its groups,
village volunteer teams, a published roster with attendance and service hours, a draft for the
next four weeks, and a pending swap."""

from __future__ import annotations

import datetime as dt
import random
import uuid

from django.utils import timezone

from lianfang.accounts.models import User
from lianfang.checkpoints import services as checkpoint_services
from lianfang.checkpoints.models import Gate
from lianfang.core.models import SubDistrict, Village, Zone
from lianfang.rosters import services
from lianfang.rosters.models import (
    AttendanceEvent,
    DemandRule,
    Kind,
    Roster,
    ServiceHours,
    ShiftRequest,
    Skill,
    StaffMember,
    Team,
    TeamMembership,
    Unavailability,
)

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
            "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国红梅飞鹏辉波斌宇浩凯健俊帆帅旭宁龙林欣晨"
# Lane sizing of the demo gates (arrivals per hour, seconds per check) by shift: busier by day.
TRAFFIC = {"早班 08–16": (70.0, 45.0), "中班 16–24": (50.0, 45.0), "夜班 00–08": (14.0, 45.0)}
PER_GATE = 15  # people per gate team: 120 for eight gates


def _name(rng: random.Random, seen: set[str]) -> str:
    while True:
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
        if name not in seen:
            seen.add(name)
            return name


def _phone(rng: random.Random) -> str:
    return rng.choice(("138", "139", "158", "187", "133")) + f"{rng.randrange(10**8):08d}"


def create_zone_roster(sub: SubDistrict, gates: list[Gate], start: dt.date, *, days: int = 28, seed: int = 2022,
                       villages: list[Village] | None = None, time_limit_s: int = 60,
                       name: str = "") -> Roster:
    """Staff, demand and a draft roster for ``gates`` (the first two are the busy main-road gates that
    need a traffic policeman in every shift and a medic by day). Used by the demo and bench/roster_zone.py."""
    rng = random.Random(seed)
    services.ensure_patterns(sub)
    villages = villages or []
    seen: set[str] = set(StaffMember.objects.filter(subdistrict=sub).values_list("name", flat=True))
    for index, gate in enumerate(gates):
        for shift, (arrivals, seconds) in TRAFFIC.items():
            checkpoint_services.size_lanes(gate, shift, arrivals * rng.uniform(0.8, 1.2), seconds)
        services.demand_from_planning(gate)
        main_road = index < 2
        if main_road:
            for code in ("M", "E", "N"):
                DemandRule.objects.create(gate=gate, shift_code=code, skill=Kind.POLICE, required=1,
                                          note="主干道：每班 1 名交警")
            for code in ("M", "E"):
                DemandRule.objects.create(gate=gate, shift_code=code, skill=Kind.MEDICAL, required=1,
                                          note="每个白天班 1 名医护")
        kinds = ([Kind.POLICE] * 5 + [Kind.MEDICAL] * 4 + [Kind.LOCAL] * 3 + [Kind.VOLUNTEER] * 3 if main_road
                 else [Kind.LOCAL] * 7 + [Kind.VOLUNTEER] * 8)
        for kind in kinds[:PER_GATE]:
            skills = []
            if rng.random() < 0.85:
                skills.append(Skill.NIGHT)
            if kind == Kind.MEDICAL:
                skills.append(Skill.MEDICAL)
            if rng.random() < 0.35:
                skills.append(Skill.PARTY)
            if rng.random() < 0.3:
                skills.append(Skill.DRIVER)
            staff = services.create_staff(
                sub, name=_name(rng, seen), kind=kind, skills=skills, phone=_phone(rng),
                home_village=rng.choice(villages) if villages and kind in (Kind.LOCAL, Kind.VOLUNTEER) else None,
                gates=[gate], max_week_hours=48 if kind != Kind.VOLUNTEER else rng.choice((24, 32, 40, 48)),
                max_consecutive_days=6 if kind != Kind.VOLUNTEER else 5)
            if rng.random() < 0.15:  # a few days away
                first = start + dt.timedelta(days=rng.randrange(days))
                Unavailability.objects.create(staff=staff, date_from=first, date_to=first + dt.timedelta(days=rng.randrange(3)),
                                              reason=rng.choice(["家中有事", "孩子生病", "外出学习"]))
            if rng.random() < 0.2:
                ShiftRequest.objects.get_or_create(staff=staff, date=start + dt.timedelta(days=rng.randrange(days)),
                                                   shift_code="", defaults={"on": False, "note": "想休息"})
    roster = Roster.objects.create(subdistrict=sub, name=name or f"江东片联防区 {start:%m月%d日}起四周排班", start_date=start,
                                   days=days, time_limit_s=time_limit_s)
    roster.gates.set(gates)
    return roster


SQUAD_SIZE = 42  # the Hezhuang crossroads' Party-member squad


def _teams(sub: SubDistrict, zone_villages: list[Village], gates: list[Gate], rng: random.Random) -> int:
    command = User.objects.filter(username="command").first()
    cadre = User.objects.filter(username="cadre_xinwei").first()
    squad = Team.objects.create(subdistrict=sub, name="江东片党员先锋队", kind=Team.TeamKind.SQUAD, leader=command,
                                duty="特殊车辆引导、夜间巡逻、后勤保障")
    groups = [Team.objects.create(subdistrict=sub, name=n, kind=Team.TeamKind.GROUP, parent=squad, duty=d, leader=command)
              for n, d in (("特殊车辆引导组", "货车、救护车、保供车辆引导"), ("夜间巡逻组", "夜间沿线巡逻"),
                           ("后勤保障组", "物资、餐食、帐篷"))]
    # The squad is 42 strong, as at Hezhuang: the zone's Party members on duty, topped up with local
    # staff and volunteers who are Party members too (the demo's skills are drawn at random).
    everyone = list(StaffMember.objects.filter(subdistrict=sub).order_by("pk"))
    party = [s for s in everyone if Skill.PARTY in s.skills][:SQUAD_SIZE]
    for staff in [s for s in everyone if Skill.PARTY not in s.skills and s.kind in (Kind.LOCAL, Kind.VOLUNTEER)]:
        if len(party) >= SQUAD_SIZE:
            break
        staff.skills = [*staff.skills, Skill.PARTY]
        staff.save(update_fields=["skills"])
        party.append(staff)
    for i, staff in enumerate(party):
        TeamMembership.objects.create(team=squad, staff=staff, is_leader=i == 0)
        TeamMembership.objects.create(team=groups[i % 3], staff=staff, is_leader=i < 3)
    for village in zone_villages:
        team = Team.objects.create(subdistrict=sub, name=f"{village.name}志愿者队", kind=Team.TeamKind.VILLAGE,
                                   village=village, leader=cadre if village.code == "330114003215" else None)
        for staff in StaffMember.objects.filter(home_village=village, kind=Kind.VOLUNTEER):
            TeamMembership.objects.get_or_create(team=team, staff=staff)
    for gate in gates:
        team = Team.objects.create(subdistrict=sub, name=f"{gate.name}班组", kind=Team.TeamKind.GATE, gate=gate,
                                   signup_open=False)
        TeamMembership.objects.bulk_create([TeamMembership(team=team, staff=s) for s in StaffMember.objects.filter(gates=gate)])
    return Team.objects.filter(subdistrict=sub).count()


def _attendance(roster: Roster, rng: random.Random) -> int:
    """Clock-ins and -outs for the shifts already over: most on time, some late, a few absent."""
    now = timezone.now()
    chief = User.objects.filter(username="gate_chief").first() or User.objects.filter(is_superuser=False).first()
    assert chief is not None
    events: list[AttendanceEvent] = []
    hours: list[ServiceHours] = []
    team_of = {m.staff_id: m.team_id for m in TeamMembership.objects.filter(team__kind=Team.TeamKind.GATE)}
    for a in roster.assignments.filter(ends_at__lte=now).select_related("gate"):
        roll = rng.random()
        if roll < 0.03:
            continue  # absent
        late = rng.randint(8, 40) if roll < 0.10 else 0
        cin = a.starts_at + dt.timedelta(minutes=late or -rng.randint(2, 20))
        cout = a.ends_at + dt.timedelta(minutes=rng.randint(0, 15))
        events.append(AttendanceEvent(assignment=a, action="in", at=cin, late_minutes=late, recorded_by=chief,
                                      nonce=uuid.uuid4().hex))
        events.append(AttendanceEvent(assignment=a, action="out", at=cout, recorded_by=chief, nonce=uuid.uuid4().hex))
        hours.append(ServiceHours(staff_id=a.staff_id, team_id=team_of.get(a.staff_id), assignment=a, date=a.date,
                                  minutes=int((cout - cin).total_seconds() // 60), note=a.gate.name))
    AttendanceEvent.objects.bulk_create(events, batch_size=2000)
    ServiceHours.objects.bulk_create(hours, batch_size=2000)
    return len(events) // 2


def load_roster_demo(sub: SubDistrict, seed: int = 2022, time_limit_s: int = 30) -> dict[str, int]:
    if Roster.objects.filter(subdistrict=sub).exists():
        return {"rosters": Roster.objects.filter(subdistrict=sub).count()}
    zone = Zone.objects.filter(subdistrict=sub).first()
    if zone is None:
        return {}
    gates = list(Gate.objects.filter(zone=zone).order_by("pk")[:8])
    if not gates:
        return {}
    rng = random.Random(seed)
    zone_villages = list(zone.current_villages().order_by("code"))
    today = timezone.localdate()
    roster = create_zone_roster(sub, gates, today - dt.timedelta(days=3), villages=zone_villages,
                                time_limit_s=time_limit_s, seed=seed)
    # The demo accounts of the gate: the volunteer and the gate staff are on its roster.
    first_gate_staff = list(StaffMember.objects.filter(gates=gates[0]).order_by("pk"))
    volunteer = next((s for s in first_gate_staff if s.kind == Kind.VOLUNTEER), None)
    local = next((s for s in first_gate_staff if s.kind == Kind.LOCAL), None)
    for username, staff in (("volunteer", volunteer), ("gate_staff", local)):
        user = User.objects.filter(username=username).first()
        if user and staff:
            staff.user = user
            staff.name = user.get_full_name() or staff.name
            # the account's village is the person's home: their cadre sees them
            staff.home_village_id = user.scope_village_id or staff.home_village_id
            staff.save(update_fields=["user", "name", "home_village"])
    teams = _teams(sub, zone_villages, gates, rng)
    command = User.objects.filter(username="command").first()
    roster.status = Roster.Status.SOLVING
    roster.save(update_fields=["status"])
    services.run_solve(roster)
    if command and roster.status == Roster.Status.SOLVED:
        services.publish(roster, command)
    attended = _attendance(roster, rng)
    next_start = roster.end_date + dt.timedelta(days=1)
    nxt = Roster.objects.create(subdistrict=sub, name=f"江东片联防区 {next_start:%m月%d日}起四周排班", start_date=next_start,
                                days=28, created_by=command)
    nxt.gates.set(gates)
    volunteer_user = User.objects.filter(username="volunteer").first()
    if volunteer and volunteer_user and roster.status == Roster.Status.PUBLISHED:
        # A pending hand-over for the gate chief: the first the rules allow.
        later = roster.assignments.filter(staff=volunteer, starts_at__gt=timezone.now() + dt.timedelta(days=2))
        partners = [s for s in first_gate_staff if s.pk != volunteer.pk]
        legal = next(((a, p) for a in later for p in partners if not services.swap_problems(roster, a, None, p)), None)
        if legal:
            services.request_swap(volunteer, legal[0], legal[1], None, reason="家中老人复诊，请代班", nonce="demo-swap",
                                  user=volunteer_user)
    return {"rosters": 2, "staff": StaffMember.objects.filter(subdistrict=sub).count(), "teams": teams,
            "shifts": roster.assignments.count(), "attendance": attended}
