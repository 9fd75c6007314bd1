"""The storage front's control API: rules by container, validated, and reset."""

from __future__ import annotations

import pytest
import requests

from devstack.storagefront import Denial
from tests.fixtures.storagefront import FrontedStorage
from tests.support.poller import new_container, service


def test_rules_apply_per_container_and_reset(storage_front: FrontedStorage) -> None:
    denied, open_ = new_container(storage_front.info), new_container(storage_front.info)
    storage_front.control.deny(denied, Denial.FIREWALL)
    with pytest.raises(Exception, match="AuthorizationFailure"):
        service(storage_front.info).get_container_client(denied).upload_blob("x", b"x")
    service(storage_front.info).get_container_client(open_).upload_blob("x", b"x")  # shared key, passed through
    assert storage_front.control.counters()["denied AuthorizationFailure"] == 1
    storage_front.control.reset()
    service(storage_front.info).get_container_client(denied).upload_blob("x", b"x")


def test_bad_control_requests_are_refused(storage_front: FrontedStorage) -> None:
    base = f"http://127.0.0.1:{storage_front.info.port}/devstack"
    assert requests.post(f"{base}/deny", json={"container": "c", "code": "Nope"}, timeout=5).status_code == 400
    assert requests.post(f"{base}/deny", json={}, timeout=5).status_code == 400
    assert requests.get(f"{base}/nothing", timeout=5).status_code == 404
