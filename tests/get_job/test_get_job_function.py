"""The function itself: main() with real azure.functions objects, settings errors, cold start, spec."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import jsonschema
import pytest
import yaml

import get_job
from devstack.hubsim import HubSimulator
from shared.proxy.answers import ApiErrorCode
from shared.proxy.handler import default_job_proxy
from tests.support.get_job import SIG, seed
from tests.support.secrets import Secrets, seen_by_stand_ins

REPO = Path(__file__).resolve().parents[2]
SPEC = yaml.safe_load((REPO / "openapi.yaml").read_text())


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, hub_env: dict[str, str]) -> Iterator[dict[str, str]]:
    for name, value in hub_env.items():
        monkeypatch.setenv(name, value)
    default_job_proxy.reset()
    yield hub_env
    default_job_proxy.reset()


def _request(job_id: str, **params: str) -> func.HttpRequest:
    return func.HttpRequest(
        "GET", f"http://localhost:7071/api/jobs/{job_id}", headers={"x-functions-key": "k"}, params=params,
        route_params={"jobId": job_id}, body=b"",
    )


def _openapi_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema → JSON Schema: resolve $ref, turn nullable into a type list."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = SPEC
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return _openapi_schema(target)
        out = {k: _openapi_schema(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable"):
            out["type"] = [node["type"], "null"]
        return out
    if isinstance(node, list):
        return [_openapi_schema(item) for item in node]
    return node


def assert_matches_spec(response: func.HttpResponse) -> None:
    declared = SPEC["paths"]["/jobs/{jobId}"]["get"]["responses"]
    assert str(response.status_code) in declared, f"{response.status_code} is not in openapi.yaml"
    spec = _openapi_schema(declared[str(response.status_code)])
    for header, definition in spec.get("headers", {}).items():
        if definition.get("required"):
            assert header in response.headers
    content = spec.get("content", {}).get("application/json")
    if content:
        jsonschema.validate(json.loads(response.get_body()), content["schema"])


def function_answer(response: func.HttpResponse) -> str:
    """The function's answer as a secret scan reads it: headers and body."""
    head = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
    return f"{head}\n\n{response.get_body().decode('utf-8', 'replace')}"


def test_main_serves_a_job_and_matches_the_spec(hubsim_clean: HubSimulator, app_env: dict[str, str]) -> None:
    seed(hubsim_clean, status="completed", progress=100)
    response = get_job.main(_request("job-1"))
    assert response.status_code == 200
    secrets = seen_by_stand_ins(hubsim=hubsim_clean)
    secrets.add("seeded SAS signature", SIG)
    secrets.assert_absent(function_answer(response), "the function's answer")
    assert json.loads(response.get_body())["status"] == "completed"
    assert_matches_spec(response)


@pytest.mark.parametrize(
    ("job_id", "params", "status"),
    [("no-such-job", {}, 404), ("..", {}, 400), ("job-1", {"hub": "nope"}, 404), ("job-1", {"hub": "no.pe"}, 400),
     ("job-1", {"api-version": "1"}, 400)],
)
def test_main_errors_match_the_spec(
    hubsim_clean: HubSimulator, app_env: dict[str, str], job_id: str, params: dict[str, str], status: int
) -> None:
    seed(hubsim_clean)
    response = get_job.main(_request(job_id, **params))
    assert response.status_code == status
    assert_matches_spec(response)


def test_upstream_error_answers_match_the_spec(
    hubsim_clean: HubSimulator, app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each fault its own status, one after the other on the function's own proxy: each call reaches the hub
    (an error is not kept), and each answer is the one openapi.yaml declares for it."""
    from devstack.hubsim.vocab import FaultKind

    seed(hubsim_clean)
    monkeypatch.setenv("IOTHUB_MAX_ATTEMPTS", "1")
    default_job_proxy.reset()
    control = hubsim_clean.control("devhub")
    for calls, (kind, status) in enumerate(
            ((FaultKind.THROTTLE, 429), (FaultKind.SERVER_ERROR, 502), (FaultKind.UNAVAILABLE, 503)), 1):
        control.queue_fault(kind, retry_after=1)
        response = get_job.main(_request("job-1"))
        assert response.status_code == status, kind
        assert control.counters()["get"] == calls
        assert_matches_spec(response)


def test_invalid_settings_answer_500_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOTHUB_HUBS", "devhub")
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    monkeypatch.setenv("IOTHUB_AUTH", "sharedAccessPolicy")
    monkeypatch.setenv(
        "IOTHUB_CONNECTION_STRINGS", "HostName=other.azure-devices.net;SharedAccessKeyName=a;SharedAccessKey=c2VjcmV0"
    )
    default_job_proxy.reset()
    response = get_job.main(_request("job-1"))
    default_job_proxy.reset()
    assert response.status_code == 500
    error = json.loads(response.get_body())["error"]
    assert error["code"] == "ConfigurationError" and "IOTHUB_CONNECTION_STRINGS" in error["message"]
    secrets = Secrets()
    secrets.add("the setting's policy key", "c2VjcmV0")
    secrets.assert_absent(function_answer(response), "the function's answer")
    assert_matches_spec(response)


def test_the_spec_lists_every_error_code() -> None:
    documented = set(SPEC["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"])
    assert documented == {code.value for code in ApiErrorCode}


def test_function_json_routes_every_method_to_the_function() -> None:
    """Azure's host answers a method missing from `methods` with an empty 404 (azure-functions-host #10098): every
    method is routed to get_job, which answers the undeclared ones 405 in JSON (docs/get_job.md)."""
    binding = json.loads((REPO / "get_job" / "function.json").read_text())["bindings"][0]
    assert set(binding["methods"]) == {"get", "head", "post", "put", "delete", "patch", "options", "trace"}
    assert binding["route"] == "jobs/{jobId}"
    assert binding["authLevel"] == "function"


def test_importing_get_job_loads_nothing_it_does_not_use() -> None:
    code = (
        "import sys, get_job; "
        "print(sorted({m.split('.')[0] + '.' + m.split('.')[1] for m in sys.modules "
        "if m.startswith('azure.') and m.count('.') >= 1}))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    modules = loaded.stdout.strip()
    assert "azure.storage" not in modules and "azure.identity" not in modules
