"""schemathesis, driven by openapi.yaml, against get_job in the local Functions host over real HTTP.

Each generated request (GET and HEAD, positive and negative data) is checked for:
- conformance to the spec: status code, content type, headers (Retry-After on 429/503), body schema;
- negative data rejected (4xx), authentication enforced by the host;
- no 5xx but the documented upstream ones (502/503/504, only while a hub fault was injected);
- no signature, key or token in the answer, its headers, or (at the end) the host's log;
- a request refused with 400/401 (or by the host's router, 404) made no hub call at all (simulator counters).

Deterministic: Hypothesis derandomised with no example database, FUZZ_EXAMPLES examples per mode
(default 100; `make fuzz` raises it). Figures are printed at the end of the module.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    ensure_resource_availability,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
    use_after_free,
)

from devstack.hubsim import HubSimulator
from devstack.hubsim.vocab import FaultKind
from tests.fixtures.funchost import RunningFuncHost
from tests.support import served
from tests.support.served import SEEDED

pytestmark = pytest.mark.slow

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
SCHEMA = schemathesis.openapi.from_path(served.REPO / "openapi.yaml")
OPERATIONS = SCHEMA["/jobs/{jobId}"]
# Every check schemathesis has (tests/fuzz/test_schemathesis_all_checks.py runs its own runner with them all,
# over its coverage phase too); not_a_server_error only where no hub fault was injected (the documented
# 502/503/504 answer those).
CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    missing_required_header,
    unsupported_method,
    allow_header_conformance,
    use_after_free,
    ensure_resource_availability,
    ignored_auth,
]
UPSTREAM_STATUSES = {502, 503, 504}
# Faults the fuzzer may inject into the hubs before a request (with a read timeout of 0.5 s in the
# host, SLOW with 800 ms is a timeout).
FAULTS = (FaultKind.THROTTLE, FaultKind.SERVER_ERROR, FaultKind.UNAVAILABLE, FaultKind.DROP, FaultKind.MALFORMED,
          FaultKind.SLOW)


@dataclass
class Figures:
    examples: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)  # "kind -> status answered"
    refused_without_hub_call: int = 0


FIGURES = Figures()


def strategy(mode: GenerationMode) -> st.SearchStrategy[Any]:
    return st.one_of(OPERATIONS["GET"].as_strategy(mode), OPERATIONS["HEAD"].as_strategy(mode))


def steer(data: st.DataObject, case: Any) -> None:
    """Positive data alone almost never names a seeded job or a configured hub: half the time, aim at them."""
    if not data.draw(st.booleans(), label="steer"):
        return
    case.path_parameters["jobId"] = data.draw(st.sampled_from([*SEEDED, "no-such-job"]), label="jobId")
    hub = data.draw(st.sampled_from([None, *served.HUBS]), label="hub")
    query = dict(case.query or {})
    query.pop("hub", None)
    if hub is not None:
        query["hub"] = hub
    case.query = query


def header(response: schemathesis.Response, name: str) -> str | None:
    values = response.headers.get(name.lower())
    return ", ".join(values) if values else None


def host_generated(response: schemathesis.Response) -> bool:
    """The host's own answers (no route, no key, wrong method), as opposed to get_job's, which always
    carry Cache-Control: no-store."""
    return header(response, "Cache-Control") != "no-store"


def exercise(host: RunningFuncHost, hubsim: HubSimulator, data: st.DataObject, mode: GenerationMode) -> None:
    case = data.draw(strategy(mode), label="case")
    if mode is GenerationMode.POSITIVE:
        steer(data, case)
    # About one request in four finds every configured hub failing once, in one of the FAULTS ways.
    fault = data.draw(st.sampled_from([None] * 3 * len(FAULTS) + list(FAULTS)), label="fault")
    if fault is not None:
        for hub in served.HUBS:
            delay_ms = 800 if fault is FaultKind.SLOW else 0
            hubsim.control(hub).queue_fault(fault, retry_after=1, wait_seconds=1, delay_ms=delay_ms)
    key = {"x-functions-key": host.function_key}
    base_url = f"{host.url}/api"
    before = served.hub_counters(hubsim)
    try:
        response = case.call(base_url=base_url, headers=key, timeout=30)
        after = served.hub_counters(hubsim)
    finally:
        if fault is not None:  # an unconsumed fault must not leak into the next example
            for hub in served.HUBS:
                hubsim.control(hub).reset()
    FIGURES.examples[f"{mode.value} {case.method}"] += 1
    FIGURES.statuses[response.status_code] += 1
    if fault is not None:
        FIGURES.faults[f"{fault.value}->{response.status_code}"] += 1
    detail = f"{case.method} {response.request.url} -> {response.status_code} {response.text[:300]!r}"

    # No 5xx except the documented upstream answers, and those only while the hub was failing.
    if response.status_code >= 500:
        assert fault is not None and response.status_code in UPSTREAM_STATUSES, detail
        if case.method == "GET":
            assert response.json()["error"]["code"].startswith("Upstream"), detail
    # Nothing secret comes back.
    exposed = response.text + "\n" + "\n".join(f"{k}: {v}" for k, vs in response.headers.items() for v in vs)
    served.secrets(hubsim).assert_absent(exposed, detail)
    # Refused requests never reach a hub.
    if response.status_code in (400, 401) or (response.status_code == 404 and host_generated(response)):
        assert after == before, detail
        FIGURES.refused_without_hub_call += 1
    # The spec's own checks (ignored_auth re-sends without the key; it must get 401).
    if not (response.status_code == 404 and host_generated(response)):
        checks = CHECKS if fault is not None else [*CHECKS, not_a_server_error]
        case.validate_response(
            response, checks=checks, headers=key, transport_kwargs={"base_url": base_url, "headers": key}
        )


FUZZ_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module", autouse=True)
def report_figures(fuzz_host: RunningFuncHost, hubsim: HubSimulator) -> Iterator[None]:
    yield
    log = fuzz_host.log()
    secrets = served.secrets(hubsim)
    leaks = [line for line in log.splitlines() if secrets.found_in(line)]
    print(
        f"\nfuzz: {sum(FIGURES.examples.values())} requests ({dict(FIGURES.examples)}), statuses "
        f"{dict(sorted(FIGURES.statuses.items()))}, faults injected {dict(FIGURES.faults)}, "
        f"refused without a hub call {FIGURES.refused_without_hub_call}, host log lines {len(log.splitlines())}, "
        f"log lines with a secret {len(leaks)}"
    )
    assert leaks == []


@FUZZ_SETTINGS
@given(data=st.data())
def test_fuzz_positive(fuzz_host: RunningFuncHost, hubsim: HubSimulator, data: st.DataObject) -> None:
    exercise(fuzz_host, hubsim, data, GenerationMode.POSITIVE)


@FUZZ_SETTINGS
@given(data=st.data())
def test_fuzz_negative(fuzz_host: RunningFuncHost, hubsim: HubSimulator, data: st.DataObject) -> None:
    exercise(fuzz_host, hubsim, data, GenerationMode.NEGATIVE)


def test_host_log_has_no_secret(fuzz_host: RunningFuncHost, hubsim: HubSimulator) -> None:
    """Runs after the fuzz tests of this module: every line the host and get_job logged is clean."""
    log = fuzz_host.log()
    assert '"event":"get_job"' in log
    served.secrets(hubsim).assert_absent(log, "the host's log")
