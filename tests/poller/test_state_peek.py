"""The status page's read of the poller's state (StateStore.peek_records) against Azurite: read only, and an
unchanged state is not downloaded again on the next page."""

from __future__ import annotations

from devstack.azurite import AzuriteInfo
from shared.poller.state import HubState, JobRecord
from shared.poller.store import StateStore
from tests.support.poller import new_container, service


def _state(*job_ids: str) -> HubState:
    return HubState(hub="devhub", created_at="2026-01-01T00:00:00Z",
                    jobs={job_id: JobRecord(job_id=job_id) for job_id in job_ids})


def test_an_unchanged_state_is_not_read_again_and_a_changed_one_is(azurite: AzuriteInfo) -> None:
    container = service(azurite).get_container_client(new_container(azurite))
    store = StateStore(container)
    assert store.peek_records("devhub") is None  # the poller has not run yet
    etag = store.save(_state("first"), None)
    first = store.peek_records("devhub")
    assert first is not None and set(first.records) == {"first"} and first.etag == etag
    assert store.peek_records("devhub", known=first) is first  # 304: nothing downloaded, nothing parsed
    store.save(_state("first", "second"), etag)
    changed = store.peek_records("devhub", known=first)
    assert changed is not None and changed is not first and set(changed.records) == {"first", "second"}
    container.delete_blob(StateStore.blob_name("devhub"))
    assert store.peek_records("devhub", known=changed) is None
