"""shared/logs.py: a thread the app starts logs as the invocation that started it, and only while it runs for it."""

from __future__ import annotations

import concurrent.futures
import threading
from dataclasses import dataclass, field
from typing import Any

from shared.logs import carried, invocation


@dataclass
class _Context:
    """What the worker's context offers: its id and its thread-local storage (one object for every invocation)."""

    invocation_id: str
    thread_local_storage: Any = field(default_factory=threading.local)


def _seen(storage: Any) -> str | None:
    return getattr(storage, "invocation_id", None)


def test_a_carried_function_runs_with_the_invocation_id_in_its_threads_storage_and_leaves_none_behind() -> None:
    context = _Context("inv-1")
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        with invocation(context):
            inside = pool.submit(carried(lambda: _seen(context.thread_local_storage))).result()
            plain = pool.submit(lambda: _seen(context.thread_local_storage)).result()
        after = pool.submit(lambda: _seen(context.thread_local_storage)).result()  # the same pool thread
    assert (inside, plain, after) == ("inv-1", None, None)


def test_nested_threads_carry_it_on_and_concurrent_invocations_keep_their_own() -> None:
    storage = threading.local()
    seen: dict[str, list[str | None]] = {}

    def nested(name: str) -> None:
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as inner:
            seen[name] = [inner.submit(carried(lambda: _seen(storage))).result() for _ in range(3)]

    def one_invocation(name: str) -> None:
        with invocation(_Context(name, storage)), concurrent.futures.ThreadPoolExecutor(max_workers=1) as outer:
            outer.submit(carried(nested), name).result()

    threads = [threading.Thread(target=one_invocation, args=(f"inv-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {f"inv-{i}": [f"inv-{i}"] * 3 for i in range(4)}


def test_outside_an_invocation_carried_changes_nothing() -> None:
    def work() -> int:
        return 7

    assert carried(work) is work
    with invocation(None):
        assert carried(work) is work
