"""The storage front's control API: rules by container or by blob, validated, lifted and reset."""

from __future__ import annotations

import pytest
import requests
from azure.core.exceptions import HttpResponseError

from devstack.storagefront import Denial
from tests.fixtures.storagefront import FrontedStorage
from tests.support.poller import new_container, service


def test_rules_apply_per_container_and_reset(storage_front: FrontedStorage) -> None:
    denied, open_ = new_container(storage_front.info), new_container(storage_front.info)
    storage_front.control.deny(denied, Denial.FIREWALL)
    with pytest.raises(HttpResponseError) as refused:
        service(storage_front.info).get_container_client(denied).upload_blob("x", b"x")
    assert (refused.value.status_code, getattr(refused.value, "error_code", None)) == (403, "AuthorizationFailure")
    service(storage_front.info).get_container_client(open_).upload_blob("x", b"x")  # shared key, passed through
    assert storage_front.control.counters()["denied AuthorizationFailure"] == 1
    storage_front.control.reset()
    service(storage_front.info).get_container_client(denied).upload_blob("x", b"x")


def test_a_rule_for_one_blob_leaves_the_rest_of_the_container_alone(storage_front: FrontedStorage) -> None:
    container = service(storage_front.info).get_container_client(new_container(storage_front.info))
    container.upload_blob("logs/importErrors.log", b"line\n")
    storage_front.control.deny(container.container_name, Denial.FIREWALL, blob="logs/importErrors.log")
    with pytest.raises(HttpResponseError) as refused:
        container.download_blob("logs/importErrors.log").readall()
    assert (refused.value.status_code, getattr(refused.value, "error_code", None)) == (403, "AuthorizationFailure")
    container.upload_blob("jobmonitor/j/latest.json", b"{}")
    assert container.download_blob("jobmonitor/j/latest.json").readall() == b"{}"
    storage_front.control.allow(container.container_name, blob="logs/importErrors.log")
    assert container.download_blob("logs/importErrors.log").readall() == b"line\n"


def test_bad_control_requests_are_refused(storage_front: FrontedStorage) -> None:
    base = f"http://127.0.0.1:{storage_front.info.port}/devstack"
    assert requests.post(f"{base}/deny", json={"container": "c", "code": "Nope"}, timeout=5).status_code == 400
    assert requests.post(f"{base}/deny", json={}, timeout=5).status_code == 400
    assert requests.get(f"{base}/nothing", timeout=5).status_code == 404
