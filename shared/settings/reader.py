"""Reading settings from the environment into typed values, with errors that name the setting."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from shared.errors import SettingsError

T = TypeVar("T")
_BOOL_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


class SettingsReader:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self._environ.get(name)
        if value is None or not value.strip():
            return default
        return value.strip()

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise SettingsError(name, "is required")
        return value

    def number(self, name: str, default: T, convert: Callable[[str], T], *, low: float, high: float) -> T:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = convert(raw)
        except ValueError:
            raise SettingsError(name, f"must be a number, got {raw!r}") from None
        if not low <= value <= high:  # type: ignore[operator]
            raise SettingsError(name, f"must be between {low:g} and {high:g}, got {raw}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            return _BOOL_WORDS[raw.lower()]
        except KeyError:
            raise SettingsError(name, f"must be true or false, got {raw!r}") from None

    def items(self, name: str) -> list[str]:
        raw = self.text(name)
        return [] if raw is None else [item.strip() for item in raw.split(",") if item.strip()]
