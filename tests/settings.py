"""Test settings: the product's settings with tasks run inline and files in a temporary folder."""

from __future__ import annotations

import tempfile
from pathlib import Path

from lianfang.settings import *  # noqa: F403

_tmp = Path(tempfile.mkdtemp(prefix="lianfang-test-"))
MEDIA_ROOT = _tmp / "media"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                      "LOCATION": str(_tmp / "cache")}}
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LIANFANG_DATA_KEY = "test-data-key"
LIANFANG_HASH_KEY = "test-hash-key"
LIANFANG_PASS_SECRET = "test-pass-secret"
