"""Fault injectors and recorders for the poller soak, at the real boundaries of a Poller "host".

- `ChaosBlobClients`: the poller's own BlobClients with its `request_hook` (and azure-storage's
  `raw_response_hook`, which BlobClients passes through the same options) used as the storage network:
  a request can fail before it is sent (ServiceRequestError: the server never saw it), a response can be
  lost after the server applied it (ServiceResponseError: the write landed, the poller does not know),
  and the host can die (`KilledTick`, a BaseException that no `except Exception` stops, raised before a
  request or after its response). Once dead, every request of that host raises: like a process that
  died, its straggler threads never reach storage again. Every request's host is recorded, and every
  successful PUT per blob, so that duplicates are counted from the wire.
- `RecordingHubClient`: the app's HubClient that keeps what each list call returned (what the hub
  showed this host at this tick).
"""

from __future__ import annotations

import collections
import json
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from shared.clock import Deadline
from shared.iothub.client import HubClient, HubResult
from shared.poller.core import collapse_duplicates
from shared.poller.storage import BlobClients
from shared.settings import HubSettings


class KilledTick(BaseException):
    """The host process died here: escapes every `except Exception`, leaves storage as it is."""


@dataclass
class StorageFault:
    """Armed on one host for one tick: acts on the host's `at`-th storage request of the tick (1-based)."""

    kind: str  # "request_failed" (then `count` requests in a row fail), "response_lost", "kill_before", "kill_after"
    at: int
    count: int = 1


@dataclass
class WireLog:
    """What every host sent to storage, shared by all hosts of a soak run (thread-safe)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    hosts: collections.Counter[str] = field(default_factory=collections.Counter)
    puts: collections.Counter[str] = field(default_factory=collections.Counter)  # "container/blob" -> 2xx PUTs
    # latest.json's revisions (its monitorrev metadata) in the order their PUTs succeeded
    requests: int = 0
    injected: collections.Counter[str] = field(default_factory=collections.Counter)

    latest_revs: dict[str, list[int]] = field(default_factory=lambda: collections.defaultdict(list))
    tick: int = 0  # the soak's tick, set before each one runs (for the state history)
    # Each job's record as every successful save of a hub's state left it, when it changed: (host, tick, seq,
    # pending [(seq, status, progress)], timeline seqs). Printed for a job the soak finds a loss of.
    state_history: dict[str, list[tuple[Any, ...]]] = field(default_factory=lambda: collections.defaultdict(list))

    def count_put(self, key: str, headers: Mapping[str, str]) -> None:
        with self.lock:
            self.puts[key] += 1
            if key.endswith("/latest.json"):
                self.latest_revs[key].append(int(headers.get("x-ms-meta-monitorrev", "-1")))

    def record_state(self, host: str, body: object) -> None:
        """A hub's state as a successful save wrote it: each job's seq, pending claims and timeline."""
        try:
            jobs = json.loads(body)["jobs"] if isinstance(body, (bytes, str)) else None
        except (ValueError, KeyError, TypeError):
            return
        if not isinstance(jobs, dict):
            return
        with self.lock:
            for job_id, record in jobs.items():
                if not isinstance(record, dict):
                    continue
                pending = tuple((p.get("seq"), p.get("document", {}).get("status"), p.get("document", {}).get(
                    "progress")) for p in record.get("pending", []) if isinstance(p, dict))
                timeline = tuple(e.get("seq") for e in record.get("timeline", []) if isinstance(e, dict))
                entry = (host, self.tick, record.get("seq"), pending, timeline)
                history = self.state_history[job_id]
                if not history or history[-1][2:] != entry[2:]:
                    history.append(entry)


def _blob_key(url: str) -> str:
    """`container/blob/name` from a path-style Azurite URL (`/{account}/{container}/{blob}`), no query."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    parts = path.lstrip("/").split("/", 1)
    return parts[1] if len(parts) == 2 else path


class ChaosBlobClients(BlobClients):
    """One host's storage clients: the poller's BlobClients with faults at the transport boundary."""

    def __init__(self, *, wire: WireLog, name: str) -> None:
        super().__init__(storage_client_id=None, request_hook=self._on_request, response_hook=self._on_response)
        self.name = name
        self._wire = wire
        self._chaos_lock = threading.Lock()  # BlobClients has its own _lock
        self._fault: StorageFault | None = None
        self._seen = 0  # storage requests of this host in the current tick
        self._failing = 0  # requests still to fail (request_failed)
        self.dead = False

    def arm(self, fault: StorageFault | None) -> None:
        with self._chaos_lock:
            self._fault, self._seen, self._failing = fault, 0, 0

    def _on_request(self, request: Any) -> None:
        http = request.http_request
        host = (urllib.parse.urlsplit(http.url).hostname or "").lower()
        with self._wire.lock:
            self._wire.hosts[host] += 1
            self._wire.requests += 1
        with self._chaos_lock:
            if self.dead:
                raise KilledTick(self.name)
            self._seen += 1
            fault = self._fault
            request.context["soak_seq"] = self._seen
            if fault is not None and self._seen == fault.at:
                if fault.kind == "kill_before":
                    self.dead = True
                    self._count("storage:kill_before_send")
                    raise KilledTick(self.name)
                if fault.kind == "request_failed":
                    self._failing = fault.count
            if self._failing > 0:
                self._failing -= 1
                self._count("storage:request_failed")
                raise ServiceRequestError("soak: the storage network failed before the request was sent")

    def _on_response(self, response: Any) -> None:
        http_request, http_response = response.http_request, response.http_response
        status = http_response.status_code
        if http_request.method == "PUT" and 200 <= status < 300:
            key = _blob_key(http_request.url)
            self._wire.count_put(key, http_request.headers)
            if "/hubs/" in key and key.endswith(".json"):
                self._wire.record_state(self.name, http_request.body)
        with self._chaos_lock:
            if self.dead:
                raise KilledTick(self.name)
            fault = self._fault
            if fault is None or response.context.get("soak_seq") != fault.at:
                return
            if fault.kind == "kill_after":
                self.dead = True
                self._count("storage:kill_after_response")
                raise KilledTick(self.name)
            if fault.kind == "response_lost":
                self._fault = None  # once: the retry of this request gets its answer
                self._count("storage:response_lost")
                raise ServiceResponseError("soak: the response was lost after the server applied the request")

    def _count(self, kind: str) -> None:
        with self._wire.lock:
            self._wire.injected[kind] += 1


@dataclass(frozen=True)
class Observation:
    """One list call's answer: what the hub showed `host` at `tick`."""

    host: str
    tick: int
    hub: str
    jobs: tuple[tuple[str, str, int | None], ...]  # (jobId, status, progress)


class RecordingHubClient(HubClient):
    """The app's HubClient, keeping every list answer (tagged with the host and the tick it belongs to)."""

    def __init__(self, *, host: str, sink: Callable[[Observation], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.host = host
        self.tick = 0
        self._sink = sink

    def list_jobs(
        self, hub: HubSettings, *, api_version: str | None = None, deadline: Deadline | None = None,
        budget_wait_seconds: float | None = None, reserve_next_seconds: float = 0.0,
    ) -> HubResult[list[dict[str, Any]]]:
        tick = self.tick  # the tick that started this call, even if the host dies while it runs
        result = super().list_jobs(hub, api_version=api_version, deadline=deadline,
                                   budget_wait_seconds=budget_wait_seconds, reserve_next_seconds=reserve_next_seconds)
        # A job listed twice (the simulator's duplicate fault) was seen once, at its furthest: the rule the
        # poller documents (docs/poller.md, "No instance's clock orders anything").
        unique, _twice = collapse_duplicates(result.value)
        self._sink(Observation(host=self.host, tick=tick, hub=hub.name, jobs=tuple(
            (str(job.get("jobId")), str(job.get("status")), _progress(job.get("progress"))) for job in unique
        )))
        return result


def _progress(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
