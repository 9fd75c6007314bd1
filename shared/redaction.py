"""Redaction of secrets: SAS signatures, keys, connection strings and tokens, in every spelling we know.

Everything the app writes out (HTTP answers, blobs, log lines, exception text) passes through here. Text
is redacted in three passes:

1. **Query parameters, parsed.** A parameter name is read as storage reads it: percent-decoded (once,
   twice or more), JSON-unescaped (`\\u0073`), case-insensitive; so `sig=`, `SIG=`, `%73ig=`, `sig%3D`,
   `sig%253D` and `\\u0026sig\\u003d` are all the signature. Its value (base64, possibly encoded, `\\/`
   escaped, or with a `+` that someone decoded to a space) is replaced by REDACTED.
2. **Key fields**: connection-string keys (`AccountKey=x`, `AccountKey = x`, `AccountKey%3Dx`), JSON, YAML
   and Python-repr fields (`"primaryKey": "x"`, `primaryKey: x`, `\\"primaryKey\\":\\"x\\"`), tokens
   (`SharedAccessSignature ...`, `Bearer ...`, JWTs), and base64 text that decodes to any of these.
3. **A check that fails closed**: the result is decoded in every way we know (percent-decoding up to three
   times, JSON unescaping, `+` as space) and searched again; a text that still hides a secret, or still shows a
   value the text showed after a secret's name, is withheld whole.

The passes run until the text no longer changes (a fixed point), so redaction is idempotent:
redact_text(redact_text(x)) == redact_text(x), which the shared cache's check of its entries relies on.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

from shared.jobs import CONTAINER_URI_FIELDS

REDACTED = "REDACTED"
UNREDACTABLE = "REDACTED (text withheld: it holds a secret in a form that could not be redacted in place)"
SIGNATURE_LENGTH = 44  # base64 of an HMAC-SHA256, as every Azure SAS signature is


def _encoded(character: str) -> str:
    """A regex for one character as text may carry it: itself, percent-encoded (at any depth) or JSON-escaped.
    A letter in either case, encoded too: storage reads `%53Ig=` (SIg) as the signature as well."""
    cases = {character.lower(), character.upper()} if character.isalpha() else {character}
    codes = "|".join(
        "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in f"{ord(case):02x}") for case in sorted(cases)
    )
    hex_code = f"(?:{codes})"
    literal = f"[{character.lower()}{character.upper()}]" if character.isalpha() else re.escape(character)
    return rf"(?:{literal}|%(?:25)*{hex_code}|\\+u00{hex_code})"


_AMP = rf"(?:&amp;|{_encoded('&')})"
_EQUALS = _encoded("=")
# An encoded character that ends a value: & ; " ' space < > (percent-encoded at any depth, or JSON-escaped).
_ENDING_CODES = r"(?:26|3[bB]|22|27|20|3[cC]|3[eE]|2[cC])"
_VALUE_CHAR = (
    r"(?:[A-Za-z0-9+/=_-]"
    rf"|%(?!(?:25)*{_ENDING_CODES})(?:25)*[0-9A-Fa-f]{{2}}"
    r"|\\+/"
    rf"|\\+u00(?!{_ENDING_CODES})[0-9A-Fa-f]{{2}})"
)
# 1. The SAS signature parameter: `sig` in any spelling, `=` in any spelling, the value; preceded by a
# delimiter in any spelling (checked on the text just before the name, see _after_delimiter).
_SIG_PARAM = re.compile(
    rf"(?P<name>{_encoded('s')}{_encoded('i')}{_encoded('g')}\s*{_EQUALS}\s*)(?P<value>{_VALUE_CHAR}+)"
)
_DELIMITER_BEFORE = re.compile(rf"(?:[?&;\s\"'(<\[{{,]|{_AMP}|{_encoded('?')})\Z")
_VALUE_RUN = re.compile(f"{_VALUE_CHAR}+")

# 2. Key fields. Names redacted wherever they appear with a separator, quoted or not.
_KEY_NAMES = (
    r"SharedAccessKey|AccountKey|primaryKey|secondaryKey|accessKey|primaryConnectionString"
    r"|secondaryConnectionString|connectionString|accessToken|access_token|refresh_token|id_token|sasToken"
    r"|sharedAccessSignature|clientSecret|client_secret|password|symmetricKey|storageAccountKey|sasKey|sig|signature"
)
# Quoted field names ending like a secret ("deviceKey", "mySecret", "apiToken"): redacted when quoted. A field
# named just "key" is an identifier (a report's hint key), not a secret.
_SECRET_ENDING = r"(?:[Kk]ey|[Ss]ecret|[Pp]assword|[Tt]oken|[Ss]ignature|ConnectionString)"  # noqa: S105 - a pattern
_QUOTED_SECRET_NAME = rf"(?:[Ss]ecret|[Pp]assword|[Tt]oken|[Ss]ignature|[A-Za-z0-9_]+{_SECRET_ENDING})"
_QUOTE = r"(?:\\*[\"']|%(?:25)*2[27]|\\+u002[27])"
_SEPARATOR = rf"\s*(?::|{_EQUALS}|%(?:25)*3[aA]|\\+u003[aA])\s*"
_UNQUOTED_VALUE = (
    r"(?!(?:null|true|false)\b)"
    rf"(?:[^\s\"'<>;,&\\{{}}\[\]%]|%(?!(?:25)*{_ENDING_CODES})(?:25)*[0-9A-Fa-f]{{2}})+"
)
_KEY_FIELD = re.compile(
    rf"(?P<head>(?<![A-Za-z0-9_])(?:(?P<q1>{_QUOTE})(?:{_KEY_NAMES}|{_QUOTED_SECRET_NAME})(?P=q1)|(?i:{_KEY_NAMES}))"
    rf"{_SEPARATOR})"
    rf"(?:(?P<oq>{_QUOTE})(?P<quoted>(?:(?!(?P=oq)).){{0,4096}}?)(?P=oq)|(?P<bare>{_UNQUOTED_VALUE}))"
)
# Words that every key-field name contains (lower case).
_KEY_WORDS = ("key", "secret", "password", "token", "sig", "connectionstring")
# Cheap test for "a name like a secret's, then a separator": only then is _KEY_FIELD worth running.
_KEY_FIELD_HINT = re.compile(
    r"(?i)(?:key|secret|password|token|sig|signature|connectionstring)(?:\\*[\"']|%(?:25)*2[27]|\\+u002[27])?"
    r"\s*(?:[:=]|%|\\)"
)
# An IoT Hub / Service Bus SAS token in an Authorization header or text; bearer tokens; compact JWTs.
# The value never starts with a separator: else a second pass would take `+REDACTED` as a value (not idempotent).
_SAS_TOKEN = re.compile(r"(?i)(SharedAccessSignature(?:\s|%20|\+)+)(?!REDACTED|\+|%20)[^\s\"'<>;,]+")
_BEARER = re.compile(r"(?i)(Bearer(?:\s|%20|\+)+)(?!REDACTED|\+|%20)[A-Za-z0-9._~+/=%-]+")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
# Base64 text that may wrap a URI or a connection string.
_BASE64_RUN = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{24,}={0,2}(?![A-Za-z0-9+/=_-])")
# What base64-wrapped text must hold to be looked at further ("eyj": a JWT's own base64 header).
_WRAPPED_HINTS = ("sig", "key", "://", "signature", "secret", "password", "token", "bearer", "eyj")

# 3. The fail-closed check, on decoded, lower-cased text: what a secret looks like once every encoding is
# undone. Each pattern starts with a literal, which the regex engine finds fast.
_PLAIN_SIGNATURE = re.compile(r"sig\s*=\s*(?!redacted)[a-z0-9+/]")
_PLAIN_KEY = re.compile(
    rf"(?:{_KEY_NAMES.lower()})[\"']?\s*[:=]\s*[\"']?(?!redacted|null\b|true\b|false\b)[a-z0-9+/]"
)
_PLAIN_TOKEN = re.compile(
    r"(?:sharedaccesssignature|bearer)\s+(?!redacted)[a-z0-9]|eyj[a-z0-9_-]{5,}\.[a-z0-9_-]{5,}\.")
_WORD_CHARACTER = re.compile(r"[a-z0-9_]")
# A value the text shows after a secret's name (decoded, lower case): redaction must take it out, wherever it is.
# A pass may take the name instead (`Bearer primaryKey: x` is a bearer token `primaryKey`, then no name is left
# before x); such a value still in the result means the text is withheld whole. Shorter values are words.
MIN_CHECKED_VALUE = 8
_SECRET_NAME = re.compile("|".join(sorted(  # the longest first: `signature` is not read as `sig`
    [*_KEY_NAMES.lower().split("|"), "sharedaccesssignature", "bearer"], key=len, reverse=True)))
_VALUE_AFTER_KEY = re.compile(rf"[\"']?\s*[:=]\s*[\"']?(?!redacted)(?P<value>[a-z0-9+/=_.-]{{{MIN_CHECKED_VALUE},}})")
_VALUE_AFTER_TOKEN = re.compile(rf"(?:\s|%20|\+)+(?!redacted)(?P<value>[a-z0-9+/=_.-]{{{MIN_CHECKED_VALUE},}})")
_TOKEN_NAMES = frozenset({"sharedaccesssignature", "bearer"})


# Rounds of redaction before a text that keeps changing is withheld whole (real texts settle in one or two).
MAX_REDACTION_ROUNDS = 4


def redact_text(text: str) -> str:
    """Scrub every known secret form from free text. Idempotent by construction: the result is a fixed point
    of the passes (redacting it changes nothing), so redact_text(redact_text(x)) == redact_text(x) and a stored
    document can be checked by redacting it again (shared/proxy/prepared.py). A text that does not settle
    within MAX_REDACTION_ROUNDS is withheld whole."""
    current = text
    for _ in range(MAX_REDACTION_ROUNDS):
        redacted = _redact_round(current)
        if redacted == current:
            return redacted
        current = redacted
    return UNREDACTABLE


def _redact_round(text: str) -> str:
    """One round: the in-place passes, then the fail-closed check: a text that still hides a secret once every
    encoding is undone (a cut-off JSON string, a spacing or quoting no pass knows) is withheld whole, since
    no part of it can be known to be free of the rest of the secret."""
    redacted = _redact_in_place(text)
    if _swallowed(text, redacted):
        redacted = text  # a pass took a secret's name and left its value: the text, as it came, is withheld below
    if not _still_hides_secret(redacted):
        return redacted
    return UNREDACTABLE


def _redact_in_place(text: str, *, depth: int = 0) -> str:
    # Each pass runs only where its words can be: most log lines and documents hold none, and the full
    # patterns cost tens of microseconds per line. Encoded text (%, \\) may hide the words: all passes run.
    lower = text.lower()
    encoded = "%" in text or "\\" in text
    if encoded or "sig" in lower:
        text = _redact_signatures(text)
    if "sharedaccesssignature" in lower:
        text = _SAS_TOKEN.sub(rf"\g<1>{REDACTED}", text)
    if "bearer" in lower:
        text = _BEARER.sub(rf"\g<1>{REDACTED}", text)
    if "eyj" in lower:
        text = _JWT.sub(REDACTED, text)
    if (encoded or any(word in lower for word in _KEY_WORDS)) and _KEY_FIELD_HINT.search(text):
        text = _KEY_FIELD.sub(_redact_key_field, text)
    if depth < 2:
        text = _BASE64_RUN.sub(lambda m: _redact_wrapped(m.group(0), depth), text)
    return text


def _redact_signatures(text: str) -> str:
    out: list[str] = []
    position = 0
    for match in _SIG_PARAM.finditer(text):
        start = match.start()
        if start < position or not (start == 0 or _DELIMITER_BEFORE.search(text, max(0, start - 16), start)):
            continue  # inside a continuation already taken, or `sig` inside a longer word
        out += [text[position:start], match.group("name"), REDACTED]
        position = _signature_end(text, match)
    out.append(text[position:])
    return "".join(out)


def _signature_end(text: str, match: re.Match[str]) -> int:
    """Where the signature value ends. A `+` that someone decoded as a space splits it: while what we have is
    shorter than a signature, a space followed by more base64 is still the signature."""
    value, end = match.group("value"), match.end()
    while len(_fully_decoded(value)) < SIGNATURE_LENGTH - 1 and text[end:end + 1] == " ":
        more = _VALUE_RUN.match(text, end + 1)
        if more is None:
            break
        value += " " + more.group(0)
        end = more.end()
    return end


def _redact_key_field(match: re.Match[str]) -> str:
    if match.group("oq") is not None:
        quote = match.group("oq")
        return f"{match.group('head')}{quote}{REDACTED}{quote}"
    if match.group("bare") == REDACTED:
        return match.group(0)
    return f"{match.group('head')}{REDACTED}"


def _redact_wrapped(run: str, depth: int) -> str:
    if run.islower() or run.isupper():
        return run  # hex digests, GUIDs: base64 of text has both cases
    decoded = _base64_text(run)
    # Base64 inside base64 is looked into as well (one more layer: _redact_in_place stops at depth 2).
    if decoded is None or not (any(hint in decoded.lower() for hint in _WRAPPED_HINTS) or _BASE64_RUN.search(decoded)):
        return run
    if _redact_in_place(decoded, depth=depth + 1) != decoded or _still_hides_secret(decoded):
        return REDACTED
    return run


def _base64_text(run: str) -> str | None:
    padded = run + "=" * (-len(run) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            data = decode(padded.encode())
        except (binascii.Error, ValueError):
            continue
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return None


def _fully_decoded(text: str) -> str:
    for _ in range(4):
        decoded = urllib.parse.unquote(text)
        if decoded == text:
            break
        text = decoded
    return text


def _json_unescaped(text: str) -> str:
    for _ in range(3):  # JSON inside JSON: escapes of escapes
        unescaped = re.sub(r"\\+u([0-9A-Fa-f]{4})", lambda m: chr(int(m.group(1), 16)), text)
        unescaped = re.sub(r"\\+([/\"'])", r"\1", unescaped)
        if unescaped == text:
            break
        text = unescaped
    return text


# A round decodes the same text twice (the swallowed-name check and the fail-closed check): the last few short
# texts' views are kept (bounded: at most this many, of at most MAX_KEPT_VIEW_CHARS each).
KEPT_VIEWS = 8
MAX_KEPT_VIEW_CHARS = 4096


def _views(text: str) -> tuple[str, ...]:
    """`text` as each decoding we know would show it."""
    return _kept_views(text) if len(text) <= MAX_KEPT_VIEW_CHARS else _decoded_views(text)


@functools.lru_cache(maxsize=KEPT_VIEWS)
def _kept_views(text: str) -> tuple[str, ...]:
    return _decoded_views(text)


def _decoded_views(text: str) -> tuple[str, ...]:
    views = list(dict.fromkeys([text, _json_unescaped(text)]))
    for base in list(views):
        current = base
        for _ in range(3):
            decoded = urllib.parse.unquote(current)
            if decoded == current:
                break
            views.append(decoded)
            current = decoded
        views.append(urllib.parse.unquote_plus(current))
    return tuple(dict.fromkeys(views))


def _still_hides_secret(text: str) -> bool:
    views = (text,) if "%" not in text and "\\" not in text else _views(text)
    return any(_plain_secret(view.lower()) for view in views)


def _swallowed(text: str, redacted: str) -> bool:
    """Does `redacted` still show a value that `text` showed after a secret's name?"""
    if redacted == text or not any(word in text.lower() for word in (*_KEY_WORDS, "bearer")):
        return False
    values = {value for view in _views(text) for value in _values_after_names(view.lower())}
    return bool(values) and any(value in view.lower() for view in _views(redacted) for value in values)


def _values_after_names(lower: str) -> Iterator[str]:
    # Each name is looked at on its own, so a value that holds the next name (`bearer primarykey: x`) hides nothing.
    for name in _SECRET_NAME.finditer(lower):
        after = _VALUE_AFTER_TOKEN if name.group(0) in _TOKEN_NAMES else _VALUE_AFTER_KEY
        found = after.match(lower, name.end())
        if found is not None:
            yield found.group("value")


def _plain_secret(lower: str) -> bool:
    if "sig" in lower:
        for match in _PLAIN_SIGNATURE.finditer(lower):
            if match.start() == 0 or not _WORD_CHARACTER.match(lower, match.start() - 1):
                return True
    if any(word in lower for word in _KEY_WORDS) and _PLAIN_KEY.search(lower):
        return True
    return any(word in lower for word in ("sharedaccesssignature", "bearer", "eyj")) and (
        _PLAIN_TOKEN.search(lower) is not None)


def redact_value(value: Any) -> Any:
    """Redact every string inside a JSON-like value (dicts, lists, strings), returning a copy."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        # Keys are text too (an import report's counts are keyed by each line's error code).
        return {redact_text(key) if isinstance(key, str) else key: _redact_field(key, item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    return value


_SECRET_KEY_SUFFIXES = ("key", "secret", "password", "token", "connectionstring", "signature")


def is_secret_field(name: object) -> bool:
    """A field whose string value is a secret by its name alone (`primaryKey`, `client_secret`, `password`).
    A field named just `key` is an identifier (a report's hint key), not a secret."""
    if not isinstance(name, str):
        return False
    normalized = name.replace("_", "").replace("-", "").lower()
    return normalized.endswith(_SECRET_KEY_SUFFIXES) and normalized != "key"


def _redact_field(key: str, value: Any) -> Any:
    if isinstance(value, str) and is_secret_field(key):
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
