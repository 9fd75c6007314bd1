"""IoT Hub import/export jobs simulator (`POST /jobs/create`, `GET /jobs`, `GET|DELETE /jobs/{id}`).

One stdlib ThreadingHTTPServer per hub (HTTP/1.1 keep-alive, TCP_NODELAY, each response written with
one sendall), several hubs per process. Requests are authenticated for real (IoT Hub SAS against
devstack.wellknown.HUB_POLICY_KEYS, or a bearer JWT for https://iothubs.azure.net signed with
devstack.wellknown.TOKEN_SIGNING_KEY). Export/import jobs really read and write blobs (azure-storage-blob).
A control API under /devstack on each hub's port (no auth) drives faults, throttling, latency, counters,
seeding and timing; `HubControl` is its typed client.

Choices where the real service's behaviour is unknown (the harder case for the client is taken):
- GET and list echo the container URIs WITH their SAS, exactly as given (the app must redact).
- `x-ms-request-id` is on every response, faults included (except a dropped connection).
- DELETE on an active job: 200 with the job, now `cancelled` (switchable to 204 with no body through
  PUT /devstack/cancel-status). DELETE on a terminal job: 200 with the job UNCHANGED (it stays
  completed/failed/cancelled), so a client must not assume its cancel won.
- The api-version is checked after authentication: an unauthenticated request gets 401 whatever it sends.
  Unknown /jobs paths (404) and wrong methods (405) are answered before authentication.
- endTimeUtc is absent until a job ends; failureReason only on failed jobs; progress may jump. PUT
  /devstack/end-time plays the sentinels a .NET service may write instead while a job runs:
  `0001-01-01T00:00:00Z` (DateTime.MinValue) or `9999-12-31T23:59:59.9999999Z` (DateTime.MaxValue, what hub
  scheduled jobs answer while running, azure-iot-sdk-csharp issue 467; unverified for import/export jobs).
- An import whose device lines are partly or wholly rejected ends `completed` (progress 100, no
  failureReason); the good lines are applied and the rejected ones are written, one JSON object a line, to
  importErrors.log in the output container. Evidence (strong, indirect): the C# SDK's CleanupDevicesSample
  reads importErrors.log whatever the outcome, the clone-hub guide says an empty log means no errors, and
  `failureReason` is documented for failed jobs only. PUT /devstack/import-errors
  {"rejected_lines_end": "failed"} plays the other reading: `failed` with `ErrorCode:ImportErrors;...`.
- importErrors.log lines are `{"errorCode":<6-digit code>,"errorStatus":"<text> ... <the input line>"}`,
  without `deviceId`, as in the line a public import walkthrough quotes; the echoed input line can
  contain keys. PUT /devstack/import-errors {"device_id_field": true} adds `deviceId` first, the shape of
  azure-functions-host issue 1641. Codes: 400012 invalid device format, 400004 invalid argument (unknown
  importMode), 404001 device not found, 409001 device already exists, 412002 ETag mismatch (the code the
  evidence gives for import lines; the C# SDK's ErrorCode.cs names 412001 PreconditionFailed).
- An import with nothing rejected writes an empty importErrors.log (the clone-hub guide: "an empty log means
  no errors"; medium confidence that the file exists rather than being absent). PUT /devstack/import-errors
  {"empty_log": false} plays the other reading: no log at all.
- An import with `outputBlobName` writes its errors there instead of importErrors.log (the management API
  documents it as "the blob name to use for storing the status of the import job"; data plane
  unconfirmed).
- `failed` with a failureReason is for job-level faults only. Storage failures (missing container,
  forbidden or expired SAS, missing or uncommitted input blob, no token) do not refuse the create: the job
  is accepted, then ends `failed` with
  `ErrorCode:BlobContainerValidationError;Unable to access blob container '<name>' (<URI without SAS>)...`
  (or `...;Unable to read blob '<name>'...`); an input blob that is not UTF-8 ends `failed` with
  `ErrorCode:ArgumentInvalid;...`; a malformed create request is refused at once with 400 ArgumentInvalid.
- identityBased create on a hub without a configured identity (no token provider/endpoint) is refused
  at create time with 400 ManagedIdentityNotEnabled. `identity.userAssignedIdentity` is accepted and
  echoed, but the simulator always uses its one configured identity.
- A job cancelled while its blob work runs stays cancelled, but that work may still complete (an import
  may still change the registry), as a real distributed cancel could.
- The per-minute throttle counts every arrival in its sliding 60 s window, throttled ones included, so
  a client hammering while throttled stays throttled. Faults and the throttle come before auth.
- List returns jobs in creation/seeding order: clients must not rely on any order.
- The `service` policy (ServiceConnect only) may not read jobs; registryRead, registryReadWrite and
  iothubowner may. Bearer tokens are checked for signature, audience and expiry, not for an RBAC role
  (the devstack has no role assignments), so any valid token may create and cancel.
- Errors come in the shape set by PUT /devstack/error-shape: the `Message`/`ExceptionMessage` form by
  default, or the numeric `errorCode`/`trackingId` form, that form JSON-escaped inside `Message`, or no
  body at all (only `iothub-errorcode`): all three are seen from the real service.
- PUT /devstack/local-auth {"disabled": true} refuses every SAS, as a hub with shared access policies
  set to Deny does.
- Over the per-minute limit a request is answered 429 ThrottlingBacklogTimeout at once by default. The IoT
  Hub quotas and throttling doc describes traffic shaping (held first, 429 once the queue is full; medium
  confidence on the timing): PUT /devstack/rate-limit with "shaping" plays it, holding up to `queue`
  requests for up to `max_hold_ms` each. The product is tested under both (tests/get_job/test_throttle_shaping.py);
  immediate stays the default because the tests that measure the budget count 429s.
- The `duplicate` fault answers a list naming every job twice (the copy behind): no evidence the real service
  does this; it is the harder case for a client, which must count each job once.
- Retention: a terminal job disappears (404 JobNotFound, gone from the list) `retention_seconds` after
  its endTimeUtc (default 30 days).
"""

from __future__ import annotations

from pathlib import Path

from devstack.hubsim.control import HubControl
from devstack.hubsim.jobs import ImportErrorsBehaviour, JobTiming
from devstack.hubsim.simulator import HubConfig, HubSimulator, SimulatorConfig
from devstack.hubsim.storage import IdentityEndpoint, StorageToken, StorageTokenProvider
from devstack.hubsim.vocab import (
    EndTimeWhileRunning,
    ErrorShape,
    FaultKind,
    JobStatus,
    JobType,
    Operation,
    RejectedLinesEnd,
)

SCHEMA_FILE = Path(__file__).with_name("jobproperties.schema.json")

__all__ = [
    "SCHEMA_FILE",
    "EndTimeWhileRunning",
    "ErrorShape",
    "FaultKind",
    "HubConfig",
    "HubControl",
    "HubSimulator",
    "IdentityEndpoint",
    "ImportErrorsBehaviour",
    "JobStatus",
    "JobTiming",
    "JobType",
    "Operation",
    "RejectedLinesEnd",
    "SimulatorConfig",
    "StorageToken",
    "StorageTokenProvider",
]
