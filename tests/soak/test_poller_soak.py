"""Chaos soak of the poller: hundreds of ticks over three simulated hubs, jobs moving through their whole
lifecycle, faults injected at random from a seed, then invariants checked against what the hubs showed.

Each tick: the driver moves the hubs' jobs on (one active job per hub, as IoT Hub allows: real creates
through the hub's REST API, cancels through DELETE, and scripted jobs advanced by re-seeding their id),
reads every hub's list with its own client (the hub's truth), draws this tick's faults, then one or two
Poller "hosts" tick (two at once: overlapping ticks, as two hosts would). Faults, all at real boundaries:
hub 429/500/503/slow (read timeout)/dropped connection/malformed body through the simulator's fault queue,
identity endpoint 500s (the poller runs with IOTHUB_AUTH=managedIdentity, and identityBased jobs write
with the identity's storage token), storage requests failing before they are sent or losing their
response after the write landed (the poller's BlobClients request/response hooks), and a host killed
before a request or right after a write (KilledTick, a BaseException: nothing in the app catches it,
and the dead host never reaches storage again; it is replaced by a fresh process). Also: a hub's state
blob deleted, or put back from an older copy, between ticks; host B's clock 10 minutes fast (host A's
right) for the first half of the run; lists that name every job twice (the simulator's `duplicate` fault); and
import jobs of a hub all writing into one shared output container.

The cadence is on (issue 24): each tick is a run of the 30 s timer on the hosts' clocks, busy hubs are listed on
every run and idle ones every tenth, and each hub in turn has quiet spells with no new job, so its cadence goes
idle and the job that ends a spell may start and end between two looks. Every check below holds for them too.

At the end the faults stop, every job is brought to its end and a few "drain" ticks run. Then:
every (status, progress) that a host observed in a tick whose claim committed has exactly one snapshot;
no snapshot for anything no host observed; seqs 1..n without gaps, in lifecycle order; latest.json is the
last snapshot; every failed or cancelled job has one failure-report.json and .md; nothing outside the
allowlist was contacted and the job pointing there was skipped; no snapshot or report blob was PUT twice
(counted on the wire); the state's seq per job equals its snapshot count.

Deterministic given SOAK_SEED as far as thread timing allows: the fault plan (kinds, counts, positions,
which host, overlap or not) is drawn from its own Random and is identical between runs (its digest is
printed). What varies: the timer-driven lifecycle of the hub-created jobs (which states fall between
ticks), which of two overlapping hosts meets a fault first, and azure-storage's retry jitter.

SOAK_TICKS (default 180) and SOAK_SEED (default 20240917) make it longer:
    SOAK_TICKS=2000 .venv/bin/python -m pytest -s tests/soak
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import hashlib
import itertools
import json
import os
import random
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError

from bench.common import write_results
from devstack.azurite import AzuriteInfo
from devstack.hubsim import FaultKind, HubSimulator, Operation
from devstack.hubsim.auth import make_sas
from devstack.identity import IdentityControl
from devstack.identity.state import FaultKind as IdentityFault
from shared.clock import utc_now
from shared.credentials import forget_credentials
from shared.http.retry import BackoffPolicy
from shared.iothub.auth import build_hub_auth
from shared.poller.outcomes import TickResult
from shared.poller.tick import Poller
from tests.fixtures.hubsim import HUBSIM_HUBS
from tests.soak.chaos import (
    ChaosBlobClients,
    KilledTick,
    Observation,
    RecordingHubClient,
    StorageFault,
    WireLog,
)
from tests.soak.figures import FIGURES_KEY
from tests.support import storage_ports
from tests.support.poller import (
    API,
    PREFIX,
    SNAPSHOT,
    PollerEnv,
    blob_names,
    cancel_job,
    container_sas_uri,
    create_job,
    failing_import_lines,
    new_container,
    read_json,
    service,
    upload_text,
    wait_terminal,
)
from tests.support.secrets import seen_by_stand_ins

TICKS = int(os.environ.get("SOAK_TICKS", "180"))
TOKEN_LIFETIME_SECONDS = 4
SEED = int(os.environ.get("SOAK_SEED", "20240917"))
HUBS: tuple[str, ...] = HUBSIM_HUBS
ALLOWED_HOSTS = frozenset({"127.0.0.1"})
EVIL = "https://evil.example.invalid/stolen"
TIMER_SECONDS = 30  # the hosts' clocks move this much a tick: the soak's ticks are the 30 s timer's runs
IDLE_TICKS = 10  # MONITOR_IDLE_LIST_SECONDS / TIMER_SECONDS: the drain runs past one idle interval
QUIET_TICKS = 20  # each hub in turn gets no new job for this long: its cadence goes idle, and the job that
# ends the spell may start and end between two idle looks


def quiet(hub: str, tick: int) -> bool:
    return (tick // QUIET_TICKS + HUBS.index(hub)) % 3 == 0


def skew(slot: str, tick: int) -> datetime.timedelta:
    """Host B's clock is 10 minutes fast for the first half of the run, then put right (as NTP would): while it
    is fast, every hub is due on host A's ticks (a look stamped in A's future), so the second half is where the
    cadence leaves idle hubs alone."""
    return CLOCK_SKEW[slot] if tick <= TICKS // 2 else datetime.timedelta(0)
EVIL_SIGNATURE = "c29ha3NlY3JldA=="  # base64 of 'soaksecret': nothing may be sent to EVIL, or written anywhere

# Per tick: chance of a hub fault (each hub), an identity fault, a storage fault, a killed host,
# overlapping hosts, a host recycled (new process: new clients, no cached token).
P_HUB, P_IDENTITY, P_STORAGE, P_KILL, P_OVERLAP, P_RECYCLE = 0.18, 0.05, 0.2, 0.04, 0.12, 0.03
P_STATE = 0.03  # a hub's state blob deleted, or put back from an older copy
CLOCK_SKEW = {"A": datetime.timedelta(0), "B": datetime.timedelta(minutes=10)}
HUB_FAULTS = (FaultKind.THROTTLE, FaultKind.SERVER_ERROR, FaultKind.UNAVAILABLE, FaultKind.SLOW, FaultKind.DROP,
              FaultKind.MALFORMED, FaultKind.DUPLICATE)
# Every kind appears in the first rounds; later jobs are drawn at random.
JOB_KINDS = ("export", "import_errors", "seeded", "export_cancel", "import_missing_input", "export_missing_output",
             "identity_export", "seeded_evil")
RANDOM_KINDS = ("export", "export", "import_errors", "seeded", "seeded", "export_cancel", "import_missing_input",
                "export_missing_output", "identity_export")
STATUS_RANK = {"queued": 0, "scheduled": 0, "enqueued": 1, "running": 2, "completed": 3, "failed": 3, "cancelled": 3}
TERMINAL = frozenset({"completed", "failed", "cancelled"})
LATEST_ONLY = ("snapshotSeq", "snapshotBlob", "stalled", "stalledSinceUtc", "stallAfterSeconds")

Pair = tuple[str, int | None]


def soak_environ() -> dict[str, str]:
    """Settings on top of PollerEnv's: managed identity for the hubs, fast hub timeouts, a tight budget."""
    return {
        "IOTHUB_AUTH": "managedIdentity",
        "IOTHUB_READ_TIMEOUT_SECONDS": "0.5",
        "IOTHUB_CONNECT_TIMEOUT_SECONDS": "0.5",
        "IOTHUB_RETRY_BUDGET_SECONDS": "2",
        "IOTHUB_MAX_ATTEMPTS": "2",
        # Each allowlist entry carries its port: the devstack's storage ports, as PollerEnv lists them.
        "MONITOR_STORAGE_HOST_ALLOWLIST": storage_ports.allowlist(),
        "MONITOR_TICK_BUDGET_SECONDS": "20",
        # The cadence on, as deployed: each tick is a run of the 30 s timer on the hosts' clocks (TIMER_SECONDS),
        # busy hubs on every run, idle ones every tenth.
        "POLL_SCHEDULE": "*/30 * * * * *",
        "MONITOR_IDLE_LIST_SECONDS": "300",
        "MONITOR_RECENT_END_MINUTES": "5",
    }


# -- the hosts (Poller processes) ---------------------------------------------------------------------
@dataclass
class Host:
    name: str
    poller: Poller
    blobs: ChaosBlobClients
    hub_client: RecordingHubClient

    def tick(self, tick: int) -> TickResult | None:
        """One tick; None when the host died during it."""
        self.hub_client.tick = tick
        try:
            return self.poller.tick()
        except KilledTick:
            return None


@dataclass
class Ledger:
    """Everything the soak saw: what the hubs showed, what hosts observed, which observations committed."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    observations: list[Observation] = field(default_factory=list)
    committed: set[tuple[str, int, str]] = field(default_factory=set)  # (host, tick, hub)
    hub_truth: dict[str, list[Pair]] = field(default_factory=lambda: collections.defaultdict(list))
    final: dict[str, Pair] = field(default_factory=dict)

    def observe(self, observation: Observation) -> None:
        with self.lock:
            self.observations.append(observation)

    def truth(self, job_id: str, pair: Pair) -> None:
        seen = self.hub_truth[job_id]
        if not seen or seen[-1] != pair:
            seen.append(pair)

    def observed(self) -> dict[str, set[Pair]]:
        found: dict[str, set[Pair]] = collections.defaultdict(set)
        for o in self.observations:
            for job_id, status, progress in o.jobs:
                found[job_id].add((status, progress))
        return found

    def required(self) -> dict[str, set[Pair]]:
        found: dict[str, set[Pair]] = collections.defaultdict(set)
        for o in self.observations:
            if (o.host, o.tick, o.hub) in self.committed:
                for job_id, status, progress in o.jobs:
                    found[job_id].add((status, progress))
        return found


# -- the jobs -------------------------------------------------------------------------------------------
@dataclass
class Job:
    job_id: str
    hub: str
    kind: str
    azurite: AzuriteInfo
    container: str  # where its monitor files go (its output container)
    script: list[dict[str, Any]] = field(default_factory=list)  # scripted (seeded) jobs: props per step
    step: int = 0
    cancel_at: int | None = None
    create_container_at: int | None = None  # export_missing_output: the operator creates it later

    @property
    def scripted(self) -> bool:
        return bool(self.script)

    @property
    def evil(self) -> bool:
        return self.kind == "seeded_evil"


class Driver:
    """Moves the hubs' jobs on, one active job per hub, from its own Random (job decisions only)."""

    def __init__(self, env: PollerEnv, oauth: AzuriteInfo, ledger: Ledger, rng: random.Random) -> None:
        self.env, self.oauth, self.ledger, self.rng = env, oauth, ledger, rng
        self.jobs: dict[str, Job] = {}
        self.current: dict[str, Job | None] = dict.fromkeys(HUBS)
        self.kinds: collections.Counter[str] = collections.Counter()
        self._session = requests.Session()
        self._session.trust_env = False
        self._created = 0
        self.import_outputs: dict[str, str] = {}  # hub -> the output container its imports share

    # the hub's truth, read with the driver's own client (never faulted: faults are queued after it)
    def read_hubs(self) -> dict[str, dict[str, dict[str, Any]]]:
        listed: dict[str, dict[str, dict[str, Any]]] = {}
        for hub in HUBS:
            response = self._session.get(f"{self.env.hubsim.hub_url(hub)}/jobs?{API}",
                                         headers={"Authorization": make_sas(hub)}, timeout=10)
            assert response.status_code == 200, response.text
            listed[hub] = {str(j["jobId"]): j for j in response.json()}
            for job_id, job in listed[hub].items():
                progress = job.get("progress")
                self.ledger.truth(job_id, (str(job.get("status")), progress if isinstance(progress, int) else None))
        return listed

    def step(self, tick: int) -> None:
        listed = self.read_hubs()
        for waiting in self.jobs.values():
            if waiting.create_container_at is not None and tick >= waiting.create_container_at:
                self._create_missing_container(waiting)
        for hub in HUBS:
            job = self.current[hub]
            if job is not None and str(listed[hub].get(job.job_id, {}).get("status")) not in TERMINAL:
                self._advance(job, tick)
                continue
            # The draw is made whatever: a quiet spell changes which jobs start, not what is drawn after it.
            if self.rng.random() < 0.7 and not quiet(hub, tick):
                self._start(hub, tick, brief=quiet(hub, tick - 1))

    def _advance(self, job: Job, tick: int) -> None:
        if job.scripted:
            if self.rng.random() < 0.6:
                self._reseed(job, min(len(job.script) - 1, job.step + self.rng.choice((1, 1, 1, 2))))
        elif job.cancel_at is not None and tick >= job.cancel_at:
            cancel_job(self.env.hubsim, job.hub, job.job_id)
            job.cancel_at = None

    def _reseed(self, job: Job, step: int) -> None:
        job.step = step
        props = dict(job.script[step])
        if props["status"] in TERMINAL:
            props["endTimeUtc"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        self.env.hubsim.control(job.hub).seed_jobs([props])

    def _create_missing_container(self, job: Job) -> None:
        service(job.azurite).create_container(job.container)
        job.create_container_at = None

    def _start(self, hub: str, tick: int, *, brief: bool = False) -> None:
        """`brief`: the job that ends a quiet spell lives and ends before its idle hub's next look (a scripted one
        is put at its end at once; a hub-run one runs for a fraction of a tick)."""
        number = self._created
        kind = JOB_KINDS[number] if number < len(JOB_KINDS) else self.rng.choice(RANDOM_KINDS)
        self._created += 1
        job_id = f"soak-{SEED}-{hub}-{number:05d}"
        control = self.env.hubsim.control(hub)
        azurite = self.env.azurite
        enqueued, running, steps = self.rng.randint(20, 300), self.rng.randint(100, 1500), self.rng.randint(1, 5)
        if kind == "export_cancel":
            running = 60_000
        elif brief:
            enqueued, running = 20, 50
        control.set_timing(enqueued_ms=enqueued, running_ms=running, progress_steps=steps)
        if kind in ("seeded", "seeded_evil"):
            container = new_container(azurite)
            uri = EVIL + "?sv=2021-08-06&sr=c&sp=rwdl&sig=" + urllib.parse.quote(EVIL_SIGNATURE, safe="") if (
                kind == "seeded_evil") else (
                container_sas_uri(azurite, container))
            job = Job(job_id=job_id, hub=hub, kind=kind, azurite=azurite, container=container,
                      script=self._script(job_id, uri))
            self._reseed(job, len(job.script) - 1 if brief else 0)
        elif kind == "identity_export":
            container = new_container(self.oauth)
            job = Job(job_id=job_id, hub=hub, kind=kind, azurite=self.oauth, container=container)
            create_job(self.env.hubsim, hub, {"jobId": job_id, "type": "export",
                                              "storageAuthenticationType": "identityBased",
                                              "outputBlobContainerUri": f"{self.oauth.account_url}/{container}"})
        elif kind in ("import_errors", "import_missing_input"):
            # A hub's imports all write into one output container, as operators often set them up.
            if hub not in self.import_outputs:
                self.import_outputs[hub] = new_container(azurite)
            inputs, outputs = new_container(azurite, create=kind == "import_errors"), self.import_outputs[hub]
            if kind == "import_errors":
                upload_text(azurite, inputs, "devices.txt", failing_import_lines())
            job = Job(job_id=job_id, hub=hub, kind=kind, azurite=azurite, container=outputs)
            create_job(self.env.hubsim, hub, {"jobId": job_id, "type": "import",
                                              "inputBlobContainerUri": container_sas_uri(azurite, inputs),
                                              "outputBlobContainerUri": container_sas_uri(azurite, outputs)})
        else:  # export, export_cancel, export_missing_output
            missing = kind == "export_missing_output"
            container = new_container(azurite, create=not missing)
            job = Job(job_id=job_id, hub=hub, kind=kind, azurite=azurite, container=container,
                      cancel_at=tick + self.rng.randint(1, 6) if kind == "export_cancel" else None,
                      create_container_at=tick + self.rng.randint(3, 10) if missing else None)
            create_job(self.env.hubsim, hub, {"jobId": job_id, "type": "export",
                                              "outputBlobContainerUri": container_sas_uri(azurite, container)})
        self.jobs[job_id] = job
        self.current[hub] = job
        self.kinds[kind] += 1

    def _script(self, job_id: str, uri: str) -> list[dict[str, Any]]:
        """queued? -> enqueued -> running with rising progress -> completed, failed or cancelled."""
        rng = self.rng
        job_type = rng.choice(("export", "import"))
        base: dict[str, Any] = {"jobId": job_id, "type": job_type, "outputBlobContainerUri": uri,
                                "storageAuthenticationType": "keyBased",
                                "startTimeUtc": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}
        if job_type == "import":
            base["inputBlobContainerUri"] = uri
        steps: list[dict[str, Any]] = [{**base, "status": "queued", "progress": 0}] if rng.random() < 0.3 else []
        steps.append({**base, "status": "enqueued", "progress": 0})
        progress = sorted(rng.sample(range(1, 100), rng.randint(0, 5)))
        steps += [{**base, "status": "running", "progress": p} for p in [0, *progress]]
        last = progress[-1] if progress else 0
        end = rng.choice(("completed", "failed", "cancelled"))
        final: dict[str, Any] = {**base, "status": end, "progress": 100 if end == "completed" else last}
        if end == "failed":
            final["failureReason"] = rng.choice((
                "ErrorCode:BlobContainerValidationError;Unable to access blob container.",
                "ErrorCode:400008;The job could not be completed.",
                '{"errorCode":"InternalServerError","message":"An internal error occurred."}',
            ))
        steps.append(final)
        return steps

    def finish_all(self) -> None:
        """Faults are off: bring every job to its end, create the containers an operator would have."""
        for job in self.jobs.values():
            if job.scripted and job.step < len(job.script) - 1:
                self._reseed(job, len(job.script) - 1)
            elif job.cancel_at is not None:
                cancel_job(self.env.hubsim, job.hub, job.job_id)
                job.cancel_at = None
            if job.create_container_at is not None:
                self._create_missing_container(job)
        for job in self.jobs.values():
            if not job.scripted:
                wait_terminal(self.env.hubsim, job.hub, job.job_id, timeout=30)
        listed = self.read_hubs()
        for hub in HUBS:
            for job_id, props in listed[hub].items():
                progress = props.get("progress")
                self.ledger.final[job_id] = (str(props["status"]), progress if isinstance(progress, int) else None)


# -- the fault plan (its own Random: identical between runs with the same seed) ----------------------------
@dataclass
class TickPlan:
    hosts: tuple[str, ...]
    hub_faults: list[tuple[str, FaultKind, int, int | None, int]]  # (hub, kind, count, retry_after, delay_ms)
    identity_faults: int
    storage: dict[str, StorageFault]
    recycle: str | None
    state: tuple[str, str] | None = None  # (hub, "deleted" or "restored")

    def describe(self) -> str:
        return json.dumps([self.hosts, [(h, k.value, c, r, d) for h, k, c, r, d in self.hub_faults],
                           self.identity_faults, {h: vars(f) for h, f in sorted(self.storage.items())},
                           self.recycle, self.state], sort_keys=True)


def draw_plan(rng: random.Random) -> TickPlan:
    """A fixed number of draws per tick, whatever happens, so the plan depends on the seed alone."""
    overlap = rng.random() < P_OVERLAP
    single = "A" if rng.random() < 0.75 else "B"
    hosts = ("A", "B") if overlap else (single,)
    hub_faults = []
    for hub in HUBS:
        hit, kind, count = rng.random() < P_HUB, rng.choice(HUB_FAULTS), rng.randint(1, 2)
        retry_after, delay = rng.choice((None, 0, 1)), rng.randint(600, 1200)
        if kind is not FaultKind.SLOW:
            delay = 0  # the simulator sleeps delay_ms before any fault: only "slow" is slow
        if hit:
            hub_faults.append((hub, kind, count, retry_after, delay))
    identity = rng.randint(2, 8) if rng.random() < P_IDENTITY else 0
    storage: dict[str, StorageFault] = {}
    storage_host, storage_kind = rng.choice(hosts), rng.choice(("request_failed", "request_failed", "response_lost"))
    storage_at, storage_count = rng.randint(1, 12), rng.randint(1, 4)
    if rng.random() < P_STORAGE:
        storage[storage_host] = StorageFault(kind=storage_kind, at=storage_at, count=storage_count)
    kill_host, kill_kind, kill_at = rng.choice(hosts), rng.choice(("kill_before", "kill_after")), rng.randint(1, 15)
    if rng.random() < P_KILL:
        storage[kill_host] = StorageFault(kind=kill_kind, at=kill_at)
    recycle_host = rng.choice(("A", "B"))
    recycle = recycle_host if rng.random() < P_RECYCLE else None
    state_hub, state_kind = rng.choice(HUBS), rng.choice(("deleted", "restored"))
    state = (state_hub, state_kind) if rng.random() < P_STATE else None
    return TickPlan(hosts=hosts, hub_faults=hub_faults, identity_faults=identity, storage=storage, recycle=recycle,
                    state=state)


# -- the soak -------------------------------------------------------------------------------------------
@dataclass
class Soak:
    env: PollerEnv
    identity: IdentityControl
    wire: WireLog = field(default_factory=WireLog)
    ledger: Ledger = field(default_factory=Ledger)
    hosts: dict[str, Host] = field(default_factory=dict)
    generations: collections.Counter[str] = field(default_factory=collections.Counter)
    faults: collections.Counter[str] = field(default_factory=collections.Counter)
    counts: collections.Counter[str] = field(default_factory=collections.Counter)
    hub_errors: collections.Counter[str] = field(default_factory=collections.Counter)
    state_copies: dict[str, list[bytes]] = field(default_factory=lambda: collections.defaultdict(list))
    forfeited: set[tuple[str, Pair]] = field(default_factory=set)  # unwritten claims lost with a state
    timer: int = 0  # the timer's runs so far: the hosts' clocks are TIMER_SECONDS ahead for each

    def start_host(self, slot: str) -> None:
        """A new host process in `slot`: its own clients, and no token cached in the process."""
        self.generations[slot] += 1
        name = f"{slot}{self.generations[slot]}"
        settings = self.env.settings(HUBS, **soak_environ())
        blobs = ChaosBlobClients(wire=self.wire, name=name)
        hub_client = RecordingHubClient(
            host=name, sink=self.ledger.observe, settings=settings.hub, auth=build_hub_auth(settings.hub),
            backoff=BackoffPolicy(rng=random.Random(f"{SEED}-{name}")),
        )
        forget_credentials()
        poller = Poller(settings, hub_client=hub_client, blobs=blobs, clock=lambda: (
            utc_now() + skew(slot, self.timer) + datetime.timedelta(seconds=TIMER_SECONDS * self.timer)))
        self.hosts[slot] = Host(name=name, poller=poller, blobs=blobs, hub_client=hub_client)

    def keep_state_copies(self) -> None:
        """Copies of each hub's state blob as it was a while ago (the backups a restore would come from)."""
        for hub in HUBS:
            with contextlib.suppress(ResourceNotFoundError):
                data = self._state_client().download_blob(f"hubs/{hub}.json").readall()
                self.state_copies[hub].append(data)
                del self.state_copies[hub][:-5]

    def _state_client(self) -> Any:
        return service(self.env.azurite).get_container_client(self.env.state_container)

    def forfeit_unwritten_claims(self, hub: str) -> None:
        """Claims not yet written live only in the state: deleting or restoring it loses them. They are all
        the soak lets go of (docs/poller.md, "When the state itself goes wrong")."""
        with contextlib.suppress(ResourceNotFoundError):
            state = json.loads(self._state_client().download_blob(f"hubs/{hub}.json").readall())
            for job_id, record in state.get("jobs", {}).items():
                for pending in record.get("pending", []):
                    document = pending["document"]
                    self.forfeited.add((job_id, (document.get("status"), document.get("progress"))))

    def inject(self, plan: TickPlan) -> None:
        if plan.state is not None:
            hub, kind = plan.state
            name = f"hubs/{hub}.json"
            self.forfeit_unwritten_claims(hub)
            if kind == "deleted":
                with contextlib.suppress(ResourceNotFoundError):
                    self._state_client().delete_blob(name)
            elif self.state_copies[hub]:
                self._state_client().upload_blob(name, self.state_copies[hub][0], overwrite=True)
            self.faults[f"state:{kind}"] += 1
        for hub, kind, count, retry_after, delay in plan.hub_faults:
            self.env.hubsim.control(hub).queue_fault(kind, count=count, operation=Operation.LIST,
                                                     retry_after=retry_after, wait_seconds=1, delay_ms=delay)
            self.faults[f"hub:{kind.value}"] += count
        if plan.identity_faults:
            self.identity.add_fault(IdentityFault.ERROR_500, count=plan.identity_faults)
            self.faults["identity:error500 (queued)"] += plan.identity_faults
        if plan.recycle is not None:
            self.start_host(plan.recycle)
            self.counts["host restarts (recycled)"] += 1
        for slot in plan.hosts:
            self.hosts[slot].blobs.arm(plan.storage.get(slot))

    def run_tick(self, tick: int, plan: TickPlan) -> None:
        self.timer = tick
        self.wire.tick = tick
        hosts = [self.hosts[slot] for slot in plan.hosts]
        results: dict[str, TickResult | None] = {}
        if len(hosts) == 1:
            results[hosts[0].name] = hosts[0].tick(tick)
        else:
            threads = [threading.Thread(target=lambda h=h: results.__setitem__(h.name, h.tick(tick))) for h in hosts]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            self.counts["overlapping ticks"] += 1
        self.counts["host ticks"] += len(hosts)
        for slot, host in zip(plan.hosts, hosts, strict=True):
            host.blobs.arm(None)
            result = results.get(host.name)
            if result is None:
                self.counts["killed ticks"] += 1
                self.start_host(slot)  # the process died: the platform starts a new one
                continue
            self.counts["hub looks left to the cadence (idle hubs not listed)"] += len(result.idle)
            self.counts["hub looks listed"] += len(result.hubs)
            for hub, outcome in result.hubs.items():
                self.counts["write failures"] += outcome.write_failures
                self.counts["claim conflicts"] += outcome.claim_conflicts
                if outcome.ok and not outcome.timed_out:
                    if len(hosts) == 1:
                        self.ledger.committed.add((host.name, tick, hub))
                else:
                    self.hub_errors[(outcome.error or "?").split(":")[0]] += 1
        for hub in {h for h, *_ in plan.hub_faults}:
            self.env.hubsim.control(hub).reset(jobs=False)  # leftovers must not reach the driver's reads

    def state(self, hub: str) -> dict[str, Any]:
        return self.env.state(hub)


def pending_work(soak: Soak) -> bool:
    for hub in HUBS:
        for record in soak.state(hub).get("jobs", {}).values():
            if record.get("skipped"):
                continue
            if record.get("pending") or record.get("latest") or record.get("report") == "pending":
                return True
    return False


@pytest.fixture
def soak_env(
    hubsim_clean: HubSimulator, azurite: AzuriteInfo, azurite_oauth: AzuriteInfo,
    managed_identity: IdentityControl, monkeypatch: pytest.MonkeyPatch,
) -> tuple[PollerEnv, IdentityControl]:
    assert azurite_oauth.ca_bundle is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(azurite_oauth.ca_bundle))
    # Short-lived tokens: every host asks the endpoint again every few seconds, so its faults bite.
    managed_identity.set_token_lifetime(TOKEN_LIFETIME_SECONDS)
    env = PollerEnv(hubsim=hubsim_clean, azurite=azurite, state_container=new_container(azurite, create=False),
                    identity_containers=f"{azurite_oauth.account_url}/*")
    return env, managed_identity


@pytest.mark.slow
def test_poller_chaos_soak(
    soak_env: tuple[PollerEnv, IdentityControl], azurite_oauth: AzuriteInfo,
    request: pytest.FixtureRequest, tmp_path: Path,
) -> None:
    env, identity = soak_env
    started = time.monotonic()
    soak = Soak(env=env, identity=identity)
    soak.start_host("A")
    soak.start_host("B")
    driver = Driver(env, azurite_oauth, soak.ledger, random.Random(f"{SEED}-jobs"))
    fault_rng = random.Random(f"{SEED}-faults")
    digest = hashlib.sha256()
    for tick in range(1, TICKS + 1):
        driver.step(tick)
        plan = draw_plan(fault_rng)
        digest.update(plan.describe().encode())
        if tick % 10 == 0:
            soak.keep_state_copies()
        soak.inject(plan)
        soak.run_tick(tick, plan)

    # Drain: faults off, every job ended, then clean ticks until nothing is pending (and two more).
    counters = identity.counters()
    soak.faults["identity:error500 (served)"] = sum(counters.faults_served.values())
    tokens = dict(sorted(counters.tokens_issued.items()))
    identity.reset()
    for hub in HUBS:
        env.hubsim.control(hub).reset(jobs=False)
    driver.finish_all()
    drain = 0
    for drain in range(1, 31):
        soak.run_tick(TICKS + drain, TickPlan(hosts=("A",), hub_faults=[], identity_faults=0, storage={},
                                              recycle=None))
        # Past one idle interval: a job that started and ended while its hub was idle is seen by then.
        if drain >= max(3, IDLE_TICKS + 1) and not pending_work(soak):
            break
    soak.run_tick(TICKS + drain + 1, TickPlan(hosts=("A",), hub_faults=[], identity_faults=0, storage={},
                                              recycle=None))
    soak.faults.update(soak.wire.injected)

    figures, problems = check(soak, driver)
    figures = {
        "seed": SEED, "ticks": TICKS, "drain ticks": drain + 1,
        "fault plan digest": digest.hexdigest()[:16],
        **{k: v for k, v in sorted(soak.counts.items())},
        "faults injected": dict(sorted(soak.faults.items())),
        "hub failures seen by the poller": dict(sorted(soak.hub_errors.items())),
        "identity tokens issued (poller and simulator)": tokens,
        "jobs": dict(sorted(driver.kinds.items())),
        **figures,
        "storage requests": soak.wire.requests,
        "wall seconds": round(time.monotonic() - started, 1),
    }
    text = "poller chaos soak\n" + "\n".join(f"  {k}: {v}" for k, v in figures.items())
    print("\n" + text)
    (tmp_path / "soak-figures.json").write_text(json.dumps(figures, indent=2))
    if results := os.environ.get("SOAK_RESULTS"):  # make soak: docs/results/soak.md
        write_results(Path(results), title="Chaos soak of the poller", made_by="make soak",
                      note="What the soak does and checks: [reliability.md](../reliability.md).",
                      body="```\n" + text + "\n```")
    request.config.stash[FIGURES_KEY] = text
    assert not problems, "\n".join(problems[:50])
    assert figures["duplicates"] == 0
    assert figures["losses"] == 0


def _loss_evidence(ledger: Ledger, wire: WireLog, job_id: str, lost: set[Pair]) -> str:
    """For a loss: which host and tick saw each lost state (and whether the tick committed), and the job's record
    across every state save (host, tick, seq, pending claims, timeline seqs): where the claim left."""
    seen = [(o.host, o.tick, (o.host, o.tick, o.hub) in ledger.committed, (status, progress))
            for o in ledger.observations for j, status, progress in o.jobs
            if j == job_id and (status, progress) in lost]
    saves = "\n".join(f"    {entry}" for entry in wire.state_history.get(job_id, [])[-20:])
    return f"  seen (host, tick, committed, state): {seen[:10]}\n  the job's record across state saves:\n{saves}"


def check(soak: Soak, driver: Driver) -> tuple[dict[str, Any], list[str]]:
    """The invariants; returns the figures and every violation found (an empty list when all hold)."""
    ledger, wire = soak.ledger, soak.wire
    assert wire.state_history, "no save of a hub's state was recorded: a loss could not be traced"
    observed, required = ledger.observed(), ledger.required()
    for job_id, pair in soak.forfeited:  # claims that lived only in a deleted or overwritten state
        required[job_id].discard(pair)
    n_forfeited = len(soak.forfeited)
    problems: list[str] = []
    n: collections.Counter[str] = collections.Counter()
    n["claims lost with a deleted or restored state"] = n_forfeited
    states = {hub: soak.state(hub).get("jobs", {}) for hub in HUBS}
    # Known secrets, looked for literally: the devstack's keys, every credential the hubs received, every
    # token the identity endpoint issued, every SAS signature the soak made (the evil job's included).
    secrets = soak.env.secrets(EVIL_SIGNATURE)
    secrets.update(seen_by_stand_ins(identity=soak.identity).values.items())
    for job_id, job in sorted(driver.jobs.items()):
        record = states[job.hub].get(job_id)
        final = ledger.final[job_id]
        names = blob_names(job.azurite, job.container, f"{PREFIX}/{job_id}/")  # imports share a container
        n["hub transitions"] += len(ledger.hub_truth[job_id])
        n["observed transitions"] += len(observed[job_id])
        n["required transitions"] += len(required[job_id])
        n["hub transitions no successful tick saw"] += len(set(ledger.hub_truth[job_id]) - observed[job_id])
        if observed[job_id] and all(status in TERMINAL for status, _ in observed[job_id]):
            n["jobs first seen ended (started and ended between two looks)"] += 1
        if job.evil:
            if record is None or not (record.get("skipped") or record.get("refused")):
                problems.append(f"{job_id}: off-allowlist job not recorded as refused: {record}")
            if names:
                problems.append(f"{job_id}: blobs for an off-allowlist job: {names}")
            n["skipped jobs"] += 1
            continue
        if record is None:
            problems.append(f"{job_id}: no state record")
            n["losses"] += 1
            continue
        snaps = [s for s in names if s.startswith(f"{PREFIX}/{job_id}/snapshots/")]
        parsed = [SNAPSHOT.match(s) for s in snaps]
        if not all(parsed) or set(names) - set(snaps) - {f"{PREFIX}/{job_id}/{b}" for b in (
                "latest.json", "failure-report.json", "failure-report.md", "import-report.json", "import-report.md")}:
            problems.append(f"{job_id}: unexpected blobs {names}")
        pairs: list[Pair] = [(m["status"], None if m["progress"] == "na" else int(m["progress"]))
                             for m in parsed if m]
        seqs = [int(m["seq"]) for m in parsed if m]
        n["snapshots"] += len(snaps)
        if seqs != list(range(1, len(snaps) + 1)):
            problems.append(f"{job_id}: seqs with gaps {seqs}")
            n["seq gaps"] += 1
        ranks = [(STATUS_RANK[s], p if p is not None else -1) for s, p in pairs]
        if any(a >= b for a, b in itertools.pairwise(ranks)):
            problems.append(f"{job_id}: snapshots out of lifecycle order {pairs}")
            n["out of order"] += 1
        repeated = len(pairs) - len(set(pairs))
        put_twice = [s for s in snaps if wire.puts[f"{job.container}/{s}"] > 1]
        n["duplicates"] += repeated + len(put_twice)
        if repeated or put_twice:
            problems.append(f"{job_id}: duplicates {pairs} {put_twice}")
        for name, pair in zip(snaps, pairs, strict=True):
            document = read_json(job.azurite, job.container, name)
            if (document.get("jobId"), document.get("status"), document.get("progress")) != (job_id, *pair):
                problems.append(f"{job_id}: {name} holds {document.get('status')} {document.get('progress')}")
                n["snapshot documents unlike their names"] += 1
        phantom = set(pairs) - observed[job_id]
        if phantom:
            problems.append(f"{job_id}: snapshots for states no host observed: {phantom}")
            n["phantoms"] += len(phantom)
        lost = required[job_id] - set(pairs)
        if not pairs or pairs[-1] != final:
            lost.add(final)
        if lost:
            problems.append(f"{job_id}: observed and committed, but no snapshot: {lost} (snapshots {pairs})\n"
                            + _loss_evidence(ledger, wire, job_id, lost))
            n["losses"] += len(lost)
        # latest.json is the last snapshot, and only ever moved forward
        revs = wire.latest_revs[f"{job.container}/{PREFIX}/{job_id}/latest.json"]
        if any(a >= b for a, b in itertools.pairwise(revs)):
            problems.append(f"{job_id}: latest.json revisions written in the order {revs}")
            n["latest.json written backwards"] += 1
        if pairs:
            latest = read_json(job.azurite, job.container, f"{PREFIX}/{job_id}/latest.json")
            last = read_json(job.azurite, job.container, snaps[-1])
            n["latest.json"] += 1
            if (latest.get("snapshotSeq"), latest.get("snapshotBlob")) != (len(snaps), snaps[-1]) or {
                    k: v for k, v in latest.items() if k not in LATEST_ONLY} != last:
                differ = sorted(k for k in set(latest) | set(last)
                                if k not in LATEST_ONLY and latest.get(k) != last.get(k))
                problems.append(f"{job_id}: latest.json (seq {latest.get('snapshotSeq')}, "
                                f"{latest.get('snapshotBlob')}) is not the last snapshot ({len(snaps)}, {snaps[-1]}); "
                                f"fields that differ: {differ}")
                n["losses"] += 1
            if secrets.found_in(json.dumps(latest)):
                problems.append(f"{job_id}: a secret in latest.json")
        # reports: a failure report for failed and cancelled jobs; an import report, or none, for completed imports
        # with rejected lines (their output container is shared: a later import's log, written before the poller
        # read this job's, is told apart only by its time, so either outcome is right); none for anything else
        failure = [f"{PREFIX}/{job_id}/failure-report.{ext}" for ext in ("json", "md")]
        imported = [f"{PREFIX}/{job_id}/import-report.{ext}" for ext in ("json", "md")]
        if final[0] in ("failed", "cancelled"):
            n[f"{final[0]} jobs"] += 1
            reports, kind, expected_report = failure, "failure", "written"
        else:
            n["completed jobs"] += 1
            reports, kind = imported, "import"
            # only import_errors jobs have an errors log (seeded imports write none)
            expected_report = "written" if job.kind == "import_errors" and set(imported) & set(names) else "notNeeded"
        if expected_report == "written":
            for name in reports:
                if name not in names:
                    problems.append(f"{job_id}: {final[0]} without {name}")
                    n["losses"] += 1
                    continue
                n["report blobs"] += 1
                if wire.puts[f"{job.container}/{name}"] != 1:
                    problems.append(f"{job_id}: {name} PUT {wire.puts[f'{job.container}/{name}']} times")
                    n["duplicates"] += max(0, wire.puts[f"{job.container}/{name}"] - 1)
            if reports[0] in names:
                n[f"{kind} reports"] += 1
                report = read_json(job.azurite, job.container, reports[0])
                if (report["jobId"], report["status"], report["kind"]) != (job_id, final[0], kind):
                    problems.append(f"{job_id}: report says {report['jobId']} {report['status']} {report['kind']}")
                if [entry["blob"] for entry in report["timeline"]] != snaps:
                    problems.append(f"{job_id}: report timeline {report['timeline']} but snapshots {snaps}")
                    n["report timelines unlike the snapshots"] += 1
                if secrets.found_in(json.dumps(report)):
                    problems.append(f"{job_id}: a secret in the report")
        allowed = set(reports) if expected_report == "written" else set()
        unexpected = ((set(failure) | set(imported)) - allowed) & set(names)
        if unexpected:
            problems.append(f"{job_id}: {sorted(unexpected)} for a {final[0]} {job.kind} job")
        # the state agrees
        got = (record.get("seq", 0), record.get("status"), record.get("progress"), record.get("report", "none"),
               bool(record.get("pending") or record.get("latest")), record.get("skipped"))
        if got != (len(snaps), final[0], final[1], expected_report, False, None):
            problems.append(f"{job_id}: state {got} but {len(snaps)} snapshots, final {final}")
            n["state mismatches"] += 1
    off_list = {host: count for host, count in wire.hosts.items() if host not in ALLOWED_HOSTS}
    if off_list:
        problems.append(f"storage requests outside the allowlist: {off_list}")
    figures: dict[str, Any] = {k: n[k] for k in (
        "hub transitions", "observed transitions", "required transitions", "hub transitions no successful tick saw",
        "jobs first seen ended (started and ended between two looks)",
        "snapshots", "latest.json", "failed jobs", "cancelled jobs", "completed jobs", "skipped jobs",
        "failure reports", "import reports", "report blobs",
        "duplicates", "losses", "claims lost with a deleted or restored state", "phantoms", "out of order", "seq gaps",
        "state mismatches",
        "snapshot documents unlike their names", "report timelines unlike the snapshots",
        "latest.json written backwards")}
    figures["requests outside the allowlist"] = sum(off_list.values())
    return figures, problems
