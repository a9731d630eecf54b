"""Structured logs: one JSON object per line on stderr, each carrying the request id.

Nothing here ever logs headers or bodies, so the service key, tokens and passwords
cannot reach a log line through it.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

import orjson
from flask import Flask, Response, g, has_request_context, request

log = logging.getLogger("personas.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdFilter(logging.Filter):
    """Stamps every record made while serving a request with that request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id") if has_request_context() else None
        return True


class JsonFormatter(logging.Formatter):
    FIELDS = ("method", "route", "path", "status", "duration_ms")

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "requestId": getattr(record, "request_id", None),
            "message": record.getMessage(),
        }
        line.update({k: getattr(record, k) for k in self.FIELDS if hasattr(record, k)})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def configure_logging() -> None:
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.formatter.converter = time.gmtime
    handler.addFilter(RequestIdFilter())
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # urllib3 logs full URLs of upstream calls at DEBUG only; keep it quiet regardless.
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def init_app(app: Flask) -> None:
    @app.before_request
    def assign_request_id() -> None:
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def log_request(response: Response) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers["X-Request-Id"] = request_id
        duration = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "route": route_of(),
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(duration, 2),
            },
        )
        return response


# `<persona:id>` -> `<id>`: the converter is how the id is checked, not part of its name.
_CONVERTER = re.compile(r"<[^:>]+:")


def route_of() -> str:
    """The matched URL rule with its variables by name (`/api/v1/personas/internal/<id>/actions`),
    not the raw path."""
    rule = request.url_rule
    return _CONVERTER.sub("<", rule.rule) if rule is not None else "<unmatched>"
