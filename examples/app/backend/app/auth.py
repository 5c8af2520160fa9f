"""Stateless login tokens: HMAC-SHA256 signed ``{"sub": username, "exp": ...}``.

The key is APP_SECRET_KEY. Without it every worker process makes up its own
random key, and a token made by one worker is rejected by the others: set it
whenever Gunicorn runs more than one worker.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, payload: str) -> str:
    return _b64encode(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def make_token(key: bytes, username: str, ttl_s: int, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    claims = {"sub": username, "exp": issued + ttl_s}
    payload = _b64encode(json.dumps(claims, separators=(",", ":")).encode())
    return f"{payload}.{_sign(key, payload)}"


def verify_token(key: bytes, token: str, now: float | None = None) -> str | None:
    """Return the username of a valid, unexpired token, else None."""
    payload, sep, signature = token.partition(".")
    if not sep or not hmac.compare_digest(_sign(key, payload).encode(), signature.encode()):
        return None
    try:
        claims = json.loads(_b64decode(payload))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(claims, dict):
        return None
    username, expires = claims.get("sub"), claims.get("exp")
    if not isinstance(username, str) or not isinstance(expires, int):
        return None
    if (time.time() if now is None else now) >= expires:
        return None
    return username
