"""Function and master keys for the local host (well-known development values, not secrets).

Precedence (later wins): the defaults below, then the keys file, then the environment variables
DEVSTACK_FUNCHOST_FUNCTION_KEY / DEVSTACK_FUNCHOST_MASTER_KEY, then the CLI flags.

Keys file (JSON)::

    {"masterKey": "...", "functionKeys": {"default": "...", "other": "..."},
     "functions": {"get_job": {"default": "..."}}}

``functionKeys`` are host keys (valid for every function); ``functions`` adds per-function keys.
The master key is accepted wherever a function key is, and is the only key for authLevel admin.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_FUNCTION_KEY = "devstack-function-key-not-a-secret"
DEFAULT_MASTER_KEY = "devstack-master-key-not-a-secret"
DEFAULT_KEY_NAME = "default"

FUNCTION_KEY_ENV = "DEVSTACK_FUNCHOST_FUNCTION_KEY"
MASTER_KEY_ENV = "DEVSTACK_FUNCHOST_MASTER_KEY"

KEY_HEADER = "x-functions-key"
KEY_QUERY_PARAM = "code"


@dataclass(frozen=True, kw_only=True)
class HostKeys:
    master_key: str = DEFAULT_MASTER_KEY
    host_keys: Mapping[str, str] = field(default_factory=lambda: {DEFAULT_KEY_NAME: DEFAULT_FUNCTION_KEY})
    function_keys: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def function_key(self) -> str:
        """The default host key: valid for every function."""
        return self.host_keys.get(DEFAULT_KEY_NAME) or next(iter(self.host_keys.values()))

    def is_master(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented, self.master_key)

    def allows_function(self, function_name: str, presented: str | None) -> bool:
        if presented is None:
            return False
        candidates = [*self.host_keys.values(), *self.function_keys.get(function_name, {}).values()]
        return self.is_master(presented) or any(hmac.compare_digest(presented, key) for key in candidates)


def load_keys(
    *,
    keys_file: Path | None = None,
    function_key: str | None = None,
    master_key: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> HostKeys:
    environ = os.environ if environ is None else environ
    master = DEFAULT_MASTER_KEY
    host_keys: dict[str, str] = {DEFAULT_KEY_NAME: DEFAULT_FUNCTION_KEY}
    per_function: dict[str, dict[str, str]] = {}
    if keys_file is not None:
        raw = json.loads(keys_file.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError(f"{keys_file}: expected a JSON object")
        master = str(raw.get("masterKey", master))
        host_keys.update({str(k): str(v) for k, v in dict(raw.get("functionKeys", {})).items()})
        for name, keys in dict(raw.get("functions", {})).items():
            per_function[str(name)] = {str(k): str(v) for k, v in dict(keys).items()}
    master = environ.get(MASTER_KEY_ENV) or master
    if environ.get(FUNCTION_KEY_ENV):
        host_keys[DEFAULT_KEY_NAME] = environ[FUNCTION_KEY_ENV]
    master = master_key or master
    if function_key:
        host_keys[DEFAULT_KEY_NAME] = function_key
    return HostKeys(master_key=master, host_keys=host_keys, function_keys=per_function)
