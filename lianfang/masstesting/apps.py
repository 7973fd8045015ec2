from __future__ import annotations

from django.apps import AppConfig


class MasstestingConfig(AppConfig):
    name = "lianfang.masstesting"
    label = "masstesting"
    verbose_name = "全员核酸"
