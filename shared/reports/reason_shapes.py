"""A job's `failureReason` parsed into code and text, from every shape IoT Hub and Azure Storage write (no I/O).

The shapes (docs/hints.md, "Where a code is read from"), each from a text in tests/data/failure_corpus.json:
`ErrorCode:Name;text` and `ErrorCode:400008;text`; `400008: text`; a JSON object with `errorCode`, `ErrorCode`,
`code` or `Code` (sometimes JSON again inside `Message`); an exception name before the text
(`...JobQuotaExceededException: Job quota has been exceeded`); `errorcode: IH400007`; an `ErrorCode: X` line (the
Azure SDKs' exception text); Storage's XML `<Code>X</Code>`; and a bare code name. Storage's own code, where the
text carries one (XML, `ErrorCode:`, `x-ms-error-code:` or the name as a word), is kept apart as `storage_code`:
IoT Hub wraps it ("...: HTTP 404 ContainerNotFound") in a code of its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.redaction import redact_text
from shared.reports.code_names import (
    IOTHUB_NUMBERS,
    STORAGE_CODES,
    StorageCode,
    code_family,
    iothub_name,
    known_name,
)

MAX_TEXT_CHARS = 4000  # a failureReason is short; anything longer is cut so a report stays readable
MAX_CODE_CHARS = 64  # an error code is a word or a number
MAX_NESTING = 3  # JSON inside `Message` inside JSON: deeper is not a shape any source shows

_ERROR_CODE_PREFIX = re.compile(r"^\s*ErrorCode\s*:\s*([A-Za-z0-9_.-]+)\s*;?\s*(.*)$", re.DOTALL | re.IGNORECASE)
_LEADING_NUMBER = re.compile(r"^\s*(\d{6})\s*[:;,-]?\s*(.*)$", re.DOTALL)
_EXCEPTION_PREFIX = re.compile(r"^\s*(?:[A-Za-z_]\w*\.)+([A-Za-z]\w*?)Exception\s*:\s*(.*)$", re.DOTALL)
_IH_CODE = re.compile(r"(?i)(?<![\w-])(?:errorcode\s*:\s*)?IH(\d{6})(?![\w-])")
_ERROR_CODE_LINE = re.compile(r"(?im)^[ \t]*(?:x-ms-)?error-?code\s*:\s*([A-Za-z][A-Za-z0-9]*|\d{6})[ \t]*$")
_XML_CODE = re.compile(r"<Code>\s*([A-Za-z][A-Za-z0-9]*)\s*</Code>")
_BARE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,63}$")
_WORD = re.compile(r"(?<![\w-])([A-Za-z][A-Za-z0-9]{2,63})(?![\w-])")


@dataclass(frozen=True, kw_only=True)
class FailureReason:
    """`code_name` and `code_number` are filled in from each other where a source names the code; a number no
    source names keeps `code_name` None (its family says what kind of refusal it is)."""

    raw: str
    code_name: str | None
    code_number: int | None
    text: str
    storage_code: StorageCode | None = None

    @property
    def family(self) -> str | None:
        return code_family(self.code_number)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"raw": self.raw, "code": self.code_name, "number": self.code_number,
                                    "text": self.text}
        if self.code_name is None and self.family is not None:
            document["family"] = self.family  # a number no source names: its HTTP family, never a guessed name
        return document


def parse_failure_reason(value: object) -> FailureReason | None:
    """Parse a failureReason as the hub sent it (any of the shapes above); None when there is none."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        raw = redact_text(json.dumps(value, default=str))[:MAX_TEXT_CHARS]
        return _with_storage(_from_mapping(dict(value), raw=raw, depth=0), raw)
    raw = redact_text(str(value))[:MAX_TEXT_CHARS]
    reason = _from_text(raw, raw=raw, depth=0)
    return None if reason is None else _with_storage(reason, raw)


def _from_text(text: str, *, raw: str, depth: int) -> FailureReason | None:
    text = text.strip()
    if not text:
        return None
    if text.startswith("{") and depth < MAX_NESTING:
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            return _from_mapping(decoded, raw=raw, depth=depth + 1)
    for shape in (_ERROR_CODE_PREFIX, _LEADING_NUMBER):
        match = shape.match(text)
        if match:
            return _coded(raw, match.group(1), match.group(2).strip())
    match = _EXCEPTION_PREFIX.match(text)
    if match and known_name(match.group(1)):  # only a name some source gives: never a guess from a class name
        return _coded(raw, match.group(1), match.group(2).strip())
    if _BARE_NAME.match(text) and known_name(text):
        return _coded(raw, text, "")
    for found in (_IH_CODE.search(text), _ERROR_CODE_LINE.search(text), _XML_CODE.search(text)):
        if found:
            return _coded(raw, found.group(1), text)
    return FailureReason(raw=raw, code_name=None, code_number=None, text=text)


def _from_mapping(body: dict[str, Any], *, raw: str, depth: int) -> FailureReason:
    message = next((body[k] for k in ("Message", "message") if isinstance(body.get(k), str)), None)
    code = next((body[k] for k in ("errorCode", "ErrorCode", "code", "Code") if body.get(k) is not None), None)
    if message is not None and code is None:
        nested = _from_text(message, raw=raw, depth=depth)
        if nested is not None and (nested.code_name or nested.code_number):
            return nested
    # Cut and redacted like the text form's: the object's fields are as untrusted and as long as they like.
    text = redact_text(message or "").strip()[:MAX_TEXT_CHARS]
    code_text = None if code is None else redact_text(str(code))[:MAX_CODE_CHARS]
    return _coded(raw, code_text, text)


def _coded(raw: str, code: str | None, text: str) -> FailureReason:
    name: str | None = None
    number: int | None = None
    if code:
        if code.isdigit():
            number = int(code)
            name = iothub_name(number)
        else:
            name = code
            number = IOTHUB_NUMBERS.get(code.lower())
    return FailureReason(raw=raw, code_name=name, code_number=number, text=text)


def _with_storage(reason: FailureReason, raw: str) -> FailureReason:
    """The reason with the Storage code its text carries, if any."""
    code = STORAGE_CODES.get((reason.code_name or "").lower()) or _storage_code_in(raw)
    if code is None:
        return reason
    return FailureReason(raw=reason.raw, code_name=reason.code_name, code_number=reason.code_number,
                         text=reason.text, storage_code=code)


def _storage_code_in(text: str) -> StorageCode | None:
    for shape in (_XML_CODE, _ERROR_CODE_LINE):
        for match in shape.finditer(text):
            if match.group(1).lower() in STORAGE_CODES:
                return STORAGE_CODES[match.group(1).lower()]
    # As a word of its own ("HTTP 404 ContainerNotFound"), never inside an identifier.
    for match in _WORD.finditer(text):
        if match.group(1).lower() in STORAGE_CODES:
            return STORAGE_CODES[match.group(1).lower()]
    return None
