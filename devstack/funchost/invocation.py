"""Loading a function's module as the Python worker does, and calling its entry point."""

from __future__ import annotations

import importlib.util
import inspect
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

import azure.functions as func
from azure.functions._abc import RetryContext, TraceContext

from devstack.funchost.discovery import FunctionSpec
from devstack.funchost.logs import INVOCATIONS, WORKER_STORAGE, executing
from devstack.funchost.telemetry import Running


class LoadError(ImportError):
    """The function's script could not be imported or has no such entry point."""


class _TraceContext(TraceContext):
    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return ""

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(RetryContext):
    def __init__(self, retry_count: int, max_retry_count: int) -> None:
        self._count, self._max = retry_count, max_retry_count

    @property
    def retry_count(self) -> int:
        return self._count

    @property
    def max_retry_count(self) -> int:
        return self._max

    @property
    def exception(self) -> Any:
        return None


class Context(func.Context):
    """The ``context`` argument, for functions that declare one."""

    def __init__(self, spec: FunctionSpec, *, invocation_id: str, retry_count: int = 0) -> None:
        self._spec = spec
        self._invocation_id = invocation_id
        max_retries = spec.retry.max_retry_count if spec.retry else 0
        self._retry = _RetryContext(retry_count, max_retries)

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return WORKER_STORAGE  # one object for every invocation, as the worker's

    @property
    def function_name(self) -> str:
        return self._spec.name

    @property
    def function_directory(self) -> str:
        return str(self._spec.directory)

    @property
    def trace_context(self) -> TraceContext:
        return _TraceContext()

    @property
    def retry_context(self) -> RetryContext:
        return self._retry


def load_entry_point(spec: FunctionSpec) -> Callable[..., Any]:
    """Import ``<folder>/<scriptFile>`` as module ``<folder>`` (the app root must be on sys.path)."""
    module: ModuleType | None = sys.modules.get(spec.name)
    if module is None or getattr(module, "__file__", None) != str(spec.script_file):
        module_spec = importlib.util.spec_from_file_location(
            spec.name, spec.script_file, submodule_search_locations=[str(spec.directory)]
        )
        if module_spec is None or module_spec.loader is None:
            raise LoadError(f"{spec.name}: cannot load {spec.script_file}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[spec.name] = module
        try:
            module_spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(spec.name, None)
            raise
    entry = getattr(module, spec.entry_point, None)
    if not callable(entry):
        raise LoadError(f"{spec.name}: {spec.script_file} has no callable {spec.entry_point!r}")
    return entry  # type: ignore[no-any-return]


def call(
    entry: Callable[..., Any], spec: FunctionSpec, trigger_value: Any, *, invocation_id: str, retry_count: int = 0
) -> Any:
    """Call the entry point with the trigger under its binding name, plus ``context`` if declared."""
    arguments: dict[str, Any] = {spec.trigger.binding_name: trigger_value}
    parameters: Mapping[str, inspect.Parameter] = inspect.signature(entry).parameters
    if "context" in parameters and "context" not in arguments:
        arguments["context"] = Context(spec, invocation_id=invocation_id, retry_count=retry_count)
    result = entry(**arguments)
    if inspect.iscoroutine(result):
        import asyncio

        result = asyncio.run(result)
    return result


class FunctionTimeout(Exception):
    """The invocation outlived functionTimeout; the host ended it."""


def new_invocation_id() -> str:
    return str(uuid.uuid4())


def execute(
    entry: Callable[..., Any], spec: FunctionSpec, trigger_value: Any, *, reason: str,
    timeout_seconds: float | None, invocation_id: str | None = None, retry_count: int = 0,
) -> Any:
    """One invocation as the host runs it: registered as executing (its logs reach the telemetry), its
    Executing/Executed lines, and ended at functionTimeout.

    Azure's host cancels a timed-out invocation and restarts the worker (the Python worker cannot stop a
    running thread): here the invocation is failed and forgotten, so the lines its thread still logs are
    dropped like any user log of no running invocation, and the next run starts at once (docs/devstack.md)."""
    running = INVOCATIONS.start(spec.name, invocation_id)
    ident = running.invocation_id
    INVOCATIONS.host_trace(running, f"Executing 'Functions.{spec.name}' (Reason='{reason}', Id={ident})")
    started = time.monotonic()
    outcome: dict[str, Any] = {}

    def run() -> None:
        with executing(running):
            try:
                outcome["value"] = call(entry, spec, trigger_value, invocation_id=ident, retry_count=retry_count)
            except BaseException as exc:  # handed to the caller's thread
                outcome["error"] = exc

    worker = threading.Thread(target=run, name=f"invocation-{spec.name}", daemon=True)
    worker.start()
    worker.join(timeout_seconds)
    try:
        if worker.is_alive():
            limit = _timespan(timeout_seconds or 0.0)
            INVOCATIONS.host_trace(running, f"Timeout value of {limit} exceeded by function 'Functions.{spec.name}' "
                                   f"(Id: '{ident}'). Initiating cancellation.", levelno=logging.ERROR)
            raise FunctionTimeout(f"Timeout value of {limit} was exceeded by function: Functions.{spec.name}")
        if "error" in outcome:
            raise outcome["error"]
    except BaseException:
        _executed(running, "Failed", started, levelno=logging.ERROR)
        raise
    finally:
        INVOCATIONS.end(ident)
    _executed(running, "Succeeded", started)
    return outcome.get("value")


def _executed(running: Running, result: str, started: float, *, levelno: int = logging.INFO) -> None:
    duration = round((time.monotonic() - started) * 1000)
    INVOCATIONS.host_trace(running, f"Executed 'Functions.{running.function}' ({result}, Id={running.invocation_id}, "
                           f"Duration={duration}ms)", levelno=levelno)


def _timespan(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
