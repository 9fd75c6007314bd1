"""The local Functions host: discovery, settings, function loading, HTTP server and timers."""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.functions as func

from devstack.funchost import appsettings, invocation
from devstack.funchost.discovery import (
    FunctionSpec,
    HttpTrigger,
    TimerTrigger,
    discover,
    function_timeout,
    route_prefix,
)
from devstack.funchost.keys import HostKeys
from devstack.funchost.logs import INVOCATIONS, in_function
from devstack.funchost.ncrontab import Schedule, ScheduleError
from devstack.funchost.routes import Route
from devstack.funchost.runs import FunctionRunner, RunCause
from devstack.funchost.server import HostServer
from devstack.funchost.timers import TimerScheduler

LOG = logging.getLogger("devstack.funchost")
DEFAULT_BIND = "127.0.0.1"
HOST_STATE_RUNNING = "Running"
ALL_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
SHUTDOWN_TIMEOUT_SECONDS = 5.0
HOST_API_REASON = "This function was programmatically called via the host APIs."


@dataclass
class HttpFunction:
    spec: FunctionSpec
    trigger: HttpTrigger
    route: Route
    entry: Any
    timeout_seconds: float | None

    def accepts(self, method: str) -> bool:
        return self.trigger.methods is None or method in self.trigger.methods

    def allowed_methods(self) -> tuple[str, ...]:
        return ALL_METHODS if self.trigger.methods is None else tuple(sorted(self.trigger.methods))

    def invoke(self, request: func.HttpRequest, invocation_id: str) -> Any:
        return invocation.execute(self.entry, self.spec, request, reason=HOST_API_REASON,
                                  timeout_seconds=self.timeout_seconds, invocation_id=invocation_id)


class FunctionsHost:
    """``FunctionsHost(app_root, port=7071).start()``; ``.stop()``; ``.url``; ``.keys``."""

    def __init__(
        self,
        app_root: Path,
        *,
        port: int = 0,
        bind: str = DEFAULT_BIND,
        keys: HostKeys | None = None,
        settings_file: Path | None = None,
        timers_enabled: bool = True,
    ) -> None:
        self.app_root = app_root.resolve()
        self.keys = keys or HostKeys()
        self._address = (bind, port)
        self._settings_file = settings_file
        self._timers_enabled = timers_enabled
        self._stop = threading.Event()
        self._http: list[HttpFunction] = []
        self._runners: dict[str, FunctionRunner] = {}
        self._schedulers: list[TimerScheduler] = []
        self._errors: list[str] = []
        self._server: HostServer | None = None
        self._thread: threading.Thread | None = None
        self.function_timeout: float | None = None

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> FunctionsHost:
        if self._settings_file is not None and self._settings_file.exists():
            appsettings.load_local_settings(self._settings_file)
        if str(self.app_root) not in sys.path:
            sys.path.insert(0, str(self.app_root))
        prefix = route_prefix(self.app_root)
        self.function_timeout = function_timeout(self.app_root, os.environ)
        for spec in discover(self.app_root):
            if spec.disabled:
                LOG.info("%s: disabled", spec.name)
                continue
            try:
                self._load(spec, prefix)
            except Exception as exc:
                message = f"The '{spec.name}' function is in error: {exc}"
                self._errors.append(message)
                LOG.error("%s", message, exc_info=not isinstance(exc, (ScheduleError, LookupError)))
        self._server = HostServer(self._address, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="funchost-http", daemon=True
        )
        self._thread.start()
        for scheduler in self._schedulers:
            scheduler.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(SHUTDOWN_TIMEOUT_SECONDS)
        for scheduler in self._schedulers:
            scheduler.join(SHUTDOWN_TIMEOUT_SECONDS)

    def _load(self, spec: FunctionSpec, prefix: str) -> None:
        trigger = spec.trigger
        if isinstance(trigger, TimerTrigger):
            expression = appsettings.resolve(trigger.schedule, where=f"{spec.name}: schedule")
            schedule = Schedule.parse(expression)
        entry = invocation.load_entry_point(spec)
        if isinstance(trigger, HttpTrigger):
            route = Route.compile(prefix, trigger.route)
            self._http.append(HttpFunction(spec=spec, trigger=trigger, route=route, entry=entry,
                                           timeout_seconds=self.function_timeout))
            methods = ",".join(self._http[-1].allowed_methods())
            LOG.info("%s: [%s] /%s", spec.name, methods, route.template)
            return
        runner = FunctionRunner(spec, self._invoker(spec, entry, self.function_timeout), self._stop)
        self._runners[spec.name.lower()] = runner
        if isinstance(trigger, TimerTrigger):
            LOG.info("%s: timerTrigger %r%s", spec.name, expression, "" if self._timers_enabled else " (timers off)")
            if self._timers_enabled:
                self._schedulers.append(TimerScheduler(runner, trigger, schedule, self._stop))
        else:
            LOG.info("%s: %s (run it with POST /admin/functions/%s)", spec.name, trigger.type, spec.name)

    @staticmethod
    def _invoker(spec: FunctionSpec, entry: Any, timeout_seconds: float | None) -> Any:
        def invoke(past_due: bool, retry_count: int, cause: RunCause) -> Any:
            value: Any = func.timer.TimerRequest(past_due=past_due) if isinstance(spec.trigger, TimerTrigger) else ""
            fired = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
            reason = HOST_API_REASON if cause is RunCause.ADMIN else f"Timer fired at {fired}"
            with in_function(spec.name):
                return invocation.execute(entry, spec, value, reason=reason, timeout_seconds=timeout_seconds,
                                          retry_count=retry_count)

        return invoke

    # --- queries for the server ----------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("not started")
        return int(self._server.server_address[1])

    @property
    def authority(self) -> str:
        return f"{self._address[0]}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.authority}"

    def match_route(self, path: str) -> list[tuple[HttpFunction, dict[str, str]]]:
        matches = []
        for function in self._http:
            params = function.route.match(path)
            if params is not None:
                matches.append((function, params))
        return matches

    def http_function(self, name: str) -> HttpFunction | None:
        return next((f for f in self._http if f.spec.name.lower() == name.lower()), None)

    def runner(self, name: str) -> FunctionRunner | None:
        return self._runners.get(name.lower())

    def status(self) -> dict[str, Any]:
        return {
            "state": HOST_STATE_RUNNING,
            "processId": os.getpid(),
            "errors": list(self._errors),
            "droppedUserLogs": INVOCATIONS.dropped,  # devstack extension: user logs of no running invocation
            "functions": sorted([f.spec.name for f in self._http] + [r.spec.name for r in self._runners.values()]),
        }

    def wait(self) -> None:
        with contextlib.suppress(KeyboardInterrupt):
            while not self._stop.wait(0.5):
                pass
