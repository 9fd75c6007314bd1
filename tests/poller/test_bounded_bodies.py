"""Stored bodies are read bounded by the bytes that reach our code (issue 21, point 1): a blob stored with
Content-Encoding gzip is never unpacked by azure-core, only by us, in pieces, counting the unpacked bytes.

Against Azurite and the hub simulator; the poller runs in this process, so its peak memory is this process's,
read from /proc (VmHWM, reset through /proc/self/clear_refs)."""

from __future__ import annotations

import datetime
import gzip
import json
import logging
import zlib
from pathlib import Path

import pytest
from azure.storage.blob import ContentSettings

from shared.blob_reads import DECODED_PIECE_BYTES, STORED_BYTES, Cut, StoredBody
from shared.cache.store import SharedStore
from shared.poller.import_evidence import MAX_IMPORT_LOG_BYTES
from shared.poller.store import StateStore
from shared.reports.copies import ReportCopies, copy_blob_name
from shared.settings import AppSettings
from tests.support.poller import (
    PREFIX,
    PollerEnv,
    ago,
    blob_names,
    container_sas_uri,
    events,
    new_container,
    read_json,
    service,
)

MIB = 1024 * 1024
ERROR_LINE = json.dumps({"errorCode": 404001, "errorStatus": "Device bomb-1 not found."}).encode() + b"\n"
UNPACKED_MEMBERS = 1024  # gzip members of 1 MiB each: 1 GiB unpacked
PEAK_GROWTH_LIMIT = 100 * MIB


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """About 1 MiB stored, 1 GiB unpacked: a real error line, then spaces (one long line the summary cuts).
    Built from gzip members (RFC 1952 allows any number), each 1 MiB of spaces, so it takes milliseconds."""
    member = gzip.compress(b" " * MIB, compresslevel=9)
    return gzip.compress(ERROR_LINE) + member * UNPACKED_MEMBERS


def _upload(env: PollerEnv, container: str, name: str, data: bytes, encoding: str = "gzip") -> None:
    service(env.azurite).get_container_client(container).upload_blob(
        name, data, overwrite=True, content_settings=ContentSettings(content_encoding=encoding))


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"{field} is not in /proc/self/status")


def _reset_peak() -> int:
    """Reset this process's peak RSS to its current RSS (Linux 4.0+); the RSS in bytes."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS") * 1024


def _completed_import(job_id: str, uri: str) -> dict[str, object]:
    return {"jobId": job_id, "type": "import", "status": "completed", "progress": 100,
            "inputBlobContainerUri": uri, "outputBlobContainerUri": uri,
            "startTimeUtc": ago(minutes=10), "endTimeUtc": ago(seconds=0)}


@pytest.fixture
def neighbours(env: PollerEnv) -> tuple[str, str]:
    """Two other jobs of the hub: a failed import (a failure report) and a running export (a snapshot)."""
    failed, running = new_container(env.azurite), new_container(env.azurite)
    env.hubsim.control("devhub").seed_jobs([
        {"jobId": "neighbour-failed", "type": "import", "status": "failed", "progress": 30,
         "inputBlobContainerUri": container_sas_uri(env.azurite, failed),
         "outputBlobContainerUri": container_sas_uri(env.azurite, failed),
         "failureReason": "ErrorCode:ServerError;stopped",
         "startTimeUtc": ago(minutes=9), "endTimeUtc": ago(minutes=8)},
        {"jobId": "neighbour-running", "type": "export", "status": "running", "progress": 40,
         "outputBlobContainerUri": container_sas_uri(env.azurite, running), "startTimeUtc": ago(minutes=3)},
    ])
    return failed, running


def _assert_neighbours_served(env: PollerEnv, failed: str, running: str) -> None:
    assert read_json(env.azurite, failed, f"{PREFIX}/neighbour-failed/failure-report.json")["status"] == "failed"
    assert [n for n in blob_names(env.azurite, running, f"{PREFIX}/neighbour-running/snapshots/")]


def test_a_gzip_bomb_errors_log_is_cut_unpacked_and_the_report_says_why(
    env: PollerEnv, bomb: bytes, neighbours: tuple[str, str]
) -> None:
    """Before: azure-core unpacked the whole log (150 MiB from 447 KiB; the host grew by 529 MiB) and the report
    said nothing. Now: at most MAX_IMPORT_LOG_BYTES unpacked, in 64 KiB pieces, the report says it was cut and
    why, the tick's peak memory grows by less than 100 MiB, and the hub's other jobs get theirs in the tick."""
    container = new_container(env.azurite)
    _upload(env, container, "importErrors.log", bomb)
    assert len(bomb) < 1.1 * MIB
    env.hubsim.control("devhub").seed_jobs([_completed_import("bomb", container_sas_uri(env.azurite, container))])
    poller = env.poller()
    before = _reset_peak()
    assert poller.tick().hubs["devhub"].ok
    growth = _status_kib("VmHWM") * 1024 - before
    assert growth < PEAK_GROWTH_LIMIT, f"peak RSS grew by {growth / MIB:.0f} MiB"
    report = read_json(env.azurite, container, f"{PREFIX}/bomb/import-report.json")
    summary = report["importErrors"]
    assert summary["bytesRead"] == MAX_IMPORT_LOG_BYTES
    assert summary["countsByErrorCode"]["404001"] == 1
    note = report["importErrorsNote"]
    assert f"larger than {MAX_IMPORT_LOG_BYTES} bytes once unpacked from gzip" in note
    assert f"stored: {len(bomb)} bytes" in note and "truncated" in note
    _assert_neighbours_served(env, *neighbours)


@pytest.mark.parametrize("encoding", ["br", "gzip, gzip", "compress"])
def test_an_errors_log_in_an_encoding_we_do_not_decode_is_not_read_and_the_report_says_so(
    env: PollerEnv, neighbours: tuple[str, str], encoding: str
) -> None:
    container = new_container(env.azurite)
    _upload(env, container, "importErrors.log", ERROR_LINE * 3, encoding=encoding)
    env.hubsim.control("devhub").seed_jobs([_completed_import("encoded", container_sas_uri(env.azurite, container))])
    assert env.poller().tick().hubs["devhub"].ok
    report = read_json(env.azurite, container, f"{PREFIX}/encoded/import-report.json")
    assert report["importErrors"] is None
    assert f"stored with Content-Encoding {encoding!r}, which the monitor does not decode" in report["importErrorsNote"]
    _assert_neighbours_served(env, *neighbours)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_an_errors_log_stored_compressed_and_small_is_read_whole(env: PollerEnv, encoding: str) -> None:
    """A log someone stored compressed is still a log: read, unpacked by us, with no note."""
    container = new_container(env.azurite)
    packed = gzip.compress(ERROR_LINE * 3) if encoding == "gzip" else zlib.compress(ERROR_LINE * 3)
    _upload(env, container, "importErrors.log", packed, encoding=encoding)
    env.hubsim.control("devhub").seed_jobs([_completed_import("packed", container_sas_uri(env.azurite, container))])
    assert env.poller().tick().hubs["devhub"].ok
    report = read_json(env.azurite, container, f"{PREFIX}/packed/import-report.json")
    assert report["importErrors"]["totalLines"] == 3 and report["importErrorsNote"] is None


def test_a_gzip_bomb_in_the_apps_own_blobs_is_never_unpacked_past_their_bounds(env: PollerEnv, bomb: bytes) -> None:
    """The state, a report copy and a shared-cache entry, each replaced by the bomb: each read stops at its bound
    and treats the blob as not one of ours (the state is moved aside, the copy is no report, the entry is
    corrupt), with the process's peak memory growing by less than 100 MiB over the three reads."""
    settings: AppSettings = env.settings()
    state_container = service(env.azurite).get_container_client(env.state_container)
    state_container.create_container()
    store = StateStore(state_container)
    _upload(env, env.state_container, store.blob_name("devhub"), bomb)
    reports = service(env.azurite).get_container_client(env.reports_container)
    reports.create_container()
    _upload(env, env.reports_container, copy_blob_name("devhub", "j1"), bomb)
    shared = SharedStore(settings=settings.shared_cache)
    service(env.azurite).get_container_client(settings.shared_cache.container).create_container()
    _upload(env, settings.shared_cache.container, "jobs/bomb.json", bomb)
    before = _reset_peak()
    loaded = store.load("devhub", now=datetime.datetime.now(datetime.UTC))
    copy = ReportCopies(reports).get("devhub", "j1")
    entry = shared.read("jobs/bomb.json")
    growth = _status_kib("VmHWM") * 1024 - before
    assert growth < PEAK_GROWTH_LIMIT, f"peak RSS grew by {growth / MIB:.0f} MiB"
    assert loaded.moved_aside is not None and loaded.state.jobs == {}
    assert copy is None
    assert entry.data == b"" and entry.etag is not None


def test_the_clock_is_looked_at_inside_one_stored_piece_not_only_between_pieces(env: PollerEnv, bomb: bytes) -> None:
    """One stored piece (with this test's client, whose first download piece is 32 MiB, the whole 1 MiB bomb)
    unpacks to 1 GiB: a deadline that passes after three unpacked pieces of 64 KiB stops the read there, inside
    that stored piece, not after it."""
    container = new_container(env.azurite)
    _upload(env, container, "importErrors.log", bomb)
    looks = 0

    def expired() -> bool:
        nonlocal looks
        looks += 1
        return looks > 3

    blob = service(env.azurite).get_blob_client(container, "importErrors.log")
    body = StoredBody(blob.download_blob(offset=0, length=MAX_IMPORT_LOG_BYTES, **STORED_BYTES),
                      max_bytes=MAX_IMPORT_LOG_BYTES, expired=expired)
    pieces = list(body)
    assert body.cut is Cut.TIME
    assert len(pieces) == 3 and body.decoded == sum(map(len, pieces)) <= 3 * DECODED_PIECE_BYTES
    assert body.stored_read == len(bomb)  # the one stored piece, of which 192 KiB of 1 GiB were unpacked
    assert "could not be read within its time budget" in body.why("importErrors.log")


def test_an_input_that_unpacks_past_its_bound_is_not_counted_and_the_report_still_comes(
    env: PollerEnv, bomb: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """The import's input (devices.txt, counted for "3 of 10,000 lines rejected") stored as the gzip bomb: the
    count stops at its bound unpacked, the title goes without the total, and the log line says why."""
    caplog.set_level(logging.INFO, logger="jobmonitor.poller")
    inputs, outputs = new_container(env.azurite), new_container(env.azurite)
    _upload(env, inputs, "devices.txt", bomb)
    _upload(env, outputs, "importErrors.log", ERROR_LINE * 2, encoding="identity")
    job = _completed_import("bomb-input", container_sas_uri(env.azurite, outputs))
    job["inputBlobContainerUri"] = container_sas_uri(env.azurite, inputs)
    # Started as its input was written: an input written after the start is not this job's (issue 21, point 8).
    job["startTimeUtc"] = ago(seconds=0)
    env.hubsim.control("devhub").seed_jobs([job])
    before = _reset_peak()
    assert env.poller().tick().hubs["devhub"].ok
    growth = _status_kib("VmHWM") * 1024 - before
    assert growth < PEAK_GROWTH_LIMIT, f"peak RSS grew by {growth / MIB:.0f} MiB"
    report = read_json(env.azurite, outputs, f"{PREFIX}/bomb-input/import-report.json")
    assert (report["title"], report["inputLines"]) == ("import completed: 2 lines rejected", None)
    [not_counted] = events(caplog, "poller.input_not_counted")
    assert not_counted["error"] == "cut:size" and "once unpacked from gzip" in not_counted["message"]


@pytest.mark.parametrize("stored_whole", [False, True], ids=["cut-off-as-stored", "cut-by-our-read"])
def test_a_gzip_stream_that_stops_before_its_end_is_never_taken_for_the_whole_body(
    env: PollerEnv, stored_whole: bool
) -> None:
    """A job's creator can store a gzip body cut off mid-stream, and our own ranged read cuts a stored body that
    is larger than the bound: zlib then just stops, without an error. Either way the body is not whole, and the
    read says so (a summary or a count of part of a log must never pass for the whole)."""
    whole = gzip.compress(bytes(range(256)) * 64, mtime=0)  # 16 KiB that barely compresses
    container = new_container(env.azurite)
    stored = whole if stored_whole else whole[: len(whole) // 2]
    _upload(env, container, "importErrors.log", stored)
    limit = len(whole) // 2 if stored_whole else 1 << 20
    blob = service(env.azurite).get_blob_client(container, "importErrors.log")
    body = StoredBody(blob.download_blob(offset=0, length=limit, **STORED_BYTES), max_bytes=limit,
                      expired=lambda: False)
    list(body)
    assert body.cut is (Cut.SIZE if stored_whole else Cut.ENCODING)
    assert body.decoded < 256 * 64
