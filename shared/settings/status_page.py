"""The status page's own settings (STATUS_PAGE_*)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings.names import STATUS_PAGE_DAYS
from shared.settings.reader import SettingsReader

DEFAULT_DAYS = 7.0
MAX_DAYS = 30.0  # IoT Hub keeps a job 30 days after it ends: older ones are in no list


@dataclass(frozen=True, kw_only=True)
class StatusPageSettings:
    days: float  # the page shows the jobs that started (or ended) in the last `days` days


def read_status_page_settings(reader: SettingsReader) -> StatusPageSettings:
    return StatusPageSettings(days=reader.number(STATUS_PAGE_DAYS, DEFAULT_DAYS, float, low=0.01, high=MAX_DAYS))
