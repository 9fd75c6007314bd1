"""The one error tree: every error the app raises on purpose, caught by meaning (after azure-core's).

Messages never carry a secret: they are built from names, ids and codes only. Errors are not changed after
they are raised; `HubError.evolve` makes a new one with other fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.proxy.cache import CacheOutcome
    from shared.reports.import_errors import ImportErrorSummary


class JobMonitorError(Exception):
    """Base of every error this app raises on purpose."""


class SettingsError(JobMonitorError):
    """An app setting is missing or invalid; `setting` names it."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"app setting {setting}: {problem}")
        self.setting = setting
        self.problem = problem


class CredentialError(JobMonitorError):
    """No token or SAS could be obtained; `credential_kind` names the kind, never the secret."""

    def __init__(self, credential_kind: str, message: str) -> None:
        super().__init__(f"{credential_kind}: {message}")
        self.credential_kind = credential_kind


class TargetRejected(JobMonitorError):
    """A URI the app would send credentials or data to is not allowed; `reason` says why (never a secret)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BodyReadError(JobMonitorError):
    """An HTTP answer's body did not arrive within the time budget (`timed_out`), or is larger than allowed."""

    def __init__(self, message: str, *, timed_out: bool) -> None:
        super().__init__(message)
        self.timed_out = timed_out


# -- the hub -------------------------------------------------------------------------------------------------
class HubError(JobMonitorError):
    """The hub answered with an error, or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        hub: str,
        status_code: int | None = None,
        error_code: str | None = None,
        tracking_id: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hub = hub
        self.status_code = status_code
        self.error_code = error_code
        self.tracking_id = tracking_id
        self.attempts = attempts

    def _fields(self) -> dict[str, Any]:
        return {"hub": self.hub, "status_code": self.status_code, "error_code": self.error_code,
                "tracking_id": self.tracking_id, "attempts": self.attempts}

    def evolve(self, **changes: Any) -> HubError:
        """The same error with some fields changed (a new object: raised errors are never modified)."""
        return type(self)(self.message, **{**self._fields(), **changes})


class JobNotFoundError(HubError):
    """The hub does not know the job (unknown id, or history older than 30 days)."""


class HubAuthError(HubError):
    """The hub refused this app's own credentials (401, or 403 other than a quota)."""


class HubThrottledError(HubError):
    """Still throttled (429) when the retry budget ran out; `retry_after` is seconds."""

    def __init__(
        self, message: str, *, hub: str, retry_after: float, status_code: int | None = None,
        error_code: str | None = None, tracking_id: str | None = None, attempts: int = 1,
    ) -> None:
        super().__init__(message, hub=hub, status_code=status_code, error_code=error_code, tracking_id=tracking_id,
                         attempts=attempts)
        self.retry_after = retry_after

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "retry_after": self.retry_after}


class HubBudgetExhausted(HubThrottledError):
    """The app's own call budget for the hub (IOTHUB_CALLS_PER_MINUTE, kept across instances) has no call left
    before `retry_after` seconds, or the hub asked every instance to wait: nothing was sent."""


class HubServiceError(HubError):
    """5xx, a dropped connection or an answer that is not the JSON the API documents."""


class HubTimeoutError(HubError):
    """The hub did not answer inside the timeouts and the invocation's budget."""


# -- get_job's cache -----------------------------------------------------------------------------------------
class CoalescedWaitTimeout(JobMonitorError):
    """Waiting for another caller's upstream call took longer than this caller may wait."""


class CachedFailure(JobMonitorError):
    """The fetch failed, for this caller or for the one whose call it shared; `error` is what it raised
    and `outcome` says how this caller came by it."""

    def __init__(self, error: Exception, outcome: CacheOutcome) -> None:
        super().__init__(str(error))
        self.error = error
        self.outcome = outcome


class SharedStoreUnavailable(JobMonitorError):
    """The shared cache's storage (AzureWebJobsStorage) failed or is being given time to recover: the caller
    goes on per instance (shared/cache/health.py)."""


# -- the poller ----------------------------------------------------------------------------------------------
class StateConflict(JobMonitorError):
    """Someone else updated the hub's state blob (or a job's latest.json) since it was read."""


class StateUnreadable(JobMonitorError):
    """A hub's state blob is not a state this app can read (corrupt): it is moved aside and rebuilt."""


class StateTooNew(JobMonitorError):
    """A hub's state blob was written by a later version of the app: this one neither plans on it nor
    rewrites it (the later version's instances carry on)."""


class TickFailedError(JobMonitorError):
    """Every hub failed this tick: raised so that the timer's retry policy tries again."""


class SummaryAborted(JobMonitorError):
    """Summarising importErrors.log was asked to stop (its time budget ran out); `summary` covers what was
    read."""

    def __init__(self, summary: ImportErrorSummary) -> None:
        super().__init__("stopped before the end of importErrors.log")
        self.summary = summary


class TickBudgetExhausted(JobMonitorError):
    """The tick's time budget ran out: what is left stays pending for the next tick."""


class ImportLogOverrun(JobMonitorError):
    """importErrors.log could not be read within its share of the tick's budget (a failed attempt)."""


class ReportCopyUnwritten(JobMonitorError):
    """The app's own copy of a report (in AzureWebJobsStorage) could not be written: the job's report is retried
    next tick, whatever the job's container did (shared/poller/report_writer.py)."""
