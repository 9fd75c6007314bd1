"""Helpers for the cache and call budget the instances share: a container of one's own, several hosts as instances,
the shared blobs read back, and the app's log events in a host's log."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from azure.storage.blob import BlobServiceClient

from devstack.azurite import AzuriteInfo
from tests.fixtures.funchost import RunningFuncHost


def new_shared_container() -> str:
    """A shared-cache container nobody else uses: no test sees another's entries or spends its call budget."""
    return f"cache-{uuid.uuid4().hex[:16]}"


def blobs(azurite: AzuriteInfo, container: str, prefix: str = "") -> dict[str, bytes]:
    """Every blob of the container (under `prefix`), by name."""
    client = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(container)
    return {b.name: client.download_blob(b.name).readall() for b in client.list_blobs(name_starts_with=prefix)}


def put_blob(azurite: AzuriteInfo, container: str, name: str, data: bytes) -> None:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    client = service.get_container_client(container)
    if not client.exists():
        client.create_container()
    client.upload_blob(name, data, overwrite=True)


def entry_name(job_id: str, hub: str = "devhub", api_version: str = "2021-04-12") -> str:
    return f"jobs/{hub}/{api_version}/{job_id}.json"


def events(log: str, event: str) -> list[dict[str, Any]]:
    """The app's JSON log lines (one object in the message) with this event name."""
    found = []
    for line in log.splitlines():
        start = line.find('{"event":')
        if start >= 0:
            fields = json.loads(line[start:])
            if fields["event"] == event:
                found.append(fields)
    return found


def get(host: RunningFuncHost, job_id: str, *, session: requests.Session | None = None) -> requests.Response:
    caller = session or requests
    return caller.get(f"{host.url}/api/jobs/{job_id}", headers={"x-functions-key": host.function_key}, timeout=60)


def all_at_once(hosts: Sequence[RunningFuncHost], job_ids: Sequence[str], clients: int
                ) -> list[requests.Response]:
    """`clients` callers released together, caller i asking host i mod n for job i mod len(job_ids)."""
    barrier = threading.Barrier(clients)

    def one(index: int) -> requests.Response:
        with requests.Session() as session:
            session.trust_env = False
            barrier.wait()
            return get(hosts[index % len(hosts)], job_ids[index % len(job_ids)], session=session)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return list(pool.map(one, range(clients)))


def statuses(responses: Sequence[requests.Response]) -> Counter[int]:
    return Counter(r.status_code for r in responses)
