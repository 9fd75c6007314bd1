"""One way to talk HTTP: where a request may go (targets.py), the sessions and their rules (sessions.py),
and how long to wait between tries (retry.py)."""
