"""Helpers for the cache and call budget the instances share: a container of one's own, the shared blobs read
back, the store's log events."""

from __future__ import annotations

import uuid


def new_shared_container() -> str:
    """A shared-cache container nobody else uses: no test sees another's entries or spends its call budget."""
    return f"cache-{uuid.uuid4().hex[:16]}"
