"""Request ids, logs without secrets, metrics across workers, body limits, JSON errors."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import requests

from tests.conftest import ARTIFACTS, SERVICE_KEY
from tests.service.factories import add_persona

ACTIONS = "/api/v1/personas/internal/{}/actions"


def test_every_response_carries_a_request_id(client, internal_headers):
    generated = client.get("/health").headers["X-Request-Id"]
    assert len(generated) >= 16
    echoed = client.get(
        "/api/v1/personas/internal/due", headers={**internal_headers, "X-Request-Id": "abc-123"}
    )
    assert echoed.headers["X-Request-Id"] == "abc-123"
    error = client.get("/nowhere", headers={"X-Request-Id": "req-404"})
    assert error.status_code == 404 and error.headers["X-Request-Id"] == "req-404"


def test_an_unsafe_request_id_is_replaced(client):
    response = client.get("/health", headers={"X-Request-Id": "bad id\twith spaces" + "x" * 200})
    assert response.headers["X-Request-Id"] != "bad id\twith spaces"
    assert " " not in response.headers["X-Request-Id"]


def test_a_body_over_the_limit_is_413_json(client, db, internal_headers, config):
    add_persona(db, "p1")
    huge = b'{"actions": [' + b" " * (config.max_body_bytes + 1) + b"]}"
    response = client.post(
        ACTIONS.format("p1"), data=huge, headers=internal_headers, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.get_json()["error"] == "RequestEntityTooLarge"


def test_live_requests_are_logged_as_json_with_their_id_and_no_secrets(live_api, db):
    add_persona(db, "p1")
    requests.post(
        f"{live_api.url}{ACTIONS.format('p1')}",
        json={"actions": [{"tickId": "t", "toolName": "x", "result": "ok"}]},
        headers={
            "X-Service-Key": SERVICE_KEY,
            "X-Request-Id": "trace-me-42",
            "Authorization": "Bearer secret-token-value",
        },
        timeout=10,
    )
    lines = (ARTIFACTS / "web.log").read_text().splitlines()
    mine = [json.loads(line) for line in lines if "trace-me-42" in line]
    assert mine, "the request's log line is missing"
    assert mine[-1]["status"] == 200 and mine[-1]["route"] == "/api/v1/personas/internal/<id>/actions"
    assert "durationMs" in mine[-1] or "duration_ms" in mine[-1]
    text = "\n".join(lines)
    assert SERVICE_KEY not in text and "secret-token-value" not in text


def test_metrics_sum_requests_over_every_worker(live_api, db):
    def count() -> float:
        body = requests.get(f"{live_api.url}/metrics", timeout=10).text
        total = 0.0
        for line in body.splitlines():
            if line.startswith("personas_http_requests_total{") and 'route="/health"' in line:
                total += float(line.rsplit(" ", 1)[1])
        return total

    before = count()
    for _ in range(40):
        requests.get(f"{live_api.url}/health", timeout=10)
    assert count() - before == 40
    body = requests.get(f"{live_api.url}/metrics", timeout=10).text
    assert "personas_http_request_duration_seconds_bucket" in body
    assert "personas_db_pool_connections" in body


def test_metrics_count_new_rows_by_kind(client, db, internal_headers):
    from prometheus_client import REGISTRY

    def written(kind: str) -> float:
        return REGISTRY.get_sample_value("personas_rows_written_total", {"kind": kind}) or 0

    add_persona(db, "p1")
    before = written("actions")
    batch = {"actions": [{"tickId": "m", "toolName": f"t{i}", "result": "ok"} for i in range(3)]}
    client.post(ACTIONS.format("p1"), json=batch, headers=internal_headers)
    client.post(ACTIONS.format("p1"), json=batch, headers=internal_headers)  # a retry adds nothing
    assert written("actions") - before == 3


def metric_series(base_url: str) -> set[str]:
    """Every series /metrics lists (name and labels), without the values."""
    body = requests.get(f"{base_url}/metrics", timeout=10).text
    return {line.rsplit(" ", 1)[0] for line in body.splitlines() if line and not line.startswith("#")}


def send_made_up(base_url: str, method: str, path: str) -> int:
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_made_up_methods_and_paths_do_not_grow_the_metrics(live_api, db):
    """Label values come from closed sets: unknown methods count as `other`, unmatched
    paths as one route, so a client cannot add series by inventing them."""
    for n in range(8):  # every worker has seen each kind of odd request once
        send_made_up(live_api.url, "FOO", f"/made-up/{n}")
        send_made_up(live_api.url, "FOO", f"/api/v1/personas/internal/made-up/{n}")
    before = metric_series(live_api.url)
    for n in range(200):
        path = f"/api/v1/personas/internal/{n}/nothing-{n}" if n % 2 else f"/nothing-{n}"
        assert send_made_up(live_api.url, f"X{n:04d}", path) < 500
    after = metric_series(live_api.url)
    assert after == before
    assert not [s for s in after if "X0" in s or "nothing-" in s]
    assert any('method="other"' in s for s in after)
