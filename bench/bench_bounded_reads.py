"""A tick that meets a decompression bomb: peak memory, as a ratio against the same tick meeting a plain log.

One hub (the simulator in its own process), Azurite, the poller in this process. Three ticks of a fresh poller,
each over one completed import whose importErrors.log is:
  - plain: about 1 MiB of error lines, stored as they are (the baseline);
  - bomb: about 1 MiB stored with Content-Encoding gzip, 1 GiB unpacked (issue 21, point 1);
then azure-core's own unpacking of the same bomb (a download without `decompress=False`, the read before
issue 21), stopped at 256 MiB so the bench itself survives it.
Peak RSS is this process's VmHWM, reset before each step through /proc/self/clear_refs (Linux 4.0+).
Target: the bomb's tick grows the peak by less than 100 MiB.
Run: `.venv/bin/python -m bench.bench_bounded_reads`.
"""

from __future__ import annotations

import datetime
import gzip
import json
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, ContentSettings, generate_container_sas

from bench.common import simulator_process, verdict
from devstack import processes, wellknown
from devstack.azurite import start_azurite
from devstack.hubsim.control import HubControl
from shared.poller.tick import Poller
from shared.settings import AppSettings

MIB = 1024 * 1024
HUB = "benchhub"
TARGET_GROWTH_MIB = 100
OLD_PATH_STOP = 256 * MIB  # the old read is stopped here: unbounded, it would take the whole GiB


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} is not in /proc/self/status")


def _peak_growth(step: Callable[[], object]) -> float:
    """MiB the process's peak RSS grew by during `step`."""
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kib("VmRSS")
    step()
    return (_status_kib("VmHWM") - before) / 1024


def _logs() -> dict[str, tuple[bytes, str | None]]:
    line = json.dumps({"errorCode": 404001, "errorStatus": "Device d1 not found."}).encode() + b"\n"
    plain = line * (MIB // len(line))
    bomb = gzip.compress(line) + gzip.compress(b" " * MIB, compresslevel=9) * 1024
    return {"plain": (plain, None), "bomb": (bomb, "gzip")}


def _ago(**delta: float) -> str:
    return (datetime.datetime.now(datetime.UTC) - datetime.timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, simulator_process(HUB, log_dir=Path(tmp)) as urls:
        azurite_process, azurite = start_azurite(port=processes.free_port(), data_dir=Path(tmp) / "azurite",
                                                 log_path=Path(tmp) / "azurite.log")
        try:
            service = BlobServiceClient.from_connection_string(azurite.connection_string)
            control = HubControl(urls[HUB])
            growth: dict[str, float] = {}
            stored: dict[str, int] = {}
            for name, (data, encoding) in _logs().items():
                container = f"{name}{uuid.uuid4().hex[:12]}"
                service.create_container(container)
                service.get_blob_client(container, "importErrors.log").upload_blob(
                    data, content_settings=ContentSettings(content_encoding=encoding))
                stored[name] = len(data)
                sas = generate_container_sas(wellknown.AZURITE_ACCOUNT, container, account_key=wellknown.AZURITE_KEY,
                                             permission=ContainerSasPermissions(read=True, write=True, list=True),
                                             expiry=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1))
                uri = f"{azurite.account_url}/{container}?{sas}"
                control.reset(jobs=True)
                control.seed_jobs([{"jobId": name, "type": "import", "status": "completed", "progress": 100,
                                    "inputBlobContainerUri": uri, "outputBlobContainerUri": uri,
                                    "startTimeUtc": _ago(minutes=5), "endTimeUtc": _ago(seconds=0)}])
                settings = AppSettings.from_environ({
                    "IOTHUB_HUBS": HUB, "IOTHUB_ENDPOINTS": f"{HUB}={urls[HUB]}", "IOTHUB_AUTH": "sharedAccessPolicy",
                    "IOTHUB_CONNECTION_STRINGS": wellknown.hub_connection_string(HUB),
                    "MONITOR_STORAGE_HOST_ALLOWLIST": f"127.0.0.1:{azurite.port}",
                    "MONITOR_STATE_CONTAINER": f"state{uuid.uuid4().hex[:12]}",
                    "AzureWebJobsStorage": azurite.connection_string,
                })
                poller = Poller(settings)
                growth[name] = _peak_growth(lambda p=poller: p.tick())  # type: ignore[misc]
                report = service.get_blob_client(container, f"jobmonitor/{name}/import-report.json")
                assert report.download_blob().readall(), f"no report for {name}"
                if name == "bomb":
                    def old_read(c: str = container) -> None:
                        chunks = service.get_blob_client(c, "importErrors.log").download_blob(
                            offset=0, length=64 * MIB).chunks()
                        held = []  # as summarize_chunks was handed them: each piece unpacked whole
                        for chunk in chunks:
                            held.append(len(chunk))
                            if sum(held) >= OLD_PATH_STOP:
                                break

                    growth["old"] = _peak_growth(old_read)
        finally:
            processes.stop(azurite_process)
    print(f"stored logs: plain {stored['plain'] / MIB:.2f} MiB, bomb {stored['bomb'] / MIB:.2f} MiB "
          "(1 GiB unpacked, Content-Encoding gzip)")
    print(f"peak RSS growth of a tick: plain log {growth['plain']:.1f} MiB, bomb {growth['bomb']:.1f} MiB "
          f"({verdict(growth['bomb'], target=TARGET_GROWTH_MIB, at_most=True)} MiB); "
          f"bomb / plain = {growth['bomb'] / max(growth['plain'], 1.0):.2f}")
    print(f"azure-core's own unpacking (the read before issue 21), stopped at {OLD_PATH_STOP // MIB} MiB: "
          f"peak RSS growth {growth['old']:.1f} MiB")


if __name__ == "__main__":
    main()
