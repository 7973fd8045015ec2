"""Pages for a form that can no longer be sent: stale (logged in again elsewhere) or opened as a link."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from lianfang.rosters import services
from lianfang.rosters.models import Roster, SwapRequest
from tests.rosters.conftest import RosterWorld, place


def test_a_stale_form_and_a_link_to_an_action_get_the_apps_chinese_page(rw: RosterWorld, published: Roster) -> None:
    give = place(published, rw.staff["v1"], published.dates()[2], "M")
    swap = services.request_swap(rw.staff["v1"], give, rw.staff["l1"], None, reason="", nonce="s1",
                                 user=rw.w.users["volunteer"])
    # After logging in again, the login page sends people to the form's address: a GET.
    c = rw.client("volunteer")
    page = c.get(reverse("swap_withdraw", args=[swap.pk]))
    body = page.content.decode()
    assert page.status_code == 405 and "没有提交" in body and f'href="{reverse("my_shifts")}"' in body
    api = c.get(f"/api/rosters/swaps/{swap.pk}/withdraw")
    assert api.status_code == 405 and "没有提交" not in api.content.decode()  # the API keeps its own answers
    # A form from a page opened before logging in again (its CSRF token is stale).
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(rw.w.users["volunteer"])
    stale = strict.post(reverse("swap_withdraw", args=[swap.pk]), {"csrfmiddlewaretoken": "stale"},
                        HTTP_REFERER="http://testserver" + reverse("my_shifts"))
    body = stale.content.decode()
    assert stale.status_code == 403 and "页面已过期" in body and "没有提交" in body
    assert f'href="http://testserver{reverse("my_shifts")}"' in body
    swap.refresh_from_db()
    assert swap.status == SwapRequest.Status.PARTNER
