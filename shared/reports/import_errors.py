"""A summary of an import job's errors log (importErrors.log, or the job's outputBlobName), read as a stream
in bounded memory.

Each line is `{"errorCode":400012, "errorStatus":"... the whole input line ..."}`, sometimes with a
`"deviceId"` first (docs/iothub-evidence.md). When the field is absent, the device id is recovered from the
input line that errorStatus echoes. The echoed line can hold keys, so every kept entry is redacted. Memory is
bounded by the chunk size, the longest line kept (MAX_LINE_BYTES; longer lines are counted, not buffered), the
number of entries kept and the number of distinct error codes counted (MAX_DISTINCT_CODES), never by the log's
length.
"""

from __future__ import annotations

import datetime
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.clock import parse_utc
from shared.errors import SummaryAborted
from shared.redaction import redact_text
from shared.reports.error_codes import (
    OTHER_INFO,
    UNPARSED_INFO,
    conversion_problem,
    describe_code,
    unknown_code_info,
)

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
# The device id inside an echoed input line: its `"id"` field, plain or JSON-escaped (a long line is scanned
# raw, where the echo is still escaped inside errorStatus). IoT Hub device ids are at most 128 characters.
_ECHOED_ID = re.compile(r'(?<![A-Za-z0-9_])(\\?)"id\1"\s*:\s*\1"([^"\\]{1,128})\1"')
_ECHOED_ID_RAW = re.compile(rb'(?<![A-Za-z0-9_])(\\?)"id\1"\s*:\s*\1"([^"\\]{1,128})\1"')
_JSON = json.JSONDecoder()
MAX_ECHO_OBJECTS = 4  # `{` positions tried as the start of the echoed line, before the regex fallback

# Blob names: IoT Hub writes the errors of an import to outputBlobName when the job sets one.
IMPORT_ERRORS_BLOB = "importErrors.log"
IMPORT_INPUT_BLOB = "devices.txt"  # an import's input when it names no inputBlobName
MAX_BLOB_NAME_CHARS = 1024


@dataclass(kw_only=True)
class ImportErrorSummary:
    total_lines: int = 0
    counts_by_error_code: dict[str, int] = field(default_factory=dict)
    first_entries: list[dict[str, Any]] = field(default_factory=list)
    bytes_read: int = 0
    long_lines: int = 0
    unparsed_lines: int = 0

    def to_json(self) -> dict[str, Any]:
        counts = sorted(self.counts_by_error_code.items(), key=lambda kv: (-kv[1], kv[0]))
        return {
            "totalLines": self.total_lines,
            "countsByErrorCode": dict(counts),
            "errorCodes": [explain_code(code, lines) for code, lines in counts],
            "firstEntries": self.first_entries,
            "bytesRead": self.bytes_read,
            "longLines": self.long_lines,
            "unparsedLines": self.unparsed_lines,
        }


def explain_code(code: str, lines: int) -> dict[str, Any]:
    """One row of the report's error-code table: the code, how many lines, its name, meaning and remedy."""
    if code == UNREADABLE:
        info = UNPARSED_INFO
    elif code == OTHER_CODES:
        info = OTHER_INFO
    else:
        info = describe_code(code) or unknown_code_info(code)
    return {"code": code, "lines": lines, "name": info.name, "meaning": info.meaning, "whatToDo": info.action,
            "source": info.source}


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
        if not code.isdigit():
            code = redact_text(code)  # the line's own text: counted under its redacted form, so none is lost
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
        echoed = None if device else _ECHOED_ID_RAW.search(line)
        found = device.group(1) if device else (echoed.group(2) if echoed else None)
        return {
            "line": line_number,
            "deviceId": redact_text(found.decode("utf-8", "replace")) if found is not None else None,
            "deviceIdSource": "field" if device else ("line" if echoed else None),
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
        return {"line": line_number, "deviceId": None, "deviceIdSource": None, "errorCode": code,
                "errorStatus": _short(redact_text(text)), "note": "not a JSON object"}
    status = parsed.get("errorStatus")
    device_id = parsed.get("deviceId")
    source = "field"
    if device_id is None or device_id == "":
        recovered = device_id_from_status(status) if isinstance(status, str) else None
        if recovered is not None:
            device_id, source = recovered, "line"
    entry = {
        "line": line_number,
        "deviceId": redact_text(str(device_id)) if device_id is not None else None,
        "deviceIdSource": source if device_id is not None else None,
        "errorCode": code,
        "errorStatus": _short(redact_text(str(status))) if status is not None else None,
    }
    problem = conversion_problem(status) if isinstance(status, str) else None
    if problem is not None:  # read before the cut: the tail that names the field ends a long line
        entry["problem"] = _short(redact_text(problem))
    return entry


def device_id_from_status(status: str) -> str | None:
    """The device id of the input line an errorStatus echoes (`Invalid device format in line: {...}`,
    `... Line: {...}`): the echoed object's top-level `id`, else (a line too broken to parse) the first `"id"`
    field in the text. None when the text holds no id."""
    start = status.find("{")
    for _ in range(MAX_ECHO_OBJECTS):
        if start < 0:
            break
        try:
            echoed, _end = _JSON.raw_decode(status, start)
        except ValueError:
            start = status.find("{", start + 1)
            continue
        if isinstance(echoed, dict):
            value = echoed.get("id")
            return value if isinstance(value, str) and 0 < len(value) <= 128 else None
        start = status.find("{", start + 1)
    match = _ECHOED_ID.search(status)
    return match.group(2) if match else None


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


@dataclass(frozen=True, kw_only=True)
class ImportLogBlob:
    """Where an import's errors are: `name` in the job's output container; `note` says why it is not the
    name the job asked for (None when it is)."""

    name: str
    note: str | None = None


def import_log_blob(job: Mapping[str, Any], *, with_identity: bool = False) -> ImportLogBlob:
    """The job's `outputBlobName` when it sets a usable blob name, else importErrors.log (with a note when
    the job set a name that could not be used: it comes from whoever created the job). Read `with_identity`
    (the app's own access, not the job's SAS), it is always importErrors.log, the errors log's documented name
    (docs/iothub-evidence.md): a blob the job names could be any blob the identity may read."""
    value = job.get("outputBlobName")
    if value is None or value == "" or value == IMPORT_ERRORS_BLOB:
        return ImportLogBlob(name=IMPORT_ERRORS_BLOB)
    if with_identity:
        shown = redact_text(str(value))[:100]
        return ImportLogBlob(name=IMPORT_ERRORS_BLOB, note=(
            f"the job's outputBlobName ({shown!r}) was not read: with the app's identity only "
            f"{IMPORT_ERRORS_BLOB}, where IoT Hub writes an import's errors, is read"))
    if isinstance(value, str) and _usable_blob_name(value):
        return ImportLogBlob(name=value)
    shown = redact_text(str(value))[:100]
    return ImportLogBlob(
        name=IMPORT_ERRORS_BLOB,
        note=f"the job's outputBlobName ({shown!r}) is not a usable blob name; {IMPORT_ERRORS_BLOB} was read instead",
    )


def import_input_blob_name(job: Mapping[str, Any], *, with_identity: bool = False) -> str | None:
    """The blob an import reads its devices from: inputBlobName when usable, devices.txt when unset, None when
    the job names one that cannot be used (then its lines are not counted). Read `with_identity`, only
    devices.txt: the app's identity never reads a blob a job names."""
    value = job.get("inputBlobName")
    if value is None or value == "" or value == IMPORT_INPUT_BLOB:
        return IMPORT_INPUT_BLOB
    if with_identity:
        return None
    return value if isinstance(value, str) and _usable_blob_name(value) else None


def _usable_blob_name(name: str) -> bool:
    # Printable, bounded, relative, with no empty, `.` or `..` segment: a name that could climb out of the
    # container (or read differently once URL-encoded) is never used.
    if not 0 < len(name) <= MAX_BLOB_NAME_CHARS or not name.isprintable() or "\\" in name:
        return False
    if name.startswith("/") or name.endswith("/") or ".." in name:
        return False
    return all(segment not in ("", ".") for segment in name.split("/"))


# Clocks of the hub and of storage differ a little: a log written this long outside the job's run still counts.
LOG_CLOCK_SLACK_SECONDS = 300.0


def log_not_this_jobs(last_modified: datetime.datetime | None, job: Mapping[str, Any]) -> str | None:
    """Why an errors log last written at `last_modified` cannot be this job's, or None when it can be. Jobs
    share output containers: a log written before the job started is an earlier job's (a job that fails before
    its import writes none); one written after it ended, a later job's that overwrote this one's. Unknown
    times give None."""
    if last_modified is None:
        return None
    slack = datetime.timedelta(seconds=LOG_CLOCK_SLACK_SECONDS)
    started, ended = parse_utc(job.get("startTimeUtc")), parse_utc(job.get("endTimeUtc"))
    written = last_modified.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if started is not None and last_modified < started - slack:
        return f"was last written at {written}, before this job started: it is an earlier job's"
    if ended is not None and last_modified > ended + slack:
        return (f"was last written at {written}, after this job ended: a later job sharing the output container "
                "overwrote it")
    return None


def count_lines(chunks: Iterable[bytes]) -> int:
    """The number of non-blank lines in a blob given as byte chunks (an import's input, for the report's
    "3 of 10,000 lines rejected"); streamed, in memory bounded by the chunk size."""
    lines = 0
    in_line = False  # the current line has a non-blank byte
    for chunk in chunks:
        parts = chunk.split(b"\n")
        for index, part in enumerate(parts):
            if part.strip():
                in_line = True
            if index < len(parts) - 1:  # a newline ends this part
                lines += in_line
                in_line = False
    return lines + in_line


def input_not_this_jobs(last_modified: datetime.datetime | None, job: Mapping[str, Any]) -> bool:
    """An input blob written after the job started (beyond the clocks' slack) is not the one it imported (IoT
    Hub reads it when the job starts; jobs share input containers too). Unknown times give False."""
    started = parse_utc(job.get("startTimeUtc"))
    slack = datetime.timedelta(seconds=LOG_CLOCK_SLACK_SECONDS)
    return last_modified is not None and started is not None and last_modified > started + slack


def overwritten_by(
    job: Mapping[str, Any], others: Iterable[Mapping[str, Any]], last_modified: datetime.datetime | None
) -> str | None:
    """The jobId of the hub's later import that wrote the errors log this job's output container holds, or None.
    A hub runs one import at a time and each writes its log over the last one in the container; the log names
    no job, the hub's list does: an import that started after this one, into the same container, and not after
    the log was last written (with the clocks' slack), overwrote it. The latest such one is named. `others` are
    the hub's listed jobs whose log is read under the same name."""
    started = parse_utc(job.get("startTimeUtc"))
    container = container_key(job.get("outputBlobContainerUri"))
    if started is None or container is None or last_modified is None:
        return None
    slack = datetime.timedelta(seconds=LOG_CLOCK_SLACK_SECONDS)
    later: list[tuple[datetime.datetime, str]] = []
    for other in others:
        other_started = parse_utc(other.get("startTimeUtc"))
        if (other.get("jobId") == job.get("jobId") or str(other.get("type", "")).lower() != "import"
                or other_started is None or other_started <= started or other_started - slack > last_modified
                or container_key(other.get("outputBlobContainerUri")) != container):
            continue
        later.append((other_started, str(other.get("jobId"))))
    return max(later)[1] if later else None


def container_key(uri: object) -> tuple[str, int | None, str] | None:
    """Which container a URI names (host, port, path; its SAS aside), to tell jobs sharing one."""
    if not isinstance(uri, str):
        return None
    try:
        parts = urllib.parse.urlsplit(uri)
        return (parts.hostname or "").lower(), parts.port, parts.path.rstrip("/").lower()
    except ValueError:
        return None
