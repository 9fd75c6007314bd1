"""get_job's checks on caller input, before anything reaches the hub: which job ids and api-versions pass."""

from __future__ import annotations

import pytest

from shared.jobs import DEFAULT_API_VERSION
from shared.proxy.validation import is_known_api_version, is_valid_job_id


@pytest.mark.parametrize("job_id", [
    "a", "job-1", "Job_2.export", "0b5d3c1e-7f4a-4c1b-9d0e-1f2a3b4c5d6e", "x" * 128, "a.b", "9-.-_",
])
def test_hub_made_and_caller_chosen_job_ids_pass(job_id: str) -> None:
    assert is_valid_job_id(job_id)


@pytest.mark.parametrize("job_id", [
    "",  # nothing
    "x" * 129,  # longer than 128
    "-job", ".job", "_job",  # must start with a letter or digit
    "a..b", "job..",  # dot-dot: a path step upwards once decoded
    "a/b", "a\\b", "a%2Fb", "a b", "a\tb", "a\nb", "jöb", "a?b", "a#b", "a:b",
])
def test_ids_that_could_change_the_upstream_path_are_refused(job_id: str) -> None:
    assert not is_valid_job_id(job_id)


def test_the_default_and_a_known_api_version_pass_and_others_do_not() -> None:
    assert is_known_api_version(DEFAULT_API_VERSION)
    assert is_known_api_version("2018-06-30")
    assert not is_known_api_version("2099-01-01")
    assert not is_known_api_version(DEFAULT_API_VERSION + ",2018-06-30")
    assert not is_known_api_version("")
