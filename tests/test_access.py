"""A user sees and changes only what lies in scope, on every page, list, search, export and API."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from lianfang.core.models import AuditEvent
from tests.conftest import World


def table(response) -> str:
    """The person table of a list page (the search box echoes the query, so look only here)."""
    body = response.content.decode()
    start = body.index('id="person-table"')
    return body[start:body.index("</table>", start)]


def export_names(response) -> set[str]:
    wb = load_workbook(io.BytesIO(response.content), read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    return {r[4] for r in rows[1:]}


def test_cadre_of_xinwei_cannot_read_a_jiangdong_person_page(world: World) -> None:
    c = world.client("cadre_xinwei")
    assert c.get(reverse("person_detail", args=[world.zhang.pk])).status_code == 200
    r = c.get(reverse("person_detail", args=[world.li.pk]))
    assert r.status_code == 404
    assert "李秀英" not in r.content.decode()
    assert AuditEvent.objects.filter(action="denied", object_type="person", object_id=str(world.li.pk)).exists()


def test_cadre_of_xinwei_cannot_list_or_search_jiangdong(world: World) -> None:
    c = world.client("cadre_xinwei")
    body = c.get(reverse("person_list")).content.decode()
    assert "张建伟" in body and "李秀英" not in body and "陈国强" not in body
    for q in ["李秀英", "lxy", "lixiuying", world.li.doc_last4, "9999", "13957199999"]:
        assert "李秀英" not in table(c.get(reverse("person_list"), {"q": q})), q
    # Filtering by another village's id is refused by the form, not silently widened.
    assert "李秀英" not in table(c.get(reverse("person_list"), {"village": world.jiangdong.pk}))


def test_cadre_of_xinwei_cannot_export_jiangdong(world: World) -> None:
    c = world.client("cadre_xinwei")
    names = export_names(c.get(reverse("person_export")))
    assert "张建伟" in names and "李秀英" not in names
    names = export_names(c.get(reverse("person_export"), {"q": "李秀英"}))
    assert names == set()


def test_cadre_of_xinwei_cannot_reveal_or_see_jiangdong_household(world: World) -> None:
    c = world.client("cadre_xinwei")
    r = c.post(reverse("person_reveal", args=[world.li.pk]), {"field": "doc", "reason": "核查"})
    assert r.status_code == 404
    assert c.get(reverse("household_detail", args=[world.li.household_id])).status_code == 404
    assert not AuditEvent.objects.filter(action="reveal").exists()


def test_api_routes_are_scoped(world: World) -> None:
    c = world.client("cadre_xinwei")
    data = c.get("/api/people").json()
    names = {p["name"] for p in data["items"]}
    assert "张建伟" in names and "李秀英" not in names
    assert c.get("/api/people", {"q": "lxy"}).json()["count"] == 0
    assert c.get(f"/api/people/{world.li.pk}").status_code == 404
    r = c.post(f"/api/people/{world.li.pk}/reveal", {"field": "doc", "reason": "核查"}, content_type="application/json")
    assert r.status_code == 404
    assert {v["name"] for v in c.get("/api/villages").json()} == {"新围村"}
    assert "李秀英" not in export_names(c.get("/api/people/export.xlsx"))
    assert c.get("/api/people", {"village": world.jiangdong.pk}).json()["count"] == 0


def test_api_requires_login(world: World, client) -> None:
    assert client.get("/api/people").status_code == 401


def test_grid_worker_sees_only_own_grid(world: World) -> None:
    c = world.client("grid_xinwei")
    body = c.get(reverse("person_list")).content.decode()
    assert "张建伟" in body and "王建国" not in body
    assert c.get(reverse("person_detail", args=[world.wang.pk])).status_code == 404


def test_gate_staff_sees_zone_villages_masked_and_cannot_reveal(world: World) -> None:
    c = world.client("gate_staff")
    body = c.get(reverse("person_list")).content.decode()
    assert "张建伟" in body and "李秀英" in body and "陈国强" not in body
    assert world.zhang.document_number() not in body
    r = c.post(reverse("person_reveal", args=[world.zhang.pk]), {"field": "doc", "reason": "卡口核验"})
    assert r.status_code == 400
    assert "无权" in r.content.decode()
    assert c.get(reverse("person_export")).status_code == 403


def test_volunteer_sees_no_register(world: World) -> None:
    c = world.client("volunteer")
    assert c.get(reverse("person_list")).status_code == 403
    assert c.get(reverse("person_detail", args=[world.zhang.pk])).status_code == 404
    assert c.get("/api/people").json()["count"] == 0


def test_command_sees_whole_subdistrict(world: World) -> None:
    c = world.client("command")
    body = c.get(reverse("person_list")).content.decode()
    assert all(n in body for n in ["张建伟", "李秀英", "陈国强"])


def test_moving_a_village_out_of_the_zone_narrows_gate_scope(world: World) -> None:
    from lianfang.core.services import move_village_to_zone

    move_village_to_zone(world.jiangdong, None)
    body = world.client("gate_staff").get(reverse("person_list")).content.decode()
    assert "李秀英" not in body and "张建伟" in body


@pytest.mark.parametrize("persona", ["cadre_xinwei", "command"])
def test_person_list_query_count_is_constant(world: World, persona: str, django_assert_max_num_queries) -> None:
    c = world.client(persona)
    c.get(reverse("person_list"))  # warm session
    with django_assert_max_num_queries(8):
        c.get(reverse("person_list"))


def test_import_jobs_are_private_to_their_owner(world: World) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    c = world.client("cadre_xinwei")
    f = SimpleUploadedFile("x.csv", "村/社区,户号,姓名,证件号码\n".encode())
    r = c.post(reverse("import_upload"), {"file": f})
    job_url = r["Location"]
    assert world.client("cadre_jiangdong").get(job_url).status_code == 404


def test_edit_is_scoped_role_checked_and_audited(world: World) -> None:
    url = reverse("person_edit", args=[world.zhang.pk])
    data = {"name": "张建伟", "phone": "13900001111", "relation": "head", "population_type": "registered",
            "grid": world.xinwei_grid.pk, "elderly_alone": "on"}
    assert world.client("cadre_jiangdong").post(url, data).status_code == 404
    assert world.client("gate_staff").post(url, data).status_code == 403
    r = world.client("cadre_xinwei").post(url, data)
    assert r.status_code == 302
    world.zhang.refresh_from_db()
    assert world.zhang.phone_number() == "13900001111" and world.zhang.elderly_alone
    assert not world.zhang.party_member
    event = AuditEvent.objects.get(action="change")
    assert set(event.fields.split(",")) == {"phone", "elderly_alone", "party_member"}
    assert "13900001111" not in str(event.detail) + event.fields


def test_edit_rejects_bad_phone_and_other_village_grid(world: World) -> None:
    from lianfang.core.models import Grid

    c = world.client("cadre_xinwei")
    url = reverse("person_edit", args=[world.zhang.pk])
    base = {"name": "张建伟", "relation": "head", "population_type": "registered"}
    r = c.post(url, {**base, "phone": "12345"})
    assert r.status_code == 200 and "手机" in r.content.decode()
    other = Grid.objects.get(village=world.jiangdong)
    r = c.post(url, {**base, "grid": other.pk})
    assert r.status_code == 200 and "所选村民小组/网格不属于此人所在的村/社区" in r.content.decode()
    world.zhang.refresh_from_db()
    assert world.zhang.grid_id == world.xinwei_grid.pk
    assert "请填写姓名" in c.post(url, {**base, "name": ""}).content.decode()
    listed = c.get(reverse("person_list"), {"village": world.jiangdong.pk}).content.decode()
    assert "所选村/社区不存在，或不在您的管辖范围内" in listed and "李秀英" not in listed


def test_admin_is_for_the_command_centre_and_in_chinese(world: World) -> None:
    from lianfang.accounts.models import User

    command = world.users["command"]
    User.objects.filter(pk=command.pk).update(is_staff=True, is_superuser=True)
    c = world.client("command")
    body = c.get("/admin/core/person/").content.decode()
    assert "人员" in body and "张建伟" in body and world.zhang.document_number() not in body
    assert world.client("cadre_xinwei").get("/admin/core/person/").status_code == 302


def test_edit_form_renders_each_field_once_and_saves_a_phone_change(world: World) -> None:
    c = world.client("cadre_xinwei")
    url = reverse("person_edit", args=[world.zhang.pk])
    body = c.get(url).content.decode()
    assert body.count('name="phone"') == 1 and body.count('name="party_member"') == 1


def test_audit_page_names_people_in_chinese(world: World) -> None:
    world.client("cadre_xinwei").post(reverse("person_reveal", args=[world.zhang.pk]), {"field": "doc", "reason": "核对"})
    body = world.client("command").get(reverse("audit_list")).content.decode()
    assert "人员" in body and "张建伟" in body and "证件号码" in body
    # Every kind of object the apps audit has a Chinese name on the page: none shows its code.
    import re
    from pathlib import Path

    from lianfang.core.views import AUDIT_OBJECTS

    apps = Path(__file__).resolve().parents[1] / "lianfang"
    source = "\n".join(p.read_text() for p in apps.rglob("*.py") if "migrations" not in p.parts)
    used = set(re.findall(r'(?:denied\([\w.]+|audit_export\([\w.]+|object_type=)[, ]*"([a-z_]+)"', source))
    assert used and used <= set(AUDIT_OBJECTS), used - set(AUDIT_OBJECTS)
