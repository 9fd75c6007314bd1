"""Loading a function's module as the Python worker does, and calling its entry point."""

from __future__ import annotations

import importlib.util
import inspect
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

import azure.functions as func
from azure.functions._abc import RetryContext, TraceContext

from devstack.funchost.discovery import FunctionSpec


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

    _local = threading.local()

    def __init__(self, spec: FunctionSpec, *, retry_count: int = 0) -> None:
        self._spec = spec
        self._invocation_id = str(uuid.uuid4())
        max_retries = spec.retry.max_retry_count if spec.retry else 0
        self._retry = _RetryContext(retry_count, max_retries)

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._local

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
    entry: Callable[..., Any], spec: FunctionSpec, trigger_value: Any, *, retry_count: int = 0
) -> Any:
    """Call the entry point with the trigger under its binding name, plus ``context`` if declared."""
    arguments: dict[str, Any] = {spec.trigger.binding_name: trigger_value}
    parameters: Mapping[str, inspect.Parameter] = inspect.signature(entry).parameters
    if "context" in parameters and "context" not in arguments:
        arguments["context"] = Context(spec, retry_count=retry_count)
    result = entry(**arguments)
    if inspect.iscoroutine(result):
        import asyncio

        result = asyncio.run(result)
    return result
