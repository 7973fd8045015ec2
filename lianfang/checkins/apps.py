from __future__ import annotations

from django.apps import AppConfig


class CheckinsConfig(AppConfig):
    name = "lianfang.checkins"
    label = "checkins"
    verbose_name = "接龙"
