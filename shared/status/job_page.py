"""GET /api/status/jobs/{jobId}: one job's page, for every job (an export, a completed job as much as a failed one).

What it shows, and where each part comes from:
- the job as get_job answers it (shared/proxy/handler.py: the same caches, call budget and redaction), its JSON
  whole; a job get_job cannot give (unknown, the hub failing) is get_job's JSON error, status and all;
- the timeline, the snapshots, latest.json and the report's blobs beside the job: one listing of the job's folder
  (`{MONITOR_PREFIX}/{jobId}/`) where the poller writes it, with the poller's own rules for where and with which
  credential (shared/poller/targets.py); what cannot be listed is said, with its reason. Where the poller writes
  with the job's own SAS, which get_job's answer carries redacted, the job is asked of the hub once more (a call
  from the hub's budget, never waited for): its SAS goes to the storage client only, never onto the page;
- the report, when there is one: the app's own copy (shared/reports/copies.py), linked to the report page.

Every read is bounded in time and size; one job's content shows on its own page only.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.clock import Deadline, utc_iso, utc_now
from shared.errors import SettingsError, TargetRejected
from shared.http_trigger import OncePerProcess
from shared.logs import log_event
from shared.pages.layout import security_headers
from shared.proxy.answers import ProxyRequest, ProxyResponse
from shared.proxy.common import (
    ApiFailure,
    check_method,
    configuration_error,
    failure_response,
    invalid_job_id,
    select_hub,
)
from shared.proxy.validation import is_valid_job_id
from shared.redaction import redact_value
from shared.settings import AppSettings, HubSettings

if TYPE_CHECKING:
    from shared.iothub.client import HubClient
    from shared.poller.storage import BlobClients
    from shared.poller.targets import JobTargets
    from shared.proxy.handler import JobProxy
    from shared.reports.copies import ReportCopies

logger = logging.getLogger("job_page")

# The folder's listing and the report copy's read, each: a page is for people, who will not wait longer.
STORAGE_SECONDS = 5.0
STORAGE_OPTIONS: dict[str, Any] = {"connection_timeout": 2, "read_timeout": 5, "retry_total": 1}
# Blobs of a job's folder the page lists (a snapshot per change: a long job has a few hundred); whoever writes the
# job's container can fill the folder, so more is refused, not collected.
MAX_FOLDER_BLOBS = 1000


@dataclass(frozen=True, kw_only=True)
class FolderBlob:
    name: str  # the blob's name, under the job's folder
    url: str  # the blob's URL without any SAS: opens with the reader's own access to the container
    polled_at: str | None  # a snapshot's polledAtUtc (its metadata), or when it was written


@dataclass(frozen=True, kw_only=True)
class JobView:
    """What the page shows; notes say why a part is missing."""

    hub: str
    job_id: str
    job: dict[str, Any]
    job_json: str
    generated_at: datetime.datetime
    folder_url: str | None = None
    blobs: list[FolderBlob] = field(default_factory=list)
    folder_note: str | None = None
    report: dict[str, Any] | None = None
    report_note: str | None = None
    key: str | None = None  # the function key the page was opened with, carried into its links


class JobPageHandler:
    def __init__(self, *, settings: AppSettings, jobs: JobProxy, client: HubClient, copies: ReportCopies,
                 blobs: BlobClients) -> None:
        self._settings = settings
        self._jobs = jobs
        self._client = client
        self._copies = copies
        self._blobs = blobs

    def handle(self, request: ProxyRequest) -> ProxyResponse:
        from shared.status.job_html import render_job_page

        started = time.monotonic()
        job_id: str | None = request.job_id if is_valid_job_id(request.job_id) else None
        hub_name: str | None = None
        try:
            check_method(request.method)
            hub = select_hub(self._settings.hub, request.params)
            hub_name = hub.name
            if job_id is None:
                raise invalid_job_id()
        except ApiFailure as failure:
            self._log(request, job_id=job_id, hub=hub_name, status=failure.status, started=started,
                      error=failure.code.value)
            return failure_response(failure, job_id=job_id, hub=hub_name, method=request.method)
        answer = self._jobs.handle(ProxyRequest(method="GET", job_id=job_id, params={"hub": hub.name}))
        if answer.status_code != 200:  # get_job's own answer: its status, its JSON error, its Retry-After
            self._log(request, job_id=job_id, hub=hub.name, status=answer.status_code, started=started,
                      error="get_job")
            return answer if request.method.upper() != "HEAD" else ProxyResponse(
                status_code=answer.status_code, body=b"", headers=answer.headers)
        job = json.loads(answer.body)
        view = self.view(hub, job_id, job if isinstance(job, dict) else {}, key=request.params.get("code"))
        body = render_job_page(view)
        self._log(request, job_id=job_id, hub=hub.name, status=200, started=started,
                  snapshots=sum(1 for blob in view.blobs if "/snapshots/" in blob.name),
                  report=view.report is not None, folderNote=view.folder_note is not None)
        return ProxyResponse(status_code=200, body=b"" if request.method.upper() == "HEAD" else body,
                             headers=security_headers())

    def view(self, hub: HubSettings, job_id: str, job: dict[str, Any], *, key: str | None = None) -> JobView:
        folder_url, blobs, folder_note = self._folder(hub, job_id, job)
        report, report_note = self._report(hub.name, job_id)
        return JobView(hub=hub.name, job_id=job_id, job=job, job_json=json.dumps(job, indent=2, sort_keys=True),
                       generated_at=utc_now(), folder_url=folder_url, blobs=blobs, folder_note=folder_note,
                       report=report, report_note=report_note, key=key)

    def _folder(self, hub: HubSettings, job_id: str, job: dict[str, Any]
                ) -> tuple[str | None, list[FolderBlob], str | None]:
        import urllib.parse

        from shared.errors import CredentialError, HubError
        from shared.poller.documents import POLLED_METADATA, job_folder
        from shared.poller.storage import list_folder, not_found, storage_error_text
        from shared.poller.targets import job_targets

        try:
            try:
                targets: JobTargets | None = job_targets(job, self._settings.poller)
            except TargetRejected:
                if "sig=" not in str(job.get("outputBlobContainerUri")):
                    raise
                targets = None  # its SAS is redacted in get_job's answer: the hub's own document says more
            if targets is None or not targets.monitor.uses_identity:
                raw = self._client.get_job(hub, job_id, deadline=Deadline(self._settings.hub.retry_budget_seconds),
                                           budget_wait_seconds=0.0).value
                targets = job_targets(raw if isinstance(raw, dict) else {}, self._settings.poller)
        except TargetRejected as rejected:
            return None, [], f"the poller writes nothing for this job: {rejected}"
        except (HubError, CredentialError) as error:
            return None, [], f"the job's SAS could not be had from the hub to list its folder ({type(error).__name__})"
        folder = job_folder(self._settings.poller.prefix, job_id) + "/"
        container_url = targets.monitor.target.url
        try:
            listed = list_folder(self._blobs.container(targets.monitor), folder,
                                 deadline=Deadline(STORAGE_SECONDS), limit=MAX_FOLDER_BLOBS)
        except TargetRejected as rejected:
            return container_url, [], str(rejected)
        except Exception as error:  # refused, failed or timed out: the rest of the page is still worth having
            if not_found(error):
                return container_url, [], "the job's container does not exist (yet)"
            reason = storage_error_text(error)
            log_event(logger, "job_page_folder_unavailable", level=logging.WARNING, hub=hub.name, jobId=job_id,
                      reason=reason)
            return container_url, [], f"the job's folder could not be listed ({reason})"
        blobs = [FolderBlob(name=blob.name, url=f"{container_url}/{urllib.parse.quote(blob.name)}",
                            polled_at=(blob.metadata or {}).get(POLLED_METADATA)
                            or (utc_iso(blob.last_modified) if blob.last_modified else None))
                 for blob in listed]
        note = None if blobs else "the poller has written nothing for this job yet"
        return f"{container_url}/{urllib.parse.quote(folder)}", blobs, note

    def _report(self, hub: str, job_id: str) -> tuple[dict[str, Any] | None, str | None]:
        try:
            document = self._copies.get(hub, job_id, **STORAGE_OPTIONS)
        except ValueError:  # not JSON: a copy this app did not write whole
            return None, "the app's copy of the report is unreadable"
        except Exception as error:
            from shared.poller.storage import storage_error_text

            reason = storage_error_text(error)
            log_event(logger, "job_page_report_unavailable", level=logging.WARNING, hub=hub, jobId=job_id,
                      reason=reason)
            return None, f"the app's report storage could not be read ({reason})"
        if document is None:
            return None, None
        redacted: dict[str, Any] = redact_value(document)
        return redacted, None

    def _log(self, request: ProxyRequest, *, job_id: str | None, hub: str | None, status: int, started: float,
             error: str | None = None, **fields: object) -> None:
        log_event(logger, "job_page", level=logging.WARNING if status >= 500 else logging.INFO, jobId=job_id,
                  hub=hub, method=request.method.upper(), status=status,
                  durationMs=round((time.monotonic() - started) * 1000, 2), error=error, **fields)


def configuration_error_response(error: SettingsError, method: str = "GET") -> ProxyResponse:
    return configuration_error(error, logger=logger, route="job_page", method=method)


def _build_job_page() -> JobPageHandler:
    from shared.iothub.client import default_hub_client
    from shared.poller.storage import BlobClients
    from shared.proxy.handler import default_job_proxy
    from shared.reports.copies import ReportCopies

    settings = AppSettings.from_environ(os.environ)
    blobs = BlobClients(storage_client_id=settings.poller.storage_client_id)
    return JobPageHandler(settings=settings, jobs=default_job_proxy.get(), client=default_hub_client(settings.hub),
                          copies=ReportCopies.of_app(blobs, settings.poller), blobs=blobs)


# The process's page: get_job's proxy (its caches and budget), the report copies and the poller's blob clients.
default_job_page = OncePerProcess(_build_job_page)
