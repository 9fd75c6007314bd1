"""A small exception hierarchy that callers catch by meaning, after azure-core's.

Messages never carry a secret: they are built from names, ids and codes only.
"""

from __future__ import annotations


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


class JobNotFoundError(HubError):
    """The hub does not know the job (unknown id, or history older than 30 days)."""


class HubAuthError(HubError):
    """The hub refused this app's own credentials (401, or 403 other than a quota)."""


class HubThrottledError(HubError):
    """Still throttled (429) when the retry budget ran out; `retry_after` is seconds."""

    def __init__(self, message: str, *, retry_after: float, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class HubServiceError(HubError):
    """5xx, a dropped connection or an answer that is not the JSON the API documents."""


class HubTimeoutError(HubError):
    """The hub did not answer inside the timeouts and the invocation's budget."""
