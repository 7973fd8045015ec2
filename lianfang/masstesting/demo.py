"""Demo data for the masstesting app (filled in as the app grows)."""

from __future__ import annotations

from lianfang.core.models import SubDistrict


def load_masstesting_demo(sub: SubDistrict) -> dict[str, int]:
    return {}
