"""get_job's own settings (GET_JOB_*)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings.names import GET_JOB_CACHE_TTL_SECONDS, GET_JOB_REDACT_SAS, GET_JOB_TERMINAL_CACHE_SIZE
from shared.settings.reader import SettingsReader


@dataclass(frozen=True, kw_only=True)
class ProxySettings:
    cache_ttl_seconds: float
    terminal_cache_size: int
    redact_sas: bool


def read_proxy_settings(reader: SettingsReader) -> ProxySettings:
    return ProxySettings(
        cache_ttl_seconds=reader.number(GET_JOB_CACHE_TTL_SECONDS, 2.0, float, low=0, high=60),
        terminal_cache_size=reader.number(GET_JOB_TERMINAL_CACHE_SIZE, 1024, int, low=0, high=1_000_000),
        redact_sas=reader.flag(GET_JOB_REDACT_SAS, True),
    )
