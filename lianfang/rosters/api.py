"""The 值班排班 API."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["rosters"])
