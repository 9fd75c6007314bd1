"""Server side of the control API under /devstack on each hub's port (no auth: local test knob).

Routes (JSON in, JSON out; errors are 400/404/405 `{"error": "..."}`):

    GET    /devstack/health         {"hub": name}
    GET    /devstack/counters       {"get","list","create","cancel","other","total"}: /jobs requests that
                                    reached the hub, faulted and throttled ones included; "held": answers
                                    held now (HOLD), "connections": TCP connections that carried /jobs
    GET    /devstack/faults         the queued faults
    POST   /devstack/faults         queue one: {"kind","count","operation","retry_after","wait_seconds","delay_ms",
                                    "location"}
    POST   /devstack/release        let every held answer (HOLD) go -> {"released": n}
    PUT    /devstack/rate-limit     {"per_minute": int | null, "shaping": {"queue": int, "max_hold_ms": int} | null}
                                    sliding 60 s window, 429 like the real throttle; with shaping, requests
                                    over the limit are held first (up to queue of them, max_hold_ms each)
    POST   /devstack/throttle-slide drop the oldest arrival from the window, as a minute passing would
                                    -> {"in_window": n}
    PUT    /devstack/latency        {"ms": int}                  added before every /jobs answer
    PUT    /devstack/error-shape    {"shape": "message" | "numeric" | "nested" | "header-only"}
                                                                 the body shape of every error answer
    PUT    /devstack/local-auth     {"disabled": bool}           true: SAS refused (Entra only)
    PUT    /devstack/gzip           {"enabled": bool}            true: /jobs answers gzipped when the client accepts it
    GET|PUT /devstack/timing        {"enqueued_ms","running_ms","progress_steps","retention_seconds"}
    PUT    /devstack/cancel-status  {"status": 200 | 204}        how DELETE /jobs/{id} answers
    PUT    /devstack/end-time       {"while_running": "absent" | "minValue" | "maxValue"}
                                    endTimeUtc of a job not ended: absent (default), 0001-01-01T00:00:00Z or
                                    9999-12-31T23:59:59.9999999Z
    GET|PUT /devstack/import-errors {"rejected_lines_end": "completed" | "failed", "device_id_field": bool,
                                     "empty_log": bool}
                                    how an import with rejected lines ends, and whether its log lines carry
                                    `deviceId` (default: completed, no deviceId)
    POST   /devstack/jobs           [JobProperties, ...] inserted as is (no lifecycle) -> {"jobIds": [...]}
    DELETE /devstack/jobs           forget every job (active ones stop)
    GET    /devstack/registry       the device registry
    POST   /devstack/reset          {"jobs": bool}: faults, counters, rate limit, latency, error shape,
                                    local auth, gzip, import-errors, end-time back to defaults; with
                                    "jobs": true also jobs, registry seed, timing and cancel status
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from devstack.hubsim.faults import Fault, Shaping
from devstack.hubsim.jobs import ImportErrorsBehaviour, JobTiming
from devstack.hubsim.vocab import EndTimeWhileRunning, ErrorShape, FaultKind, Operation, RejectedLinesEnd

if TYPE_CHECKING:
    from devstack.hubsim.server import HubState

CONTROL_PREFIX = "/devstack/"
TIMING_FIELDS = ("enqueued_ms", "running_ms", "progress_steps")


class ControlError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


@dataclass
class HubController:
    state: HubState
    default_timing: JobTiming
    default_retention_seconds: float

    def timing(self) -> dict[str, Any]:
        return {**asdict(self.state.jobs.timing), "retention_seconds": self.state.jobs.retention_seconds}

    def reset(self, *, jobs: bool) -> None:
        self.state.knobs.reset()
        self.state.jobs.import_errors = ImportErrorsBehaviour()
        self.state.jobs.end_time_while_running = EndTimeWhileRunning.ABSENT
        if jobs:
            self.state.jobs.reset()
            self.state.registry.reseed()
            self.state.jobs.set_timing(self.default_timing)
            self.state.jobs.retention_seconds = self.default_retention_seconds
            self.state.cancel_status = HTTPStatus.OK


def _object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ControlError(HTTPStatus.BAD_REQUEST, "body must be a JSON object")
    return payload


def _int(value: Any, name: str, *, minimum: int = 0, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ControlError(HTTPStatus.BAD_REQUEST, f"{name} must be an integer >= {minimum}")
    return value


def _fault(payload: Any) -> Fault:
    data = _object(payload)
    try:
        kind = FaultKind(data.get("kind"))
        operation = Operation(data.get("operation", Operation.ANY.value))
    except ValueError as exc:
        raise ControlError(HTTPStatus.BAD_REQUEST, str(exc)) from None
    return Fault(
        kind=kind,
        operation=operation,
        count=_int(data.get("count", 1), "count", minimum=1) or 1,
        retry_after=_int(data.get("retry_after"), "retry_after", optional=True),
        wait_seconds=_int(data.get("wait_seconds", 10), "wait_seconds") or 0,
        delay_ms=_int(data.get("delay_ms", 0), "delay_ms") or 0,
        location=_location(data.get("location", "")),
    )


def _location(value: Any) -> str:
    if not isinstance(value, str):
        raise ControlError(HTTPStatus.BAD_REQUEST, "location must be a string")
    return value


def _set_timing(controller: HubController, payload: Any) -> dict[str, Any]:
    data = _object(payload)
    changes = {name: _int(data[name], name) for name in TIMING_FIELDS if name in data}
    controller.state.jobs.update_timing(**{k: v for k, v in changes.items() if v is not None})
    if "retention_seconds" in data:
        retention = data["retention_seconds"]
        if not isinstance(retention, (int, float)) or isinstance(retention, bool) or retention < 0:
            raise ControlError(HTTPStatus.BAD_REQUEST, "retention_seconds must be a number >= 0")
        controller.state.jobs.retention_seconds = float(retention)
    return controller.timing()


def _cancel_status(controller: HubController, payload: Any) -> dict[str, Any]:
    status = _object(payload).get("status")
    if status not in (HTTPStatus.OK, HTTPStatus.NO_CONTENT):
        raise ControlError(HTTPStatus.BAD_REQUEST, "status must be 200 or 204")
    controller.state.cancel_status = int(status)
    return {"status": controller.state.cancel_status}


def _import_errors(controller: HubController, payload: Any) -> dict[str, Any]:
    data = _object(payload)
    current = controller.state.jobs.import_errors
    try:
        end = RejectedLinesEnd(data.get("rejected_lines_end", current.rejected_lines_end.value))
    except ValueError:
        raise ControlError(
            HTTPStatus.BAD_REQUEST, f"rejected_lines_end must be one of {[e.value for e in RejectedLinesEnd]}"
        ) from None
    device_id_field = data.get("device_id_field", current.device_id_field)
    if not isinstance(device_id_field, bool):
        raise ControlError(HTTPStatus.BAD_REQUEST, "device_id_field must be true or false")
    empty_log = data.get("empty_log", current.empty_log)
    if not isinstance(empty_log, bool):
        raise ControlError(HTTPStatus.BAD_REQUEST, "empty_log must be true or false")
    controller.state.jobs.import_errors = ImportErrorsBehaviour(rejected_lines_end=end, device_id_field=device_id_field,
                                                                empty_log=empty_log)
    return controller.state.jobs.import_errors.to_json()


def _seed(controller: HubController, payload: Any) -> dict[str, Any]:
    if not isinstance(payload, list):
        raise ControlError(HTTPStatus.BAD_REQUEST, "body must be a JSON array of job properties")
    if not all(isinstance(entry, dict) for entry in payload):
        raise ControlError(HTTPStatus.BAD_REQUEST, "every seeded job must be a JSON object")
    return {"jobIds": controller.state.jobs.seed(payload)}


def _rate_limit(controller: HubController, payload: Any) -> dict[str, Any]:
    data = _object(payload)
    limit = _int(data.get("per_minute"), "per_minute", minimum=1, optional=True)
    shaping = None
    if data.get("shaping") is not None:
        raw = _object(data["shaping"])
        shaping = Shaping(queue=_int(raw.get("queue"), "queue", minimum=1) or 1,
                          max_hold_ms=_int(raw.get("max_hold_ms"), "max_hold_ms", minimum=1) or 1)
    controller.state.knobs.set_rate_limit(limit, shaping)
    return {"per_minute": limit, "shaping": None if shaping is None else asdict(shaping)}


def _latency(controller: HubController, payload: Any) -> dict[str, Any]:
    controller.state.knobs.latency_ms = _int(_object(payload).get("ms"), "ms") or 0
    return {"ms": controller.state.knobs.latency_ms}


def _error_shape(controller: HubController, payload: Any) -> dict[str, Any]:
    try:
        shape = ErrorShape(_object(payload).get("shape"))
    except ValueError:
        raise ControlError(HTTPStatus.BAD_REQUEST, f"shape must be one of {[s.value for s in ErrorShape]}") from None
    controller.state.knobs.error_shape = shape
    return {"shape": shape.value}


def _local_auth(controller: HubController, payload: Any) -> dict[str, Any]:
    disabled = _object(payload).get("disabled")
    if not isinstance(disabled, bool):
        raise ControlError(HTTPStatus.BAD_REQUEST, "disabled must be true or false")
    controller.state.knobs.local_auth_disabled = disabled
    return {"disabled": disabled}


def _gzip(controller: HubController, payload: Any) -> dict[str, Any]:
    enabled = _object(payload).get("enabled")
    if not isinstance(enabled, bool):
        raise ControlError(HTTPStatus.BAD_REQUEST, "enabled must be true or false")
    controller.state.knobs.gzip = enabled
    return {"enabled": enabled}


def _queue_fault(controller: HubController, payload: Any) -> dict[str, Any]:
    fault = _fault(payload)
    controller.state.knobs.queue(fault)
    return fault.to_json()


def _end_time(controller: HubController, payload: Any) -> dict[str, Any]:
    raw = _object(payload).get("while_running")
    try:
        controller.state.jobs.end_time_while_running = EndTimeWhileRunning(raw)
    except ValueError:
        raise ControlError(HTTPStatus.BAD_REQUEST,
                           f"while_running must be one of {[e.value for e in EndTimeWhileRunning]}") from None
    return {"while_running": controller.state.jobs.end_time_while_running.value}


def _reset(controller: HubController, payload: Any) -> dict[str, Any]:
    jobs = bool(_object(payload or {}).get("jobs", False))
    controller.reset(jobs=jobs)
    return {"reset": True, "jobs": jobs}


def _forget_jobs(controller: HubController, payload: Any) -> dict[str, Any]:
    controller.state.jobs.reset()
    return {"jobs": 0}


Handler = Callable[[HubController, Any], Any]
ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "health"): lambda c, _: {"hub": c.state.name},
    ("GET", "counters"): lambda c, _: c.state.knobs.counters(),
    ("GET", "credentials"): lambda c, _: c.state.knobs.credentials(),
    ("GET", "faults"): lambda c, _: [f.to_json() for f in c.state.knobs.faults()],
    ("POST", "faults"): _queue_fault,
    ("POST", "release"): lambda c, _: {"released": c.state.knobs.release()},
    ("PUT", "rate-limit"): _rate_limit,
    ("POST", "throttle-slide"): lambda c, _: {"in_window": c.state.knobs.slide_window()},
    ("PUT", "latency"): _latency,
    ("PUT", "error-shape"): _error_shape,
    ("PUT", "local-auth"): _local_auth,
    ("PUT", "gzip"): _gzip,
    ("GET", "timing"): lambda c, _: c.timing(),
    ("PUT", "timing"): _set_timing,
    ("PUT", "cancel-status"): _cancel_status,
    ("GET", "import-errors"): lambda c, _: c.state.jobs.import_errors.to_json(),
    ("PUT", "import-errors"): _import_errors,
    ("PUT", "end-time"): _end_time,
    ("POST", "jobs"): _seed,
    ("DELETE", "jobs"): _forget_jobs,
    ("GET", "registry"): lambda c, _: c.state.registry.devices(),
    ("POST", "reset"): _reset,
}


def handle(controller: HubController, method: str, path: str, body: bytes) -> tuple[int, Any]:
    """Answer a /devstack request: (status, JSON payload)."""
    name = path[len(CONTROL_PREFIX) :] if path.startswith(CONTROL_PREFIX) else ""
    handler = ROUTES.get((method, name))
    if handler is None:
        known = any(route == name for _, route in ROUTES)
        if known:
            return HTTPStatus.METHOD_NOT_ALLOWED, {"error": f"{method} not allowed on {path}"}
        return HTTPStatus.NOT_FOUND, {"error": f"no control route {path}"}
    try:
        payload = json.loads(body) if body else None
    except ValueError:
        return HTTPStatus.BAD_REQUEST, {"error": "body is not JSON"}
    try:
        return HTTPStatus.OK, handler(controller, payload)
    except (ControlError, ValueError) as exc:
        return getattr(exc, "status", HTTPStatus.BAD_REQUEST), {"error": str(exc)}
