"""What the status page was asked for, and the links that keep it: the list route's filters (shared/proxy/filters.py),
which hub, how many rows per hub, and the continuation of an "older" link.

Every part is a query parameter, so a filtered page is a link anyone can share; links are relative to /api/status
and carry the function key only when the page was opened with one (`?code=`).
"""

from __future__ import annotations

import datetime
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, replace

from shared.proxy.answers import ApiErrorCode
from shared.proxy.common import ApiFailure, select_hub
from shared.proxy.filters import Cursor, ListFilters
from shared.settings import HubSettings
from shared.settings.hub import HubClientSettings

# Rows per hub without `top`: the newest; "older" links page through the rest.
DEFAULT_ROWS_PER_HUB = 50
# Rows per hub a page may ask for: a page of 20 hubs stays a page.
MAX_ROWS_PER_HUB = 200


@dataclass(frozen=True, kw_only=True)
class PageQuery:
    hubs: tuple[HubSettings, ...]
    filters: ListFilters  # `top` and `before` left out: the page applies them per hub
    rows: int
    top_given: bool  # `top` was in the query: kept in the links
    before: Cursor | None  # only with one hub: a continuation is one hub's
    key: str | None  # the function key the page was opened with, carried into its links

    @classmethod
    def parse(cls, params: Mapping[str, str], hubs: HubClientSettings, *, now: datetime.datetime) -> PageQuery:
        """Raises ApiFailure (400, or 404 for a well-formed hub that is not configured) before any hub call."""
        filters = ListFilters.parse(params, now=now)
        chosen = (select_hub(hubs, params),) if params.get("hub") else tuple(hubs.hubs)
        if filters.top is not None and filters.top > MAX_ROWS_PER_HUB:
            raise ApiFailure(status=400, code=ApiErrorCode.INVALID_TOP,
                             message=f"top on the status page is rows per hub, 1-{MAX_ROWS_PER_HUB}")
        if filters.before is not None and len(chosen) != 1:
            raise ApiFailure(status=400, code=ApiErrorCode.INVALID_FILTER,
                             message="before is one hub's continuation: give hub too")
        return cls(hubs=chosen, filters=replace(filters, top=None, before=None),
                   rows=filters.top or DEFAULT_ROWS_PER_HUB, top_given=filters.top is not None,
                   before=filters.before, key=params.get("code") or None)

    @property
    def filtered(self) -> bool:
        return bool(self.filters.query())

    def link(self, *, hub: str | None = None, before: Cursor | None = None, drop: str | None = None,
             changes: Mapping[str, str] | None = None) -> str:
        """`status?...`: this page's query with `hub` (None: every hub), the continuation, one filter dropped
        (`drop`) or changed (`changes`, by parameter name)."""
        params = self.filters.query()
        if drop is not None:
            params.pop(drop, None)
        params.update(changes or {})
        query: dict[str, str] = {**({"hub": hub} if hub else {}), **params}
        if self.top_given:
            query["top"] = str(self.rows)
        if before is not None:
            query["before"] = before.text()
        return "status" + ("?" + urllib.parse.urlencode(query) if query or self.key else "") + self._key(query)

    def hub_query(self, hub: str) -> str:
        """The query of a link to another route about `hub` (a report, a job page, the list route)."""
        return urllib.parse.urlencode({"hub": hub, **({"code": self.key} if self.key else {})})

    def _key(self, query: Mapping[str, str]) -> str:
        if not self.key:
            return ""
        return ("&" if query else "") + urllib.parse.urlencode({"code": self.key})
