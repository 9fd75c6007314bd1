"""A plain-language hint for a failed job: from the code its failureReason carries first, from its words second.

The reason is parsed by reason_shapes.py (re-exported here). The rules, and the real failure text each rests on,
are listed in docs/hints.md; tests/data/failure_corpus.json holds those texts. Words count only as whole words
and phrases, never inside an identifier (a device id `..._Sasl_...` says nothing about a SAS). When no rule fits
the hint says so (UNKNOWN) and the report shows the reason as the hub wrote it; it never advises on a cause the
text does not support.
"""

from __future__ import annotations

import re
from enum import Enum

from shared.jobs import JobStatus, StorageAuthenticationType
from shared.reports.code_names import StorageCode
from shared.reports.reason_shapes import FailureReason, parse_failure_reason

__all__ = ["FailureReason", "Hint", "hint_for", "parse_failure_reason"]


class Hint(Enum):
    """The likely cause of a failure, said plainly. `.key` is the stable key written in reports."""

    SAS_EXPIRED_OR_LACKS_PERMISSIONS = (
        "sasExpiredOrLacksPermissions",
        "The container's SAS token was refused: it has expired (or is not valid yet), it lacks a permission, or it "
        "is scoped to something else (another resource type, service or IP range). The output container needs "
        "Read, Write and Delete, the input container Read, and the SAS must stay valid until the job ends (jobs "
        "can take hours).",
    )
    CONTAINER_MISSING = (
        "containerMissing",
        "A blob container named in the job does not exist (or the URI names the wrong account or container). "
        "Create it, or fix the container URI, and start the job again.",
    )
    INPUT_BLOB_MISSING = (
        "inputBlobMissing",
        "The import's input blob (devices.txt or inputBlobName) is missing or not committed. Upload it completely "
        "to the input container before starting the job.",
    )
    BLOB_UNREADABLE = (
        "blobUnreadable",
        "IoT Hub could not read the job's blob or its container. The causes seen: the input blob (devices.txt or "
        "inputBlobName) is missing or was never committed; the URI carries a SAS made for one blob (sr=b) where "
        "the job needs the container's URI with a container SAS (sr=c); the SAS lacks Read. Check the container "
        "URI and its SAS, upload the input completely, and start the job again.",
    )
    IDENTITY_LACKS_STORAGE_ROLE = (
        "hubIdentityLacksStorageRole",
        "The IoT hub's managed identity could not use the storage account: enable the hub's identity and give it "
        "the 'Storage Blob Data Contributor' role on the account or container.",
    )
    ANOTHER_JOB_RUNNING = (
        "anotherJobRunning",
        "The hub's job quota refused the job: IoT Hub runs only one import/export job at a time (on every tier), "
        "and a hub has a limit on active jobs. Wait for the running job to finish (or cancel it) and start this "
        "one again.",
    )
    DEVICE_COUNT_QUOTA = (
        "deviceCountQuota",
        "The hub reached (or came close to) the number of devices its tier and units allow (403002 "
        "IotHubQuotaExceeded). Count the devices (SELECT COUNT() as totalNumberOfDevices FROM devices); if there "
        "is still room, add the failed devices one by one (not with another import job), else delete unused "
        "devices or add units.",
    )
    DAILY_MESSAGE_QUOTA = (
        "dailyMessageQuota",
        "The hub's daily message quota is used up (403002 IotHubQuotaExceeded): operations are refused until the "
        "next UTC day. Wait for the quota to refresh, or upgrade the hub or add units, then start the job again.",
    )
    THROTTLED = (
        "throttled",
        "IoT Hub throttled the job's requests. Retry later, spread jobs out, or scale the hub up.",
    )
    CALLER_LACKS_HUB_PERMISSION = (
        "callerLacksHubPermission",
        "IoT Hub refused the caller's right to the operation: a principal signed in with Microsoft Entra ID has no "
        "IoT Hub data role for it (IoT Hub Data Contributor runs jobs, IoT Hub Data Reader reads them), or the "
        "shared access policy used lacks the permission (Registry Read/Write). Assign the role or use a policy that "
        "has it.",
    )
    DEVICE_IMPORT_ERRORS = (
        "deviceImportErrors",
        "Some device lines of the import were rejected; the other lines were applied. The summary of the errors "
        "log below says what was wrong with each kind of line and what to do; fix those lines and import only "
        "them again.",
    )
    STORAGE_FIREWALL = (
        "storageFirewall",
        "The storage account's firewall or network rules refused the request (403 AuthorizationFailure). No "
        "credential gets through a firewall: a new SAS or a managed identity will not help. For IoT Hub, allow "
        "trusted Microsoft services on the account and run the job identity-based; for this monitor, give the "
        "Function app VNet integration into a subnet the account allows, or a private endpoint to the account.",
    )
    APP_IDENTITY_LACKS_STORAGE_ROLE = (
        "appIdentityLacksStorageRole",
        "Storage accepted the monitor's managed identity but refused the operation (403 "
        "AuthorizationPermissionMismatch): the identity has no data role there. Give it 'Storage Blob Data "
        "Contributor' on the container it writes to (or on its storage account).",
    )
    CANCELLED = (
        "cancelled",
        "The job was cancelled (someone or something called DELETE /jobs/{id}); it did not fail by itself.",
    )
    UNKNOWN = (
        "unknown",
        "No rule of this monitor fits this failure reason, so it offers no advice: read the reason exactly as the "
        "hub wrote it (shown below) and the job's output container.",
    )

    def __init__(self, key: str, advice: str) -> None:
        self.key = key
        self.advice = advice


def _phrases(*phrases: str) -> re.Pattern[str]:
    """Whole words and phrases, case-insensitive; a letter, digit, `_` or `-` on either side means it is part of
    something else (an identifier, a longer word) and does not count."""
    return re.compile(r"(?<![\w-])(?:" + "|".join(phrases) + r")(?![\w-])", re.IGNORECASE)


_JOB_QUOTA = _phrases(r"job quota", r"jobquotaexceeded", r"only one active job", r"another job (?:is )?running",
                      r"max(?:imum)? active job count", r"throttlingmaxactivejobcountexceeded")
_DEVICE_QUOTA = _phrases(r"total number of devices", r"device count")
_MESSAGE_QUOTA = _phrases(r"total number of messages", r"daily message quota")
_THROTTLED = _phrases(r"throttl(?:ed|ing|e)", r"too many requests")
_IDENTITY = _phrases(r"managedidentitynotenabled", r"managed identity is not enabled", r"no managed identity",
                     r"storage blob data contributor")
_CALLER = _phrases(r"principal\b.{1,200}?\bis not authorized for", r"due to no assigned permissions",
                   r"authorization rule\b.{1,200}?\bdoes not allow access")
_CONTAINER_MISSING = _phrases(r"container does not exist", r"container not found")
_BLOB_MISSING = _phrases(r"blob does not exist", r"not committed", r"blob not found")
_FIREWALL = _phrases(r"network rules?", r"firewalls?", r"virtual networks?",
                     r"not authorized to perform this operation(?!\s+using)")
_PERMISSION = _phrases(r"using this permission")
_SAS = _phrases(r"sas", r"shared access signature", r"signature", r"signed (?:expiry|start)",
                r"server failed to authenticate", r"using this (?:resource type|service|protocol|source ip)")
_UNREADABLE = _phrases(r"unable to (?:access|read) blob", r"failed to read", r"could not read", r"cannot read")
_IMPORT_ERRORS = _phrases(r"importerrors(?:\.log)?", r"failed to import")

_JOB_QUOTA_CODES = (403001, 403003, 429004)  # JobQuotaExceeded (v2 SDK, ErrorCode.cs), max active jobs
_UNREADABLE_CODES = (400007, 400008)  # IH400007 "Unable to access blob"; BlobContainerValidationError
_CALLER_CODES = (401002, 401003)
_SAS_CODES = (StorageCode.AUTHORIZATION_RESOURCE_TYPE_MISMATCH, StorageCode.AUTHORIZATION_SERVICE_MISMATCH,
              StorageCode.AUTHORIZATION_PROTOCOL_MISMATCH, StorageCode.AUTHORIZATION_SOURCE_IP_MISMATCH)


def hint_for(
    reason: FailureReason | None,
    *,
    status: JobStatus,
    storage_authentication: StorageAuthenticationType,
    import_error_lines: int = 0,
    job_type: str | None = None,
) -> Hint:
    """The likeliest cause of a failed (or cancelled) job: codes first, then whole words, else UNKNOWN."""
    if status is JobStatus.CANCELLED:
        return Hint.CANCELLED
    if reason is None:
        return Hint.DEVICE_IMPORT_ERRORS if import_error_lines > 0 else Hint.UNKNOWN
    text = f"{reason.code_name or ''} {reason.text}\n{reason.raw}"
    number = reason.code_number
    identity = storage_authentication is StorageAuthenticationType.IDENTITY_BASED
    credential_refused = Hint.IDENTITY_LACKS_STORAGE_ROLE if identity else Hint.SAS_EXPIRED_OR_LACKS_PERMISSIONS
    if number in _JOB_QUOTA_CODES or _JOB_QUOTA.search(text):
        return Hint.ANOTHER_JOB_RUNNING
    if _DEVICE_QUOTA.search(text):
        return Hint.DEVICE_COUNT_QUOTA
    if _MESSAGE_QUOTA.search(text):
        return Hint.DAILY_MESSAGE_QUOTA
    if number == 403002:  # the docs: typically the daily message quota; in an import, the device-count limit
        return Hint.DEVICE_COUNT_QUOTA if (job_type or "").lower() == "import" else Hint.DAILY_MESSAGE_QUOTA
    if (number is not None and number // 1000 == 429) or _THROTTLED.search(text):
        return Hint.THROTTLED
    if number == 400032 or _IDENTITY.search(text):
        return Hint.IDENTITY_LACKS_STORAGE_ROLE
    by_storage_code = _storage_hint(reason.storage_code, credential_refused)
    if by_storage_code is not None:
        return by_storage_code
    if number in _CALLER_CODES or _CALLER.search(text):
        return Hint.CALLER_LACKS_HUB_PERMISSION
    if _CONTAINER_MISSING.search(text):
        return Hint.CONTAINER_MISSING
    if _BLOB_MISSING.search(text):
        return Hint.INPUT_BLOB_MISSING
    if _FIREWALL.search(text):
        return Hint.STORAGE_FIREWALL
    if _PERMISSION.search(text) or _SAS.search(text):
        return credential_refused
    if number in _UNREADABLE_CODES or _UNREADABLE.search(text):
        return Hint.BLOB_UNREADABLE
    if import_error_lines > 0 or _IMPORT_ERRORS.search(text):
        return Hint.DEVICE_IMPORT_ERRORS
    return Hint.UNKNOWN


def _storage_hint(code: StorageCode | None, credential_refused: Hint) -> Hint | None:
    """What Storage's own code says, where the text carries one."""
    if code is StorageCode.CONTAINER_NOT_FOUND:
        return Hint.CONTAINER_MISSING
    if code is StorageCode.BLOB_NOT_FOUND:
        return Hint.INPUT_BLOB_MISSING
    if code is StorageCode.AUTHORIZATION_FAILURE:
        return Hint.STORAGE_FIREWALL
    if code in (StorageCode.AUTHORIZATION_PERMISSION_MISMATCH, StorageCode.AUTHENTICATION_FAILED):
        return credential_refused
    if code in _SAS_CODES:
        return Hint.SAS_EXPIRED_OR_LACKS_PERMISSIONS
    return None
