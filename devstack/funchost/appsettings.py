"""App settings: local.settings.json "Values" into the environment, and %Name% references."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, MutableMapping
from pathlib import Path

SETTING_REFERENCE = re.compile(r"%([^%\s]+)%")


class MissingSettingError(LookupError):
    """A %Name% reference names an app setting that is not set."""

    def __init__(self, setting: str, where: str) -> None:
        super().__init__(f"{where}: app setting {setting!r} is not set (referenced as %{setting}%)")
        self.setting = setting


def load_local_settings(path: Path, environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Put the file's "Values" into the environment without overriding what is already set (like Core
    Tools). Return the values that were applied."""
    environ = os.environ if environ is None else environ
    raw = json.loads(path.read_text(encoding="utf-8"))
    values = raw.get("Values", {}) if isinstance(raw, dict) else {}
    if not isinstance(values, dict):
        raise ValueError(f"{path}: \"Values\" must be an object")
    applied: dict[str, str] = {}
    for name, value in values.items():
        if name not in environ and value is not None:
            environ[name] = str(value)
            applied[name] = str(value)
    return applied


def resolve(text: str, *, where: str, environ: Mapping[str, str] | None = None) -> str:
    """Replace each %Name% in `text` by the app setting's value; raise MissingSettingError naming it."""
    environ = os.environ if environ is None else environ

    def _value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise MissingSettingError(name, where)
        return environ[name]

    return SETTING_REFERENCE.sub(_value, text)
