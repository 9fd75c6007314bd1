"""Secret checks that do not trust the redactor: known secret values, looked for literally, in every encoding.

A test plants values it knows (a SAS signature it generated, a device key, a hub policy key, a token the
identity endpoint issued) and then searches answers, headers, log lines and blobs for those exact values,
in every spelling a leak could take: raw, percent-encoded once, twice and three times, form-encoded, JSON-escaped (also
as .NET writes it), with `+` decoded to a space, and base64. The app's own redactor is never consulted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from devstack import wellknown

# A leaked piece this long at either end of a secret still counts (a cut could expose half a signature).
PIECE = 12


def planted(label: str, *, length: int = 32) -> str:
    """A deterministic base64 secret that looks like a real one (`+`, `/` and `=` included for 32 bytes)."""
    digest = hashlib.sha256(label.encode()).digest() * 2
    value = base64.b64encode(digest[:length]).decode()
    if "+" not in value and "/" not in value:
        value = value[:5] + "+/" + value[7:]  # make sure the encodings are exercised
    return value


def _dotnet_escaped(text: str) -> str:
    # System.Text.Json escapes + & < > ' and writes / as \/ in some serialisers.
    return "".join(f"\\u{ord(c):04X}" if c in "+&<>'=" else c for c in text).replace("/", "\\/")


def spellings(secret: str) -> set[str]:
    """Every form in which `secret` could leak (only forms of 8 characters or more are kept)."""
    bases = {secret, urllib.parse.unquote(secret)}
    forms: set[str] = set()
    for base in bases:
        once = urllib.parse.quote(base, safe="")
        twice = urllib.parse.quote(once, safe="")
        forms |= {
            base, once, twice, urllib.parse.quote(twice, safe=""), urllib.parse.quote_plus(base),
            json.dumps(base)[1:-1], _dotnet_escaped(base), base.replace("/", "\\/"), base.replace("+", " "),
            base.replace("+", "%20"),
        }
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(base.encode()).decode()
            forms |= {encoded, encoded.rstrip("=")}
    pieces = set()
    for form in forms:
        # Random values only: the words of a readable development key ("...-not-a-secret") occur elsewhere.
        if len(form) >= 3 * PIECE and "-" not in form:
            pieces |= {form[:PIECE], form[-PIECE:]}
    return {form for form in forms | pieces if len(form) >= 8}


_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")


def decoded_views(text: str) -> list[str]:
    """`text`, and what a reader would see after undoing percent-encoding (up to four times), JSON escapes
    and base64 (of any run of 16 characters or more): a secret wrapped in any of them is still found."""
    views = [text]
    unescaped = re.sub(r"\\+u([0-9A-Fa-f]{4})", lambda m: chr(int(m.group(1), 16)), text).replace("\\/", "/")
    views.append(unescaped)
    for base in (text, unescaped):
        for _ in range(4):
            decoded = urllib.parse.unquote(base)
            if decoded == base:
                break
            views.append(decoded)
            base = decoded
    for view in list(views):
        for run in _BASE64_RUN.findall(view):
            padded = run + "=" * (-len(run) % 4)
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                try:
                    inner = decode(padded).decode("utf-8")
                except (binascii.Error, ValueError):
                    continue
                views += [inner, urllib.parse.unquote(inner), urllib.parse.unquote(urllib.parse.unquote(inner))]
    return views


@dataclass
class Secrets:
    """Named secret values and all their spellings; `found_in(text)` names those that appear."""

    values: dict[str, str] = field(default_factory=dict)
    _forms: dict[str, set[str]] = field(default_factory=dict)

    def add(self, name: str, value: str) -> str:
        self.values[name] = value
        self._forms[name] = spellings(value)
        return value

    def update(self, named: Iterable[tuple[str, str]]) -> None:
        for name, value in named:
            self.add(name, value)

    def found_in(self, text: str) -> list[str]:
        found = set()
        for view in decoded_views(text):
            found |= {f"{name} ({form!r})" for name, forms in self._forms.items() for form in forms if form in view}
        return sorted(found)

    def assert_absent(self, text: str, where: str = "") -> None:
        found = self.found_in(text)
        assert not found, f"secret(s) in {where or 'text'}: {found}"


def devstack_secrets() -> Secrets:
    """The keys every devstack run has: hub policy keys, Azurite's account key, the token signing key."""
    secrets = Secrets()
    for policy, key in wellknown.HUB_POLICY_KEYS.items():
        secrets.add(f"hub policy key {policy}", key)
    secrets.add("Azurite account key", wellknown.AZURITE_KEY)
    secrets.add("token signing key", wellknown.TOKEN_SIGNING_KEY.decode())
    return secrets


def sas_signature(sas_or_uri: str) -> str:
    """The `sig` value of a SAS (or of a URI that carries one), decoded, for planting."""
    query = sas_or_uri.split("?", 1)[-1]
    values = urllib.parse.parse_qs(query).get("sig")
    assert values, "no sig in the SAS"
    return values[0]


def add_credentials(secrets: Secrets, authorizations: Iterable[str]) -> None:
    """Plant Authorization values a stand-in received: the whole value, a SAS token's signature, a JWT."""
    for value in authorizations:
        scheme, _, token = value.partition(" ")
        secrets.add(f"{scheme} credential", token or value)
        if "sig=" in token:
            secrets.add("SAS token signature", sas_signature("?" + token))


def seen_by_stand_ins(*, hubsim: Any = None, identity: Any = None) -> Secrets:
    """The devstack's keys plus every credential the hub simulator received and every token the identity
    endpoint issued (`hubsim`: a HubSimulator, `identity`: an IdentityControl)."""
    secrets = devstack_secrets()
    if hubsim is not None:
        for hub in hubsim.hub_names:
            add_credentials(secrets, hubsim.control(hub).credentials())
    if identity is not None:
        for token in identity.tokens():
            secrets.add("identity token", token)
    return secrets


_DEVICE_KEY = re.compile(r'"(?:primaryKey|secondaryKey)"\s*:\s*"([^"]+)"')


def device_keys(text: str) -> list[str]:
    """The device keys in an export (devices.txt) or an import log: values to plant."""
    return _DEVICE_KEY.findall(text)
