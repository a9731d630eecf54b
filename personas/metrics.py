"""Prometheus metrics, right under gunicorn's several workers.

Under gunicorn, gunicorn.conf.py points PROMETHEUS_MULTIPROC_DIR at a fresh
directory before any worker imports prometheus_client, so each worker writes its
figures there and /metrics adds them up across workers (the Config's `metrics_dir`).
"""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from personas.db import get_db
from personas.logs import route_of
from personas.openapi import operation

REQUESTS = Counter(
    "personas_http_requests_total",
    "HTTP requests by route, method and status.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "personas_http_request_duration_seconds",
    "Request latency by route.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ROWS_WRITTEN = Counter("personas_rows_written_total", "New rows stored, by kind.", ["kind"])
UPSTREAM_CALLS = Counter(
    "personas_upstream_calls_total", "Calls to mana-auth by step and outcome.", ["step", "outcome"]
)
POOL = Gauge(
    "personas_db_pool_connections",
    "Database pool connections by state, summed over workers.",
    ["state"],
    multiprocess_mode="livesum",
)

bp = Blueprint("metrics", __name__)

# Label values come from closed sets only: a client that invents methods or paths must
# not be able to add series (each one costs memory in every worker and in Prometheus).
# Routes are the app's own URL rules, or one label for everything unmatched.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    return method if method in METHODS else "other"


@bp.get("/metrics")
@operation("Prometheus metrics, summed over every worker.", content_type="text/plain")
def metrics() -> Response:
    if current_app.config["PERSONAS"].metrics_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def record_pool(stats: dict[str, int]) -> None:
    POOL.labels("size").set(stats.get("pool_size", 0))
    POOL.labels("idle").set(stats.get("pool_available", 0))
    POOL.labels("waiting").set(stats.get("requests_waiting", 0))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.before_request
    def start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def observe(response: Response) -> Response:
        route = route_of()
        REQUESTS.labels(route, method_label(request.method), str(response.status_code)).inc()
        LATENCY.labels(route).observe(time.perf_counter() - g.get("metrics_started", time.perf_counter()))
        pool = get_db().open_pool
        if pool is not None:
            record_pool(pool.get_stats())
        return response
