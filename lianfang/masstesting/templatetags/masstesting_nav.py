"""The mass-testing sub-navigation: only the pages the user's role may open (see access)."""

from __future__ import annotations

from typing import Any

from django import template

from lianfang.masstesting import access

register = template.Library()


@register.inclusion_tag("masstesting/_nav.html", takes_context=True)
def mt_nav(context: template.Context, rnd: Any) -> dict[str, Any]:
    user = context["user"]
    return {"round": rnd, "coverage": access.may_see_coverage(user), "results": access.may_see_results(user),
            "exempt": access.may_exempt(user), "handover": access.may_hand_over(user)}
