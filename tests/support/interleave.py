"""Two ticks interleaved at an exact point, and the writes counted on the wire.

Overlapping ticks are what the poller's exactly-once design is for, but two ticks racing on threads hit a given
interleaving only by luck. Here one tick is paused just before a chosen storage request (its claim's save, a
snapshot's create, latest.json's write) and another whole tick runs in that gap: the interleaving happens every
run. It uses the poller's own `BlobClients` hooks (called with every request about to be sent and every
response), the way the benchmarks count requests; nothing of the app is replaced.
"""

from __future__ import annotations

import collections
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.poller.storage import BlobClients


def blob_key(url: str) -> str:
    """`container/blob/name` of a path-style (Azurite) request URL, without its query."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    parts = path.lstrip("/").split("/", 1)
    return parts[1] if len(parts) == 2 else path


@dataclass
class PauseBefore:
    """Run `then` once, in the paused tick's own thread, just before its `occurrence`-th `method` request for a
    blob whose name ends with `blob_suffix` is sent."""

    method: str
    blob_suffix: str
    then: Callable[[], None]
    occurrence: int = 1
    seen: int = 0
    ran: bool = False


@dataclass
class Wire:
    """Every successful PUT of every poller built from `clients()`, per blob (`container/name`)."""

    puts: collections.Counter[str] = field(default_factory=collections.Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def clients(self, *, pause: PauseBefore | None = None) -> BlobClients:
        def on_request(request: Any) -> None:
            http = request.http_request
            if pause is None or pause.ran or http.method != pause.method:
                return
            if not blob_key(http.url).endswith(pause.blob_suffix):
                return
            pause.seen += 1
            if pause.seen == pause.occurrence:
                pause.ran = True
                pause.then()

        def on_response(response: Any) -> None:
            http_request, status = response.http_request, response.http_response.status_code
            if http_request.method == "PUT" and 200 <= status < 300:
                with self._lock:
                    self.puts[blob_key(http_request.url)] += 1

        return BlobClients(storage_client_id=None, request_hook=on_request, response_hook=on_response)

    def puts_under(self, container: str, prefix: str) -> dict[str, int]:
        """The PUT counts of the blobs under `container/prefix`, by blob name."""
        with self._lock:
            start = f"{container}/{prefix}"
            return {key[len(container) + 1:]: n for key, n in sorted(self.puts.items()) if key.startswith(start)}
