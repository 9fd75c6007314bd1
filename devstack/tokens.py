"""Compact JWTs (HS256) for the devstack: minted by the identity endpoint, checked by the hub simulator.

Azurite in OAuth mode checks aud, iss, exp and nbf but not the signature; the simulator checks all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any


class TokenError(Exception):
    """The token is malformed, badly signed, expired or for another audience."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mint(claims: Mapping[str, Any], *, key: bytes) -> str:
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(dict(claims)).encode())}"
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def verify(token: str, *, key: bytes, audience: str, now: float | None = None, leeway: float = 0) -> dict[str, Any]:
    """Return the claims of a valid token for `audience`, or raise TokenError."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("not a compact JWT")
    try:
        header = json.loads(_b64url_decode(parts[0]))
        claims = json.loads(_b64url_decode(parts[1]))
        signature = _b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError) as exc:
        raise TokenError("malformed token") from exc
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
        raise TokenError("unsupported token")
    expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise TokenError("bad signature")
    now = time.time() if now is None else now
    if claims.get("aud") != audience:
        raise TokenError("wrong audience")
    exp, nbf = claims.get("exp"), claims.get("nbf", 0)
    if not isinstance(exp, (int, float)) or exp + leeway <= now:
        raise TokenError("expired")
    if not isinstance(nbf, (int, float)) or nbf - leeway > now:
        raise TokenError("not yet valid")
    return claims
