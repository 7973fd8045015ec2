from __future__ import annotations

from django.apps import AppConfig


class RostersConfig(AppConfig):
    name = "lianfang.rosters"
    label = "rosters"
    verbose_name = "值班排班"
