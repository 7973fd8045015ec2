from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme

if TYPE_CHECKING:
    from lianfang.accounts.models import User


class AuthedRequest(HttpRequest):
    """A request behind login_required / django_auth: its user is always a real User."""

    user: User  # narrower than HttpRequest's User | AnonymousUser


XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(data: bytes, filename: str) -> HttpResponse:
    """An Excel file to download; a Chinese ``filename`` is sent as RFC 6266 ``filename*``."""
    response = HttpResponse(data, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, filename) or "attachment"
    return response


def _page_above(path: str) -> str:
    """The nearest page above ``path`` that exists (``/my/shifts/swap/5/withdraw`` → ``/my/shifts/``)."""
    parts = [p for p in path.split("/") if p]
    while parts:
        parts.pop()
        candidate = "/" + "/".join(parts) + ("/" if parts else "")
        try:
            resolve(candidate)
        except Resolver404:
            continue
        return candidate
    return "/"


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent from a page that is no longer valid (logged out or in again elsewhere): say so in
    the app's own page, not Django's (settings.CSRF_FAILURE_VIEW)."""
    back = request.headers.get("referer", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = _page_above(request.path)
    return render(request, "stale_form.html", {"back": back}, status=403)


class MethodNotAllowedPage:
    """A page opened by a link to an action that only a button may send (e.g. the login page sends
    people back to the form's address after a session ran out): the app's Chinese page with a way
    back instead of the browser's empty 405. The API keeps its answers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 405 and request.method == "GET" and not request.path.startswith("/api/"):
            return render(request, "action_only.html", {"back": _page_above(request.path)}, status=405)
        return response
