"""What every HTTP route shares: the failure it answers with, which hub and api-version a caller asked for, and
how an upstream error or a bad setting becomes an answer (get_job, the list route, the report route, the status
page).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

from shared.errors import (
    CredentialError,
    HubAuthError,
    HubBudgetExhausted,
    HubError,
    HubThrottledError,
    HubTimeoutError,
    JobMonitorError,
    JobNotFoundError,
    SettingsError,
)
from shared.jobs import is_valid_hub_name
from shared.logs import log_event
from shared.proxy.answers import ApiErrorCode, ProxyResponse, error_response
from shared.proxy.cache import CacheOutcome
from shared.proxy.validation import is_known_api_version
from shared.settings import HubClientSettings, HubSettings

# Seconds to suggest to callers when the token endpoint, the hub or storage is unavailable.
UNAVAILABLE_RETRY_AFTER_SECONDS = 5
# The methods openapi.yaml declares for every route; each answers every other one 405 MethodNotAllowed.
ALLOWED_METHODS = ("GET", "HEAD")


class ApiFailure(JobMonitorError):
    """An answer other than 200/304, with what the invocation's log line needs to say about it."""

    def __init__(
        self, *, status: int, code: ApiErrorCode, message: str, headers: dict[str, str] | None = None,
        tracking_id: str | None = None, upstream_status: int | None = None, attempts: int = 0,
        outcome: CacheOutcome | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.tracking_id, self.upstream_status, self.attempts = tracking_id, upstream_status, attempts
        self.outcome = outcome


def check_method(method: str) -> None:
    """function.json routes every method to each function, so that an undeclared one is a 405 in JSON with Allow,
    from Azure's host as from the devstack's (the host itself would answer 404)."""
    if method.upper() not in ALLOWED_METHODS:
        raise ApiFailure(status=405, code=ApiErrorCode.METHOD_NOT_ALLOWED, message="only GET and HEAD are allowed",
                         headers={"Allow": ", ".join(ALLOWED_METHODS)})


def select_hub(settings: HubClientSettings, params: Mapping[str, str]) -> HubSettings:
    """The hub the `hub` parameter names (the first configured one without it)."""
    name = params.get("hub")
    if name is None or name == "":
        return settings.default_hub
    well_formed = is_valid_hub_name(name)
    hub = settings.hub(name) if well_formed else None
    if hub is None:
        # A well-formed name that is not configured names nothing here (404); anything else is bad input.
        known = ", ".join(h.name for h in settings.hubs)
        raise ApiFailure(
            status=404 if well_formed else 400, code=ApiErrorCode.UNKNOWN_HUB,
            message=f"hub must be one of the configured hubs: {known}",
        )
    return hub


def requested_api_version(settings: HubClientSettings, params: Mapping[str, str]) -> str:
    value = params.get("api-version")
    if value is None or value == "":
        return settings.api_version
    if not is_known_api_version(value):
        raise ApiFailure(status=400, code=ApiErrorCode.INVALID_API_VERSION,
                         message="api-version is not a known IoT Hub api-version")
    return value


def upstream_failure(error: Exception, outcome: CacheOutcome, *, auth_kind: str, not_found: str) -> ApiFailure:
    """The answer for an upstream error; only the caller that made the call reports its attempts. `not_found`: what
    a 404 from the hub means for this route."""
    if isinstance(error, CredentialError):
        return ApiFailure(
            status=503, code=ApiErrorCode.CREDENTIAL_UNAVAILABLE, outcome=outcome,
            message=f"no {error.credential_kind} token could be obtained for the hub",
            headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)},
        )
    if not isinstance(error, HubError):
        raise error
    headers: dict[str, str] | None = None
    if isinstance(error, JobNotFoundError):
        status, code, message = 404, ApiErrorCode.JOB_NOT_FOUND, not_found
    elif isinstance(error, HubAuthError):
        status, code = 502, ApiErrorCode.UPSTREAM_UNAUTHORIZED
        message = f"the hub refused this function's {auth_kind} credentials"
    elif isinstance(error, HubThrottledError):
        status, code = 429, ApiErrorCode.UPSTREAM_THROTTLED
        message = "the hub is throttling requests; retry after the given delay"
        if isinstance(error, HubBudgetExhausted):  # no call reached the hub: the app's own budget said no
            message = "the app's call budget for this hub is spent, or paused after the hub's last 429; retry later"
        headers = {"Retry-After": str(max(1, math.ceil(error.retry_after)))}
    elif isinstance(error, HubTimeoutError):
        status, code, message = 504, ApiErrorCode.UPSTREAM_TIMEOUT, "the hub did not answer in time"
    else:
        status, code, message = 502, ApiErrorCode.UPSTREAM_ERROR, f"the hub failed: {error.message}"
        if error.status_code == 503:
            status, headers = 503, {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)}
    return ApiFailure(
        status=status, code=code, message=message, headers=headers, tracking_id=error.tracking_id,
        upstream_status=error.status_code, attempts=error.attempts if outcome is CacheOutcome.MISS else 0,
        outcome=outcome,
    )


def failure_response(failure: ApiFailure, *, job_id: str | None, hub: str | None, method: str) -> ProxyResponse:
    return error_response(failure.status, failure.code, failure.message, headers=failure.headers,
                          tracking_id=failure.tracking_id, job_id=job_id, hub=hub, method=method)


def configuration_error(error: SettingsError, *, logger: logging.Logger, route: str, method: str = "GET"
                        ) -> ProxyResponse:
    """The answer while the app's settings are invalid: the setting is named, its value never shown."""
    log_event(logger, f"{route}_misconfigured", level=logging.ERROR, setting=error.setting)
    failure = ApiFailure(status=500, code=ApiErrorCode.CONFIGURATION_ERROR,
                         message=f"the function app's setting {error.setting} is invalid")
    return failure_response(failure, job_id=None, hub=None, method=method)


def invalid_job_id() -> ApiFailure:
    """The 400 for a jobId outside shared/proxy/validation.py's rule, which says what the rule is."""
    return ApiFailure(
        status=400, code=ApiErrorCode.INVALID_JOB_ID,
        message="jobId must be 1-128 characters: letters, digits, '-', '_' and '.', starting with a letter or "
        "digit, without '..'",
    )
