"""Typed client for a hub's control API (see devstack.hubsim.control_api for the routes)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import requests

from devstack.hubsim.vocab import EndTimeWhileRunning, ErrorShape, FaultKind, Operation, RejectedLinesEnd

DEFAULT_TIMEOUT = 10.0


class HubControl:
    def __init__(self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._session = requests.Session()

    def _call(self, method: str, route: str, payload: Any = None) -> Any:
        response = self._session.request(
            method, f"{self.base_url}/devstack/{route}", json=payload, timeout=self._timeout
        )
        if response.status_code != requests.codes.ok:
            raise RuntimeError(f"control {method} {route}: HTTP {response.status_code} {response.text}")
        return response.json()

    def close(self) -> None:
        self._session.close()

    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "health"))

    def queue_fault(
        self,
        kind: FaultKind,
        *,
        count: int = 1,
        operation: Operation = Operation.ANY,
        retry_after: int | None = None,
        wait_seconds: int = 10,
        delay_ms: int = 0,
        location: str = "",
    ) -> dict[str, Any]:
        payload = {
            "kind": FaultKind(kind).value,
            "count": count,
            "operation": Operation(operation).value,
            "retry_after": retry_after,
            "wait_seconds": wait_seconds,
            "delay_ms": delay_ms,
            "location": location,
        }
        return dict(self._call("POST", "faults", payload))

    def release(self) -> int:
        """Let every answer held by a HOLD fault go; how many were held."""
        return int(self._call("POST", "release")["released"])

    def faults(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "faults"))

    def set_rate_limit(self, per_minute: int | None, *, shaping_queue: int | None = None,
                       shaping_max_hold_ms: int = 3000) -> None:
        """The per-minute throttle; with `shaping_queue`, requests over it are held first (traffic shaping)."""
        shaping = None if shaping_queue is None else {"queue": shaping_queue, "max_hold_ms": shaping_max_hold_ms}
        self._call("PUT", "rate-limit", {"per_minute": per_minute, "shaping": shaping})

    def release_throttle_room(self) -> int:
        """Drop the oldest arrival from the throttle's window (a minute passing, without the wait)."""
        answer = self._call("POST", "throttle-slide", {})
        return int(answer["in_window"])

    def set_latency(self, ms: int) -> None:
        self._call("PUT", "latency", {"ms": ms})

    def set_error_shape(self, shape: ErrorShape) -> None:
        """Answer every error in this body shape (IoT Hub has been seen using three)."""
        self._call("PUT", "error-shape", {"shape": ErrorShape(shape).value})

    def set_local_auth_disabled(self, disabled: bool) -> None:
        """True: the hub refuses SAS tokens, as with "shared access policies: Deny" (Entra only)."""
        self._call("PUT", "local-auth", {"disabled": disabled})

    def set_gzip(self, enabled: bool) -> None:
        """True: /jobs answers are gzipped for a client whose Accept-Encoding allows it."""
        self._call("PUT", "gzip", {"enabled": enabled})

    def counters(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self._call("GET", "counters").items()}

    def credentials(self) -> list[str]:
        """Every distinct Authorization value the hub received (SAS tokens, bearer tokens), newest last."""
        return [str(value) for value in self._call("GET", "credentials")]

    def reset(self, *, jobs: bool = False) -> None:
        """Faults, counters, rate limit and latency off; with jobs=True also jobs, registry, timing."""
        self._call("POST", "reset", {"jobs": jobs})

    def seed_jobs(self, jobs: Iterable[Mapping[str, Any]]) -> list[str]:
        return [str(job_id) for job_id in self._call("POST", "jobs", [dict(job) for job in jobs])["jobIds"]]

    def forget_jobs(self) -> None:
        self._call("DELETE", "jobs")

    def timing(self) -> dict[str, Any]:
        return dict(self._call("GET", "timing"))

    def set_timing(
        self,
        *,
        enqueued_ms: int | None = None,
        running_ms: int | None = None,
        progress_steps: int | None = None,
        retention_seconds: float | None = None,
    ) -> dict[str, Any]:
        values = {
            "enqueued_ms": enqueued_ms,
            "running_ms": running_ms,
            "progress_steps": progress_steps,
            "retention_seconds": retention_seconds,
        }
        return dict(self._call("PUT", "timing", {k: v for k, v in values.items() if v is not None}))

    def set_cancel_status(self, status: int) -> None:
        self._call("PUT", "cancel-status", {"status": status})

    def set_end_time_while_running(self, variant: EndTimeWhileRunning) -> None:
        """What endTimeUtc holds while a job has not ended (default: absent); a reset restores the default."""
        self._call("PUT", "end-time", {"while_running": EndTimeWhileRunning(variant).value})

    def set_import_errors(
        self, *, rejected_lines_end: RejectedLinesEnd | None = None, device_id_field: bool | None = None,
        empty_log: bool | None = None,
    ) -> dict[str, Any]:
        """How an import with rejected lines ends (default completed), whether its importErrors.log lines
        carry `deviceId` (default not), and whether an import with none rejected writes an empty log (default
        it does); a reset restores the defaults."""
        values: dict[str, Any] = {}
        if empty_log is not None:
            values["empty_log"] = empty_log
        if rejected_lines_end is not None:
            values["rejected_lines_end"] = RejectedLinesEnd(rejected_lines_end).value
        if device_id_field is not None:
            values["device_id_field"] = device_id_field
        return dict(self._call("PUT", "import-errors", values))

    def import_errors(self) -> dict[str, Any]:
        return dict(self._call("GET", "import-errors"))

    def registry(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "registry"))
