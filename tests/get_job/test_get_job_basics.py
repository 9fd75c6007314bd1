"""get_job against the simulator over real HTTP: answers, redaction, ETags, hubs, bad input."""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Callable

import pytest

from devstack.hubsim import HubSimulator
from shared.proxy.handler import JobProxy
from tests.support.get_job import HUBS, OUTPUT_URI, SIG, get, hub_calls, seed
from tests.support.secrets import Secrets, planted


def test_job_is_returned_redacted_with_unknown_fields(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], caplog: pytest.LogCaptureFixture
) -> None:
    job = seed(hubsim_clean, statusMessage="halfway")
    response = get(make_proxy())
    assert response.status_code == 200
    body = json.loads(response.body)
    assert body["outputBlobContainerUri"] == OUTPUT_URI.replace(SIG, "REDACTED")
    assert body["parentJobId"] == "parent-7" and body["statusMessage"] == "halfway"
    assert {k: v for k, v in body.items() if k != "outputBlobContainerUri"} == {
        k: v for k, v in job.items() if k != "outputBlobContainerUri"
    } | {k: body[k] for k in body.keys() - job.keys()}
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["ETag"].startswith('"')
    assert hub_calls(hubsim_clean) == 1
    line = next(json.loads(r.getMessage()) for r in caplog.records if r.name == "get_job")
    assert line | {"durationMs": 0} == {
        "event": "get_job", "jobId": "job-1", "hub": "devhub", "method": "GET", "status": 200,
        "upstreamStatus": 200, "cache": "miss", "attempts": 1, "durationMs": 0,
        "upstreamTrackingId": line["upstreamTrackingId"], "error": None,
    }
    assert line["upstreamTrackingId"]


def test_secrets_planted_in_any_field_never_come_back(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], planted_secrets: Secrets
) -> None:
    """Device keys in a dict field, a signature in a once-encoded URI, a connection string's AccountKey, a
    parameter named %53Ig: the scan at the end of the test looks for each planted value in every encoding, in
    the answer's body and headers and in every log line. What is not secret stays readable."""
    device_key, account_key, signature = planted("get_job device key"), planted("get_job account key"), planted(
        "get_job signature")
    planted_secrets.update([("device key", device_key), ("account key", account_key), ("signature", signature)])
    quoted = urllib.parse.quote(signature, safe="")
    signed = f"https://acct.blob.core.windows.net/in?sv=2021-08-06&sr=c&sp=rl&sig={quoted}"
    seed(hubsim_clean, status="failed", progress=100,
         authentication={"symmetricKey": {"primaryKey": device_key, "secondaryKey": device_key}, "type": "sas"},
         failureReason="ErrorCode:BlobContainerValidationError;next=" + urllib.parse.quote(signed, safe=""),
         statusMessage=f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={account_key}",
         inputBlobContainerUri=signed.replace("&sig=", "&%53Ig="))
    response = get(make_proxy())
    assert response.status_code == 200
    body = json.loads(response.body)
    assert body["authentication"] == {"symmetricKey": {"primaryKey": "REDACTED", "secondaryKey": "REDACTED"},
                                      "type": "sas"}
    assert body["inputBlobContainerUri"] == signed.replace(f"&sig={quoted}", "&%53Ig=REDACTED")
    assert body["failureReason"].startswith("ErrorCode:BlobContainerValidationError;next=https%3A%2F%2Facct.")


def test_redaction_can_be_switched_off(hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]) -> None:
    seed(hubsim_clean)
    body = json.loads(get(make_proxy(GET_JOB_REDACT_SAS="false"), scan=False).body)
    assert body["outputBlobContainerUri"] == OUTPUT_URI


def test_etag_and_if_none_match(hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]) -> None:
    seed(hubsim_clean, status="completed", progress=100)
    proxy = make_proxy()
    first = get(proxy)
    etag = first.headers["ETag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = get(proxy, headers={"if-none-match": header})
        assert again.status_code == 304 and again.body == b"" and again.headers["ETag"] == etag
    assert get(proxy, headers={"if-none-match": '"stale"'}).status_code == 200
    head = get(proxy, method="HEAD")
    assert head.status_code == 200 and head.body == b"" and head.headers["ETag"] == etag


def test_hub_selection(hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]) -> None:
    seed(hubsim_clean, "devhub", jobId="on-dev", status="completed")
    seed(hubsim_clean, "otherhub", jobId="on-other", status="completed")
    proxy = make_proxy()
    assert get(proxy, "on-dev").status_code == 200
    assert get(proxy, "on-other", params={"hub": "otherhub"}).status_code == 200
    assert get(proxy, "on-other", params={"hub": "OTHERHUB"}).status_code == 200
    assert get(proxy, "on-other").status_code == 404  # the default hub is the first configured
    unknown = get(proxy, "on-dev", params={"hub": "nohub"})  # well-formed, not configured: nothing by that name
    assert unknown.status_code == 404
    assert json.loads(unknown.body)["error"]["code"] == "UnknownHub"
    malformed = get(proxy, "on-dev", params={"hub": "devhub,otherhub"})  # a repeated parameter, joined
    assert malformed.status_code == 400
    assert json.loads(malformed.body)["error"]["code"] == "UnknownHub"


def test_unknown_job_is_404_with_the_hubs_tracking_id(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]
) -> None:
    response = get(make_proxy(), "no-such-job")
    assert response.status_code == 404
    error = json.loads(response.body)["error"]
    assert error["code"] == "JobNotFound" and error["jobId"] == "no-such-job" and error["hub"] == "devhub"
    assert error["upstreamTrackingId"]
    assert hub_calls(hubsim_clean) == 1


def test_non_default_api_version_reaches_the_hub(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy]
) -> None:
    seed(hubsim_clean, status="completed")
    assert get(make_proxy(), params={"api-version": "2020-09-30", "unknown": "ignored"}).status_code == 200


BAD_JOB_IDS = [
    "", " ", "..", ".", "../jobs", "a/b", "a\\b", "%2e%2e%2f", "a%2Fb", "a\x00b", "a\r\nSet-Cookie: x=1", "a b",
    "jöb", "јob",  # noqa: RUF001 - a Cyrillic j, on purpose
    "x" * 129, "x" * 10_000, "abc?api-version=x", "abc#frag", "-abc", "_abc", "a..b", "a;b", "a\tb",
]


@pytest.mark.parametrize("job_id", BAD_JOB_IDS)
def test_bad_job_ids_are_400_and_never_reach_the_hub(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], job_id: str
) -> None:
    response = get(make_proxy(), job_id)
    assert response.status_code == 400
    error = json.loads(response.body)["error"]
    assert error["code"] == "InvalidJobId" and error["jobId"] is None
    assert sum(hubsim_clean.control(h).counters()["total"] for h in HUBS) == 0


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"api-version": "2099-01-01"}, 400, "InvalidApiVersion"),
        ({"api-version": "2021-04-12;x"}, 400, "InvalidApiVersion"),
        ({"api-version": " 2021-04-12"}, 400, "InvalidApiVersion"),
        ({"hub": "unknown-hub"}, 404, "UnknownHub"),  # a hub name, just not a configured one
        ({"hub": "../devhub"}, 400, "UnknownHub"),
        ({"hub": "devhub.evil.com"}, 400, "UnknownHub"),
        ({"hub": "x" * 500}, 400, "UnknownHub"),
    ],
)
def test_bad_parameters_are_refused_and_never_reach_the_hub(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], params: dict[str, str], status: int, code: str
) -> None:
    response = get(make_proxy(), params=params)
    assert response.status_code == status
    assert json.loads(response.body)["error"]["code"] == code
    assert sum(hubsim_clean.control(h).counters()["total"] for h in HUBS) == 0


def test_bad_input_is_logged_without_the_input(
    hubsim_clean: HubSimulator, make_proxy: Callable[..., JobProxy], caplog: pytest.LogCaptureFixture
) -> None:
    get(make_proxy(), "a\r\nInjected: yes")
    lines = [r.getMessage() for r in caplog.records if r.name == "get_job"]
    assert len(lines) == 1 and "\n" not in lines[0] and "Injected" not in lines[0]
    assert caplog.records[-1].levelno == logging.INFO
