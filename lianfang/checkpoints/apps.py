from __future__ import annotations

from django.apps import AppConfig


class CheckpointsConfig(AppConfig):
    name = "lianfang.checkpoints"
    label = "checkpoints"
    verbose_name = "卡口"
