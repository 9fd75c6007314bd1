"""poll_job_timer's tick (tick.py) and its parts: the pure core that plans and confirms (core.py), the state
(state.py, store.py), where and how a job's files are written (targets.py, storage.py, writer.py), their names
and documents (documents.py), the log events (events.py)."""
