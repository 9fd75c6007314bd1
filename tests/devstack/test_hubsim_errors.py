"""Auth, validation, unknown ids and the one-active-job rule: IoT Hub-shaped errors, server keeps serving."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from azure.iot.hub.models import JobProperties
from msrest.exceptions import HttpOperationError

from devstack import tokens, wellknown
from devstack.azurite import AzuriteInfo
from devstack.hubsim import ErrorShape, HubSimulator
from devstack.hubsim.auth import make_sas
from tests.support.hubsim import API, assert_hub_error, auth_headers, container_sas, sdk

UNAUTHORIZED = "IotHubUnauthorizedAccess"


def _bearer(**overrides: Any) -> dict[str, str]:
    now = int(time.time())
    claims = {"aud": wellknown.IOTHUB_AUDIENCE, "iss": wellknown.TOKEN_ISSUER, "nbf": now - 60, "exp": now + 600}
    claims.update(overrides)
    key = claims.pop("key", wellknown.TOKEN_SIGNING_KEY)
    assert isinstance(key, bytes)
    return {"Authorization": f"Bearer {tokens.mint(claims, key=key)}"}


def _tampered_sas() -> str:
    good = make_sas("devhub")
    sig = good.split("sig=")[1].split("&")[0]
    return good.replace(sig, "A" + sig[1:] if sig[0] != "A" else "B" + sig[1:])


BAD_AUTH = {
    "none": {},
    # Long enough that a random tracking id in the answer cannot contain it by chance ("abc" once did).
    "garbage": {"Authorization": "NotAScheme garbage-credential-text"},
    "malformed_sas": {"Authorization": "SharedAccessSignature sr=devhub.azure-devices.net&sig=x"},
    "bad_sig": {"Authorization": _tampered_sas()},
    "wrong_key": auth_headers(key=wellknown.HUB_POLICY_KEYS["service"]),
    "expired_sas": auth_headers(expiry=int(time.time()) - 10),
    "unknown_policy": {"Authorization": make_sas("devhub", key=wellknown.HUB_POLICY_KEYS["service"]).replace(
        "skn=iothubowner", "skn=nobody")},
    "wrong_hub": auth_headers("otherhub"),
    "bearer_bad_sig": _bearer(key=b"not-the-key"),
    "bearer_expired": _bearer(exp=int(time.time()) - 5),
    "bearer_wrong_audience": _bearer(aud=wellknown.STORAGE_AUDIENCE),
    "bearer_garbage": {"Authorization": "Bearer not.a.jwt"},
}


@pytest.mark.parametrize("case", sorted(BAD_AUTH))
def test_bad_credentials_are_refused(hubsim_clean: HubSimulator, case: str) -> None:
    url = hubsim_clean.hub_url("devhub")
    headers = BAD_AUTH[case]
    response = requests.get(f"{url}/jobs?{API}", headers=headers, timeout=5)
    body = assert_hub_error(response, 401, UNAUTHORIZED)
    credential = headers.get("Authorization", "")
    secret = credential.split(" ", 1)[-1]
    if secret:
        assert secret not in response.text
        assert "sig=" not in body["Message"]
    assert requests.get(f"{url}/jobs?{API}", headers=auth_headers(), timeout=5).status_code == 200


def test_good_credentials(hubsim_clean: HubSimulator) -> None:
    url = hubsim_clean.hub_url("devhub")
    for headers in (
        _bearer(),
        auth_headers(policy="registryRead"),
        auth_headers(resource_path="/jobs"),  # sr with a trailing path
        {"Authorization": make_sas("DevHub")},  # host case does not matter
    ):
        assert requests.get(f"{url}/jobs?{API}", headers=headers, timeout=5).status_code == 200


def test_the_service_policy_cannot_read_jobs(hubsim_clean: HubSimulator) -> None:
    """`service` has only ServiceConnect; reading jobs needs Registry Read (the harder case)."""
    url = hubsim_clean.hub_url("devhub")
    response = requests.get(f"{url}/jobs?{API}", headers=auth_headers(policy="service"), timeout=5)
    assert_hub_error(response, 401, UNAUTHORIZED)


def test_read_policy_cannot_create_or_cancel(hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> None:
    url = hubsim_clean.hub_url("devhub")
    _, output = container_sas(azurite)
    with pytest.raises(HttpOperationError) as refused:
        sdk(url, policy="registryRead").create_import_export_job(
            JobProperties(type="export", output_blob_container_uri=output)
        )
    assert refused.value.response.status_code == 401
    assert refused.value.response.headers["iothub-errorcode"] == UNAUTHORIZED
    response = requests.delete(f"{url}/jobs/x?{API}", headers=auth_headers(policy="service"), timeout=5)
    assert_hub_error(response, 401, UNAUTHORIZED)


@pytest.mark.parametrize("query", ["", "?api-version=1999-01-01", "?api-version=", "?other=1"])
def test_missing_or_unknown_api_version(hubsim_clean: HubSimulator, query: str) -> None:
    url = hubsim_clean.hub_url("devhub")
    for method, path in (("GET", "/jobs"), ("GET", "/jobs/x"), ("DELETE", "/jobs/x"), ("POST", "/jobs/create")):
        response = requests.request(method, f"{url}{path}{query}", headers=auth_headers(), json={}, timeout=5)
        assert_hub_error(response, 400, "ArgumentInvalid")


def test_unknown_ids(hubsim_clean: HubSimulator) -> None:
    url = hubsim_clean.hub_url("devhub")
    for method in ("GET", "DELETE"):
        response = requests.request(method, f"{url}/jobs/nope?{API}", headers=auth_headers(), timeout=5)
        assert_hub_error(response, 404, "JobNotFound")
    with pytest.raises(HttpOperationError) as missing:
        sdk(url).get_import_export_job("nope")
    assert missing.value.response.status_code == 404


MALFORMED = {
    "not_json": b"{nope",
    "empty": b"",
    "array": b"[]",
    "string": b'"export"',
    "no_type": b'{"outputBlobContainerUri": "http://x/y"}',
    "bad_type": b'{"type": "backup", "outputBlobContainerUri": "http://x/y"}',
    "no_output": b'{"type": "export"}',
    "output_not_uri": b'{"type": "export", "outputBlobContainerUri": "nope"}',
    "import_without_input": b'{"type": "import", "outputBlobContainerUri": "http://x/y"}',
    "bad_auth_type": b'{"type": "export", "outputBlobContainerUri": "http://x/y", "storageAuthenticationType": "x"}',
    "bad_bool": b'{"type": "export", "outputBlobContainerUri": "http://x/y", "excludeKeysInExport": "yes"}',
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_create_bodies(hubsim_clean: HubSimulator, case: str) -> None:
    url = hubsim_clean.hub_url("devhub")
    headers = {**auth_headers(), "Content-Type": "application/json"}
    response = requests.post(f"{url}/jobs/create?{API}", data=MALFORMED[case], headers=headers, timeout=5)
    assert_hub_error(response, 400, "ArgumentInvalid")
    assert requests.get(f"{url}/jobs?{API}", headers=auth_headers(), timeout=5).json() == []


def test_one_active_job_per_hub_and_duplicate_ids(hubsim_clean: HubSimulator, azurite: AzuriteInfo) -> None:
    url = hubsim_clean.hub_url("devhub")
    hubsim_clean.control("devhub").set_timing(enqueued_ms=5000)
    _, output = container_sas(azurite)
    body = {"type": "export", "outputBlobContainerUri": output, "jobId": "first"}
    assert requests.post(f"{url}/jobs/create?{API}", json=body, headers=auth_headers(), timeout=5).status_code == 200
    duplicate = requests.post(f"{url}/jobs/create?{API}", json=body, headers=auth_headers(), timeout=5)
    assert_hub_error(duplicate, 409, "JobAlreadyExists")
    create = f"{url}/jobs/create?{API}"
    second = requests.post(create, json={**body, "jobId": "second"}, headers=auth_headers(), timeout=5)
    assert "403003" in assert_hub_error(second, 403, "JobQuotaExceeded")["Message"]
    with pytest.raises(HttpOperationError) as refused:
        sdk(url).create_import_export_job(JobProperties(type="export", output_blob_container_uri=output))
    assert refused.value.response.status_code == 403
    # Another hub is not affected; cancelling frees the slot.
    other = hubsim_clean.hub_url("otherhub")
    assert requests.post(
        f"{other}/jobs/create?{API}", json=body, headers=auth_headers("otherhub"), timeout=5
    ).status_code == 200
    requests.delete(f"{url}/jobs/first?{API}", headers=auth_headers(), timeout=5)
    third = requests.post(create, json={**body, "jobId": "third"}, headers=auth_headers(), timeout=5)
    assert third.status_code == 200


def test_identity_based_without_identity_is_refused(hubsim_clean: HubSimulator) -> None:
    # The hubsim fixture has an identity; a bare hub shows the refusal.
    from devstack.hubsim import HubConfig, SimulatorConfig

    with HubSimulator(SimulatorConfig(hubs=(HubConfig(name="devhub"),))) as bare:
        body = {"type": "export", "outputBlobContainerUri": "https://x/y", "storageAuthenticationType": "identityBased"}
        response = requests.post(
            f"{bare.hub_url('devhub')}/jobs/create?{API}", json=body, headers=auth_headers(), timeout=5
        )
        assert_hub_error(response, 400, "ManagedIdentityNotEnabled")


def test_unknown_paths_and_wrong_methods(hubsim_clean: HubSimulator) -> None:
    url = hubsim_clean.hub_url("devhub")
    for path in ("/", "/devices", "/jobs/v2/x/y", "/jobs/a/b"):
        assert_hub_error(requests.get(f"{url}{path}?{API}", headers=auth_headers(), timeout=5), 404, "NotFound")
    for method, path, allow in (
        ("POST", "/jobs", "GET"),
        ("GET", "/jobs/create", "POST"),
        ("PUT", "/jobs/x", "GET, DELETE"),
        ("PATCH", "/jobs/x", "GET, DELETE"),
    ):
        response = requests.request(method, f"{url}{path}?{API}", headers=auth_headers(), timeout=5)
        assert_hub_error(response, 405, "MethodNotAllowed")
        assert response.headers["Allow"] == allow
    assert hubsim_clean.control("devhub").counters()["other"] == 6  # only /jobs requests count


def test_error_body_shapes(hubsim_clean: HubSimulator) -> None:
    """The three shapes IoT Hub has been seen answering errors in, switched per hub."""
    url = hubsim_clean.hub_url("devhub")
    control = hubsim_clean.control("devhub")

    def missing() -> requests.Response:
        response = requests.get(f"{url}/jobs/missing?{API}", headers=auth_headers(), timeout=5)
        assert response.status_code == 404
        assert response.headers["iothub-errorcode"] == "JobNotFound"
        assert response.headers["x-ms-request-id"]
        return response

    control.set_error_shape(ErrorShape.NUMERIC)
    numeric = missing().json()
    assert set(numeric) == {"errorCode", "trackingId", "message", "timestampUtc"}
    assert numeric["errorCode"] == 404002 and numeric["trackingId"]
    control.set_error_shape(ErrorShape.NESTED)
    nested = json.loads(missing().json()["Message"])
    assert nested["errorCode"] == 404002 and nested["trackingId"]
    control.set_error_shape(ErrorShape.HEADER_ONLY)
    assert missing().content == b""
    control.set_error_shape(ErrorShape.MESSAGE)
    assert_hub_error(missing(), 404, "JobNotFound")


def test_local_auth_disabled_refuses_sas_but_not_bearer_tokens(hubsim_clean: HubSimulator) -> None:
    url = hubsim_clean.hub_url("devhub")
    hubsim_clean.control("devhub").set_local_auth_disabled(True)
    assert_hub_error(requests.get(f"{url}/jobs?{API}", headers=auth_headers(), timeout=5), 401, UNAUTHORIZED)
    assert requests.get(f"{url}/jobs?{API}", headers=_bearer(), timeout=5).status_code == 200
