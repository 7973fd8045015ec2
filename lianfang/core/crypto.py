"""Encryption at rest and keyed hashes for personal data (ID numbers, phones).

Fernet (AES-128-CBC + HMAC-SHA256) from ``cryptography`` keeps the value; an HMAC-SHA256 under a
second key gives a stable token for exact lookup without storing the value in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet_key(raw: str) -> bytes:
    # Accept a proper Fernet key, or any string (hashed down to 32 bytes) for convenience.
    try:
        if len(base64.urlsafe_b64decode(raw.encode())) == 32:
            return raw.encode()
    except (ValueError, TypeError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(raw.encode()).digest())


@lru_cache(maxsize=4)
def _fernet(key: str) -> Fernet:
    return Fernet(_fernet_key(key))


def encrypt(value: str) -> str:
    return _fernet(settings.LIANFANG_DATA_KEY).encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(settings.LIANFANG_DATA_KEY).decrypt(token.encode()).decode()
    except InvalidToken as exc:  # key rotated without re-encryption, or tampered row
        raise ValueError("cannot decrypt personal data: wrong key or corrupted value") from exc


def keyed_hash(kind: str, normalized_value: str) -> str:
    """HMAC of a normalised value, namespaced by kind so an ID and a phone never collide."""
    msg = f"{kind}:{normalized_value}".encode()
    return hmac.new(settings.LIANFANG_HASH_KEY.encode(), msg, hashlib.sha256).hexdigest()
