"""Converting between the wire and azure.functions' HttpRequest/HttpResponse, as the host+worker do.

Query parameters: like the Functions host (``StringValues.ToString()``), a repeated parameter is
passed as its values joined by "," and parameters with an empty value are dropped. ``code`` is
passed through. Headers: names lower-cased, repeated headers joined by ", ".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

import azure.functions as func

HOP_BY_HOP = frozenset({"content-length", "connection", "transfer-encoding", "keep-alive"})


def query_params(query: str) -> dict[str, str]:
    grouped: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        grouped.setdefault(name, []).append(value)
    joined = {name: ",".join(values) for name, values in grouped.items()}
    return {name: value for name, value in joined.items() if value}


def request_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def build_request(
    *, method: str, url: str, query: str, headers: Iterable[tuple[str, str]], route_params: dict[str, str], body: bytes
) -> func.HttpRequest:
    return func.HttpRequest(
        method=method,
        url=url,
        headers=request_headers(headers),
        params=query_params(query),
        route_params=route_params,
        body=body,
    )


def response_parts(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body for what the function returned (HttpResponse, str/bytes, or None → 204)."""
    if result is None:
        return 204, [], b""
    if isinstance(result, (str, bytes)):
        result = func.HttpResponse(result)
    if not isinstance(result, func.HttpResponse):
        raise TypeError(f"an HTTP function must return azure.functions.HttpResponse, got {type(result).__name__}")
    headers = [(str(k), str(v)) for k, v in result.headers.items() if str(k).lower() not in HOP_BY_HOP]
    if not any(name.lower() == "content-type" for name, _ in headers):
        mimetype = str(result.mimetype)
        content_type = f"{mimetype}; charset={result.charset}" if mimetype.startswith("text/") else mimetype
        headers.append(("Content-Type", content_type))
    return int(result.status_code), headers, result.get_body()
