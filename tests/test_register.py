"""The register: search, masking, reveal and export audit, zones with history, encryption at rest."""

from __future__ import annotations

import datetime
import io

import pytest
from django.db import connection
from django.urls import reverse
from openpyxl import load_workbook

from lianfang.core import services
from lianfang.core.models import AuditEvent, Person, ZoneMembership
from tests.conftest import World, make_id


def names(qs) -> set[str]:
    return set(qs.values_list("name", flat=True))


@pytest.mark.parametrize("query", ["zjw", "ZJW", "zhangjianwei", "zhang jian", "张建", "张建伟"])
def test_search_by_name_and_pinyin(world: World, query: str) -> None:
    assert "张建伟" in names(services.search_persons(Person.objects.all(), query))
    assert "李秀英" not in names(services.search_persons(Person.objects.all(), query))


@pytest.mark.parametrize(("name", "pinyin", "initials"), [
    ("曾国藩", "zengguofan", "zgf"), ("单雄信", "shanxiongxin", "sxx"), ("翟志刚", "zhaizhigang", "zzg"),
    ("张建伟", "zhangjianwei", "zjw"), ("John Smith", "johnsmith", "js"), ("李·Anna", "lianna", "la"),
])
def test_pinyin_uses_surname_readings(name: str, pinyin: str, initials: str) -> None:
    assert services.pinyin_fields(name) == {"name_pinyin": pinyin, "name_initials": initials}


def test_pinyin_order_sorts_as_a_roll_not_by_code_point() -> None:
    names = ["新围村", "江东村", "安吉村", "Zhou Lin", "江东村二组"]
    assert sorted(names) != sorted(names, key=services.pinyin_order)  # code point puts 新 before 江
    assert sorted(names, key=services.pinyin_order) == ["安吉村", "江东村", "江东村二组", "新围村", "Zhou Lin"]
    groups = ["第八村民小组", "第二村民小组", "第十二村民小组", "第十村民小组", "第一村民小组", "10号楼", "2号楼", "十里铺村"]
    assert sorted(groups, key=services.pinyin_order) == [  # numbers by value, not by their pinyin
        "2号楼", "10号楼", "第一村民小组", "第二村民小组", "第八村民小组", "第十村民小组", "第十二村民小组", "十里铺村"]


def test_search_by_last_digits_and_full_numbers(world: World) -> None:
    zhang = world.zhang
    number = zhang.document_number()
    all_ = Person.objects.all()
    assert names(services.search_persons(all_, number[-4:])) >= {"张建伟"}
    assert names(services.search_persons(all_, number)) == {"张建伟"}
    assert names(services.search_persons(all_, number.lower())) == {"张建伟"}
    assert names(services.search_persons(all_, "2345")) == {"张建伟"}  # phone 13857112345
    assert names(services.search_persons(all_, "13857112345")) == {"张建伟"}
    assert names(services.search_persons(all_, "9999")) == {"李秀英"}
    assert names(services.search_persons(all_, "0000")) == set()


@pytest.mark.parametrize("digits", [5, 6, 10, 17])
def test_longer_suffixes_are_refused_so_masked_digits_stay_hidden(world: World, digits: int) -> None:
    with pytest.raises(services.RegisterError) as exc:
        services.search_persons(Person.objects.all(), world.zhang.document_number()[-digits:])
    assert exc.value.code == "search_digits"
    r = world.client("supervisor").get("/api/people", {"q": "112345"})
    assert r.status_code == 400 and r.json()["code"] == "search_digits"
    body = world.client("supervisor").get(reverse("person_list"), {"q": "112345"}).content.decode()
    assert "后四位" in body


def test_passport_digits_hidden_by_the_mask_are_not_searchable() -> None:
    fields = services.document_fields("passport", "E12345678")
    assert fields["doc_masked"].endswith("78") and fields["doc_last4"] == ""


def test_masked_views_never_give_the_birth_date(world: World) -> None:
    data = world.client("supervisor").get(f"/api/people/{world.zhang.pk}").json()
    assert "birth_date" not in data and data["age"] is not None
    r = world.client("supervisor").get(reverse("person_export"))
    rows = list(load_workbook(io.BytesIO(r.content)).worksheets[0].iter_rows(values_only=True))
    assert rows[0][6] == "年龄" and "1975-03-04" not in str(rows) and "19750304" not in str(rows)


def test_export_audit_masks_a_searched_number(world: World) -> None:
    world.client("cadre_xinwei").get(reverse("person_export"), {"q": world.zhang.document_number()})
    logged = AuditEvent.objects.get(action="export").detail["filters"]["q"]
    assert world.zhang.document_number() not in logged and logged.endswith(world.zhang.document_number()[-4:])


def test_personal_data_is_encrypted_at_rest(world: World) -> None:
    number = world.zhang.document_number()
    with connection.cursor() as cur:
        cur.execute("SELECT doc_cipher, doc_hash, doc_masked, phone_cipher FROM core_person WHERE id = %s",
                    [world.zhang.pk])
        doc_cipher, doc_hash, doc_masked, phone_cipher = cur.fetchone()
    assert number not in doc_cipher and number not in doc_hash
    assert "13857112345" not in phone_cipher
    assert doc_masked == number[:6] + "********" + number[-4:]


def test_sex_and_birth_date_come_from_the_id(world: World) -> None:
    assert world.zhang.birth_date == datetime.date(1975, 3, 4)
    assert world.zhang.sex == "M"  # sequence 211: odd


def test_detail_page_masks_until_revealed_and_reveal_is_audited(world: World) -> None:
    c = world.client("cadre_xinwei")
    number = world.zhang.document_number()
    body = c.get(reverse("person_detail", args=[world.zhang.pk])).content.decode()
    assert number not in body and world.zhang.doc_masked in body and "138****2345" in body
    r = c.post(reverse("person_reveal", args=[world.zhang.pk]), {"field": "doc", "reason": "核酸采样登记"})
    assert r.status_code == 200 and number in r.content.decode()
    assert "no-store" in r["Cache-Control"]
    event = AuditEvent.objects.get(action="reveal")
    assert (event.user, event.object_id, event.fields, event.reason) == (
        world.users["cadre_xinwei"], str(world.zhang.pk), "doc", "核酸采样登记")


def test_reveal_needs_a_reason(world: World) -> None:
    c = world.client("cadre_xinwei")
    r = c.post(reverse("person_reveal", args=[world.zhang.pk]), {"field": "doc", "reason": ""})
    assert r.status_code == 400 and "事由" in r.content.decode()
    assert not AuditEvent.objects.filter(action="reveal").exists()


def test_api_reveal_audited_and_coded_errors(world: World) -> None:
    c = world.client("cadre_xinwei")
    url = f"/api/people/{world.zhang.pk}/reveal"
    r = c.post(url, {"field": "phone", "reason": "联系家属"}, content_type="application/json")
    assert r.json() == {"field": "phone", "value": "13857112345"}
    r = c.post(url, {"field": "phone", "reason": ""}, content_type="application/json")
    assert r.status_code == 400 and r.json()["code"] == "reveal_reason"
    r = world.client("gate_staff").post(url, {"field": "doc", "reason": "核验"}, content_type="application/json")
    assert r.status_code == 400 and r.json()["code"] == "reveal_forbidden"
    assert AuditEvent.objects.filter(action="reveal").count() == 1


def test_export_is_masked_and_audited(world: World) -> None:
    c = world.client("cadre_xinwei")
    r = c.get(reverse("person_export"))
    rows = list(load_workbook(io.BytesIO(r.content)).worksheets[0].iter_rows(values_only=True))
    assert rows[0][9] == "证件号码"
    by_name = {row[4]: row for row in rows[1:]}
    assert by_name["张建伟"][9] == world.zhang.doc_masked
    assert by_name["张建伟"][10] == "138****2345"
    event = AuditEvent.objects.get(action="export")
    assert event.detail["rows"] == 3 and event.detail["unmasked"] is False


def test_unmasked_export_needs_role_and_reason(world: World) -> None:
    c = world.client("cadre_xinwei")
    assert c.post(reverse("person_export"), {"unmasked": "1", "reason": ""}).status_code == 400
    r = c.post(reverse("person_export"), {"unmasked": "1", "reason": "报送区指挥部"})
    rows = list(load_workbook(io.BytesIO(r.content)).worksheets[0].iter_rows(values_only=True))
    assert world.zhang.document_number() in {row[9] for row in rows}
    assert AuditEvent.objects.get(action="export").detail["unmasked"] is True
    r = world.client("supervisor").post(reverse("person_export"), {"unmasked": "1", "reason": "督查"})
    assert r.status_code == 400


def test_audit_events_are_append_only(world: World) -> None:
    event = AuditEvent.objects.create(action="reveal", object_type="person", object_id="1")
    event.reason = "changed"
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()


def test_zone_membership_has_history_and_one_open_zone(world: World) -> None:
    from lianfang.core.models import Zone

    other = Zone.objects.create(subdistrict=world.sub, name="另一防区")
    services.move_village_to_zone(world.xinwei, other)
    rows = list(ZoneMembership.objects.filter(village=world.xinwei).order_by("valid_from"))
    assert [r.zone.name for r in rows] == ["江东片联防区", "另一防区"]
    assert rows[0].valid_to is not None and rows[1].valid_to is None
    assert world.xinwei.current_zone() == other
    assert set(world.zone.current_villages()) == {world.jiangdong}


def test_duplicate_document_refused_by_the_database(world: World) -> None:
    from django.db import IntegrityError, transaction

    from tests.conftest import add_person

    with pytest.raises(IntegrityError), transaction.atomic():
        add_person(world.xinwei, "重复", world.zhang.document_number())


def test_home_page_counts_and_tree(world: World) -> None:
    body = world.client("cadre_xinwei").get(reverse("home")).content.decode()
    assert "新围村" in body and "第1村民小组" in body and "江东村" not in body
    ctx = world.client("command").get(reverse("home")).context
    assert ctx["totals"]["persons"] == 5 and ctx["totals"]["households"] == 4
    assert ctx["totals"]["elderly_alone"] == 1


def test_map_layers_and_page(world: World) -> None:
    c = world.client("cadre_xinwei")
    assert c.get(reverse("map")).status_code == 200
    data = c.get("/api/map/layers").json()
    assert set(data) >= {"villages", "roads", "pois", "gates", "zones"}


def test_invalid_ids_rejected_with_chinese_messages() -> None:
    good = make_id()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    with pytest.raises(services.RegisterError) as exc:
        services.document_fields("resident_id", bad)
    assert exc.value.code == "id_checksum" and "校验位" in exc.value.message
    with pytest.raises(services.RegisterError) as exc:
        services.phone_fields("12345")
    assert "手机" in exc.value.message


def test_the_list_page_offers_a_full_export_with_a_reason_to_roles_that_may_reveal(world: World) -> None:
    from urllib.parse import quote

    cadre = world.client("cadre_xinwei")
    page = cadre.get(reverse("person_list")).content.decode()
    assert 'id="export-full"' in page and 'name="reason" required' in page
    assert 'id="export-full"' not in world.client("supervisor").get(reverse("person_list")).content.decode()
    full = cadre.post(reverse("person_export") + "?q=zjw", {"unmasked": "1", "reason": "报区指挥部核对"})
    assert full.status_code == 200 and quote("人员名单（含完整号码）") in full["Content-Disposition"]
    rows = list(load_workbook(io.BytesIO(full.content)).worksheets[0].iter_rows(values_only=True))
    assert world.zhang.document_number() in str(rows)
    event = AuditEvent.objects.get(action="export")
    assert event.reason == "报区指挥部核对" and event.detail["unmasked"] is True
    assert cadre.post(reverse("person_export"), {"unmasked": "1", "reason": ""}).status_code == 400
