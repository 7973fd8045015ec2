from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest, HttpResponse
from django.utils.http import content_disposition_header

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
