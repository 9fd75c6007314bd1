"""The app's own code, by concern (docs/architecture.md has the map).

- `proxy/`: get_job's path (validate, cache, answer). `iothub/`: the IoT Hub jobs API client.
- `poller/`: poll_job_timer's tick; `poller/core.py` is its pure core. `reports/`: failure reports.
- `http/`: one way to talk HTTP (the target parser, guarded sessions, retries).
- Beside them: `settings/`, `errors.py`, `jobs.py`, `clock.py`, `logs.py`, `redaction.py`, `credentials.py`.
"""
