from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def lianfang(request: HttpRequest) -> dict[str, Any]:
    return {
        "LIANFANG_TILE_URL": settings.LIANFANG_TILE_URL,
        "LIANFANG_TILE_ATTRIBUTION": settings.LIANFANG_TILE_ATTRIBUTION,
    }
