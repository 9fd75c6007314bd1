"""What get_job's callers send and get: requests, answers, the error codes, ETags.

Kept free of azure.functions so the behaviour is tested and benchmarked directly; the function's
`__init__.py` only translates the Functions request and response.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
MARKDOWN_CONTENT_TYPE = "text/markdown; charset=utf-8"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"


class ApiErrorCode(str, Enum):
    INVALID_JOB_ID = "InvalidJobId"
    INVALID_API_VERSION = "InvalidApiVersion"
    UNKNOWN_HUB = "UnknownHub"
    METHOD_NOT_ALLOWED = "MethodNotAllowed"
    JOB_NOT_FOUND = "JobNotFound"
    UPSTREAM_UNAUTHORIZED = "UpstreamUnauthorized"
    UPSTREAM_THROTTLED = "UpstreamThrottled"
    UPSTREAM_ERROR = "UpstreamError"
    UPSTREAM_TIMEOUT = "UpstreamTimeout"
    CREDENTIAL_UNAVAILABLE = "CredentialUnavailable"
    CONFIGURATION_ERROR = "ConfigurationError"
    INVALID_FILTER = "InvalidFilter"
    INVALID_TOP = "InvalidTop"
    REPORT_NOT_FOUND = "ReportNotFound"
    STORAGE_UNAVAILABLE = "StorageUnavailable"


@dataclass(frozen=True, kw_only=True)
class ProxyRequest:
    method: str
    job_id: str
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # keys lower-case


@dataclass(frozen=True, kw_only=True)
class ProxyResponse:
    status_code: int
    body: bytes
    headers: dict[str, str]


def conditional_answer(request: ProxyRequest, headers: dict[str, str], body: Callable[[], bytes]) -> ProxyResponse:
    """200 with the body (built only when sent), 304 when If-None-Match names the ETag in `headers`, and no
    body for HEAD."""
    if etag_matches(request.headers.get("if-none-match"), headers["ETag"]):
        return ProxyResponse(status_code=304, body=b"", headers=headers)
    return ProxyResponse(status_code=200, body=b"" if request.method.upper() == "HEAD" else body(), headers=headers)


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = {item.strip().removeprefix("W/") for item in header.split(",")}
    return "*" in candidates or etag in candidates


def error_response(
    status: int, code: ApiErrorCode, message: str, *, headers: Mapping[str, str] | None = None,
    tracking_id: str | None, job_id: str | None, hub: str | None, method: str,
) -> ProxyResponse:
    """The JSON error answer every route gives: `{"error": {code, message, jobId, hub, upstreamTrackingId}}`."""
    body = {
        "error": {
            "code": code.value,
            "message": message,
            "jobId": job_id,
            "hub": hub,
            "upstreamTrackingId": tracking_id,
        }
    }
    all_headers = {"Cache-Control": "no-store", "Content-Type": JSON_CONTENT_TYPE, **(headers or {})}
    payload = b"" if method.upper() == "HEAD" else json.dumps(body, separators=(",", ":")).encode()
    return ProxyResponse(status_code=status, body=payload, headers=all_headers)
