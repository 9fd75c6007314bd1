"""The devstack's storage endpoints on loopback (each Azurite, each storage front), for the tests' settings.

MONITOR_STORAGE_HOST_ALLOWLIST entries carry their port (443 unless written), so the tests' allowlist names each
stand-in's port, as the devstack's own settings name Azurite's (local.settings.sample.json): another port on
the same host is refused. The session fixtures register each port as they start the stand-in.
"""

from __future__ import annotations

LOOPBACK = "127.0.0.1"
_PORTS: set[int] = set()


def register(port: int) -> int:
    _PORTS.add(port)
    return port


def allowlist(*more: str) -> str:
    """The allowlist value: every registered port on the loopback address, then `more` entries."""
    return ",".join([*(f"{LOOPBACK}:{port}" for port in sorted(_PORTS)), *more])
