from __future__ import annotations

from django.apps import AppConfig


class ControlConfig(AppConfig):
    name = "lianfang.control"
    label = "control"
    verbose_name = "重点人员管控"
