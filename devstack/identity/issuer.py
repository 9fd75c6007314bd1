"""Minting access tokens as AAD would for a managed identity (HS256, devstack key)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from devstack import tokens
from devstack.identity.identities import Identity
from devstack.wellknown import (
    IOTHUB_AUDIENCE,
    SOVEREIGN_IOTHUB_AUDIENCES,
    STORAGE_AUDIENCE,
    TENANT_ID,
    TOKEN_ISSUER,
    TOKEN_SIGNING_KEY,
)

SUPPORTED_RESOURCES = frozenset({IOTHUB_AUDIENCE, STORAGE_AUDIENCE, *SOVEREIGN_IOTHUB_AUDIENCES})
DEFAULT_TOKEN_LIFETIME_SECONDS = 3600
# AAD back-dates iat/nbf by five minutes to absorb clock skew.
NOT_BEFORE_SKEW_SECONDS = 300


@dataclass(frozen=True, kw_only=True)
class IssuedToken:
    access_token: str
    expires_on: int
    audience: str
    identity: Identity


def issue(identity: Identity, audience: str, *, lifetime_seconds: int, now: float | None = None) -> IssuedToken:
    issued_at = int(time.time() if now is None else now)
    expires_on = issued_at + lifetime_seconds
    claims: dict[str, Any] = {
        "aud": audience,
        "iss": TOKEN_ISSUER,
        "iat": issued_at - NOT_BEFORE_SKEW_SECONDS,
        "nbf": issued_at - NOT_BEFORE_SKEW_SECONDS,
        "exp": expires_on,
        "oid": identity.object_id,
        "sub": identity.object_id,
        "appid": identity.client_id,
        "client_id": identity.client_id,
        "tid": TENANT_ID,
        "idtyp": "app",
    }
    access_token = tokens.mint(claims, key=TOKEN_SIGNING_KEY)
    return IssuedToken(access_token=access_token, expires_on=expires_on, audience=audience, identity=identity)
