"""IoT Hub's six-digit error codes as they appear in importErrors.log: a name, what the code means for an
import line, and what to do about it.

Names follow the official C# SDK's `ErrorCode.cs` (docs/iothub-evidence.md, "Import output"); the meaning
and the advice are ours, written for someone fixing an import file. 412002 is named DeviceMessageLockLost
there (a cloud-to-device code), but import lines use it for an ETag mismatch by the evidence gathered for this
app, so it is explained like 412001.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class ErrorCodeInfo:
    number: int
    name: str
    meaning: str
    action: str

    def to_json(self) -> dict[str, object]:
        return {"number": self.number, "name": self.name, "meaning": self.meaning, "whatToDo": self.action}


_ETAG_ACTION = (
    "Export the devices again to get their current eTag (or twinETag), or use an importMode without "
    "IfMatchETag, or eTag \"*\" to match any version."
)

IMPORT_ERROR_CODES: dict[int, ErrorCodeInfo] = {
    info.number: info
    for info in (
        ErrorCodeInfo(
            number=400004, name="ArgumentInvalid",
            meaning="A value in the line is not valid for IoT Hub (an unknown importMode, status or "
                    "authentication type, or a malformed device id).",
            action="Correct the value the error text names, then import the line again.",
        ),
        ErrorCodeInfo(
            number=400005, name="ArgumentNull",
            meaning="A value the line needs is missing or null.",
            action="Add the missing value (the error text names it), then import the line again.",
        ),
        ErrorCodeInfo(
            number=400006, name="IotHubFormatError",
            meaning="The line is JSON, but not in the shape of a device identity.",
            action="Compare the line with a line of an export (same fields and types), fix it and import it "
                   "again.",
        ),
        ErrorCodeInfo(
            number=400011, name="DeviceDefinedMultipleTimes",
            meaning="The same device id appears on more than one line of the input.",
            action="Keep one line per device id (merge the changes into it), then import again.",
        ),
        ErrorCodeInfo(
            number=400012, name="DeserializationError",
            meaning="Invalid device format: the line could not be read as a device (broken JSON, a value of "
                    "the wrong type, or no id).",
            action="Fix the JSON of the line (quotes, commas, braces, one device per line, an \"id\"), then "
                   "import it again.",
        ),
        ErrorCodeInfo(
            number=400013, name="BulkRegistryOperationFailure",
            meaning="IoT Hub could not apply the line as part of the bulk operation.",
            action="Read the error text; import the line again on its own to see the precise error.",
        ),
        ErrorCodeInfo(
            number=403002, name="IotHubQuotaExceeded",
            meaning="The hub's quota was exhausted while the line was applied.",
            action="Wait for the quota to reset, or add units to the hub, then import the line again.",
        ),
        ErrorCodeInfo(
            number=404001, name="DeviceNotFound",
            meaning="The line's importMode needs an existing device (update, updateTwin, delete or an IfMatchETag "
                    "mode), and the hub has no device with that id.",
            action="Check the id; to create the device when it is missing, use importMode createOrUpdate.",
        ),
        ErrorCodeInfo(
            number=409001, name="DeviceAlreadyExists",
            meaning="The line's importMode is create, and the hub already has a device with that id.",
            action="Use importMode createOrUpdate (or update) to change the existing device, or drop the line.",
        ),
        ErrorCodeInfo(
            number=412001, name="PreconditionFailed",
            meaning="ETag mismatch: the device changed since the eTag in the line was read.",
            action=_ETAG_ACTION,
        ),
        ErrorCodeInfo(
            number=412002, name="PreconditionFailed",
            meaning="ETag mismatch: the device (or its twin) changed since the eTag in the line was read.",
            action=_ETAG_ACTION,
        ),
        ErrorCodeInfo(
            number=413002, name="TooManyDevices",
            meaning="The hub's limit on the number of device identities was reached.",
            action="Delete devices that are no longer used, or move to a tier or unit count that allows more, then "
                   "import the line again.",
        ),
        ErrorCodeInfo(
            number=429001, name="ThrottlingException",
            meaning="IoT Hub throttled the registry operations of the import.",
            action="Import the rejected lines again later, or when the hub is less busy.",
        ),
        ErrorCodeInfo(
            number=429002, name="ThrottleBacklogLimitExceeded",
            meaning="IoT Hub throttled the registry operations of the import (its backlog was full).",
            action="Import the rejected lines again later, or when the hub is less busy.",
        ),
        ErrorCodeInfo(
            number=500001, name="ServerError",
            meaning="IoT Hub failed to apply the line because of an internal error (most likely transient).",
            action="Import the rejected lines again.",
        ),
        ErrorCodeInfo(
            number=503001, name="ServiceUnavailable",
            meaning="IoT Hub was unavailable while the line was applied (transient).",
            action="Import the rejected lines again.",
        ),
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


def describe_code(code: str) -> ErrorCodeInfo | None:
    """The table's entry for a code as the summary counts it ("409001"); None for one it does not know."""
    if code.isdigit() and len(code) == 6:
        return IMPORT_ERROR_CODES.get(int(code))
    return None


def unknown_code_info(code: str) -> ErrorCodeInfo:
    """An honest entry for a code the table lacks: what its HTTP family says."""
    family = {"400": "the line was refused as invalid", "401": "IoT Hub refused the import's authorization",
              "403": "a quota or limit of the hub refused the line", "404": "something the line refers to does "
              "not exist", "409": "the line conflicts with the hub's current state", "412": "a precondition "
              "(an ETag) did not hold", "429": "IoT Hub throttled the import", "500": "IoT Hub failed internally",
              "503": "IoT Hub was unavailable"}.get(code[:3] if code.isdigit() and len(code) == 6 else "")
    meaning = f"A code this monitor does not know; its HTTP family says {family}." if family else (
        "A code this monitor does not know.")
    return ErrorCodeInfo(number=int(code) if code.isdigit() and len(code) <= 9 else 0, name="(unknown code)",
                         meaning=meaning, action="Read the error text of these lines in the errors log.")
