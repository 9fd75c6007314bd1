"""IoT Hub's error answers, in the three shapes the service uses (docs/iothub-evidence.md, "Errors"):

1. `{"Message":"ErrorCode:<Name>;<text>","ExceptionMessage":"Tracking ID:<id>-G:<n>-TimeStamp:..."}`
2. `{"errorCode":404001,"trackingId":"...","message":"...","timestampUtc":"..."}`, sometimes JSON-escaped
   inside `Message`
3. only the header `iothub-errorcode: <Name>`
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ERROR_CODE_HEADER = "iothub-errorcode"
_MESSAGE_CODE = re.compile(r"ErrorCode:\s*([A-Za-z0-9]+)")
_TRACKING_ID = re.compile(r"Tracking ID:\s*([A-Za-z0-9-]+?)(?:-G:|$|\s)")


@dataclass(frozen=True, kw_only=True)
class HubErrorInfo:
    error_code: str | None
    tracking_id: str | None


def error_info(headers: Mapping[str, str], raw_body: bytes) -> HubErrorInfo:
    """Read the error code and tracking id from any of the three body shapes IoT Hub uses."""
    code = headers.get(ERROR_CODE_HEADER)
    tracking: str | None = None
    try:
        body = json.loads(raw_body)
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = body.get("Message") or body.get("message")
        if isinstance(message, str):
            nested = _json_object(message)
            if nested is not None:
                body = {**body, **nested}
            elif code is None and (match := _MESSAGE_CODE.search(message)):
                code = match.group(1)
        if code is None and body.get("errorCode") is not None:
            code = str(body.get("errorCode"))
        tracking_value = body.get("trackingId")
        if isinstance(tracking_value, str):
            tracking = tracking_value
        exception_message = body.get("ExceptionMessage")
        if tracking is None and isinstance(exception_message, str):
            match = _TRACKING_ID.search(exception_message)
            tracking = match.group(1) if match else None
    return HubErrorInfo(error_code=code, tracking_id=tracking)


def _json_object(text: str) -> dict[str, Any] | None:
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
