"""The operators' alert rules, run against what Application Insights would store of real runs.

The app runs in the devstack's Functions host (a subprocess, as in Azure) against the IoT Hub simulator and
Azurite: poll_job_timer's ticks with a healthy hub holding a failed job and a stuck one beside a hub that refuses
its key, and get_job answering 200, a 503, a persistent 429 and a 404, plus one answer of a second instance whose
settings are invalid. The host keeps the real host's rule (devstack/funchost/logs.py): a user log reaches the
telemetry only from a thread that carries a running invocation id, so a line the poller's thread pools log
without it never reaches the table, as in Azure. Its telemetry file (one `traces` record a line) becomes the
`traces` table, and each rule's query, exactly as infra/modules/alerts.bicep builds it with the parameters
main.bicep passes it (the .kql file with its placeholders filled, read with pycep), runs on it with duckdb-kql
(Microsoft's KQL grammar on DuckDB).

A rule fires as the alerts module configures it: Count of result rows > 0, one alert per distinct dimension values.
"""

from __future__ import annotations

import datetime
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack import wellknown
from devstack.azurite import AzuriteInfo
from devstack.hubsim import HubSimulator
from devstack.hubsim.vocab import FaultKind, Operation
from shared.poller.events import PollerEvent
from tests.fixtures.funchost import FuncHostFactory, RunningFuncHost
from tests.infra.bicep import Evaluator, body
from tests.support.poller import (
    WRONG_KEY,  # the scanned-and-allowed wrong key
    container_sas_uri,
    new_container,
    utc_iso,
)
from tests.support.shared_cache import new_shared_container

duckdb_kql = pytest.importorskip("duckdb_kql", reason="duckdb-kql (requirements-dev.txt) runs the alert queries")

REPO = Path(__file__).resolve().parents[2]
HUBS = ("devhub", "otherhub")
FAILED_JOB, STUCK_JOB, OK_JOB = "failed-export", "stuck-export", "fine-export"
TICKS = 4  # more than alertHubFailingTicks' default (3)
RARE_SCHEDULE = "0 0 0 1 1 *"  # the timer never fires by itself: the test runs each tick
USER_CATEGORY = re.compile(r"^Function\.(?P<function>[a-z_]+)\.User$")


@dataclass(frozen=True)
class Line:
    timestamp: datetime.datetime  # naive UTC, as the table stores it
    message: str
    record: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass
class AppLog:
    lines: list[Line] = field(default_factory=list)
    dropped: int = 0  # user logs the hosts dropped: no running invocation on their thread
    broken: list[Line] = field(default_factory=list)  # the instance with invalid settings alone

    def events(self, name: str) -> list[dict[str, Any]]:
        found = []
        for line in self.lines:
            event = _event(line)
            if event is not None and event.get("event") == name:
                found.append(event)
        return found

    def without(self, predicate: Any) -> list[Line]:
        return [line for line in self.lines if not predicate(line)]


def _event(line: Line) -> dict[str, Any] | None:
    try:
        value = json.loads(line.message)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _ago(**delta: float) -> str:
    return utc_iso(datetime.datetime.now(datetime.UTC) - datetime.timedelta(**delta))


def _reset(hubsim: HubSimulator) -> None:
    for name in hubsim.hub_names:
        hubsim.control(name).reset(jobs=True)


def _table(host: RunningFuncHost) -> list[Line]:
    lines = []
    for record in host.traces():
        moment = datetime.datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
        lines.append(Line(moment.astimezone(datetime.UTC).replace(tzinfo=None), record["message"], record))
    return lines


def _dropped(host: RunningFuncHost) -> int:
    return int(requests.get(f"{host.url}/admin/host/status", timeout=10).json()["droppedUserLogs"])


@pytest.fixture(scope="module")
def app_log(hubsim: HubSimulator, azurite: AzuriteInfo, funchost_factory: FuncHostFactory) -> Iterator[AppLog]:
    """What Application Insights would hold after one run of the scenario (shared by this module's tests)."""
    _reset(hubsim)
    hosts: list[RunningFuncHost] = []
    try:
        hosts.append(funchost_factory(REPO, env=_app_env(hubsim, azurite), timers=False))
        _run_poller(hubsim, azurite, hosts[0])
        _run_get_job(hubsim, hosts[0])
        # A second instance whose settings are invalid: get_job's misconfigured answer.
        hosts.append(funchost_factory(REPO, env={**_app_env(hubsim, azurite), "IOTHUB_HUBS": "not a hub name!"},
                                      timers=False))
        broken = requests.get(f"{hosts[1].url}/api/jobs/{OK_JOB}", headers=_key(hosts[1]), timeout=30)
        assert broken.status_code == 500
        # Its timer runs, but every run fails before it ticks (a retry follows): the missed tick.
        failed = requests.post(f"{hosts[1].url}/admin/functions/poll_job_timer?wait=true", json={"input": ""},
                               headers={"x-functions-key": hosts[1].master_key}, timeout=60).json()
        assert (failed["state"], failed["error"].split(":")[0]) == ("retrying", "SettingsError"), failed
        dropped = sum(_dropped(host) for host in hosts)
        yield AppLog(sorted((line for host in hosts for line in _table(host)), key=lambda line: line.timestamp),
                     dropped=dropped, broken=_table(hosts[1]))
    finally:
        for host in hosts:
            host.stop()
        _reset(hubsim)


def _key(host: RunningFuncHost) -> dict[str, str]:
    return {"x-functions-key": host.function_key}


def _app_env(hubsim: HubSimulator, azurite: AzuriteInfo) -> dict[str, str]:
    strings = [wellknown.hub_connection_string("devhub"),
               wellknown.hub_connection_string("otherhub").replace(wellknown.HUB_POLICY_KEYS["iothubowner"], WRONG_KEY)]
    return {
        "POLL_SCHEDULE": RARE_SCHEDULE,
        "IOTHUB_HUBS": ",".join(HUBS),
        "IOTHUB_ENDPOINTS": ",".join(f"{h}={hubsim.hub_url(h)}" for h in HUBS),
        "IOTHUB_AUTH": "sharedAccessPolicy",
        "IOTHUB_CONNECTION_STRINGS": "|".join(strings),
        "IOTHUB_RETRY_BUDGET_SECONDS": "2",
        "IOTHUB_MAX_ATTEMPTS": "2",
        "GET_JOB_CACHE_TTL_SECONDS": "0",
        "MONITOR_STORAGE_HOST_ALLOWLIST": f"127.0.0.1:{azurite.port}",
        "MONITOR_STATE_CONTAINER": new_container(azurite, create=False),
        "MONITOR_STALL_AFTER_MINUTES": "0.005",  # 0.3 s
        "MONITOR_TICK_BUDGET_SECONDS": "20",
        "MONITOR_IDLE_LIST_SECONDS": "0",  # every tick lists the hub: the scenario is the same on every run
        "AzureWebJobsStorage": azurite.connection_string,
        "SHARED_CACHE_CONTAINER": new_shared_container(),  # a call budget no other test spends
    }


def _run_poller(hubsim: HubSimulator, azurite: AzuriteInfo, host: RunningFuncHost) -> None:
    uri = container_sas_uri(azurite, new_container(azurite))
    hubsim.control("devhub").seed_jobs([
        {"jobId": FAILED_JOB, "type": "export", "status": "failed", "progress": 30, "outputBlobContainerUri": uri,
         "failureReason": "ErrorCode:JobQuotaExceeded;Only one active job", "startTimeUtc": _ago(minutes=3),
         "endTimeUtc": _ago(minutes=1)},
        {"jobId": STUCK_JOB, "type": "export", "status": "running", "progress": 40, "outputBlobContainerUri": uri,
         "startTimeUtc": _ago(minutes=2)},
    ])
    for tick in range(TICKS):
        run = requests.post(f"{host.url}/admin/functions/poll_job_timer?wait=true", json={"input": ""},
                            headers={"x-functions-key": host.master_key}, timeout=120)
        assert (run.status_code, run.json()["state"]) == (202, "succeeded"), run.text
        if tick == 0:
            time.sleep(0.4)  # the stuck job passes the stall threshold


def _run_get_job(hubsim: HubSimulator, host: RunningFuncHost) -> None:
    control = hubsim.control("devhub")
    control.seed_jobs([{"jobId": OK_JOB, "type": "export", "status": "running", "progress": 10}])

    def get(job_id: str) -> int:
        return requests.get(f"{host.url}/api/jobs/{job_id}", headers=_key(host), timeout=30).status_code

    assert get(OK_JOB) == 200
    assert get("no-such-job") == 404
    control.queue_fault(FaultKind.UNAVAILABLE, count=10, operation=Operation.GET)
    assert get("job-503") == 503
    control.reset()
    # Last: the app then holds the hub's Retry-After (30 s) for every call.
    control.queue_fault(FaultKind.THROTTLE, count=10, operation=Operation.GET, wait_seconds=30)
    assert get("job-429") == 429
    control.reset()


# -- the rules, as main.bicep deploys them (modules/alerts.bicep) ---------------------------------------------------

def alerting(**params: Any) -> Evaluator:
    """The template declaring the alert rules, evaluated with the parameters main.bicep passes it."""
    return Evaluator({"iotHubNames": ["contoso-hub-1"], **params}).owner("alerts")


def rules(**params: Any) -> dict[str, dict[str, Any]]:
    return {rule["key"]: rule for rule in alerting(**params).var("alertRules")}


def fire(rule: dict[str, Any], lines: list[Line]) -> list[dict[str, Any]]:
    """The alerts `rule` raises on `lines`: one per distinct value of its dimensions (none if no row)."""
    con = duckdb_kql.connect()
    con.sql("CREATE TABLE traces (timestamp TIMESTAMP, message VARCHAR, severityLevel INTEGER, "
            "operation_Id VARCHAR, operation_Name VARCHAR, customDimensions VARCHAR)")
    if lines:
        con.executemany("INSERT INTO traces VALUES (?, ?, ?, ?, ?, ?)", [
            (line.timestamp, line.message, line.record.get("severityLevel"), line.record.get("operation_Id"),
             line.record.get("operation_Name"), json.dumps(line.record.get("customDimensions", {})))
            for line in lines])
    result = duckdb_kql.kql(con, rule["query"])
    columns = list(result.columns)
    rows = [dict(zip(columns, row, strict=True)) for row in result.fetchall()]
    dimensions = [d["name"] for d in rule["dimensions"]]
    assert set(dimensions) <= set(columns), f"{rule['key']}: dimensions {dimensions} not in columns {columns}"
    alerts: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        alerts.setdefault(tuple(row[d] for d in dimensions), row)
    return list(alerts.values())


def shifted(lines: list[Line], minutes: float) -> list[Line]:
    return [Line(line.timestamp - datetime.timedelta(minutes=minutes), line.message, line.record) for line in lines]


def is_event(name: str) -> Any:
    return lambda line: (_event(line) or {}).get("event") == name


# -- the tests -----------------------------------------------------------------------------------------------------

def test_the_scenario_logged_what_the_rules_watch(app_log: AppLog) -> None:
    assert [e["jobId"] for e in app_log.events("poller.report_written")] == [FAILED_JOB]
    assert [e["jobId"] for e in app_log.events("poller.job_stalled")] == [STUCK_JOB]
    assert [e["hub"] for e in app_log.events("poller.hub_failed")] == ["otherhub"] * TICKS
    assert len(app_log.events("poller.tick")) == TICKS
    assert sorted(e["status"] for e in app_log.events("get_job")) == [200, 404, 429, 503]
    assert [e["setting"] for e in app_log.events("get_job_misconfigured")] == ["IOTHUB_HUBS"]


_EXECUTING = re.compile(r"^Executing 'Functions\.(?P<function>\w+)' \(Reason='[^']*', Id=(?P<id>[0-9a-f-]+)\)$")


def test_every_app_line_carries_a_running_invocation_of_its_function(app_log: AppLog) -> None:
    """Azure's log rule, played by the host: whatever thread logged it, each line the app logged reached the table
    under the invocation that was running, and nothing the app logged was dropped."""
    assert app_log.dropped == 0, "a thread logged without its invocation id: Application Insights would drop it"
    executing: dict[str, str] = {}
    for line in app_log.lines:
        if found := _EXECUTING.match(line.message):
            executing[found["id"]] = found["function"]
    assert sorted(executing.values()).count("poll_job_timer") == TICKS + 1  # and the invalid instance's failed run
    user = [line for line in app_log.lines if USER_CATEGORY.match(line.record["customDimensions"]["Category"])]
    for line in user:
        dimensions = line.record["customDimensions"]
        category = USER_CATEGORY.match(dimensions["Category"])
        assert category is not None
        assert executing.get(dimensions["InvocationId"]) == category["function"] == line.record["operation_Name"]
    threaded = {PollerEvent.REPORT_WRITTEN.value, PollerEvent.JOB_STALLED.value, PollerEvent.HUB_FAILED.value}
    assert {(_event(line) or {}).get("event") for line in user} >= threaded


def test_every_rule_is_configured_as_fire_modelled() -> None:
    # fire() models Count of rows > 0 per dimension; the template must say exactly that.
    alerts = body(alerting().resource("alerts"))
    criterion = alerts["properties"]["criteria"]["allOf"][0]
    assert (criterion["timeAggregation"], criterion["operator"], criterion["threshold"]) == ("Count", "GreaterThan", 0)
    assert criterion["dimensions"] == {"operator": {"type": "property_accessor",
                                                    "operands": {"operand_1": "rule", "operand_2": "dimensions"}}}
    assert all(set(d) == {"name", "operator", "values"} for r in rules().values() for d in r["dimensions"])


def test_every_query_is_valid_kql() -> None:
    for key, rule in rules().items():
        assert "__" not in re.sub(r"//.*", "", rule["query"]), f"{key}: a placeholder was left unfilled"
        assert duckdb_kql.parse(rule["query"]).ok, f"{key}: {duckdb_kql.validate(rule['query'])}"


_FIELD = re.compile(r"\be\.([A-Za-z_]+)")
_EVENT = re.compile(r'"((?:poller\.[a-z_]+)|(?:get_job[a-z_]*))"')


@pytest.mark.parametrize("key", sorted(rules()))
def test_queries_use_only_events_and_fields_the_app_emits(key: str, app_log: AppLog) -> None:
    query = rules()[key]["query"]
    names = set(_EVENT.findall(query))
    assert names, f"{key} names no event"
    known = {e.value for e in PollerEvent} | {"get_job", "get_job_misconfigured"}
    assert names <= known, f"{key} looks for events the code never logs: {sorted(names - known)}"
    emitted: set[str] = set()
    for name in names:
        for event in app_log.events(name):
            emitted |= set(event)
    for name in names - {PollerEvent.HUB_TIMED_OUT.value}:  # a timed-out hub is not part of the scenario
        assert app_log.events(name), f"the scenario never logged {name}, so {key} is untested"
    unknown = sorted(set(_FIELD.findall(query)) - emitted)
    assert not unknown, f"{key} reads fields the app's {sorted(names)} lines never carry: {unknown}"


def test_report_written_alerts_once_per_report(app_log: AppLog) -> None:
    rule = rules()["report-written"]
    alerts = fire(rule, app_log.lines)
    assert [(a["hub"], a["jobId"], a["hint"]) for a in alerts] == [("devhub", FAILED_JOB, "anotherJobRunning")]
    assert alerts[0]["blob"].endswith("failure-report.json")
    assert fire(rule, app_log.without(is_event("poller.report_written"))) == []
    assert fire(rule, shifted(app_log.lines, 6)) == [], "a report older than the window is not alerted again"


def test_job_stalled_alerts_per_stalled_job(app_log: AppLog) -> None:
    rule = rules()["job-stalled"]
    alerts = fire(rule, app_log.lines)
    assert [(a["hub"], a["jobId"], a["status"]) for a in alerts] == [("devhub", STUCK_JOB, "running")]
    assert fire(rule, app_log.without(is_event("poller.job_stalled"))) == []


def test_hub_failing_alerts_for_the_failing_hub_only(app_log: AppLog) -> None:
    rule = rules()["hub-failing"]
    alerts = fire(rule, app_log.lines)
    assert [a["hub"] for a in alerts] == ["otherhub"]
    assert alerts[0]["failedTicks"] == 3
    assert "HubAuthError" in alerts[0]["errors"]


def test_hub_failing_needs_n_ticks_in_a_row(app_log: AppLog) -> None:
    # The hub recovered in the latest tick: its failure line of that tick is gone.
    last_failure = max(line.timestamp for line in app_log.lines if is_event("poller.hub_failed")(line))
    recovered = [line for line in app_log.lines if line.timestamp != last_failure]
    assert fire(rules()["hub-failing"], recovered) == []
    # With a higher threshold than there were ticks, nothing fires either.
    assert fire(rules(alertHubFailingTicks=TICKS + 1)["hub-failing"], app_log.lines) == []
    assert [a["hub"] for a in fire(rules(alertHubFailingTicks=TICKS)["hub-failing"], app_log.lines)] == ["otherhub"]


def test_missing_tick_alerts_when_the_timer_stopped(app_log: AppLog) -> None:
    rule = rules()["missing-tick"]
    assert fire(rule, app_log.lines) == []
    # An app whose timer runs but fails before every tick (invalid settings): its table holds the host's
    # Executing/Executed lines of the failed run and no poller.tick.
    assert any(line.message.startswith("Executed 'Functions.poll_job_timer' (Failed") for line in app_log.broken)
    assert len(fire(rule, app_log.broken)) == 1
    # Two poll periods (5 min) plus the 5 min ingestion margin later, with no tick since: the timer stopped.
    assert len(fire(rule, shifted(app_log.lines, 2 * 5 + 5 + 1))) == 1
    assert len(fire(rule, app_log.without(is_event("poller.tick")))) == 1
    assert len(fire(rule, [])) == 1, "an app that never ran must alert too"
    # A longer poll interval widens the look-back.
    assert fire(rules(pollIntervalMinutes=15)["missing-tick"], shifted(app_log.lines, 16)) == []


def test_get_job_errors_alert_above_the_threshold(app_log: AppLog) -> None:
    errors = 3  # the 503, the 429 and the misconfigured answer; the 200 and the 404 do not count
    alerts = fire(rules(alertGetJobErrorThreshold=errors)["get-job-errors"], app_log.lines)
    assert len(alerts) == 1
    assert alerts[0]["errors"] == errors
    assert fire(rules(alertGetJobErrorThreshold=errors + 1)["get-job-errors"], app_log.lines) == []
    assert fire(rules()["get-job-errors"], app_log.lines) == [], "the default threshold (10) is not reached"


def test_windows_cover_each_query_look_back() -> None:
    minutes = {"PT5M": 5, "PT10M": 10, "PT15M": 15, "PT30M": 30, "PT45M": 45, "PT1H": 60, "PT6H": 360, "P1D": 1440}
    for params in ({}, {"pollIntervalMinutes": 60, "alertHubFailingTicks": 12}, {"alertGetJobErrorWindowMinutes": 45}):
        for key, rule in rules(**params).items():
            lookback = int(re.search(r"ago\((\d+)m\)", rule["query"]).group(1))  # type: ignore[union-attr]
            assert rule["windowSize"] in minutes, f"{key}: windowSize {rule['windowSize']}"
            assert minutes[rule["windowSize"]] >= lookback, f"{key}: the window cuts the query's look-back"


def test_alerts_are_optional() -> None:
    for flag, key in [("alertOnReportWritten", "report-written"), ("alertOnJobStalled", "job-stalled"),
                      ("alertOnHubFailing", "hub-failing"), ("alertOnMissingTick", "missing-tick"),
                      ("alertOnGetJobErrors", "get-job-errors")]:
        assert rules()[key]["enabled"] is True
        assert rules(**{flag: False})[key]["enabled"] is False
    ev = alerting(deployAlerts=False)
    alerts = ev.resource("alerts")["config"]
    assert ev.possible(alerts["condition"], {"rule": {"enabled": True}}) == [False]
    group = ev.resource("alertActionGroup")["config"]["condition"]
    assert alerting().possible(group) == [False], "no e-mail, no action group"
    assert alerting(alertEmail="ops@example.com").possible(group) == [True]
