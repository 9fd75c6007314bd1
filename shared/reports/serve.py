"""GET /api/jobs/{jobId}/report (for scripts) and GET /api/status/jobs/{jobId}/report (the page, for people): a job's
report as the poller stored it, from the app's own copy.

The copy lives in AzureWebJobsStorage (`{MONITOR_REPORTS_CONTAINER}/{hub}/{jobId}.json`, shared/reports/copies.py),
named from a configured hub and a validated job id: never from a URL a caller supplies, never from the job's own
(expiring, someone else's) container. JSON by default; `Accept: text/markdown` gets the Markdown the poller writes
beside the job. The page (shared/reports/html.py) lives under /api/status, which sign-in covers (Easy Auth leaves
/api/jobs/* to the function key for scripts, and supports only trailing wildcards: docs/deploy.md, "Sign-in"), so
`Accept: text/html` on the scripts' route is a 303 to it. A job without a report (unknown, or nothing went wrong)
is 404 ReportNotFound in JSON, whatever was asked for: errors are JSON on every route.

Kept free of azure.functions; get_report/__init__.py and report_page/__init__.py only translate the request and
response.
"""

from __future__ import annotations

import html
import json
import logging
import os
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any

from shared.errors import SettingsError
from shared.http_trigger import OncePerProcess
from shared.logs import log_event
from shared.pages.layout import security_headers
from shared.proxy.answers import (
    JSON_CONTENT_TYPE,
    MARKDOWN_CONTENT_TYPE,
    ApiErrorCode,
    ProxyRequest,
    ProxyResponse,
    conditional_answer,
)
from shared.proxy.common import (
    UNAVAILABLE_RETRY_AFTER_SECONDS,
    ApiFailure,
    check_method,
    configuration_error,
    failure_response,
    invalid_job_id,
    select_hub,
)
from shared.proxy.prepared import etag_of
from shared.proxy.validation import is_valid_job_id
from shared.redaction import redact_value
from shared.reports.delivery import delivery_final
from shared.reports.html import render_html
from shared.reports.markdown import render_markdown
from shared.settings import AppSettings

if TYPE_CHECKING:
    from shared.reports.copies import ReportCopies

logger = logging.getLogger("get_report")

# Storage reads: short, one retry; a copy is at most MAX_COPY_BYTES (copies.py).
STORAGE_OPTIONS: dict[str, Any] = {"connection_timeout": 2, "read_timeout": 5, "retry_total": 1}
# A report whose delivery beside the job is settled never changes (a retry writes the same one): found copies are
# kept a while per instance. One still being delivered is read each time, so that its delivery status is current.
FOUND_TTL_SECONDS = 60.0
MAX_KEPT = 256
# From /api/status/jobs/{jobId}/report back to /api/status.
STATUS_PAGE_LINK = "../../../status"
# From /api/jobs/{jobId}/report to /api/status/jobs/{jobId}/report (the 303's Location, relative as RFC 9110 allows).
REPORT_PAGE_PATH = "../../status/jobs/{job}/report"


class ReportFormat(str, Enum):
    JSON = "application/json"
    MARKDOWN = "text/markdown"
    HTML = "text/html"


def negotiate(accept: str | None) -> ReportFormat:
    """The format the Accept header names explicitly with the highest q (ties: its first); JSON otherwise
    (no header, `*/*`, `text/*`, or only types this route does not serve)."""
    best: tuple[float, int, ReportFormat] | None = None
    for position, item in enumerate((accept or "")[:1024].split(",")):
        media, *params = (part.strip().lower() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        matched = next((fmt for fmt in ReportFormat if fmt.value == media), None)
        if matched is None or not quality > 0:
            continue
        if best is None or quality > best[0]:
            best = (quality, position, matched)
    return best[2] if best is not None else ReportFormat.JSON


class ReportHandler:
    def __init__(self, *, settings: AppSettings, copies: ReportCopies) -> None:
        self._settings = settings
        self._copies = copies
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[str, str], tuple[float, dict[str, Any]]] = OrderedDict()

    def handle(self, request: ProxyRequest) -> ProxyResponse:
        """The scripts' route: JSON or Markdown; a request for HTML is sent to the page under /api/status."""
        return self._answer(request, negotiate(request.headers.get("accept")), page=False)

    def page(self, request: ProxyRequest) -> ProxyResponse:
        """The people's route: the HTML page, whatever the Accept header says."""
        return self._answer(request, ReportFormat.HTML, page=True)

    def _answer(self, request: ProxyRequest, wanted: ReportFormat, *, page: bool) -> ProxyResponse:
        started = time.monotonic()
        job_id: str | None = request.job_id if is_valid_job_id(request.job_id) else None
        hub_name: str | None = None
        try:
            check_method(request.method)
            hub = select_hub(self._settings.hub, request.params)
            hub_name = hub.name
            if job_id is None:
                raise invalid_job_id()
            if wanted is ReportFormat.HTML and not page:
                response = _to_the_page(request, hub.name, job_id)
                self._log(request, job_id=job_id, hub=hub_name, wanted=wanted, status=response.status_code,
                          started=started, page=page)
                return response
            report = self._report(hub.name, job_id)
        except ApiFailure as failure:
            self._log(request, job_id=job_id, hub=hub_name, wanted=wanted, status=failure.status, started=started,
                      page=page, error=failure.code.value)
            return failure_response(failure, job_id=job_id, hub=hub_name, method=request.method)
        response = self._ok(request, report, wanted)
        self._log(request, job_id=job_id, hub=hub_name, wanted=wanted, status=response.status_code, started=started,
                  page=page)
        return response

    def _report(self, hub: str, job_id: str) -> dict[str, Any]:
        key = (hub.lower(), job_id)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept[0] > time.monotonic():
                return kept[1]
        try:
            document = self._copies.get(hub, job_id, **STORAGE_OPTIONS)
        except ValueError:  # not JSON: a copy this app did not write whole
            log_event(logger, "report_copy_unreadable", level=logging.WARNING, hub=hub, jobId=job_id)
            document = None
        except Exception as error:  # storage refused, failed or timed out: the caller may try again
            from shared.poller.storage import storage_error_text

            log_event(logger, "report_storage_unavailable", level=logging.WARNING, hub=hub, jobId=job_id,
                      reason=storage_error_text(error))
            raise ApiFailure(status=503, code=ApiErrorCode.STORAGE_UNAVAILABLE,
                             message="the app's report storage could not be read; retry shortly",
                             headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)}) from None
        if document is None:
            raise ApiFailure(status=404, code=ApiErrorCode.REPORT_NOT_FOUND,
                             message="no report is stored for this job (unknown, not finished, or nothing went wrong)")
        # Redacted when written; once more here, as every answer is.
        redacted: dict[str, Any] = redact_value(document)
        if not delivery_final(redacted):
            return redacted  # its delivery beside the job is still being tried: the copy will change
        with self._lock:
            self._kept[key] = (time.monotonic() + FOUND_TTL_SECONDS, redacted)
            self._kept.move_to_end(key)
            while len(self._kept) > MAX_KEPT:
                self._kept.popitem(last=False)
        return redacted

    def _ok(self, request: ProxyRequest, report: Mapping[str, Any], wanted: ReportFormat) -> ProxyResponse:
        if wanted is ReportFormat.HTML:
            back = STATUS_PAGE_LINK + _key_query(request)
            body, headers = render_html(report, status_page=html.escape(back, quote=True)), security_headers()
        elif wanted is ReportFormat.MARKDOWN:
            body = render_markdown(report).encode()
            headers = {"Content-Type": MARKDOWN_CONTENT_TYPE, "Cache-Control": "no-store",
                       "X-Content-Type-Options": "nosniff"}
        else:
            body = json.dumps(report, separators=(",", ":")).encode()
            headers = {"Content-Type": JSON_CONTENT_TYPE, "Cache-Control": "no-store"}
        headers.update({"ETag": etag_of(body), "Vary": "Accept"})
        return conditional_answer(request, headers, lambda: body)

    def _log(self, request: ProxyRequest, *, job_id: str | None, hub: str | None, wanted: ReportFormat, status: int,
             started: float, page: bool, error: str | None = None) -> None:
        level = logging.WARNING if status >= 500 else logging.INFO
        log_event(logger, "report_page" if page else "get_report", level=level, jobId=job_id, hub=hub,
                  method=request.method.upper(), format=wanted.value, status=status,
                  durationMs=round((time.monotonic() - started) * 1000, 2), error=error)


def _key_query(request: ProxyRequest, **params: str) -> str:
    # A key that came in the URL goes on into the link, as the status page's links carry it here: the routes
    # under /api/status check the function key too, after sign-in.
    key = request.params.get("code")
    query = {**params, **({"code": key} if key else {})}
    return f"?{urllib.parse.urlencode(query)}" if query else ""


def _to_the_page(request: ProxyRequest, hub: str, job_id: str) -> ProxyResponse:
    """303 See Other to the report page: GET it, whatever the method was (a HEAD follows with HEAD)."""
    location = REPORT_PAGE_PATH.format(job=urllib.parse.quote(job_id, safe="")) + _key_query(request, hub=hub)
    return ProxyResponse(status_code=303, body=b"", headers={"Location": location, "Cache-Control": "no-store",
                                                              "Vary": "Accept"})


class ReportPage:
    """GET /api/status/jobs/{jobId}/report: the report handler's page (the Handler the function serves)."""

    def __init__(self, reports: ReportHandler) -> None:
        self._reports = reports

    def handle(self, request: ProxyRequest) -> ProxyResponse:
        return self._reports.page(request)


def configuration_error_response(error: SettingsError, method: str = "GET") -> ProxyResponse:
    return configuration_error(error, logger=logger, route="get_report", method=method)


def page_configuration_error_response(error: SettingsError, method: str = "GET") -> ProxyResponse:
    return configuration_error(error, logger=logger, route="report_page", method=method)


def _build_report_handler() -> ReportHandler:
    from shared.poller.storage import BlobClients
    from shared.reports.copies import ReportCopies

    settings = AppSettings.from_environ(os.environ)
    blobs = BlobClients(storage_client_id=settings.poller.storage_client_id)
    return ReportHandler(settings=settings, copies=ReportCopies.of_app(blobs, settings.poller))


# The process's handler, reading the copies with the app's storage clients (raises SettingsError).
default_report_handler = OncePerProcess(_build_report_handler)
# The page's route shares it (and so its kept copies).
default_report_page = OncePerProcess(lambda: ReportPage(default_report_handler.get()))

