"""The cadence against the devstack (issue 24): an idle hub is listed once per idle interval across instances, a
job that lives and ends between two looks still gets its snapshot and report, and a get_job or list answer with
an active job nudges its idle hub to the next tick without another hub call. Each tick is another instance's
(a new Poller) on a moved clock; nothing sleeps. The hub simulator counts the list calls."""

from __future__ import annotations

import concurrent.futures
import datetime
import json
import logging

import pytest

from shared.cache.store import SharedStore
from shared.iothub.client import default_hub_client
from shared.poller.cadence_store import CadenceBoard, cadence_settings, cadence_store
from shared.poller.outcomes import TickResult
from shared.poller.tick import Poller
from shared.proxy.answers import ProxyRequest
from shared.proxy.handler import JobProxy
from shared.proxy.listing import JobListProxy
from shared.settings import AppSettings
from tests.support.poller import (
    PREFIX,
    PollerEnv,
    ago,
    blob_names,
    container_sas_uri,
    events,
    failed_import,
    new_container,
    read_json,
)

CADENCE = {"MONITOR_IDLE_LIST_SECONDS": "300", "MONITOR_RECENT_END_MINUTES": "5", "POLL_SCHEDULE": "*/30 * * * * *"}


class Instances:
    """Ticks of many instances (a new Poller each) on one moved clock."""

    def __init__(self, env: PollerEnv, hubs: tuple[str, ...] = ("devhub",)) -> None:
        self.env = env
        self.hubs = hubs
        self.settings = env.settings(hubs, **CADENCE)
        self.now = datetime.datetime.now(datetime.UTC)

    def tick(self, *, after: float = 0.0) -> TickResult:
        self.now += datetime.timedelta(seconds=after)
        moment = self.now
        return Poller(self.settings, clock=lambda: moment).tick()

    def lists(self, hub: str = "devhub") -> int:
        return self.env.hubsim.control(hub).counters()["list"]


def test_an_idle_hub_is_listed_once_per_idle_interval_whatever_the_instances_and_overlaps(env: PollerEnv) -> None:
    ticks = Instances(env)
    assert ticks.tick().hubs["devhub"].due == "new"
    assert ticks.lists() == 1
    for _ in range(9):  # nine more runs of the 30 s timer: the idle hub is left alone
        result = ticks.tick(after=30)
        assert (result.hubs, result.idle) == ({}, ["devhub"])
    assert ticks.lists() == 1
    # The tenth run, on four instances at once: one of them lists the hub.
    ticks.now += datetime.timedelta(seconds=30)
    moment = ticks.now
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: Poller(ticks.settings, clock=lambda: moment).tick(), range(4)))
    assert sorted(len(r.hubs) for r in results) == [0, 0, 0, 1]
    assert ticks.lists() == 2


def test_a_job_that_starts_and_ends_while_its_hub_is_idle_gets_its_snapshot_and_report(env: PollerEnv) -> None:
    ticks = Instances(env)
    ticks.tick()
    container = new_container(env.azurite)
    env.hubsim.control("devhub").seed_jobs([failed_import("quick-one", container_sas_uri(env.azurite, container))])
    ticks.tick(after=30)  # idle: not listed, nothing written yet
    assert blob_names(env.azurite, container, f"{PREFIX}/quick-one/") == []
    for _ in range(8):
        ticks.tick(after=30)
    result = ticks.tick(after=30)  # the idle interval: listed
    assert result.hubs["devhub"].due == "idle"
    names = blob_names(env.azurite, container, f"{PREFIX}/quick-one/")
    assert f"{PREFIX}/quick-one/snapshots/00001-failed-20.json" in names
    assert read_json(env.azurite, container, f"{PREFIX}/quick-one/failure-report.json")["jobId"] == "quick-one"
    assert env.report_copy("quick-one")["jobId"] == "quick-one"
    assert ticks.lists() == 2


def running_export(env: PollerEnv, job_id: str) -> str:
    container = new_container(env.azurite)
    env.hubsim.control("devhub").seed_jobs([
        {"jobId": job_id, "type": "export", "status": "running", "progress": 10, "startTimeUtc": ago(seconds=5),
         "outputBlobContainerUri": container_sas_uri(env.azurite, container)}])
    return container


def board(settings: AppSettings) -> CadenceBoard:
    """An instance's board, as the get_job and list functions build theirs (default_cadence_board)."""
    return CadenceBoard(cadence_store(settings), cadence_settings(settings))


@pytest.mark.parametrize("route", ["get_job", "list"])
def test_an_answer_with_an_active_job_nudges_its_idle_hub_to_the_next_tick_without_a_hub_call(
        env: PollerEnv, route: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    ticks = Instances(env)
    ticks.tick()
    container = running_export(env, "asked-about")
    settings = ticks.settings
    client = default_hub_client(settings.hub)
    if route == "get_job":
        answer = JobProxy(settings=settings, client=client, nudge=board(settings).nudge).handle(
            ProxyRequest(method="GET", job_id="asked-about"))
    else:
        answer = JobListProxy(settings=settings, client=client, nudge=board(settings).nudge).handle(
            ProxyRequest(method="GET", job_id=""))
    assert answer.status_code == 200
    counters = env.hubsim.control("devhub").counters()
    result = ticks.tick(after=30)
    assert result.hubs["devhub"].due == "nudged"
    assert f"{PREFIX}/asked-about/snapshots/00001-running-10.json" in blob_names(env.azurite, container)
    # The nudge itself cost no hub call: the answer's own call, then the tick's list.
    assert env.hubsim.control("devhub").counters()["list"] == counters["list"] + 1 == ticks.lists()
    assert [(e["hub"], e["jobId"]) for e in events(caplog, "poller.hub_nudged")] == [("devhub", "asked-about")]
    # Busy now: listed on every tick, and a second answer nudges nothing.
    assert ticks.tick(after=30).hubs["devhub"].due == "busy"
    assert board(settings).nudge("devhub", "asked-about") is False


def test_without_a_nudge_a_new_job_on_an_idle_hub_waits_for_the_idle_interval(env: PollerEnv) -> None:
    ticks = Instances(env)
    ticks.tick()
    container = running_export(env, "unasked")
    assert ticks.tick(after=30).hubs == {}
    assert blob_names(env.azurite, container) == []


def test_a_cadence_record_that_cannot_be_read_lists_every_hub_and_says_why(
        env: PollerEnv, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    ticks = Instances(env, ("devhub", "otherhub"))
    ticks.tick()
    # An instance whose storage for the record is unreachable (a closed port): it never skips a hub.
    unreachable = AppSettings.from_environ(env.environ(
        ("devhub", "otherhub"), **CADENCE,
        AzureWebJobsStorage=env.azurite.connection_string.replace(
            f":{env.azurite.port}/", ":9/"),
    )).shared_cache
    dead = CadenceBoard(SharedStore(settings=unreachable), cadence_settings(ticks.settings))
    moment = ticks.now + datetime.timedelta(seconds=30)
    result = Poller(ticks.settings, clock=lambda: moment, cadence=dead).tick()
    assert {hub: outcome.due for hub, outcome in result.hubs.items()} == {"devhub": "unknown", "otherhub": "unknown"}
    assert all(outcome.ok for outcome in result.hubs.values())
    warned = events(caplog, "poller.cadence_unknown")
    assert warned and warned[0]["consequence"] == "every hub is listed this tick"
    assert json.dumps(warned).count(env.azurite.connection_string) == 0
