"""Where the tests find the shared reference data: ../shared beside the checkout, else tests/data."""

from __future__ import annotations

from pathlib import Path

_BESIDE = Path(__file__).resolve().parents[2] / "shared"
SHARED = _BESIDE if (_BESIDE / "data" / "osm" / "Helsinki.osm.pbf").exists() else Path(__file__).resolve().parent / "data"
