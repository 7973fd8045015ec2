"""Zone passes signed with ECDSA P-256: the server signs, every gate verifies, offline too
(the scan page verifies with WebCrypto against the public key it cached)."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from django.conf import settings


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@lru_cache(maxsize=2)
def _key(secret: str) -> ec.EllipticCurvePrivateKey:
    # Derived from the installation's secret, so every process signs with the same key.
    order = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)
    scalar = int.from_bytes(hashlib.sha256(f"zone-pass:{secret}".encode()).digest(), "big") % (order - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def private_key() -> ec.EllipticCurvePrivateKey:
    return _key(settings.LIANFANG_PASS_SECRET)


def public_jwk() -> dict[str, str]:
    numbers = private_key().public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": _b64(numbers.x.to_bytes(32, "big")),
            "y": _b64(numbers.y.to_bytes(32, "big")), "ext": "true"}


def sign(payload: dict[str, Any]) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode())
    der = private_key().sign(body.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    # WebCrypto wants the raw r||s form, not DER.
    return f"{body}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


@dataclass(frozen=True)
class Checked:
    ok: bool
    payload: dict[str, Any]
    reason: str = ""  # forged, malformed


def verify(token: str) -> Checked:
    try:
        body, sig = token.strip().split(".")
        raw = _unb64(sig)
        payload = json.loads(_unb64(body))
        if len(raw) != 64 or not isinstance(payload, dict):
            raise ValueError
    except (ValueError, json.JSONDecodeError):
        return Checked(False, {}, "malformed")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        private_key().public_key().verify(der, body.encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return Checked(False, payload, "forged")
    return Checked(True, payload)
