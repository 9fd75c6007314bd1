"""The managed identities the devstack endpoint knows: one system-assigned and the user-assigned ones.

Object ids are derived from client ids (uuid5 in a fixed namespace) so they are stable across runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from devstack.wellknown import SYSTEM_ASSIGNED_CLIENT_ID, USER_ASSIGNED_CLIENT_IDS

_OBJECT_ID_NAMESPACE = uuid.UUID("6f1c2b0e-8d3a-4f5e-9a7b-0c1d2e3f4a5b")


@dataclass(frozen=True, kw_only=True)
class Identity:
    client_id: str
    object_id: str
    user_assigned: bool


def _identity(client_id: str, *, user_assigned: bool) -> Identity:
    object_id = str(uuid.uuid5(_OBJECT_ID_NAMESPACE, client_id))
    return Identity(client_id=client_id, object_id=object_id, user_assigned=user_assigned)


SYSTEM_ASSIGNED = _identity(SYSTEM_ASSIGNED_CLIENT_ID, user_assigned=False)
USER_ASSIGNED: dict[str, Identity] = {
    client_id.lower(): _identity(client_id, user_assigned=True) for client_id in sorted(USER_ASSIGNED_CLIENT_IDS)
}


def find_identity(client_id: str | None) -> Identity | None:
    """The system-assigned identity for no client_id, a user-assigned one by client_id, else None."""
    if not client_id:
        return SYSTEM_ASSIGNED
    if client_id.lower() == SYSTEM_ASSIGNED.client_id.lower():
        return SYSTEM_ASSIGNED
    return USER_ASSIGNED.get(client_id.lower())
