"""The list route, the report route and the status page served by the local Functions host, against the hub
simulator and Azurite, with reports written by the real poller (run through the host's admin endpoint).

`start_site` seeds what every test of these routes looks at: hostile job fields (ids, types, failure reasons),
signed container URIs, an import that completes with rejected lines whose device ids carry HTML, a failed job with
a report, a running job that stalls, and a second hub.
"""

from __future__ import annotations

import datetime
import html.parser
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from devstack.azurite import AzuriteInfo
from devstack.hubsim import HubSimulator
from tests.fixtures.funchost import FuncHostFactory, RunningFuncHost
from tests.support import served
from tests.support.poller import (
    PollerEnv,
    container_sas_uri,
    create_job,
    new_container,
    upload_text,
    wait_terminal,
)
from tests.support.secrets import Secrets

HUBS = ("devhub", "otherhub")
# Device ids and job fields that are markup: each must come out as text, never as an element or attribute.
HTML_DEVICE_ID = '<img src=x onerror="alert(1)">dev'
SCRIPT_DEVICE_ID = "</td><script>alert(2)</script>"
HOSTILE_REASON = '<script>alert("reason")</script> & <a href="javascript:alert(3)">click</a>'
HOSTILE_TYPE = '"><svg onload=alert(4)>'
# A job id the hub could list but no route accepts (so it gets no report link, and is escaped where shown).
HOSTILE_JOB_ID = '"><iframe src=javascript:alert(5)>'
MARKERS = ("alert(1)", "alert(2)", "alert(\"reason\")", "alert(3)", "alert(4)", "alert(5)")
# Attributes whose value is read out as text (a job id in an aria-label is fine, escaped); URLs get a stricter look.
TEXT_ATTRIBUTES = frozenset({"aria-label", "title"})
URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "xlink:href", "data"})


def ago(**delta: float) -> str:
    moment = datetime.datetime.now(datetime.UTC) - datetime.timedelta(**delta)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def import_lines() -> str:
    """An import file: two lines the hub rejects with markup device ids, one it accepts."""
    return "\n".join([
        json.dumps({"id": HTML_DEVICE_ID, "importMode": "update"}),
        json.dumps({"id": SCRIPT_DEVICE_ID, "importMode": "update"}),
        json.dumps({"id": "good-device-1", "importMode": "createOrUpdate"}),
    ]) + "\n"


@dataclass(kw_only=True)
class Site:
    env: PollerEnv
    host: RunningFuncHost
    import_job: str  # completed with rejected lines: an import report
    failed_job: str  # failed, hostile failure reason: a failure report
    export_job: str  # completed export: no report
    stalled_job: str  # running, never moves: stalled after two ticks
    seeded: dict[str, list[str]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.host.function_key

    def get(self, path: str, *, params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
            method: str = "GET") -> requests.Response:
        return requests.request(method, f"{self.host.url}/api/{path}", params=params, timeout=60,
                                headers={"x-functions-key": self.key, **(headers or {})})

    def tick(self) -> None:
        response = requests.post(f"{self.host.url}/admin/functions/poll_job_timer?wait=true", json={"input": ""},
                                 headers={"x-functions-key": self.host.master_key}, timeout=120)
        assert response.status_code in (200, 202), response.text

    def secrets(self) -> Secrets:
        found = self.env.secrets()
        found.add("seeded SAS signature", served.SIG)
        return found


def start_site(funchost_factory: FuncHostFactory, hubsim: HubSimulator, azurite: AzuriteInfo, **overrides: str
               ) -> Site:
    for hub in hubsim.hub_names:
        hubsim.control(hub).reset(jobs=True)
    env = PollerEnv(hubsim=hubsim, azurite=azurite, state_container=new_container(azurite, create=False))
    inputs, outputs = new_container(azurite), new_container(azurite)
    upload_text(azurite, inputs, "devices.txt", import_lines())
    import_job = create_job(hubsim, "devhub", {
        "type": "import", "inputBlobContainerUri": container_sas_uri(azurite, inputs),
        "outputBlobContainerUri": container_sas_uri(azurite, outputs),
    })
    failed_out = new_container(azurite)
    failed_uri = container_sas_uri(azurite, failed_out)
    [failed_job, export_job, stalled_job] = served.seed(hubsim, [
        served.job("job-failed-1", "failed", type="import", failureReason=HOSTILE_REASON,
                   inputBlobContainerUri=failed_uri, outputBlobContainerUri=failed_uri,
                   startTimeUtc=ago(minutes=30), endTimeUtc=ago(minutes=29)),
        served.job("job-export-1", "completed", startTimeUtc=ago(minutes=20), endTimeUtc=ago(minutes=19)),
        served.job("job-stuck-1", "running", progress=35, type=HOSTILE_TYPE, startTimeUtc=ago(minutes=10),
                   outputBlobContainerUri=container_sas_uri(azurite, new_container(azurite))),
    ])
    served.seed(hubsim, [served.job(HOSTILE_JOB_ID, "failed", failureReason=HOSTILE_REASON,
                                    startTimeUtc=ago(days=2), endTimeUtc=ago(days=2))])
    other = served.seed(hubsim, [served.job("other-running", "running", startTimeUtc=ago(minutes=5)),
                                 served.job("other-old", "completed", startTimeUtc=ago(days=20),
                                            endTimeUtc=ago(days=20))], hub="otherhub")
    wait_terminal(hubsim, "devhub", import_job)
    environ = env.environ(HUBS, MONITOR_STALL_AFTER_MINUTES="0.01", IOTHUB_READ_TIMEOUT_SECONDS="5",
                          IOTHUB_RETRY_BUDGET_SECONDS="10", POLL_SCHEDULE="0 0 0 1 1 *", **overrides)
    # Timers on, with a schedule that never comes during a test: the poller runs when a test says (tick()).
    host = funchost_factory(served.REPO, env=environ, timers=True)
    return Site(env=env, host=host, import_job=import_job, failed_job=failed_job, export_job=export_job,
                stalled_job=stalled_job, seeded={"otherhub": other})


class Elements(html.parser.HTMLParser):
    """Every element and attribute of a page, and its text, as a browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @classmethod
    def of(cls, page: str) -> Elements:
        parser = cls()
        parser.feed(page)
        parser.close()
        return parser

    def named(self, tag: str) -> Iterator[dict[str, str | None]]:
        return (attrs for name, attrs in self.tags if name == tag)

    @property
    def all_text(self) -> str:
        return "".join(self.text)


def assert_inert(page: str) -> Elements:
    """No script, frame, object or event handler, and no javascript: URL, anywhere on the page; the hostile
    values are there as text."""
    parsed = Elements.of(page)
    tags = {name for name, _ in parsed.tags}
    assert not tags & {"script", "iframe", "object", "embed", "img", "form", "base", "link"}, tags
    for name, attrs in parsed.tags:
        for attr, value in attrs.items():
            assert not attr.startswith("on"), (name, attr, value)
            assert attr != "style", (name, attr)
            if attr not in TEXT_ATTRIBUTES:  # a hostile value may only ever be text a person reads
                assert not any(marker in (value or "") for marker in MARKERS), (name, attr, value)
            if attr in URL_ATTRIBUTES:
                assert "javascript:" not in (value or "").lower(), (name, attr, value)
    return parsed


def csp(response: requests.Response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in policy.split(";") if part.strip()}


def page_headers_ok(response: requests.Response) -> None:
    policy = csp(response)
    assert policy["default-src"] == "default-src 'none'"
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Content-Type"].startswith("text/html")


def listed_ids(response: requests.Response) -> list[str]:
    body: dict[str, Any] = response.json()
    return [str(job["jobId"]) for job in body["jobs"]]
