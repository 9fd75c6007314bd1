"""Redaction of secrets: SAS signatures, keys, connection strings and tokens.

Everything the app writes out (HTTP answers, blobs, log lines, exception text) passes through here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from shared.jobs import CONTAINER_URI_FIELDS

REDACTED = "REDACTED"

# `sig=` query parameter of a SAS, also where the URI sits inside another value: URL-encoded once
# (sig%3D after %26 or %3F) or twice (%2526sig%253D), or JSON-escaped (\u0026sig\u003d, as .NET writes).
_SIG_BEFORE = r"(?:(?<![A-Za-z0-9%\\])|(?<=%3F)|(?<=%26)|(?<=%253F)|(?<=%2526)|(?<=\\u0026)|(?<=\\u003f))"
_SIG_EQUALS = r"(?:=|%3D|%253D|\\u003d)"
_SAS_SIG = re.compile(r"(?i)(" + _SIG_BEFORE + r"sig" + _SIG_EQUALS + r")[^&\s\"'<>;,\\]+")
# Keys inside connection strings.
_CONNECTION_STRING_KEY = re.compile(r"(?i)\b((?:SharedAccessKey|AccountKey)=)[^;\s\"'<>]+")
# An IoT Hub / Service Bus SAS token in an Authorization header or text.
_SAS_TOKEN = re.compile(r"(?i)(SharedAccessSignature\s+)\S+")
_BEARER = re.compile(r"(?i)(Bearer\s+)[A-Za-z0-9._~+/=-]+")
# A compact JWT anywhere (three base64url parts, header starting with eyJ).
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
# Secrets as JSON (or Python-repr) fields, also JSON-escaped inside a string (\"primaryKey\":\"...\").
_SENSITIVE_FIELDS = (
    r"primaryKey|secondaryKey|sharedAccessKey|accountKey|primaryConnectionString|secondaryConnectionString"
    r"|connectionString|accessToken|access_token|sasToken|sharedAccessSignature|clientSecret|password"
    r"|symmetricKey"
)
# Groups: 1 the field and colon, 2 its quote character, 3 the value's opening quote, 4 the value, 5 the
# closing quote.
_JSON_SECRET = re.compile(
    r"(?i)(\\?([\"'])(?:" + _SENSITIVE_FIELDS + r")\\?\2\s*:\s*)(\\?\2)((?:(?!\\?\2).)*)(\\?\2)"
)
# The same field whose string never closes (a malformed device line echoed in importErrors.log, or a
# cut text): the value runs to the next quote, backslash or blank. Values already redacted are skipped.
_JSON_SECRET_UNTERMINATED = re.compile(
    r"(?i)(\\?([\"'])(?:" + _SENSITIVE_FIELDS + r")\\?\2\s*:\s*)(\\?\2)(?!" + REDACTED + r"(?:[\\\"'\s]|$))[^\"'\\\s]+"
)


def redact_text(text: str) -> str:
    """Scrub every known secret form from free text; idempotent."""
    text = _SAS_SIG.sub(rf"\g<1>{REDACTED}", text)
    text = _CONNECTION_STRING_KEY.sub(rf"\g<1>{REDACTED}", text)
    text = _SAS_TOKEN.sub(rf"\g<1>{REDACTED}", text)
    text = _BEARER.sub(rf"\g<1>{REDACTED}", text)
    text = _JWT.sub(REDACTED, text)
    text = _JSON_SECRET.sub(_redact_json_value, text)
    # Closed with the opening quote, so that the text stays stable when redacted again inside JSON.
    return _JSON_SECRET_UNTERMINATED.sub(rf"\g<1>\g<3>{REDACTED}\g<3>", text)


def _redact_json_value(match: re.Match[str]) -> str:
    # Objects such as "symmetricKey": {...} do not match (the value is not a string) and are left for
    # their own primaryKey/secondaryKey fields; null values never match.
    return f"{match.group(1)}{match.group(3)}{REDACTED}{match.group(5)}"


def redact_sas_uri(uri: str) -> str:
    """Replace the `sig` value of a SAS URI, keeping every other parameter readable."""
    return _SAS_SIG.sub(rf"\g<1>{REDACTED}", uri)


def redact_value(value: Any) -> Any:
    """Redact every string inside a JSON-like value (dicts, lists, strings), returning a copy."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {key: _redact_field(key, item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    return value


def _redact_field(key: str, value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(_SENSITIVE_FIELDS, key, flags=re.IGNORECASE):
        return REDACTED
    return redact_value(value)


def redact_job(job: Mapping[str, Any], *, redact_sas: bool = True) -> dict[str, Any]:
    """A copy of JobProperties fit to show: SAS signatures out of the container URIs, and any other
    secret-looking text scrubbed. Unknown fields pass through. With `redact_sas` false only the
    container URIs keep their signatures (an operator's explicit choice)."""
    redacted: dict[str, Any] = redact_value(job)
    if not redact_sas:
        for name in CONTAINER_URI_FIELDS:
            if name in job:
                redacted[name] = job[name]
    return redacted


def contains_secret(text: str) -> bool:
    """True when `text` still holds something redact_text would change (used by tests and scans)."""
    return redact_text(text) != text
