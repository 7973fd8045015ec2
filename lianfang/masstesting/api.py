"""The 全员核酸 API."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["masstesting"])
