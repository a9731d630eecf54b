"""How long the model may make a tick wait. The SDK retries model errors itself (at most
MODEL_RETRIES times) and honours any `retry-after` the API sends with no practical cap, so
a rate limit asking for an hour would hold the worker until the tick times out. The
middleware here sees each attempt's answer first: a wait longer than the tick has left
fails the tick at once, naming the status, instead."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from persona_runner.errors import DriverFailed

MODEL_RETRIES = 2


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The wait an answer asks for, read as the SDK reads it: `retry-after-ms`, else
    `retry-after` in seconds or as an HTTP date."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            return float(headers[name]) / scale
        except (KeyError, TypeError, ValueError):
            pass
    when = email.utils.parsedate_tz(headers.get("retry-after") or "")
    return None if when is None else email.utils.mktime_tz(when) - time.time()


def error_text(body: Any, fallback: str) -> str:
    """`{type}: {message}` of an API error body."""
    body = body if isinstance(body, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    return f"{error.get('type', '')}: {error.get('message', '')}".strip(": ") or fallback[:300]


def bounded_waits(deadline: float) -> Callable[[Any, Callable[[Any], Awaitable[Any]]], Awaitable[Any]]:
    """SDK middleware for one tick whose time runs out at `deadline` (time.monotonic)."""

    async def middleware(request: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        response = await call_next(request)
        if response.status_code < 400:
            return response
        wait = retry_after_seconds(response.headers)
        left = deadline - time.monotonic()
        if wait is None or wait <= left:
            return response
        raw = response.http_response
        await raw.aread()
        try:
            body = raw.json()
        except ValueError:
            body = None
        raise DriverFailed(
            f"model: {response.status_code} {error_text(body, raw.text)} "
            f"(it asks to wait {wait:.0f} s; the tick has {max(left, 0):.0f} s left)"
        )

    return middleware
