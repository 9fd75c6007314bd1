"""IoT Hub's six-digit error codes as they appear in importErrors.log: a name, what the code means for an
import line, what to do about it, and where the name and the meaning come from.

Names are the ones the SDKs' lists and Microsoft's docs give (code_names.py); so 412002 is DeviceMessageLockLost (a
cloud-to-device lock, by ErrorCode.cs and the docs) and the ETag failure is 412001 PreconditionFailed. A code no
source names is shown as its number and HTTP family (unknown_code_info), never under a guessed name. The table and
its evidence are listed in docs/hints.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.reports.code_names import (
    ERRORCODE_CS,
    IOTHUB_CODES,
    IOTHUB_ERRORS_PAGE,
    V2_ERRORCODE_CS,
    code_family,
)

BULK_IMPORT_DOCS = "IoT Hub docs: Import and export IoT Hub device identities in bulk"


@dataclass(frozen=True, kw_only=True)
class ErrorCodeInfo:
    number: int
    name: str
    meaning: str
    action: str
    source: str = ""

    def to_json(self) -> dict[str, object]:
        return {"number": self.number, "name": self.name, "meaning": self.meaning, "whatToDo": self.action,
                "source": self.source}


_ETAG_ACTION = (
    "Export the devices again to get their current eTag (or twinETag), or use an importMode without "
    "IfMatchETag, or eTag \"*\" to match any version."
)
_THROTTLED_ACTION = "Import the rejected lines again later, or when the hub is less busy."
_TRANSIENT_ACTION = "Import the rejected lines again."
_JOB_QUOTA_ACTION = "Wait for the running import/export job to end (or cancel it), then import the lines again."


def _info(number: int, meaning: str, action: str, *, source: str = ERRORCODE_CS) -> ErrorCodeInfo:
    """An entry under the name its source list gives the number (code_names.py)."""
    name, name_source = IOTHUB_CODES[number]
    sources = name_source if source == name_source else f"{name_source}; {source}"
    return ErrorCodeInfo(number=number, name=name, meaning=meaning, action=action, source=sources)


IMPORT_ERROR_CODES: dict[int, ErrorCodeInfo] = {
    info.number: info
    for info in (
        _info(400004, "A value in the line is not valid for IoT Hub (an unknown importMode, status or "
                      "authentication type, or a malformed device id).",
              "Correct the value the error text names, then import the line again."),
        _info(400005, "A value the line needs is missing or null.",
              "Add the missing value (the error text names it), then import the line again."),
        _info(400006, "The line is JSON, but not in the shape of a device identity.",
              "Compare the line with a line of an export (same fields and types), fix it and import it again."),
        _info(400011, "The same device id appears on more than one line of the input.",
              "Keep one line per device id (merge the changes into it), then import again."),
        _info(400012, "Invalid device format: the line could not be read as a device. When the error text ends "
                      "with \"Error converting value X to type Y. Path 'a.b'\", field a.b holds the value X, which "
                      "is not a valid Y (an enum spelled differently, a string where an object belongs); otherwise "
                      "the JSON itself is broken (quotes, commas, braces) or has no id.",
              "Fix the field the error text's Path names (the report shows it per line), or the JSON of the line, "
              "then import it again.",
              source="the errors-log lines in tests/data/failure_corpus.json"),
        _info(400013, "IoT Hub could not apply the line as part of the bulk operation.",
              "Read the error text; import the line again on its own to see the precise error."),
        _info(401002, "IoT Hub refused the authorization of the operation (the SAS token expired, or the key, "
                      "rule or header could not be authenticated).",
              "Check the credential the job runs with, then import the lines again."),
        _info(403001, "Another import/export job was running: IoT Hub runs one at a time.", _JOB_QUOTA_ACTION,
              source="Azure CLI IoT extension pull request 541"),
        _info(403002, "The hub's device-count limit: in an import, IoT Hub writes this code when the number of "
                      "devices nears or passes what the hub's tier and units allow, even below the limit.",
              "Count the devices (SELECT COUNT() as totalNumberOfDevices FROM devices). If there is room, add the "
              "failed devices one by one (AddDeviceAsync), not with another import job; else delete unused "
              "devices or add units.",
              source=BULK_IMPORT_DOCS),
        _info(403003, "The job quota was exceeded: another import/export job was running.", _JOB_QUOTA_ACTION),
        _info(404001, "The line's importMode needs an existing device (update, updateTwin, delete or an "
                      "IfMatchETag mode), and the hub has no device with that id.",
              "Check the id; to create the device when it is missing, use importMode createOrUpdate."),
        _info(409001, "The line's importMode is create, and the hub already has a device with that id.",
              "Use importMode createOrUpdate (or update) to change the existing device, or drop the line."),
        _info(412001, "ETag mismatch: the device (or its twin) changed since the eTag in the line was read.",
              _ETAG_ACTION),
        _info(412002, "DeviceMessageLockLost: a device completed a cloud-to-device message after its lock "
                      "expired. The sources name no meaning of it for an import line.",
              "Read the error text of these lines; import them again, and if they fail the same way, import them "
              "one by one to see the precise error.",
              source=IOTHUB_ERRORS_PAGE),
        _info(413002, "Too many devices were included in the bulk operation.",
              "Split the input into smaller imports, then import the rejected lines again.",
              source=V2_ERRORCODE_CS),
        _info(429001, "IoT Hub throttled the registry operations of the import.", _THROTTLED_ACTION),
        _info(429002, "IoT Hub throttled the registry operations of the import (its backlog was full).",
              _THROTTLED_ACTION),
        _info(429003, "Requests backlogged by throttling timed out while waiting in the backlog queue.",
              _THROTTLED_ACTION, source=IOTHUB_ERRORS_PAGE),
        _info(429004, "The hub's limit on active jobs was reached.", _JOB_QUOTA_ACTION, source=IOTHUB_ERRORS_PAGE),
        _info(500001, "IoT Hub failed to apply the line because of an internal error (most likely transient).",
              _TRANSIENT_ACTION),
        _info(503001, "IoT Hub was unavailable while the line was applied (transient).", _TRANSIENT_ACTION),
    )
}

UNPARSED_INFO = ErrorCodeInfo(
    number=0, name="(no error code)",
    meaning="The log line is not a JSON object with an errorCode, so the monitor could not read it.",
    action="Open the errors log itself to read the line.",
)
OTHER_INFO = ErrorCodeInfo(
    number=0, name="(other codes)",
    meaning="Lines whose codes came after the first distinct codes the summary keeps.",
    action="Open the errors log itself for these lines.",
)

_FAMILY_MEANING = {
    400: "the line was refused as invalid", 401: "IoT Hub refused the import's authorization",
    403: "a quota or limit of the hub refused the line", 404: "something the line refers to does not exist",
    409: "the line conflicts with the hub's current state", 412: "a precondition did not hold",
    413: "the request was too large", 429: "IoT Hub throttled the import", 500: "IoT Hub failed internally",
    503: "IoT Hub was unavailable",
}


def describe_code(code: str) -> ErrorCodeInfo | None:
    """The table's entry for a code as the summary counts it ("409001"): its import-line explanation, else the
    name and source its list gives with what its family says; None for a code no source names."""
    if not (code.isdigit() and len(code) == 6):
        return None
    number = int(code)
    if number in IMPORT_ERROR_CODES:
        return IMPORT_ERROR_CODES[number]
    if number not in IOTHUB_CODES:
        return None
    name, source = IOTHUB_CODES[number]
    family = _FAMILY_MEANING.get(number // 1000)
    meaning = f"Its family says {family}; the sources give no meaning of it for an import line." if family else (
        "The sources give no meaning of it for an import line.")
    return ErrorCodeInfo(number=number, name=name, meaning=meaning,
                         action="Read the error text of these lines in the errors log.", source=source)


def unknown_code_info(code: str) -> ErrorCodeInfo:
    """An honest entry for a code no source names: its number and what its HTTP family says, no name."""
    number = int(code) if code.isdigit() and len(code) == 6 else None
    family = code_family(number)
    said = _FAMILY_MEANING.get(number // 1000) if number is not None else None
    meaning = (f"A code no list this monitor follows names (HTTP family {family}: {said})." if family and said
               else "A code no list this monitor follows names.")
    return ErrorCodeInfo(number=number or 0, name="(unknown code)", meaning=meaning,
                         action="Read the error text of these lines in the errors log.")


_CONVERSION = re.compile(
    r"Error converting value (?P<value>\"[^\"]{0,200}\"|[^\s]{1,200}) to type '(?P<type>[^']{1,300})'\. "
    r"Path '(?P<path>[^']{0,200})'")
_TYPE_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\]*$")
# The value is echoed only when it looks like an enum member ("SELF_SIGNED") in a field that holds no secret: a
# key, token or thumbprint that failed to convert must not reach the report in a form the redactor does not know.
_SAFE_VALUE = re.compile(r'^"?[A-Za-z_]{1,40}"?$')
_SECRET_FIELD = re.compile(r"(?i)key|secret|password|token|signature|sig|thumbprint|connection")


def conversion_problem(error_status: str) -> str | None:
    """The field a 400012 line names in its tail ("Error converting value "SELF_SIGNED" to type
    '...AuthenticationType'. Path 'authentication.type'") as one sentence; None when the text has no such tail.
    Searched from the end: the echoed input line before the tail is the writer's, not IoT Hub's."""
    matches = list(_CONVERSION.finditer(error_status))
    if not matches:
        return None
    match = matches[-1]
    kind = _TYPE_NAME.search(match.group("type"))
    type_name = kind.group(1) if kind else match.group("type")
    path, value = match.group("path") or "(top level)", match.group("value")
    if _SAFE_VALUE.match(value) and not _SECRET_FIELD.search(path):
        return f"field {path} holds {value}, not a valid {type_name}"
    return f"field {path} holds a value that is not a valid {type_name}"
