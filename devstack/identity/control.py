"""A typed client for the identity endpoint's devstack control routes (stdlib only)."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from typing import Any

from devstack.identity import protocol
from devstack.identity.state import FaultKind

CONTROL_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, kw_only=True)
class Counters:
    tokens_issued: dict[str, int]
    faults_served: dict[str, int]
    faults_pending: int
    token_requests: int
    rejected: int
    token_lifetime_seconds: int

    def issued(self, audience: str) -> int:
        return self.tokens_issued.get(audience, 0)

    @property
    def total_issued(self) -> int:
        return sum(self.tokens_issued.values())


class IdentityControl:
    """``IdentityControl("http://127.0.0.1:7082")`` drives a running endpoint's control routes."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(  # noqa: S310 - URL built from our own base_url
            f"{self.base_url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=CONTROL_TIMEOUT_SECONDS) as response:  # noqa: S310
            result = json.loads(response.read())
        if not isinstance(result, dict):
            raise TypeError(f"unexpected control response from {path}")
        return result

    @staticmethod
    def _counters(raw: dict[str, Any]) -> Counters:
        return Counters(
            tokens_issued={str(k): int(v) for k, v in raw["tokens_issued"].items()},
            faults_served={str(k): int(v) for k, v in raw["faults_served"].items()},
            faults_pending=int(raw["faults_pending"]),
            token_requests=int(raw["token_requests"]),
            rejected=int(raw["rejected"]),
            token_lifetime_seconds=int(raw["token_lifetime_seconds"]),
        )

    def add_fault(self, kind: FaultKind = FaultKind.ERROR_500, count: int = 1) -> Counters:
        """Serve `count` faults of `kind` to the next token requests."""
        return self._counters(self._call("POST", protocol.CONTROL_FAULTS_PATH, {"kind": kind.value, "count": count}))

    def set_token_lifetime(self, seconds: int) -> Counters:
        return self._counters(
            self._call("POST", protocol.CONTROL_CONFIG_PATH, {"token_lifetime_seconds": seconds})
        )

    def reset(self) -> Counters:
        return self._counters(self._call("POST", protocol.CONTROL_RESET_PATH, {}))

    def tokens(self) -> list[str]:
        """Every access token the endpoint issued (the newest 10,000), across resets."""
        return [str(token) for token in self._call("GET", protocol.CONTROL_TOKENS_PATH)["tokens"]]

    def counters(self) -> Counters:
        return self._counters(self._call("GET", protocol.CONTROL_COUNTERS_PATH))
