"""Finding functions (``*/function.json``) and reading host.json, as the Functions host does."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from devstack.funchost.retry import UNLIMITED, RetryPolicy, parse_timespan

SKIPPED_DIRS = frozenset({"devstack", "tests", "bench", ".venv", "venv", "node_modules", "__pycache__"})
DEFAULT_SCRIPT_FILE = "__init__.py"
DEFAULT_ENTRY_POINT = "main"
DEFAULT_ROUTE_PREFIX = "api"
# functionTimeout when host.json sets none: the Flex Consumption plan's default (the template's plan), 30 min.
DEFAULT_FUNCTION_TIMEOUT = "00:30:00"
FUNCTION_TIMEOUT_OVERRIDE = "AzureFunctionsJobHost__functionTimeout"  # an app setting overrides host.json
RETURN_BINDING = "$return"


class TriggerType(str, Enum):
    HTTP = "httpTrigger"
    TIMER = "timerTrigger"
    OTHER = "other"


class AuthLevel(str, Enum):
    ANONYMOUS = "anonymous"
    FUNCTION = "function"
    ADMIN = "admin"


class DiscoveryError(ValueError):
    """A function.json or host.json the host cannot use."""


@dataclass(frozen=True, kw_only=True)
class HttpTrigger:
    binding_name: str
    route: str
    methods: frozenset[str] | None  # None: every method
    auth_level: AuthLevel


@dataclass(frozen=True, kw_only=True)
class TimerTrigger:
    binding_name: str
    schedule: str  # raw, may hold %AppSetting% references
    run_on_startup: bool
    use_monitor: bool


@dataclass(frozen=True, kw_only=True)
class OtherTrigger:
    binding_name: str
    type: str


@dataclass(frozen=True, kw_only=True)
class FunctionSpec:
    name: str
    directory: Path
    script_file: Path
    entry_point: str
    trigger: HttpTrigger | TimerTrigger | OtherTrigger
    retry: RetryPolicy | None
    disabled: bool = False
    bindings: tuple[dict[str, Any], ...] = field(default=())


def route_prefix(app_root: Path) -> str:
    """host.json ``extensions.http.routePrefix`` (default "api"; "" allowed)."""
    host_json = app_root / "host.json"
    if not host_json.exists():
        return DEFAULT_ROUTE_PREFIX
    raw = json.loads(host_json.read_text(encoding="utf-8"))
    prefix = raw.get("extensions", {}).get("http", {}).get("routePrefix", DEFAULT_ROUTE_PREFIX)
    if not isinstance(prefix, str):
        raise DiscoveryError("host.json: extensions.http.routePrefix must be a string")
    return prefix.strip("/")


def function_timeout(app_root: Path, environ: Mapping[str, str]) -> float | None:
    """host.json ``functionTimeout`` (or its app-setting override) in seconds; None for ``-1`` (no limit)."""
    text = environ.get(FUNCTION_TIMEOUT_OVERRIDE)
    if text is None:
        host_json = app_root / "host.json"
        raw = json.loads(host_json.read_text(encoding="utf-8")) if host_json.exists() else {}
        text = raw.get("functionTimeout", DEFAULT_FUNCTION_TIMEOUT)
    if not isinstance(text, str):
        raise DiscoveryError("host.json: functionTimeout must be a TimeSpan string like 00:05:00")
    if text.strip() == str(UNLIMITED):
        return None
    try:
        return parse_timespan(text)
    except ValueError as exc:
        raise DiscoveryError(f"functionTimeout: {exc}") from None


def _skipped(relative: Path) -> bool:
    return any(part in SKIPPED_DIRS or part.startswith(".") for part in relative.parts[:-1])


def _trigger(name: str, bindings: list[dict[str, Any]]) -> HttpTrigger | TimerTrigger | OtherTrigger:
    triggers = [b for b in bindings if str(b.get("type", "")).endswith("Trigger")]
    if len(triggers) != 1:
        raise DiscoveryError(f"{name}: function.json needs exactly one trigger binding, found {len(triggers)}")
    raw = triggers[0]
    binding_name = str(raw.get("name", ""))
    if raw["type"] == TriggerType.HTTP.value:
        methods = raw.get("methods")
        return HttpTrigger(
            binding_name=binding_name,
            route=str(raw.get("route") or name),
            methods=frozenset(str(m).upper() for m in methods) if methods else None,
            auth_level=AuthLevel(str(raw.get("authLevel", AuthLevel.FUNCTION.value)).lower()),
        )
    if raw["type"] == TriggerType.TIMER.value:
        if "schedule" not in raw:
            raise DiscoveryError(f"{name}: timerTrigger needs a schedule")
        return TimerTrigger(
            binding_name=binding_name,
            schedule=str(raw["schedule"]),
            run_on_startup=bool(raw.get("runOnStartup", False)),
            use_monitor=bool(raw.get("useMonitor", True)),
        )
    return OtherTrigger(binding_name=binding_name, type=str(raw["type"]))


def load_function(function_json: Path) -> FunctionSpec:
    directory = function_json.parent
    name = directory.name
    try:
        raw = json.loads(function_json.read_text(encoding="utf-8"))
        bindings = list(raw.get("bindings", []))
        retry_raw = raw.get("retry")
        retry = RetryPolicy.from_json(retry_raw) if retry_raw else None
        trigger = _trigger(name, bindings)
    except (ValueError, KeyError, TypeError) as exc:
        raise DiscoveryError(f"{function_json}: {exc}") from exc
    return FunctionSpec(
        name=name,
        directory=directory,
        script_file=directory / str(raw.get("scriptFile") or DEFAULT_SCRIPT_FILE),
        entry_point=str(raw.get("entryPoint") or DEFAULT_ENTRY_POINT),
        trigger=trigger,
        retry=retry,
        disabled=bool(raw.get("disabled", False)),
        bindings=tuple(bindings),
    )


def discover(app_root: Path) -> list[FunctionSpec]:
    """Every ``<folder>/function.json`` directly under the app root (the v1 layout), sorted by name."""
    found: list[FunctionSpec] = []
    for function_json in sorted(app_root.glob("*/function.json")):
        if _skipped(function_json.relative_to(app_root)):
            continue
        found.append(load_function(function_json))
    return found
