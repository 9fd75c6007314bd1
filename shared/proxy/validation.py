"""Checks on caller input, applied before anything reaches the hub."""

from __future__ import annotations

import re

from shared.jobs import KNOWN_API_VERSIONS

# Import/export job ids are hub-made GUIDs or caller-chosen ids; this admits both and nothing that
# could change the upstream path: no slash, backslash, percent, dot-dot, space, control or non-ASCII.
JOB_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def is_valid_job_id(job_id: str) -> bool:
    return JOB_ID_PATTERN.fullmatch(job_id) is not None and ".." not in job_id


def is_known_api_version(value: str) -> bool:
    return value in KNOWN_API_VERSIONS
