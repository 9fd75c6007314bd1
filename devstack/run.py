"""`make run`: the whole stack on the well-known ports, demo jobs, and what to curl. Ctrl-C stops it.

Azurite (blob, 10000), the managed-identity endpoint (7082), the IoT Hub simulator (hub `devhub`,
7081) and the local Functions host (7071) with the app configured against them. Every child runs
in its own process group and is stopped on exit, so nothing is left behind.

`make run HUBS=2` (`python -m devstack.run --hubs 2`, up to MAX_HUBS): one simulator process per hub, the first
`devhub` on 7081, then `devhub2` on 7091, `devhub3` on 7092, ...; the app is configured for all of them
(IOTHUB_HUBS, IOTHUB_ENDPOINTS) and the demo jobs are spread over them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from devstack import processes
from devstack.azurite import start_azurite
from devstack.demo import (
    EXPORT_CONTAINER,
    FAILED_IMPORT_OUTPUT_CONTAINER,
    IMPORT_OUTPUT_CONTAINER,
    DemoHub,
    DemoTimeout,
    create_demo_jobs,
)
from devstack.funchost.keys import DEFAULT_FUNCTION_KEY, DEFAULT_MASTER_KEY
from devstack.wellknown import (
    AZURITE_BLOB_PORT,
    DEFAULT_HUB_NAME,
    DEFAULT_HUB_PORT,
    FUNCTIONS_HOST_PORT,
    IDENTITY_HEADER,
    IDENTITY_PORT,
)

STATE_DIR = processes.REPO_ROOT / ".devstack"
TELEMETRY_FILE = STATE_DIR / "telemetry" / "traces.jsonl"  # what Application Insights would store
SAMPLE_SETTINGS = processes.REPO_ROOT / "local.settings.sample.json"
PORTS = {"Azurite": AZURITE_BLOB_PORT, "hub simulator": DEFAULT_HUB_PORT, "identity endpoint": IDENTITY_PORT,
         "functions host": FUNCTIONS_HOST_PORT}
# Demo pacing: slow enough to watch progress, quick enough to see the end.
DEMO_ENQUEUE_MS, DEMO_JOB_MS = 2000, 8000
DEMO_POLL_SCHEDULE = "*/20 * * * * *"
MAX_HUBS = 8
# The second hub's port; the third is one more, and so on (7082 is the identity endpoint's).
EXTRA_HUB_FIRST_PORT = 7091


def demo_hubs(count: int) -> list[DemoHub]:
    """The hubs of a stack of `count`: `devhub` on its well-known port, then `devhub2`, `devhub3`, ..."""
    hubs = [DemoHub(name=DEFAULT_HUB_NAME, url=f"http://127.0.0.1:{DEFAULT_HUB_PORT}")]
    hubs += [DemoHub(name=f"{DEFAULT_HUB_NAME}{n}", url=f"http://127.0.0.1:{EXTRA_HUB_FIRST_PORT + n - 2}")
             for n in range(2, count + 1)]
    return hubs


def _port(hub: DemoHub) -> int:
    return int(hub.url.rsplit(":", 1)[1])


def _check_ports(hubs: Sequence[DemoHub]) -> None:
    import socket

    ports = {**PORTS, **{f"hub simulator {hub.name}": _port(hub) for hub in hubs}}
    for name, port in ports.items():
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                raise SystemExit(f"port {port} ({name}) is in use: is `make run` already running?")


def _settings_file(blob_connection_string: str, hubs: Sequence[DemoHub]) -> Path:
    """local.settings.sample.json's values, pointed at this stack and its hubs (the user's own file is left
    alone)."""
    settings = json.loads(SAMPLE_SETTINGS.read_text())
    settings["Values"].update({
        "AzureWebJobsStorage": blob_connection_string, "POLL_SCHEDULE": DEMO_POLL_SCHEDULE,
        "IOTHUB_HUBS": ",".join(hub.name for hub in hubs),
        "IOTHUB_ENDPOINTS": ",".join(f"{hub.name}={hub.url}" for hub in hubs),
    })
    path = STATE_DIR / "local.settings.json"
    path.write_text(json.dumps(settings, indent=2))
    return path


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--hubs", type=int, default=1, choices=range(1, MAX_HUBS + 1), metavar=f"1-{MAX_HUBS}",
                        help="how many simulated hubs (one simulator process each)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    hubs = demo_hubs(parse_args(argv).hubs)
    _check_ports(hubs)
    STATE_DIR.mkdir(exist_ok=True)
    logs = STATE_DIR / "logs"
    children: list[subprocess.Popen[bytes]] = []
    stop = processes.stop_on_signals()
    python = sys.executable
    try:
        azurite, info = start_azurite(
            port=AZURITE_BLOB_PORT, data_dir=STATE_DIR / "azurite", log_path=logs / "azurite.log"
        )
        children.append(azurite)
        identity = processes.start(
            [python, "-m", "devstack.identity", "--port", str(IDENTITY_PORT)], log_path=logs / "identity.log"
        )
        children.append(identity)
        processes.wait_for_port(IDENTITY_PORT, process=identity)
        for hub in hubs:  # one simulator process per hub, as each real hub is its own service
            hubsim = processes.start(
                [python, "-m", "devstack.hubsim", "--hub", f"{hub.name}:{_port(hub)}",
                 "--enqueue-ms", str(DEMO_ENQUEUE_MS), "--job-ms", str(DEMO_JOB_MS),
                 "--identity-endpoint", f"http://127.0.0.1:{IDENTITY_PORT}/msi/token",
                 "--identity-header", IDENTITY_HEADER],
                log_path=logs / ("hubsim.log" if hub.name == DEFAULT_HUB_NAME else f"hubsim-{hub.name}.log"),
            )
            children.append(hubsim)
            processes.wait_for_port(_port(hub), process=hubsim)
        host = processes.start(
            [python, "-m", "devstack.funchost", "--app-root", str(processes.REPO_ROOT), "--port",
             str(FUNCTIONS_HOST_PORT), "--settings", str(_settings_file(info.connection_string, hubs)),
             "--telemetry", str(TELEMETRY_FILE)],
            log_path=logs / "funchost.log",
        )
        children.append(host)
        processes.wait_for_port(FUNCTIONS_HOST_PORT, process=host, timeout=60)
        shown = ", ".join(f"{hub.name} {hub.url}" for hub in hubs)
        print(f"devstack up: Azurite {info.account_url}, hub(s) {shown}, "
              f"identity http://127.0.0.1:{IDENTITY_PORT}/msi/token, functions http://127.0.0.1:{FUNCTIONS_HOST_PORT}")
        print(f"logs in {logs}/; creating the demo jobs (an export, an import with rejected lines, an import that "
              "fails, an export whose output SAS is read-only)...", flush=True)
        try:
            demo = create_demo_jobs(hubs=hubs, blob_connection_string=info.connection_string)
        except DemoTimeout as error:  # never a silent hang: what it waited for, then stop
            print(f"the demo jobs could not be created: {error}. The simulators' logs are in {logs}/.",
                  file=sys.stderr)
            return 1
        print(f"  # an export whose output SAS is read-only ({demo.read_only_export_job_id}): it fails, and its report "
              "says it is not written beside the job:\n"
              f"  curl -s -H 'x-functions-key: {DEFAULT_FUNCTION_KEY}' -H 'Accept: text/markdown' "
              f"'http://127.0.0.1:{FUNCTIONS_HOST_PORT}/api/jobs/{demo.read_only_export_job_id}/report"
              f"?hub={demo.read_only_export_hub}'", flush=True)
        _print_usage(demo.export_job_id, demo.import_job_id, demo.failed_import_job_id,
                     hubs=(demo.export_hub, demo.import_hub, demo.failed_import_hub))
        print(f"\nStatus page: http://127.0.0.1:{FUNCTIONS_HOST_PORT}/api/status?code={DEFAULT_FUNCTION_KEY}",
              flush=True)
        while not stop.is_set():
            if any(child.poll() is not None for child in children):
                print("a devstack process exited; see the logs above. Stopping.", file=sys.stderr)
                return 1
            stop.wait(1)
        return 0
    finally:
        for child in reversed(children):
            processes.stop(child)
        print("devstack stopped.")


def _print_usage(export_id: str, import_id: str, failed_id: str, *, hubs: tuple[str, str, str]) -> None:
    api = f"http://127.0.0.1:{FUNCTIONS_HOST_PORT}/api"
    key = f"-H 'x-functions-key: {DEFAULT_FUNCTION_KEY}'"
    export_hub, import_hub, failed_hub = hubs
    print(f"""
Demo jobs: export {export_id} on hub {export_hub} (completed), import {import_id} on hub {import_hub}
(completed, with rejected lines in importErrors.log), import {failed_id} on hub {failed_hub} (running, then
failed: its input blob is missing).

  # the job, through get_job (SAS signatures redacted):
  curl -s {key} '{api}/jobs/{export_id}?hub={export_hub}'
  curl -s {key} '{api}/jobs/{import_id}?hub={import_hub}'
  # its page (timeline, files beside it, report, JSON), for people (under /api/status, which sign-in covers):
  http://127.0.0.1:{FUNCTIONS_HOST_PORT}/api/status/jobs/{export_id}?hub={export_hub}&code={DEFAULT_FUNCTION_KEY}
  curl -s -i {key} {api}/jobs/no-such-job          # 404 JobNotFound
  curl -s -i {key} '{api}/jobs/..%2Fjobs'          # 400 InvalidJobId
  curl -s -i {api}/jobs/{export_id}                # 401: no function key

  # the status page, for people (open it in a browser; the report links open each report page):
  http://127.0.0.1:{FUNCTIONS_HOST_PORT}/api/status?code={DEFAULT_FUNCTION_KEY}

  # the hub's jobs, newest first, and a job's report (JSON; Markdown with an Accept header):
  curl -s {key} '{api}/jobs?hub={import_hub}&status=failed,completed&top=10'
  curl -s {key} -H 'Accept: text/markdown' '{api}/jobs/{import_id}/report?hub={import_hub}'
  # the report page, for people:
  http://127.0.0.1:{FUNCTIONS_HOST_PORT}/api/status/jobs/{import_id}/report?hub={import_hub}&code={DEFAULT_FUNCTION_KEY}
  # the failed and cancelled jobs of every hub, a link to share:
  http://127.0.0.1:{FUNCTIONS_HOST_PORT}/api/status?status=failed,cancelled&code={DEFAULT_FUNCTION_KEY}

  # run the poller now (it also runs every 20 s here):
  curl -s -X POST -H 'x-functions-key: {DEFAULT_MASTER_KEY}' -H 'Content-Type: application/json' \\
       -d '{{"input": ""}}' 'http://127.0.0.1:{FUNCTIONS_HOST_PORT}/admin/functions/poll_job_timer?wait=true'

  # the snapshots and reports it wrote beside each job's output:
  .venv/bin/python -m devstack.blobs {EXPORT_CONTAINER} {IMPORT_OUTPUT_CONTAINER} {FAILED_IMPORT_OUTPUT_CONTAINER}
  .venv/bin/python -m devstack.blobs {IMPORT_OUTPUT_CONTAINER} --show jobmonitor/{import_id}/import-report.md
  .venv/bin/python -m devstack.blobs {FAILED_IMPORT_OUTPUT_CONTAINER} --show jobmonitor/{failed_id}/failure-report.md

Ctrl-C stops everything.""", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
