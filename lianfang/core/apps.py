from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "lianfang.core"
    label = "core"
    verbose_name = "登记"
