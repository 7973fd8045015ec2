"""Lianfang settings: one file, driven by environment variables.

SQLite (WAL) in ``var/`` is the embedded default; set ``DATABASE_URL`` for PostgreSQL.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("LIANFANG_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _installation_secret(name: str) -> str:
    """A random secret made once per installation and kept in var/secrets.json (mode 0600).

    Production sets the environment variables; this only spares the demo from needing them.
    Never derived from each other, so rotating SECRET_KEY leaves stored personal data readable.
    """
    path = VAR_DIR / "secrets.json"
    secrets_ = json.loads(path.read_text()) if path.exists() else {}
    if name not in secrets_:
        secrets_[name] = base64.urlsafe_b64encode(os.urandom(32)).decode()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(secrets_))
        tmp.chmod(0o600)
        tmp.replace(path)
    return str(secrets_[name])


DEBUG = env_bool("LIANFANG_DEBUG", False)
SECRET_KEY = os.environ.get("LIANFANG_SECRET_KEY") or _installation_secret("secret_key")
ALLOWED_HOSTS = os.environ.get("LIANFANG_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "lianfang.core",
    "lianfang.accounts",
    "lianfang.checkpoints",
    "lianfang.control",
    "lianfang.checkins",
    "lianfang.rosters",
    "lianfang.masstesting",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "lianfang.core.http.MethodNotAllowedPage",
]
CSRF_FAILURE_VIEW = "lianfang.core.http.csrf_failure"

ROOT_URLCONF = "lianfang.urls"
WSGI_APPLICATION = "lianfang.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "lianfang.core.context_processors.lianfang",
            ],
        },
    },
]

_sqlite_path = VAR_DIR / "lianfang.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{_sqlite_path}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the page server read while the import worker writes; IMMEDIATE avoids
    # "database is locked" upgrades from read to write inside a transaction.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"

CACHES = {
    # File-based so the import worker process and the page server share progress counters
    # without touching the database the import is writing to.
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "cache"),
    }
}

TASKS = {
    "default": {
        "BACKEND": os.environ.get(
            "LIANFANG_TASK_BACKEND", "django_tasks_db.DatabaseBackend"
        ),
    }
}

# Personal data keys: losing them loses the data, so back up var/secrets.json with the database.
LIANFANG_DATA_KEY = os.environ.get("LIANFANG_DATA_KEY") or _installation_secret("data_key")
LIANFANG_HASH_KEY = os.environ.get("LIANFANG_HASH_KEY") or _installation_secret("hash_key")
# Signs zone passes (ECDSA P-256 derived from it); gates verify with the public key.
LIANFANG_PASS_SECRET = os.environ.get("LIANFANG_PASS_SECRET") or _installation_secret("pass_secret")

LIANFANG_IMPORT_MAX_BYTES = int(os.environ.get("LIANFANG_IMPORT_MAX_BYTES", 50 * 1024 * 1024))
LIANFANG_IMPORT_MAX_ROWS = int(os.environ.get("LIANFANG_IMPORT_MAX_ROWS", 200_000))
# Map tiles: none by default (the field often has no internet); e.g.
# "https://tiles.example/{z}/{x}/{y}.png" with its attribution.
LIANFANG_TILE_URL = os.environ.get("LIANFANG_TILE_URL", "")
LIANFANG_TILE_ATTRIBUTION = os.environ.get("LIANFANG_TILE_ATTRIBUTION", "")

FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LIANFANG_LOG_LEVEL", "WARNING")},
}
