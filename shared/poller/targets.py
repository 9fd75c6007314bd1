"""Where the poller writes a job's files, and with which credential (no I/O).

The job is written by whoever may create jobs on a hub, so every URI in it is untrusted. The rules:
- A container URI passes the one target parser (shared/http/targets.py) or the job is skipped.
- Its host must be on MONITOR_STORAGE_HOST_ALLOWLIST or in an account of MONITOR_IDENTITY_CONTAINERS.
- The job's own SAS is used for the job's own output container, and for nothing else (an import's input SAS
  only to read its input container, to count the input's lines).
- The app's managed identity is used only for containers the operator listed in MONITOR_IDENTITY_CONTAINERS
  (a container, or `*` for every container of an account), over https, never for a reserved container
  (the Functions host's, deployment packages, the app's own state). A refused SAS never widens that: the
  identity takes over only where it was allowed anyway; elsewhere the job is skipped.
- MONITOR_CONTAINER (a sibling container of the output's account) is always written with the identity,
  so it must be listed too.

The clients that write are in shared/poller/storage.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from shared.errors import TargetRejected
from shared.http.targets import ContainerTarget, parse_container_uri, reserved_container
from shared.jobs import StorageAuthenticationType
from shared.settings import PollerSettings


class Credential(str, Enum):
    SAS = "sas"  # the job's own SAS, for the job's own container only
    IDENTITY = "identity"  # the app's managed identity, only where MONITOR_IDENTITY_CONTAINERS allows


@dataclass(frozen=True, kw_only=True)
class Access:
    """A container and the credential to open it with."""

    target: ContainerTarget
    credential: Credential

    @property
    def uses_identity(self) -> bool:
        return self.credential is Credential.IDENTITY

    def describe(self) -> str:
        return self.target.url


@dataclass(frozen=True, kw_only=True)
class JobTargets:
    """`monitor`: where the poller's files go. `output`: the job's own output container, where
    importErrors.log is read (None when no allowed credential can read it). `fallback`: the same with the
    identity instead of a SAS that storage refused (None when the identity is not allowed there)."""

    monitor: Access
    output: Access | None
    fallback: JobTargets | None = None
    # An import's input container, read only to count its lines for the report's title; None when no allowed
    # credential can read it (the title then gives the rejected lines alone).
    input: Access | None = None

    @property
    def uses_sas(self) -> bool:
        return not self.monitor.uses_identity or (self.output is not None and not self.output.uses_identity)

    def with_identity(self) -> JobTargets | None:
        return self.fallback


def input_access(job: Mapping[str, Any], settings: PollerSettings) -> Access | None:
    """An import's input container, under the same rules as its output: an allowed host, never a reserved
    container, the job's own SAS (for that container only) or the identity where the operator listed it.
    Never raises: a job whose input cannot be read is still monitored."""
    if str(job.get("type", "")).lower() != "import":
        return None
    try:
        target = parse_container_uri(job.get("inputBlobContainerUri"), what="inputBlobContainerUri")
    except TargetRejected:
        return None
    if not settings.host_allowed(target.endpoint) or reserved_container(target.container, own=settings.own_containers):
        return None
    identity_based = str(job.get("storageAuthenticationType", "")).lower() == (
        StorageAuthenticationType.IDENTITY_BASED.value.lower()
    )
    if target.sas is not None and not identity_based:
        return Access(target=target, credential=Credential.SAS)
    plain = target.without_sas()
    return Access(target=plain, credential=Credential.IDENTITY) if settings.identity_allows(plain) else None


def job_targets(job: Mapping[str, Any], settings: PollerSettings) -> JobTargets:
    """Where this job's monitor files go, where its output is read and (an import) its input counted; raises
    TargetRejected."""
    targets = _output_targets(job, settings)
    source = input_access(job, settings)
    if source is None:
        return targets
    fallback = dataclasses.replace(targets.fallback, input=source) if targets.fallback is not None else None
    return dataclasses.replace(targets, input=source, fallback=fallback)


def _output_targets(job: Mapping[str, Any], settings: PollerSettings) -> JobTargets:
    output = parse_container_uri(job.get("outputBlobContainerUri"), what="outputBlobContainerUri")
    if not settings.host_allowed(output.endpoint):
        where = f"{output.endpoint.host}:{output.endpoint.effective_port()}"
        raise TargetRejected(f"storage endpoint {where} is not on the allowlist (an entry allows its host on one "
                             "port: 443 unless it names another)")
    identity_based = str(job.get("storageAuthenticationType", "")).lower() == (
        StorageAuthenticationType.IDENTITY_BASED.value.lower()
    )
    if identity_based:
        # The hub uses its own identity for this job; a SAS left in the URI is not ours to rely on.
        output = output.without_sas()
    plain = output.without_sas()
    identity_output = Access(target=plain, credential=Credential.IDENTITY) if settings.identity_allows(plain) else None
    sas_output = Access(target=output, credential=Credential.SAS) if output.sas is not None else None
    if settings.container is not None and settings.container != output.container:
        sibling = output.sibling(settings.container)
        if not settings.identity_allows(sibling):
            raise TargetRejected(
                f"MONITOR_CONTAINER {sibling.url} is not in MONITOR_IDENTITY_CONTAINERS (it is written with the "
                "app's identity)"
            )
        monitor = Access(target=sibling, credential=Credential.IDENTITY)
        return JobTargets(
            monitor=monitor, output=sas_output or identity_output,
            fallback=JobTargets(monitor=monitor, output=identity_output) if sas_output is not None else None,
        )
    if reserved_container(output.container, own=settings.own_containers):
        raise TargetRejected(f"container {output.container} is reserved (the Functions host's or this app's own)")
    if sas_output is not None:
        fallback = JobTargets(monitor=identity_output, output=identity_output) if identity_output else None
        return JobTargets(monitor=sas_output, output=sas_output, fallback=fallback)
    if identity_output is not None:
        return JobTargets(monitor=identity_output, output=identity_output)
    raise TargetRejected(
        f"{plain.url} has no usable SAS and is not in MONITOR_IDENTITY_CONTAINERS (the app's identity writes only "
        "where the operator listed)"
    )
