"""Demo data for the rosters app (filled in as the app grows)."""

from __future__ import annotations

from lianfang.core.models import SubDistrict


def load_roster_demo(sub: SubDistrict) -> dict[str, int]:
    return {}
