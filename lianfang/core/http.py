from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from lianfang.accounts.models import User


class AuthedRequest(HttpRequest):
    """A request behind login_required / django_auth: its user is always a real User."""

    user: User  # narrower than HttpRequest's User | AnonymousUser
