"""Verifying a /jobs request's Authorization header: IoT Hub SAS or an Entra-style bearer token.

Every failure is IotHubUnauthorizedAccess (401) with a fixed text that never repeats the credential.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from devstack import tokens, wellknown
from devstack.hubsim.errors import ErrorCode, HubError
from devstack.hubsim.vocab import HUB_DOMAIN

SAS_SCHEME = "SharedAccessSignature"
BEARER_SCHEME = "Bearer"
SAS_FIELDS = ("sr", "sig", "se", "skn")


class Right(enum.Enum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class Principal:
    """Who made an authorized request (for logs: never the credential itself)."""

    kind: str
    name: str


def _unauthorized(reason: str) -> HubError:
    return HubError(ErrorCode.UNAUTHORIZED, f"Unauthorized: {reason}")


def _policies_for(right: Right) -> frozenset[str]:
    return wellknown.HUB_WRITE_POLICIES if right is Right.WRITE else wellknown.HUB_READ_POLICIES


def verify_authorization(
    header: str | None,
    *,
    hub_name: str,
    right: Right,
    policy_keys: Mapping[str, str] = wellknown.HUB_POLICY_KEYS,
    now: float | None = None,
    sas_allowed: bool = True,
) -> Principal:
    """`sas_allowed` false: the hub's shared access policies are disabled (Entra only)."""
    if not header:
        raise _unauthorized("no Authorization header")
    scheme, _, credential = header.strip().partition(" ")
    now = time.time() if now is None else now
    if scheme == SAS_SCHEME and not sas_allowed:
        raise _unauthorized("shared access policies are disabled on this hub")
    if scheme == SAS_SCHEME:
        return _verify_sas(credential.strip(), hub_name=hub_name, right=right, policy_keys=policy_keys, now=now)
    if scheme == BEARER_SCHEME:
        return _verify_bearer(credential.strip(), now=now)
    raise _unauthorized("unsupported authorization scheme")


def _verify_sas(
    credential: str, *, hub_name: str, right: Right, policy_keys: Mapping[str, str], now: float
) -> Principal:
    fields: dict[str, str] = {}
    for part in credential.split("&"):
        name, sep, value = part.partition("=")
        if not sep or name in fields:
            raise _unauthorized("malformed shared access signature")
        fields[name] = value
    if any(name not in fields for name in SAS_FIELDS):
        raise _unauthorized("malformed shared access signature")
    sr_raw, se_raw, policy = fields["sr"], fields["se"], urllib.parse.unquote(fields["skn"])
    # The SDK sends quote_plus(HostName); others may add a path (e.g. "/jobs"): the host must be this hub's.
    resource = urllib.parse.unquote_plus(sr_raw).lower()
    host = resource.split("/", 1)[0]
    if host != f"{hub_name.lower()}.{HUB_DOMAIN}":
        raise _unauthorized("the token is not for this IoT hub")
    key = policy_keys.get(policy)
    if key is None:
        raise _unauthorized("unknown shared access policy")
    try:
        expiry = int(se_raw)
        presented = base64.b64decode(urllib.parse.unquote(fields["sig"]), validate=True)
    except (ValueError, binascii.Error) as exc:
        raise _unauthorized("malformed shared access signature") from exc
    expected = hmac.new(base64.b64decode(key), f"{sr_raw}\n{se_raw}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, presented):
        raise _unauthorized("signature mismatch")
    if expiry <= now:
        raise _unauthorized("the shared access signature has expired")
    if policy not in _policies_for(right):
        raise _unauthorized(f"policy '{policy}' lacks the {right.value} right on jobs")
    return Principal("sas", policy)


def _verify_bearer(token: str, *, now: float) -> Principal:
    try:
        claims = tokens.verify(token, key=wellknown.TOKEN_SIGNING_KEY, audience=wellknown.IOTHUB_AUDIENCE, now=now)
    except tokens.TokenError as exc:
        raise _unauthorized(f"bearer token refused ({exc})") from None
    subject = claims.get("oid") or claims.get("sub") or claims.get("appid") or "unknown"
    return Principal("bearer", str(subject))


def make_sas(
    hub_name: str,
    *,
    policy: str = "iothubowner",
    key: str | None = None,
    expiry: int | None = None,
    resource_path: str = "",
) -> str:
    """An `Authorization` value like the SDKs build (for tests and tools): sig over quote_plus(sr)."""
    key = wellknown.HUB_POLICY_KEYS[policy] if key is None else key
    expiry = int(time.time()) + 3600 if expiry is None else expiry
    sr = urllib.parse.quote_plus(f"{hub_name}.{HUB_DOMAIN}{resource_path}".lower())
    digest = hmac.new(base64.b64decode(key), f"{sr}\n{expiry}".encode(), hashlib.sha256).digest()
    sig = urllib.parse.quote(base64.b64encode(digest).decode(), safe="")
    return f"{SAS_SCHEME} sr={sr}&sig={sig}&se={expiry}&skn={policy}"
