"""A failed write beside a job, as the report's delivery records it (shared/reports/delivery.py): which refusal it
is in the operator's words, storage's own status and code, and the advice of `storage_error_hint`."""

from __future__ import annotations

from shared.poller.storage import (
    StorageRefusal,
    storage_error_code,
    storage_error_hint,
    storage_error_text,
    storage_refusal,
)
from shared.poller.targets import Access
from shared.reports.delivery import Refusal, Refused


def refusal_of(exc: Exception, access: Access, *, final: bool = False) -> Refused:
    """What a failed write beside the job says, in words, with storage's own status and code and the advice of
    storage_error_hint (no URL with a SAS: the container's plain URL at most)."""
    from azure.core.exceptions import HttpResponseError

    hint = storage_error_hint(exc, access)
    kind = storage_refusal(exc)
    if kind is StorageRefusal.PERMISSION:
        reason = Refusal.IDENTITY_NO_ROLE if access.uses_identity else Refusal.SAS_NO_WRITE
    elif kind is StorageRefusal.SAS_REFUSED:
        reason = Refusal.SAS_REFUSED
    elif kind is StorageRefusal.FIREWALL:
        reason = Refusal.FIREWALL
    elif isinstance(exc, HttpResponseError):
        reason = Refusal.STORAGE_ERROR
    else:
        reason = Refusal.UNREACHABLE
    status = exc.status_code if isinstance(exc, HttpResponseError) else None
    return Refused(reason=reason, http_status=status, error_code=storage_error_code(exc),
                   hint=hint.key if hint else None, advice=hint.text if hint else storage_error_text(exc), final=final)
