"""The app's own copy of every report, in AzureWebJobsStorage (`{MONITOR_REPORTS_CONTAINER}/{hub}/{jobId}.json`).

The report beside a job's output is written with the job's SAS or where the operator allowed the app's
identity; the SAS expires and the container is someone else's, and may refuse it. The copy is what the app serves
(the report route and the status page): written by the poller first and on its own, with whether the report
reached the job's container (`delivery`, shared/reports/delivery.py), read back bounded, never from a URL a
caller supplies.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shared.blob_reads import STORED_BYTES, BodyRefused, expires_in, read_seconds, read_whole

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

    from shared.poller.storage import BlobClients
    from shared.settings.poller import PollerSettings

MAX_COPY_BYTES = 8 << 20
COPY_READ_SECONDS = 10.0  # reading a copy whole, when the caller gave no timeouts


def copy_blob_name(hub: str, job_id: str) -> str:
    return f"{hub.lower()}/{job_id}.json"


class ReportCopies:
    """Reads and writes the copies in one container (a client the caller built for it)."""

    def __init__(self, container: ContainerClient) -> None:
        self._container = container

    @classmethod
    def of_app(cls, blobs: BlobClients, settings: PollerSettings) -> ReportCopies:
        """The app's own copies: MONITOR_REPORTS_CONTAINER in its own storage (the poller, the report route and
        the job page all read and write there)."""
        return cls(blobs.state_container(settings.state_storage, settings.reports_container))

    def put(self, hub: str, job_id: str, document: Mapping[str, Any], **options: Any) -> None:
        """Store (or replace: the same report is written again after a retry) the copy; creates the container
        on first use (deleted or not made by the template)."""
        from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
        from azure.storage.blob import ContentSettings

        data = json.dumps(document, separators=(",", ":")).encode()
        settings = ContentSettings(content_type="application/json")
        try:
            self._container.upload_blob(copy_blob_name(hub, job_id), data, overwrite=True, content_settings=settings,
                                        **options)
        except ResourceNotFoundError:
            with contextlib.suppress(ResourceExistsError):
                self._container.create_container(**options)
            self._container.upload_blob(copy_blob_name(hub, job_id), data, overwrite=True, content_settings=settings,
                                        **options)

    def get(self, hub: str, job_id: str, **options: Any) -> dict[str, Any] | None:
        """The stored report, or None when the job has none."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            name = copy_blob_name(hub, job_id)
            downloader = self._container.download_blob(name, offset=0, length=MAX_COPY_BYTES + 1, **options,
                                                       **STORED_BYTES)
            data = read_whole(downloader, name=name, max_bytes=MAX_COPY_BYTES,
                              expired=expires_in(read_seconds(options, COPY_READ_SECONDS)))
        except ResourceNotFoundError:
            return None
        except BodyRefused:  # over MAX_COPY_BYTES once decoded, encoded, or out of time: not a copy we serve
            return None
        document = json.loads(data)
        return document if isinstance(document, dict) else None
