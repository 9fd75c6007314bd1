"""A hand-written corpus of hostile request targets, sent byte for byte over raw sockets.

Each must be answered 400 (by get_job; 404 for a well-formed but unconfigured hub) or 404 (no route
matched, by the host), never a 5xx, never with a hub call, never echoing an injected header, never with a
secret in the answer. Every method but GET and HEAD is answered 405 in JSON.
"""

from __future__ import annotations

import json

import pytest

from devstack.hubsim import HubSimulator
from tests.fixtures.funchost import RunningFuncHost
from tests.support import served

pytestmark = pytest.mark.slow

LONG = b"a" * 10 * 1024
# (name, request target, expected status, expected error code for a 400 from get_job)
CORPUS: list[tuple[str, bytes, int, str | None]] = [
    ("dot-dot", b"/api/jobs/..", 400, "InvalidJobId"),
    ("dot", b"/api/jobs/.", 400, "InvalidJobId"),
    ("dot-dot inside", b"/api/jobs/job..1", 400, "InvalidJobId"),
    ("encoded dot-dot", b"/api/jobs/%2e%2e", 400, "InvalidJobId"),
    ("encoded dot-dot-slash", b"/api/jobs/%2e%2e%2f", 400, "InvalidJobId"),
    ("encoded traversal to another route", b"/api/jobs/..%2f..%2fdevices", 400, "InvalidJobId"),
    ("double-encoded dot-dot", b"/api/jobs/%252e%252e%252f", 400, "InvalidJobId"),
    ("overlong UTF-8 dots", b"/api/jobs/%c0%ae%c0%ae", 400, "InvalidJobId"),
    ("raw traversal", b"/api/jobs/../jobs/job-active", 404, None),
    ("raw slash", b"/api/jobs/a/b", 404, None),
    ("encoded slash", b"/api/jobs/a%2Fb", 400, "InvalidJobId"),
    ("raw backslash", b"/api/jobs/a\\b", 400, "InvalidJobId"),
    ("encoded backslash", b"/api/jobs/a%5Cb", 400, "InvalidJobId"),
    ("NUL", b"/api/jobs/%00", 400, "InvalidJobId"),
    ("NUL suffix", b"/api/jobs/job-active%00", 400, "InvalidJobId"),
    ("NUL then traversal", b"/api/jobs/job-active%00%2f..%2f", 400, "InvalidJobId"),
    # `/api/jobs/` is the list route's own path (a trailing slash is ignored, as Azure's host ignores it): an empty
    # id is tried before /report instead, where no route takes it.
    ("empty id", b"/api/jobs//report", 404, None),
    ("traversal before /report", b"/api/jobs/..%2F..%2Fstatus/report", 400, "InvalidJobId"),
    ("leading hyphen", b"/api/jobs/-job", 400, "InvalidJobId"),
    ("space", b"/api/jobs/job%20active", 400, "InvalidJobId"),
    ("trailing space", b"/api/jobs/job-active%20", 400, "InvalidJobId"),
    ("tab", b"/api/jobs/job-active%09", 400, "InvalidJobId"),
    ("cyrillic j lookalike", b"/api/jobs/%D1%98ob-active", 400, "InvalidJobId"),
    ("fullwidth dots", b"/api/jobs/%EF%BC%8E%EF%BC%8E", 400, "InvalidJobId"),
    ("fraction slash", b"/api/jobs/a%E2%81%84b", 400, "InvalidJobId"),
    ("division slash", b"/api/jobs/a%E2%88%95b", 400, "InvalidJobId"),
    ("zero-width space suffix", b"/api/jobs/job-active%E2%80%8B", 400, "InvalidJobId"),
    ("kelvin sign", b"/api/jobs/%E2%84%AAob", 400, "InvalidJobId"),
    ("raw UTF-8 bytes", "/api/jobs/\u0458ob-active".encode(), 400, "InvalidJobId"),  # Cyrillic je, unencoded
    ("10 KB id", b"/api/jobs/" + LONG, 400, "InvalidJobId"),
    ("10 KB encoded id", b"/api/jobs/" + b"%41" * 3414, 400, "InvalidJobId"),
    ("129 characters", b"/api/jobs/" + b"j" * 129, 400, "InvalidJobId"),
    ("encoded CRLF header injection", b"/api/jobs/job-active%0d%0aX-Injected:%20yes", 400, "InvalidJobId"),
    ("encoded LF", b"/api/jobs/job-active%0aX-Injected:%20yes", 400, "InvalidJobId"),
    ("raw CRLF in the request line", b"/api/jobs/a%2Fb\r\nX-Injected: yes", 400, "InvalidJobId"),
    ("CRLF in hub", b"/api/jobs/job-active?hub=devhub%0d%0aX-Injected:%20yes", 400, "UnknownHub"),
    ("CRLF in api-version", b"/api/jobs/job-active?api-version=2021-04-12%0d%0aX-Injected:%20yes", 400,
     "InvalidApiVersion"),
    ("query smuggled in the path", b"/api/jobs/abc%3Fapi-version%3Dx", 400, "InvalidJobId"),
    ("hub smuggled in the path", b"/api/jobs/job-active%3Fhub%3Dthirdhub", 400, "InvalidJobId"),
    ("parameter smuggled with &", b"/api/jobs/job-active%26api-version%3D1", 400, "InvalidJobId"),
    ("fragment in the path", b"/api/jobs/job-active%23x", 400, "InvalidJobId"),
    ("matrix parameter", b"/api/jobs/job-active;hub=thirdhub", 400, "InvalidJobId"),
    ("duplicate hub", b"/api/jobs/job-active?hub=devhub&hub=evil", 400, "UnknownHub"),
    ("duplicate hub, same value", b"/api/jobs/job-active?hub=devhub&hub=devhub", 400, "UnknownHub"),
    ("duplicate api-version", b"/api/jobs/job-active?api-version=2021-04-12&api-version=x", 400,
     "InvalidApiVersion"),
    ("duplicate api-version, same value", b"/api/jobs/job-active?api-version=2021-04-12&api-version=2021-04-12",
     400, "InvalidApiVersion"),
    ("simulated but unconfigured hub", b"/api/jobs/job-active?hub=thirdhub", 404, "UnknownHub"),
    ("hub as a host name", b"/api/jobs/job-active?hub=evil.example.com", 400, "UnknownHub"),
    ("hub as a URL", b"/api/jobs/job-active?hub=https%3A%2F%2Fevil.example.com%2F", 400, "UnknownHub"),
    ("hub with traversal", b"/api/jobs/job-active?hub=..%2fdevhub", 400, "UnknownHub"),
    ("hub with NUL", b"/api/jobs/job-active?hub=devhub%00", 400, "UnknownHub"),
    ("hub lookalike", b"/api/jobs/job-active?hub=%D4%81evhub", 400, "UnknownHub"),
    ("api-version with NUL", b"/api/jobs/job-active?api-version=2021-04-12%00", 400, "InvalidApiVersion"),
    ("api-version blank", b"/api/jobs/job-active?api-version=%20", 400, "InvalidApiVersion"),
    ("api-version 10 KB", b"/api/jobs/job-active?api-version=" + LONG, 400, "InvalidApiVersion"),
]


# A raw CR LF ends the request line early: "HEAD /api/jobs/a%2Fb" is then an HTTP/0.9 request, which the
# local host refuses with a bare HTTP/0.9 answer (no status line); that one is sent as GET only.
CASES = [
    pytest.param(method, *entry, id=f"{method.decode()}-{entry[0]}")
    for method in (b"GET", b"HEAD")
    for entry in CORPUS
    if not (method == b"HEAD" and b"\r\n" in entry[1])
]


@pytest.mark.parametrize(("method", "name", "target", "status", "code"), CASES)
def test_nasty_target_is_refused_without_a_hub_call(
    fuzz_host: RunningFuncHost, hubsim: HubSimulator, method: bytes, name: str, target: bytes, status: int,
    code: str | None,
) -> None:
    before = served.hub_counters(hubsim)
    response = served.raw_request(
        fuzz_host.port, target, method=method, headers={"x-functions-key": fuzz_host.function_key}
    )
    assert served.hub_counters(hubsim) == before, f"{name}: reached the hub"
    assert response.status == status, (name, response.status, response.body[:300])
    assert "x-injected" not in response.headers
    text = response.body.decode("latin-1") + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    served.secrets(hubsim).assert_absent(text, name)
    if code is not None:
        assert response.headers.get("cache-control") == "no-store"
        if method == b"GET":
            error = json.loads(response.body)["error"]
            assert error["code"] == code
            assert error["jobId"] is None or error["jobId"] in ("job-active",)
            assert "\r" not in response.body.decode() and "\n" not in response.body.decode()


def test_no_key_is_refused_by_the_host_without_a_hub_call(fuzz_host: RunningFuncHost, hubsim: HubSimulator) -> None:
    before = served.hub_counters(hubsim)
    for headers in ({}, {"x-functions-key": "not-the-key"}):
        assert served.raw_request(fuzz_host.port, b"/api/jobs/job-active", headers=headers).status == 401
    assert served.raw_request(fuzz_host.port, b"/api/jobs/job-active?code=wrong").status == 401
    assert served.hub_counters(hubsim) == before


def test_the_corpus_ids_are_not_mistaken_for_seeded_jobs(fuzz_host: RunningFuncHost, hubsim: HubSimulator) -> None:
    """The control: the same host serves the seeded job itself, redacted."""
    response = served.raw_request(
        fuzz_host.port, b"/api/jobs/job-active", headers={"x-functions-key": fuzz_host.function_key}
    )
    assert response.status == 200
    body = json.loads(response.body)
    assert body["jobId"] == "job-active"
    served.secrets(hubsim).assert_absent(response.body.decode(), "the seeded job's answer")


@pytest.mark.parametrize("method", [b"TRACE", b"OPTIONS", b"PUT", b"DELETE", b"POST", b"PATCH"])
def test_an_undeclared_method_is_405_in_json_without_a_hub_call(
    fuzz_host: RunningFuncHost, hubsim: HubSimulator, method: bytes
) -> None:
    """From get_job itself (function.json routes every method to it), so Azure's host answers the same: a 405
    with Allow and the documented JSON error, never the local server's HTML 501 or the host's empty 404."""
    before = served.hub_counters(hubsim)
    response = served.raw_request(fuzz_host.port, b"/api/jobs/job-active", method=method,
                                  headers={"x-functions-key": fuzz_host.function_key})
    assert response.status == 405, (method, response.status, response.body[:200])
    assert response.headers.get("allow") == "GET, HEAD"
    assert response.headers.get("cache-control") == "no-store"
    assert response.headers.get("content-type", "").startswith("application/json")
    error = json.loads(response.body)["error"]
    assert (error["code"], error["jobId"]) == ("MethodNotAllowed", "job-active")
    assert served.raw_request(fuzz_host.port, b"/api/jobs/job-active", method=method).status == 401  # no key
    assert served.hub_counters(hubsim) == before
