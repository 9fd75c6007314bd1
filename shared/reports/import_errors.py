"""A summary of an import job's importErrors.log, read as a stream in bounded memory.

Each line is `{"deviceId":..., "errorCode":400012, "errorStatus":"... whole device JSON ..."}`. The
echoed device JSON can hold keys, so every kept entry is redacted. Memory is bounded by the chunk size,
the longest line kept (MAX_LINE_BYTES; longer lines are counted, not buffered), the number of entries
kept and the number of distinct error codes counted (MAX_DISTINCT_CODES), never by the log's length.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.errors import SummaryAborted
from shared.redaction import redact_text

FIRST_ENTRIES = 20
MAX_LINE_BYTES = 64 * 1024
MAX_DISTINCT_CODES = 200
MAX_STATUS_CHARS = 2000  # of a kept entry's errorStatus, after redaction
OTHER_CODES = "other"
UNREADABLE = "unparsed"
# The top-level errorCode of a line. Echoed device JSON inside errorStatus is escaped (\"errorCode\"), so
# this matches the line's own field only; it saves a json.loads per line on a million-line log.
_ERROR_CODE = re.compile(rb'"errorCode"\s*:\s*(-?\d+|"[^"\\]{0,64}")')
_DEVICE_ID = re.compile(rb'"deviceId"\s*:\s*"([^"\\]{0,256})"')


@dataclass(kw_only=True)
class ImportErrorSummary:
    total_lines: int = 0
    counts_by_error_code: dict[str, int] = field(default_factory=dict)
    first_entries: list[dict[str, Any]] = field(default_factory=list)
    bytes_read: int = 0
    long_lines: int = 0
    unparsed_lines: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "totalLines": self.total_lines,
            "countsByErrorCode": dict(sorted(self.counts_by_error_code.items(), key=lambda kv: (-kv[1], kv[0]))),
            "firstEntries": self.first_entries,
            "bytesRead": self.bytes_read,
            "longLines": self.long_lines,
            "unparsedLines": self.unparsed_lines,
        }


class ImportErrorSummarizer:
    """Feed byte chunks in any sizes with `feed`, then `finish()`; lines are split incrementally."""

    def __init__(self, *, keep: int = FIRST_ENTRIES, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._keep = keep
        self._max_line = max_line_bytes
        self._pending = bytearray()
        self._overflow = False  # the current line passed max_line_bytes: its head is kept, the rest skipped
        self.summary = ImportErrorSummary()

    def feed(self, chunk: bytes) -> None:
        self.summary.bytes_read += len(chunk)
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                self._buffer(chunk[start:])
                return
            if not self._pending and not self._overflow and end - start <= self._max_line:
                # The common case: a whole line inside one chunk, no copy into the buffer.
                self._line(chunk[start:end], overflow=False)
            else:
                self._buffer(chunk[start:end])
                self._line(bytes(self._pending), overflow=self._overflow)
                self._pending.clear()
                self._overflow = False
            start = end + 1

    def finish(self) -> ImportErrorSummary:
        if self._pending or self._overflow:
            self._line(bytes(self._pending), overflow=self._overflow)
            self._pending.clear()
            self._overflow = False
        return self.summary

    def _buffer(self, piece: bytes) -> None:
        room = self._max_line - len(self._pending)
        if len(piece) > room:
            self._overflow = True
            piece = piece[: max(room, 0)]
        self._pending += piece

    def _line(self, line: bytes, *, overflow: bool) -> None:
        line = line.strip()
        if not line and not overflow:
            return
        if self.summary.total_lines == 0 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        self.summary.total_lines += 1
        if overflow:
            self.summary.long_lines += 1
        match = _ERROR_CODE.search(line)
        code = match.group(1).decode("utf-8", "replace").strip('"') if match else UNREADABLE
        if code == UNREADABLE:
            self.summary.unparsed_lines += 1
        self._count(code)
        if len(self.summary.first_entries) < self._keep:
            self.summary.first_entries.append(_entry(line, code=code, line_number=self.summary.total_lines,
                                                     overflow=overflow))

    def _count(self, code: str) -> None:
        counts = self.summary.counts_by_error_code
        if code in counts or len(counts) < MAX_DISTINCT_CODES:
            counts[code] = counts.get(code, 0) + 1
        else:
            counts[OTHER_CODES] = counts.get(OTHER_CODES, 0) + 1


def _entry(line: bytes, *, code: str, line_number: int, overflow: bool) -> dict[str, Any]:
    """A kept entry, redacted. A cut line is never shown raw: a cut can split a key from its closing quote."""
    if overflow:
        device = _DEVICE_ID.search(line)
        return {
            "line": line_number,
            "deviceId": device.group(1).decode("utf-8", "replace") if device else None,
            "errorCode": code,
            "errorStatus": None,
            "note": f"line longer than {MAX_LINE_BYTES} bytes; not shown",
        }
    text = line.decode("utf-8", "replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        return {"line": line_number, "deviceId": None, "errorCode": code,
                "errorStatus": _short(redact_text(text)), "note": "not a JSON object"}
    status = parsed.get("errorStatus")
    device_id = parsed.get("deviceId")
    return {
        "line": line_number,
        "deviceId": redact_text(str(device_id)) if device_id is not None else None,
        "errorCode": code,
        "errorStatus": _short(redact_text(str(status))) if status is not None else None,
    }


def _short(text: str) -> str:
    # Redaction ran on the whole text first, so the cut can only shorten REDACTED, never expose a key.
    return text if len(text) <= MAX_STATUS_CHARS else text[:MAX_STATUS_CHARS] + "…"


def summarize_chunks(
    chunks: Iterable[bytes], *, keep: int = FIRST_ENTRIES, should_stop: Callable[[], bool] | None = None
) -> ImportErrorSummary:
    """Summarise a log given as byte chunks (e.g. `BlobClient.download_blob().chunks()`)."""
    summarizer = ImportErrorSummarizer(keep=keep)
    for chunk in chunks:
        if should_stop is not None and should_stop():
            raise SummaryAborted(summarizer.finish())
        summarizer.feed(chunk)
    return summarizer.finish()


IMPORT_ERRORS_BLOB = "importErrors.log"
_LOG_NAME = re.compile(r"[A-Za-z0-9._-][A-Za-z0-9._/-]{0,254}")


def import_log_blob_name(job: Mapping[str, Any]) -> str:
    """Where an import job's errors log is: `outputBlobName` when the job names a usable blob, else
    importErrors.log (the name is the job creator's: no `..`, no leading slash, printable ASCII only)."""
    name = job.get("outputBlobName")
    if isinstance(name, str) and _LOG_NAME.fullmatch(name) and ".." not in name and "//" not in name:
        return name
    return IMPORT_ERRORS_BLOB
