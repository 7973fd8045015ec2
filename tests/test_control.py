"""The key-person pipeline: plans from editions, merging, stages and time limits, isolation,
transfers, district lists, re-planning, the inbox, and who sees what."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook

from lianfang.control import importer, services
from lianfang.control.models import (
    AssistList,
    Case,
    CaseSource,
    InboxItem,
    IsolationSite,
    ProtocolEdition,
    Sop,
    Stage,
    TransferTask,
)
from lianfang.control.services import ControlError, Subject
from tests.conftest import World, add_person, make_id

D = dt.date
JULY_5 = D(2022, 7, 5)


def open_for(w: World, person, category: str = "close_contact", exposure: dt.date = JULY_5, **kw) -> Case:
    case, _ = services.open_case(w.sub, Subject(person=person), source=kw.pop("source", "district_list"),
                                 category=category, exposure_date=exposure, user=w.users["command"], **kw)
    return case


def test_plans_follow_the_edition_in_force_on_the_exposure_date(cw: World) -> None:
    old = open_for(cw, cw.zhang, exposure=D(2022, 6, 20))
    assert old.edition is not None and old.edition.key == "ed8-14+7" and old.plan["summary"] == "集中隔离14天 + 居家健康监测7天"
    assert [t for p in old.plan["phases"] for t in p["tests"]] == ["2022-06-21", "2022-06-24", "2022-06-27", "2022-07-04"]
    new = open_for(cw, cw.li, exposure=D(2022, 7, 5))
    assert new.edition is not None and new.edition.key == "ed9" and new.plan["summary"] == "集中隔离7天 + 居家健康监测3天"
    assert new.plan_end == D(2022, 7, 15)
    arrival = open_for(cw, cw.wang, "medium_risk_arrival", D(2022, 7, 10))
    assert arrival.plan["summary"] == "居家隔离7天"
    assert arrival.plan["phases"][0]["tests"] == ["2022-07-11", "2022-07-14", "2022-07-17"]


def test_a_second_source_merges_and_a_retry_is_a_no_op(cw: World) -> None:
    first = open_for(cw, cw.zhang, source="gate", nonce="gate-scan-1")
    again = open_for(cw, cw.zhang, source="gate", nonce="gate-scan-1")
    second, created = services.open_case(cw.sub, Subject(person=cw.zhang), source="rollcall",
                                         category="close_contact", exposure_date=D(2022, 7, 6))
    assert first.pk == again.pk == second.pk and not created
    assert list(first.sources.values_list("kind", flat=True)) == ["gate", "rollcall"]
    assert Case.objects.filter(person=cw.zhang).count() == 1
    assert first.events.filter(kind="merged").count() == 1


def test_someone_outside_the_register_is_a_case_and_can_be_linked_later(cw: World) -> None:
    driver_id = make_id("412726", "19850312", "045")
    case, created = services.open_case(cw.sub, Subject(name="刘师傅", doc_number=driver_id, phone="13700001234"),
                                       source="rollcall", category="high_risk_arrival", exposure_date=D(2022, 7, 10))
    assert created and case.person is None and case.doc_masked.startswith("412726") and driver_id not in case.doc_masked
    again, created = services.open_case(cw.sub, Subject(name="刘师傅", doc_number=driver_id), source="gate",
                                        category="high_risk_arrival", exposure_date=D(2022, 7, 10))
    assert again.pk == case.pk and not created
    assert not services.relink_to_register(case, cw.users["command"])
    person = add_person(cw.xinwei, "刘建华", driver_id)
    assert services.relink_to_register(case, cw.users["command"])
    case.refresh_from_db()
    assert case.person == person and case.village == cw.xinwei and case.doc_cipher == ""


def test_exposure_in_the_future_is_refused(cw: World) -> None:
    with pytest.raises(ControlError) as exc:
        open_for(cw, cw.zhang, exposure=timezone.localdate() + dt.timedelta(days=1))
    assert exc.value.code == "exposure_future" and not Case.objects.exists()


def test_stages_run_in_order_with_their_checks(cw: World) -> None:
    command, cadre = cw.users["command"], cw.users["cadre_xinwei"]
    case = open_for(cw, cw.zhang)
    with pytest.raises(ControlError) as exc:
        services.advance(case, command, Stage.CONTROL)
    assert exc.value.code == "stage_skip" and "核查 → 流转" in exc.value.message
    with pytest.raises(ControlError):
        services.advance(case, cadre, Stage.HANDOFF)  # verification is the data task force's
    case = services.advance(case, command, Stage.HANDOFF)
    case = services.advance(case, cadre, Stage.TRANSFER)
    with pytest.raises(ControlError) as exc:
        services.advance(case, cadre, Stage.CONTROL)
    assert exc.value.code == "not_placed"
    services.place_in_isolation(case, IsolationSite.objects.get(), command)
    case = services.advance(case, cadre, Stage.CONTROL)
    case = services.advance(case, cadre, Stage.RELEASED)  # plan ended 2022-07-15
    assert case.closed_at and case.stays.get().released_at is not None
    assert list(case.events.filter(kind="stage").values_list("to_stage", flat=True)) == [
        "handoff", "transfer", "control", "released"]
    with pytest.raises(ControlError):
        services.advance(case, command, Stage.RELEASED)


def test_release_before_the_plan_ends_is_refused(cw: World) -> None:
    today = timezone.localdate()
    case = open_for(cw, cw.wang, "medium_risk_arrival", today - dt.timedelta(days=2))
    for stage in (Stage.HANDOFF, Stage.TRANSFER, Stage.CONTROL):
        case = services.advance(case, cw.users["command"], stage)
    with pytest.raises(ControlError) as exc:
        services.advance(case, cw.users["command"], Stage.RELEASED)
    assert exc.value.code == "too_early"


def test_handoff_needs_a_village_and_a_cadre_cannot_act_for_another_village(cw: World) -> None:
    driver, _ = services.open_case(cw.sub, Subject(name="刘师傅", doc_number=make_id("412726", "19850312", "045")),
                                   source="rollcall", category="high_risk_arrival", exposure_date=D(2022, 7, 10))
    with pytest.raises(ControlError) as exc:
        services.advance(driver, cw.users["command"], Stage.HANDOFF)
    assert exc.value.code == "village_required"
    case = services.advance(open_for(cw, cw.li), cw.users["command"], Stage.HANDOFF)
    with pytest.raises(ControlError) as exc:
        services.advance(case, cw.users["cadre_xinwei"], Stage.TRANSFER)
    assert exc.value.code == "stage_forbidden"


def test_a_full_site_refuses_another_guest_and_frees_beds_when_isolation_ends(cw: World) -> None:
    site = IsolationSite.objects.get()
    recent = timezone.localdate() - dt.timedelta(days=1)
    for p in (cw.zhang, cw.li):
        services.place_in_isolation(open_for(cw, p, exposure=recent), site, cw.users["command"])
    with pytest.raises(ControlError) as exc:
        services.place_in_isolation(open_for(cw, cw.chen, exposure=recent), site, cw.users["command"])
    assert exc.value.code == "site_full" and "已满（2/2）" in exc.value.message
    # 7 days of centralized isolation, then home monitoring: the bed is free from day 8.
    assert services.release_finished_stays(cw.sub.pk, today=recent + dt.timedelta(days=8)) == 2
    assert site.occupied() == 0


def _to_transfer(cw: World, person) -> Case:
    case = open_for(cw, person)
    case = services.advance(case, cw.users["command"], Stage.HANDOFF)
    return services.advance(case, cw.users["command"], Stage.TRANSFER)


def test_transfer_runs_from_dispatch_to_arrival_and_places_the_person(cw: World) -> None:
    case = _to_transfer(cw, cw.zhang)
    site = IsolationSite.objects.get()
    with pytest.raises(ControlError):
        services.create_transfer(case, cw.users["command"], pickup_place="新围村45号", destination=None)
    task = services.create_transfer(case, cw.users["command"], pickup_place="新围村45号", destination=site)
    t = cw.users["transfer"]
    with pytest.raises(ControlError) as exc:
        services.update_transfer(task, t, TransferTask.Status.ARRIVED)
    assert exc.value.code == "transfer_order"
    with pytest.raises(ControlError) as exc:
        services.update_transfer(task, t, TransferTask.Status.DISPATCHED)
    assert exc.value.code == "vehicle"
    with pytest.raises(ControlError) as exc:  # checked as at the gates, not taken as typed
        services.update_transfer(task, t, TransferTask.Status.DISPATCHED, vehicle="不是车牌")
    assert exc.value.code == "vehicle" and "车牌号" in exc.value.message
    services.update_transfer(task, t, TransferTask.Status.DISPATCHED, vehicle="浙a·d12345")
    task.refresh_from_db()
    assert task.vehicle == "浙AD12345" and task.status == TransferTask.Status.DISPATCHED
    services.update_transfer(task, t, TransferTask.Status.PICKED_UP)
    services.update_transfer(task, t, TransferTask.Status.ARRIVED)
    case.refresh_from_db()
    stay = case.stays.get()
    assert case.stage == Stage.CONTROL and stay.site == site and stay.room is not None and stay.room.number == "101"


def test_overdue_cases_go_to_the_inbox_once(cw: World) -> None:
    case = _to_transfer(cw, cw.zhang)
    Case.objects.filter(pk=case.pk).update(stage_entered_at=timezone.now() - dt.timedelta(hours=7))
    data = services.board(Case.objects.all())
    assert data["overdue"] == 1 and data["rows"][0].case.pk == case.pk
    assert services.escalate_overdue(cw.sub) == 1 and services.escalate_overdue(cw.sub) == 0
    item = InboxItem.objects.get(kind="overdue")
    assert item.case == case and "超时" in item.title


def test_stage_speed_reports_median_and_worst(cw: World) -> None:
    t0 = timezone.now() - dt.timedelta(hours=10)
    for person, hours in ((cw.zhang, 1), (cw.li, 3), (cw.chen, 5)):
        case, _ = services.open_case(cw.sub, Subject(person=person), source="gate", category="close_contact",
                                     exposure_date=D(2022, 7, 5), at=t0)
        services.advance(case, cw.users["command"], Stage.HANDOFF, now=t0 + dt.timedelta(hours=hours))
    verify = services.stage_speed(Case.objects.all())[0]
    assert verify == {"stage": "核查", "count": 3, "median_h": 3.0, "worst_h": 5.0}


def test_copy_edit_publish_then_replan_only_what_is_confirmed(cw: World) -> None:
    a, b = open_for(cw, cw.zhang), open_for(cw, cw.li)
    ed9 = ProtocolEdition.objects.get(key="ed9")
    new = services.copy_edition(ed9, cw.users["command"], key="ed9-rev", name="第九版（修订）",
                                effective_from=D(2022, 7, 1))
    rules = {r.category: r.phases for r in new.rules.all()}
    rules["close_contact"] = [["centralized_isolation", 5, [1, 3, 5]], ["home_monitoring", 3, [3]]]
    services.update_edition(new, cw.users["command"], name=new.name, effective_from=new.effective_from, rules=rules)
    assert services.replan_preview(cw.sub.pk) == []  # a draft changes nothing
    services.publish_edition(new, cw.users["command"])
    preview = services.replan_preview(cw.sub.pk)
    assert {p.case.pk for p in preview} == {a.pk, b.pk}
    assert any("解除日期：2022-07-15 → 2022-07-13" in c for c in preview[0].changes)
    assert services.replan_apply(cw.sub.pk, cw.users["command"], [a.pk]) == 1
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.plan_end == D(2022, 7, 13) and a.edition == new and b.plan_end == D(2022, 7, 15)
    assert list(new.revisions.values_list("action", flat=True)) == ["published", "edited", "copied"]


def test_bad_rules_are_refused_when_editing(cw: World) -> None:
    ed9 = ProtocolEdition.objects.get(key="ed9")
    with pytest.raises(ControlError) as exc:
        services.update_edition(ed9, cw.users["command"], name=ed9.name, effective_from=ed9.effective_from,
                                rules={"close_contact": [["centralized_isolation", 7, [9]]]})
    assert exc.value.code == "test_days"


# --- district lists ---------------------------------------------------------------------------

def assist_file(tmp_path: Path, rows: list[list[object]]) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.append(["姓名", "证件类型", "证件号码", "手机号", "人员类别", "暴露日期", "现住址", "备注"])
    for r in rows:
        ws.append(r)
    path = tmp_path / "list.xlsx"
    wb.save(path)
    return path


def test_assist_list_opens_cases_and_lists_the_unmatched(cw: World, tmp_path: Path) -> None:
    driver = make_id("412726", "19850312", "045")
    path = assist_file(tmp_path, [
        ["张建伟", "身份证", cw.zhang.document_number(), "", "密接", "2022-07-05", "", ""],
        ["刘师傅", "", driver, "13700001234", "中风险", dt.datetime(2022, 7, 10), "新围村停车场", "货车司机"],
    ])
    result = importer.import_assist_list(path, "list.xlsx", cw.users["command"], "区协查〔2022〕15号")
    al = result.assist_list
    assert result.errors == [] and al is not None
    assert (al.rows_total, al.opened, al.merged, al.unmatched) == (2, 2, 0, 1)
    driver_case = Case.objects.get(name="刘师傅")
    assert driver_case.person is None and driver_case.current_address == "新围村停车场"
    assert driver_case.plan["summary"] == "居家隔离7天"
    # The same list again: nothing new, no duplicate sources.
    again = importer.import_assist_list(path, "list.xlsx", cw.users["command"], "区协查〔2022〕15号").assist_list
    assert again is not None and (again.opened, again.merged) == (0, 2)
    assert CaseSource.objects.count() == 2


def test_a_bad_assist_list_imports_nothing_and_says_why(cw: World, tmp_path: Path) -> None:
    released = open_for(cw, cw.li, exposure=D(2022, 7, 5))
    for stage in (Stage.HANDOFF, Stage.TRANSFER):
        released = services.advance(released, cw.users["command"], stage)
    services.place_in_isolation(released, IsolationSite.objects.get(), cw.users["command"])
    for stage in (Stage.CONTROL, Stage.RELEASED):
        released = services.advance(released, cw.users["command"], stage)
    zhang = cw.zhang.document_number()
    bad_id = zhang[:-1] + ("0" if zhang[-1] != "0" else "1")
    future = timezone.localdate() + dt.timedelta(days=3)
    path = assist_file(tmp_path, [
        ["甲", "", bad_id, "", "密接", "2022-07-05", "", ""],
        ["乙", "", cw.wang.document_number(), "", "密接", future.isoformat(), "", ""],
        ["丙", "", cw.chen.document_number(), "", "密接", "2022-07-05", "", ""],
        ["丙", "", cw.chen.document_number(), "", "密接", "2022-07-05", "", ""],
        ["李秀英", "", cw.li.document_number(), "", "密接", "2022-07-03", "", ""],
        ["丁", "", make_id("330114", "19900101", "777"), "", "外星人", "2022-07-05", "", ""],
    ])
    before = Case.objects.count()
    result = importer.import_assist_list(path, "bad.xlsx", cw.users["command"])
    got = {(e.row, e.column) for e in result.errors}
    assert got == {(2, "证件号码"), (3, "暴露日期"), (5, "证件号码"), (6, "暴露日期"), (7, "人员类别")}
    reasons = " ".join(e.reason for e in result.errors)
    assert "校验位" in reasons and "晚于今天" in reasons and "同一人" in reasons and "已于 2022-07-15 解除" in reasons
    assert result.assist_list is None and Case.objects.count() == before and not AssistList.objects.exists()
    assert bad_id not in str([e.value for e in result.errors])


def test_risk_areas_import_and_lookup(cw: World, tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["地区", "等级", "起", "止", "来源"])
    ws.append(["上海市浦东新区", "中风险", "2022-07-01", "2022-07-08", "上海发布"])
    ws.append(["上海市浦东新区某街道", "高风险", "2022-07-03", "", "上海发布"])
    wb.save(tmp_path / "r.xlsx")
    n, errors = importer.import_risk_areas(tmp_path / "r.xlsx", "r.xlsx", cw.users["command"])
    assert (n, errors) == (2, [])
    assert importer.risk_level_on(cw.sub.pk, "上海市浦东新区某街道", D(2022, 7, 5)) == "high"
    assert importer.risk_level_on(cw.sub.pk, "上海市浦东新区", D(2022, 7, 2)) == "medium"
    assert importer.risk_level_on(cw.sub.pk, "上海市浦东新区", D(2022, 6, 2)) is None
    ws.append(["北京", "超高", "昨天", "", ""])
    wb.save(tmp_path / "r2.xlsx")
    n, errors = importer.import_risk_areas(tmp_path / "r2.xlsx", "r2.xlsx", cw.users["command"])
    assert n == 0 and {(e.row, e.column) for e in errors} == {(4, "等级"), (4, "起")}


# --- pages, scopes and the inbox ------------------------------------------------------------

def test_cadres_see_only_their_villages_cases(cw: World) -> None:
    mine, theirs = open_for(cw, cw.zhang), open_for(cw, cw.li)
    c = cw.client("cadre_xinwei")
    body = c.get(reverse("case_board")).content.decode()
    assert "张建伟" in body and "李秀英" not in body
    assert c.get(reverse("case_detail", args=[theirs.pk])).status_code == 404
    assert c.post(reverse("case_advance", args=[theirs.pk]), {"to_stage": "transfer"}).status_code == 404
    assert {x["id"] for x in c.get("/api/cases").json()} == {mine.pk}
    assert c.get(f"/api/cases/{theirs.pk}").status_code == 404
    assert cw.client("grid_xinwei").get(reverse("case_detail", args=[mine.pk])).status_code == 200
    assert cw.client("leader_xinwei2").get(reverse("case_detail", args=[mine.pk])).status_code == 404
    assert cw.client("volunteer").get(reverse("case_board")).status_code == 403


def test_the_transfer_team_sees_only_its_tasks(cw: World) -> None:
    case = _to_transfer(cw, cw.zhang)
    other = open_for(cw, cw.li)
    services.create_transfer(case, cw.users["command"], pickup_place="新围村45号", destination=IsolationSite.objects.get())
    c = cw.client("transfer")
    body = c.get(reverse("transfer_list")).content.decode()
    assert "张建伟" in body
    assert c.get(reverse("case_detail", args=[other.pk])).status_code == 404
    task = TransferTask.objects.get()
    c.post(reverse("transfer_status", args=[task.pk]), {"status": "dispatched", "vehicle": "浙A·D12345"})
    task.refresh_from_db()
    assert task.status == "dispatched" and task.assigned_to == cw.users["transfer"]
    assert cw.client("cadre_xinwei").post(reverse("transfer_status", args=[task.pk]),
                                          {"status": "picked_up"}).status_code == 403


def test_api_opens_cases_idempotently_and_cadres_only_for_their_register(cw: World) -> None:
    payload = {"source": "rollcall", "category": "close_contact", "exposure_date": "2022-07-05",
               "person_id": cw.zhang.pk, "nonce": "jielong-7-12-3"}
    c = cw.client("cadre_xinwei")
    r1 = c.post("/api/cases", payload, content_type="application/json")
    r2 = c.post("/api/cases", payload, content_type="application/json")
    assert (r1.status_code, r2.status_code) == (201, 200) and r1.json()["case"]["id"] == r2.json()["case"]["id"]
    assert c.post("/api/cases", {**payload, "person_id": cw.li.pk}, content_type="application/json").status_code == 404
    r = c.post(f"/api/cases/{r1.json()['case']['id']}/advance", {"to_stage": "control"}, content_type="application/json")
    assert r.status_code == 400 and r.json()["code"] == "stage_skip"


def test_inbox_keeps_assignment_status_and_comments_with_sops(cw: World) -> None:
    Sop.objects.create(subdistrict=cw.sub, applies_to="inbox:gate", title="卡口发现红码人员", body="人员不下车")
    item = services.raise_inbox_item(cw.sub, kind="gate", title="1号卡口：红码司机", nonce="gate-1")
    assert services.raise_inbox_item(cw.sub, kind="gate", title="重复", nonce="gate-1").pk == item.pk
    c = cw.client("command")
    page = c.get(reverse("inbox_item", args=[item.pk])).content.decode()
    assert "卡口发现红码人员" in page
    c.post(reverse("inbox_item", args=[item.pk]), {"status": "in_progress", "assignee": cw.users["cadre_jiangdong"].pk,
                                                    "comment": "请江东村核实"})
    item.refresh_from_db()
    assert item.status == "in_progress" and item.assignee == cw.users["cadre_jiangdong"]
    assert list(item.events.values_list("kind", flat=True)) == ["created", "status", "assigned", "comment"]
    assert cw.client("cadre_jiangdong").get(reverse("inbox_item", args=[item.pk])).status_code == 200
    assert cw.client("cadre_xinwei").get(reverse("inbox_item", args=[item.pk])).status_code == 404


def test_pages_render_for_the_command_centre(cw: World) -> None:
    open_for(cw, cw.zhang)
    c = cw.client("command")
    for name in ["case_board", "home_watch", "isolation_sites", "transfer_list", "assist_lists", "protocol_list",
                 "protocol_replan", "risk_areas", "stage_limits", "inbox", "sop_list", "case_new"]:
        assert c.get(reverse(name)).status_code == 200, name
    ed = ProtocolEdition.objects.get(key="ed9")
    assert "密切接触者" in c.get(reverse("protocol_detail", args=[ed.pk])).content.decode()


def test_edition_edit_page_saves_rules(cw: World) -> None:
    c = cw.client("command")
    ed9 = ProtocolEdition.objects.get(key="ed9")
    c.post(reverse("protocol_copy", args=[ed9.pk]), {"key": "ed9-b", "name": "九版乙", "effective_from": "2022-07-01"})
    new = ProtocolEdition.objects.get(key="ed9-b")
    page = c.get(reverse("protocol_edit", args=[new.pk]))
    formset = page.context["formset"]
    data = {"name": "九版乙", "effective_from": "2022-07-01", "rules-TOTAL_FORMS": str(len(formset.forms)),
            "rules-INITIAL_FORMS": str(len(formset.forms))}
    for i, f in enumerate(formset.forms):
        for k, v in f.initial.items():
            if k == "enabled":
                if v:
                    data[f"rules-{i}-enabled"] = "on"
            else:
                data[f"rules-{i}-{k}"] = str(v)
        if f.initial["category"] == "secondary_contact":
            data[f"rules-{i}-tests1"] = "1，3、7"
    r = c.post(reverse("protocol_edit", args=[new.pk]), data)
    assert r.status_code == 302
    assert new.rules.get(category="secondary_contact").phases == [["home_isolation", 7, [1, 3, 7]]]


def test_a_nonce_from_another_village_never_returns_its_case(cw: World) -> None:
    services.open_case(cw.sub, Subject(person=cw.li), source="gate", category="close_contact",
                       exposure_date=JULY_5, nonce="demo-gate-1")
    r = cw.client("cadre_xinwei").post("/api/cases", {
        "source": "gate", "category": "close_contact", "exposure_date": "2022-07-05", "person_id": cw.zhang.pk,
        "nonce": "demo-gate-1"}, content_type="application/json")
    assert r.status_code == 404 and "李秀英" not in r.content.decode()


def test_an_outsider_registered_later_keeps_one_case(cw: World) -> None:
    driver_id = make_id("412726", "19850312", "045")
    first, _ = services.open_case(cw.sub, Subject(name="刘师傅", doc_number=driver_id), source="rollcall",
                                  category="high_risk_arrival", exposure_date=D(2022, 7, 10))
    person = add_person(cw.xinwei, "刘建华", driver_id)
    second, created = services.open_case(cw.sub, Subject(person=person), source="gate",
                                         category="high_risk_arrival", exposure_date=D(2022, 7, 10))
    assert second.pk == first.pk and not created and Case.objects.filter(closed_at__isnull=True).count() == 1
    second.refresh_from_db()
    assert second.person == person and second.sources.count() == 2


def test_control_waits_for_an_open_transfer(cw: World) -> None:
    case = _to_transfer(cw, cw.wang)  # a close contact: centralized, so it needs the transfer
    services.create_transfer(case, cw.users["command"], pickup_place="新围村12号", destination=IsolationSite.objects.get())
    with pytest.raises(ControlError) as exc:
        services.advance(case, cw.users["command"], Stage.CONTROL)
    assert exc.value.code == "transfer_open"


def test_replan_skips_a_plan_that_changed_after_the_preview(cw: World) -> None:
    case = open_for(cw, cw.zhang)
    ed9 = ProtocolEdition.objects.get(key="ed9")
    new = services.copy_edition(ed9, cw.users["command"], key="ed9-x", name="九版X", effective_from=D(2022, 7, 1))
    services.publish_edition(new, cw.users["command"])
    rules = {r.category: r.phases for r in new.rules.all()}
    rules["close_contact"] = [["centralized_isolation", 10, [1]]]
    services.update_edition(new, cw.users["command"], name=new.name, effective_from=new.effective_from, rules=rules)
    seen = {p.case.pk: p.digest for p in services.replan_preview(cw.sub.pk)}
    rules["close_contact"] = [["home_monitoring", 1, [1]]]  # edited again before the officer confirms
    services.update_edition(new, cw.users["command"], name=new.name, effective_from=new.effective_from, rules=rules)
    assert services.replan_apply(cw.sub.pk, cw.users["command"], seen) == 0
    case.refresh_from_db()
    assert case.edition is not None and case.edition.key == "ed9"


def test_stage_limits_refuse_nonsense_and_the_supervisor_only_reads_the_inbox(cw: World) -> None:
    c = cw.client("command")
    for bad in ("nan", "1e12", "-3", "abc"):
        c.post(reverse("stage_limits"), {"hours_verify": bad})
        assert services.stage_limits(cw.sub.pk)["verify"].limit_hours == 2.0, bad
    item = services.raise_inbox_item(cw.sub, kind="gate", title="卡口事项")
    s = cw.client("supervisor")
    page = s.get(reverse("inbox_item", args=[item.pk]))
    assert page.status_code == 200 and 'id="inbox-form"' not in page.content.decode()  # no form that only refuses
    assert s.post(reverse("inbox_item", args=[item.pk]), {"status": "done"}).status_code == 403
    # A case's page offers the supervisor no step they may not take, and says who takes it.
    case = open_for(cw, cw.zhang)
    case_page = s.get(reverse("case_detail", args=[case.pk])).content.decode()
    assert 'id="advance-form"' not in case_page and 'id="next-step"' in case_page
    assert 'id="advance-form"' in cw.client("command").get(reverse("case_detail", args=[case.pk])).content.decode()
    # Gates: listed for the supervisor, and scanning says it is the gate staff's.
    home = s.get("/").content.decode()
    assert f'href="{reverse("gate_list")}"' in home
    scan = s.get(reverse("scan_page", args=[cw.gate.pk]))
    assert scan.status_code == 403 and "查验由卡口人员办理" in scan.content.decode()


def test_gate_rules_are_shown_and_edited_on_the_edition(cw: World) -> None:
    c = cw.client("command")
    gate_ed = ProtocolEdition.objects.get(key="hz-gate-2022-07-08")
    page = c.get(reverse("protocol_detail", args=[gate_ed.pk])).content.decode()
    assert "72 小时内阴性" in page and "不作为依据" in page
    c.post(reverse("protocol_copy", args=[gate_ed.pk]), {"key": "gate-48", "name": "卡口48小时", "effective_from": "2022-08-01"})
    new = ProtocolEdition.objects.get(key="gate-48")
    assert new.gate_rules == gate_ed.gate_rules
    data = {"name": "卡口48小时", "effective_from": "2022-08-01", "rules-TOTAL_FORMS": "0", "rules-INITIAL_FORMS": "0"}
    from lianfang.control.forms import GateRulesForm

    for k, v in GateRulesForm.initial_from(new.gate_rules).items():
        if k == "enabled":
            data["gate-enabled"] = "on"
        elif v is not None:
            data[f"gate-{k}"] = str(v)
    data["gate-test_required_hours"] = "48"
    data["gate-medium_outcome"] = "transfer"
    r = c.post(reverse("protocol_edit", args=[new.pk]), data)
    assert r.status_code == 302, r.content.decode()[:500]
    new.refresh_from_db()
    assert new.gate_rules["test_required_hours"] == 48
    assert {"level": "medium", "within_days": 7, "outcome": "transfer"} in new.gate_rules["origin_rules"]


def test_a_bad_phone_on_the_new_case_form_is_said_at_the_field(cw: World) -> None:
    c = cw.client("command")
    form = {"name": "王五", "doc_type": "resident_id", "doc_number": "11010519491231002X", "category": "close_contact",
            "exposure_date": timezone.localdate().isoformat(), "source": "manual", "phone": "1381234"}
    page = c.post(reverse("case_new"), form)
    assert page.status_code == 200 and not Case.objects.filter(name="王五").exists()
    assert "手机号应为11位数字，当前为7位" in str(page.context["form"].errors["phone"])
    done = c.post(reverse("case_new"), {**form, "phone": "13812345678"})
    assert done.status_code == 302 and Case.objects.get(name="王五").phone_masked == "138****5678"


def test_a_cadre_reveals_an_outsiders_phone_on_the_case_page_and_it_is_audited(cw: World) -> None:
    from lianfang.core.models import AuditEvent

    driver_id = make_id("412726", "19850312", "045")
    case, _ = services.open_case(cw.sub, Subject(name="刘师傅", doc_number=driver_id, phone="13700001234"),
                                 source="manual", category="close_contact", exposure_date=JULY_5, village=cw.xinwei)
    cadre = cw.client("cadre_xinwei")
    page = cadre.get(reverse("case_detail", args=[case.pk])).content.decode()
    assert "查看完整证件号或手机号" in page and "13700001234" not in page and driver_id not in page
    url = reverse("case_reveal", args=[case.pk])
    assert cadre.post(url, {"field": "phone", "reason": ""}).status_code == 400  # a reason is needed
    shown = cadre.post(url, {"field": "phone", "reason": "电话通知居家隔离"})
    assert shown.status_code == 200 and 'href="tel:13700001234"' in shown.content.decode()
    assert "no-cache" in shown["Cache-Control"] or "max-age=0" in shown["Cache-Control"]
    assert driver_id in cadre.post(url, {"field": "doc", "reason": "核对身份"}).content.decode()
    events = AuditEvent.objects.filter(action="reveal", object_type="case", object_id=str(case.pk))
    assert sorted(events.values_list("fields", flat=True)) == ["doc", "phone"]
    # Another village's cadre cannot open the case, nor reveal from it; a role without reveal cannot either.
    assert cw.client("cadre_jiangdong").post(url, {"field": "phone", "reason": "查看一下"}).status_code == 404
    refused = cw.client("supervisor").post(url, {"field": "phone", "reason": "查看一下"})
    assert refused.status_code == 400 and "13700001234" not in refused.content.decode()


def test_the_village_signs_for_a_hand_off_from_its_home_page(cw: World) -> None:
    case = services.advance(open_for(cw, cw.zhang), cw.users["command"], Stage.HANDOFF)
    cadre = cw.client("cadre_xinwei")
    home = cadre.get("/").content.decode()
    assert 'id="home-handoffs"' in home and f'href="/cases/{case.pk}/"' in home and "待签收" in home
    assert 'id="home-handoffs"' not in cw.client("cadre_jiangdong").get("/").content.decode()
    page = cadre.get(reverse("case_detail", args=[case.pk])).content.decode()
    assert 'id="receive-form"' in page and "须在" in page
    assert cw.client("cadre_jiangdong").post(reverse("case_receive", args=[case.pk])).status_code == 404
    for _ in range(2):  # a double tap signs once
        cadre.post(reverse("case_receive", args=[case.pk]))
    receipts = case.events.filter(kind="received")
    assert receipts.count() == 1 and receipts.get().user == cw.users["cadre_xinwei"]
    page = cadre.get(reverse("case_detail", args=[case.pk])).content.decode()
    assert 'id="receive-form"' not in page and "已于" in page and "签收" in page
    assert "已签收" in cadre.get("/").content.decode()
    # Signing is for the hand-off stage only: once moved on, the receipt belongs to the past step.
    services.advance(case, cw.users["cadre_xinwei"], Stage.TRANSFER)
    with pytest.raises(ControlError) as exc:
        services.receive_handoff(case, cw.users["cadre_xinwei"])
    assert exc.value.code == "receive_stage"
    assert 'id="home-handoffs"' not in cadre.get("/").content.decode()
