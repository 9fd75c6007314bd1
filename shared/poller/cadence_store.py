"""The shared cadence record (`cadence.json` in the poller's state container), read and written ETag-conditionally
through a SharedStore (short calls, a circuit), so that every tick and every instance decide from one record.

- A tick's `begin`: read the record, decide the due hubs (cadence.py), claim them (`looked`, a conditional write;
  on a conflict, read and decide again). A tick costs one read and one write whatever the number of hubs.
- A tick's `finish`: fold what each listing found into the record (conditional, re-applied on a conflict).
- `nudge` (get_job, GET /api/jobs): an answer with an active job on a hub the record holds idle marks it due on
  the next tick; no hub call. Each process nudges a job once, and reads the record at most every NUDGE_READ_SECONDS.

When the record cannot be read or written, the tick lists every hub (Due.UNKNOWN) and says so: a job is never
missed for the cadence's sake, only the hub calls it saves are lost while storage is down.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from shared.cache.store import SharedStore
from shared.errors import SharedStoreUnavailable
from shared.logs import log_event
from shared.poller.budget import schedule_interval_seconds
from shared.poller.cadence import (
    MAX_RECORD_BYTES,
    CadenceRecord,
    CadenceSettings,
    Due,
    Listing,
    claimed,
    due_hubs,
    finished,
    needs_claim,
    nudged,
)
from shared.poller.events import PollerEvent
from shared.poller.storage import BlobClients
from shared.settings import AppSettings

logger = logging.getLogger("jobmonitor.poller")

BLOB_NAME = "cadence.json"
ROUNDS = 4  # conditional writes tried before the tick goes on without its claim (it lists what it decided)
NUDGE_READ_SECONDS = 5.0  # a process reads the record for nudges at most this often
NUDGED_JOBS = 4096  # (hub, jobId) pairs a process remembers having nudged
MAX_JOB_ID = 256


def cadence_settings(settings: AppSettings) -> CadenceSettings:
    poller = settings.poller
    return CadenceSettings(idle_seconds=poller.idle_list_seconds, recent_seconds=poller.recent_end_seconds,
                           schedule_seconds=schedule_interval_seconds(poller.schedule))


@dataclass(frozen=True, kw_only=True)
class Begun:
    """A tick's due hubs (by name, with why) and the claim it wrote (`etag` None: nothing is written back)."""

    due: dict[str, Due]
    looked: float
    etag: str | None = None
    record: CadenceRecord = dataclasses.field(default_factory=CadenceRecord)


def cadence_store(settings: AppSettings, blobs: BlobClients | None = None) -> SharedStore:
    """A SharedStore over the poller's state container (the one container every instance's poller has)."""
    shared = dataclasses.replace(settings.shared_cache, container=settings.poller.state_container)
    return SharedStore(settings=shared, blobs=blobs)


class CadenceBoard:
    """The record's reader and writer for one process (the poller's, and the proxies')."""

    def __init__(self, store: SharedStore, settings: CadenceSettings, *,
                 wall: Callable[[], float] = time.time) -> None:
        self._store = store
        self._settings = settings
        self._wall = wall
        self._lock = threading.Lock()
        self._known: tuple[float, CadenceRecord, str | None] | None = None  # (read at, record, etag) for nudges
        self._nudged: OrderedDict[tuple[str, str], None] = OrderedDict()

    @property
    def settings(self) -> CadenceSettings:
        return self._settings

    def _read(self) -> tuple[CadenceRecord, str | None]:
        blob = self._store.read(BLOB_NAME, max_bytes=MAX_RECORD_BYTES)
        return CadenceRecord.from_bytes(blob.data), blob.etag

    # -- the tick ----------------------------------------------------------------------------------
    def begin(self, hubs: Sequence[str], *, now: float) -> Begun:
        if self._settings.idle_seconds <= 0:
            return Begun(due=dict.fromkeys(hubs, Due.EVERY), looked=now)  # the cadence is off: every hub
        try:
            for _ in range(ROUNDS):
                record, etag = self._read()
                due = due_hubs(record, hubs, now=now, settings=self._settings)
                if not needs_claim(due):  # nothing due, or only hubs every run lists: finish stamps their look
                    return Begun(due=due, looked=now, etag=etag, record=record)
                new = claimed(record, due, now=now)
                written = self._store.write(BLOB_NAME, new.to_bytes(), etag=etag)
                if written is not None:
                    return Begun(due=due, looked=now, etag=written, record=new)
            reason = "other ticks kept changing the cadence record"
        except SharedStoreUnavailable as exc:
            reason = str(exc)
        log_event(logger, PollerEvent.CADENCE_UNKNOWN, level=logging.WARNING, reason=reason,
                  consequence="every hub is listed this tick")
        return Begun(due=dict.fromkeys(hubs, Due.UNKNOWN), looked=now)

    def finish(self, begun: Begun, listings: Mapping[str, Listing]) -> None:
        if self._settings.idle_seconds <= 0 or not listings:
            return
        record, etag = begun.record, begun.etag
        try:
            for _ in range(ROUNDS):
                if etag is None:
                    record, etag = self._read()
                new = finished(record, listings, looked=begun.looked)
                if self._store.write(BLOB_NAME, new.to_bytes(), etag=etag) is not None:
                    return
                etag = None  # another tick or a nudge wrote since: fold into theirs
            reason = "other ticks kept changing the cadence record"
        except SharedStoreUnavailable as exc:
            reason = str(exc)
        # Not written: the hubs keep their claim's state; the next tick's looks are decided from it.
        log_event(logger, PollerEvent.CADENCE_UNKNOWN, level=logging.WARNING, reason=reason,
                  consequence="this tick's findings are not in the cadence record")

    # -- the nudge ---------------------------------------------------------------------------------
    def nudge(self, hub: str, job_id: str) -> bool:
        """An answer showed `job_id` active on `hub`: mark the hub due if the record holds it idle. True if this
        call wrote the nudge. Never raises: a nudge that cannot be written leaves the hub to its idle interval."""
        if self._settings.idle_seconds <= 0:
            return False
        job_id = job_id[:MAX_JOB_ID]  # a listed job's id is the hub's text: bounded in memory and in the log
        key = (hub.lower(), job_id)
        with self._lock:
            if key in self._nudged:
                return False
        try:
            wrote = self._nudge(hub)
        except SharedStoreUnavailable as exc:
            log_event(logger, PollerEvent.CADENCE_UNKNOWN, level=logging.WARNING, hub=hub, reason=str(exc),
                      consequence="the hub is not nudged: it is listed at its idle interval")
            return False
        with self._lock:
            self._nudged[key] = None
            while len(self._nudged) > NUDGED_JOBS:
                self._nudged.popitem(last=False)
        if wrote:
            log_event(logger, PollerEvent.HUB_NUDGED, hub=hub, jobId=job_id)
        return wrote

    def _nudge(self, hub: str) -> bool:
        with self._lock:
            known = self._known
        now = self._wall()
        if known is not None and now - known[0] < NUDGE_READ_SECONDS:
            record, etag = known[1], known[2]
            if nudged(record, hub, now=now) is None:
                return False  # due anyway by what was read a moment ago
        for _ in range(ROUNDS):
            record, etag = self._read()
            new = nudged(record, hub, now=now)
            if new is None:
                self._remember(now, record, etag)
                return False
            written = self._store.write(BLOB_NAME, new.to_bytes(), etag=etag)
            if written is not None:
                self._remember(now, new, written)
                return True
        return False

    def _remember(self, now: float, record: CadenceRecord, etag: str | None) -> None:
        with self._lock:
            self._known = (now, record, etag)


_default_lock = threading.Lock()
_default_boards: dict[AppSettings, CadenceBoard] = {}


def default_cadence_board(settings: AppSettings) -> CadenceBoard:
    """The process's board for these settings (get_job and the list route share it, and so its memory of the
    jobs already nudged)."""
    with _default_lock:
        board = _default_boards.get(settings)
        if board is None:
            board = CadenceBoard(cadence_store(settings), cadence_settings(settings))
            _default_boards[settings] = board
        return board
