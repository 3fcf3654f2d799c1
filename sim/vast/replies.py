"""Vast's reply shapes: its JSON error body, its three kinds of 429, and reading a JSON body."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response


def error(status: int, code: str, msg: str) -> JSONResponse:
    """`{"success": false, "error": code, "msg": msg}` with HTTP `status`."""
    return JSONResponse({"success": False, "error": code, "msg": msg}, status_code=status)


def bad_gateway() -> Response:
    """What a proxy in front of Vast answers when the backend failed: plain text 502."""
    return PlainTextResponse("Bad Gateway", status_code=502)


def server_error() -> Response:
    """Vast's own plain-text 500."""
    return PlainTextResponse("Internal Server Error", status_code=500)


def rate_limited(shape: int, retry_after_s: float | None, threshold_s: float = 2.0) -> Response:
    """A 429 in one of the three shapes Vast sends (`shape` 0, 1 or 2), naming the endpoint's
    `threshold_s` where Vast's shape does."""
    headers = {"Retry-After": str(int(retry_after_s))} if retry_after_s is not None else None
    if shape == 0:
        return PlainTextResponse("API requests too frequent", status_code=429, headers=headers)
    if shape == 1:
        body: dict[str, Any] = {
            "detail": f"API requests too frequent endpoint threshold={threshold_s:.1f}"
        }
    else:
        body = {
            "success": False,
            "error": "rate_limit_exceeded",
            "msg": "API requests too frequent",
        }
    return JSONResponse(body, status_code=429, headers=headers)


async def read_json(request: Request) -> dict[str, Any] | None:
    """The request's JSON object body, or None when it is missing, invalid or not an object."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, ValueError):
        return None
    return body if isinstance(body, dict) else None
