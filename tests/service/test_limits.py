"""The body limit holds however a body is framed: declared by Content-Length, or chunked.

Chunked bodies are sent over a real connection to the service under gunicorn, the only
place where the framing is real.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from urllib.parse import urlsplit

import orjson

from config import Config
from tests.conftest import SERVICE_KEY
from tests.service.factories import add_persona, count_rows

ACTIONS = "/api/v1/personas/internal/{}/actions"
LIMIT = Config.max_body_bytes  # the live service runs with the default
CHUNK = 64 * 1024


def batch_of_exactly(size: int, tick: str = "tick-1") -> bytes:
    """A valid one-action batch, padded with JSON whitespace to `size` bytes."""
    body = orjson.dumps({"actions": [{"tickId": tick, "toolName": "todo.create", "result": "ok"}]})
    return body[:-1] + b" " * (size - len(body)) + b"}"


def chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), CHUNK):
        yield body[start : start + CHUNK]


def post_chunked(base_url: str, path: str, body: bytes, method: str = "POST") -> tuple[int, dict]:
    """POST (or `method`) with Transfer-Encoding: chunked (no Content-Length) and read the answer."""
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        headers = {"X-Service-Key": SERVICE_KEY, "Content-Type": "application/json"}
        conn.request(method, path, body=chunks(body), headers=headers, encode_chunked=True)
        response = conn.getresponse()
        return response.status, orjson.loads(response.read())
    finally:
        conn.close()


def test_a_chunked_body_over_the_limit_is_413_and_writes_nothing(live_api, db):
    add_persona(db, "p1")
    # A valid batch of exactly the limit, then more bytes: cut at the limit, it would parse.
    body = batch_of_exactly(LIMIT) + b" " * 1024
    status, answer = post_chunked(live_api.url, ACTIONS.format("p1"), body)
    assert status == 413
    assert answer["error"] == "RequestEntityTooLarge"
    assert count_rows(db, "persona_actions") == 0


def test_a_chunked_body_of_exactly_the_limit_is_accepted(live_api, db):
    add_persona(db, "p1")
    status, answer = post_chunked(live_api.url, ACTIONS.format("p1"), batch_of_exactly(LIMIT))
    assert status == 200, answer
    assert answer == {"ok": True, "written": 1, "new": 1}


def test_a_small_chunked_body_is_read_whole(live_api, db):
    add_persona(db, "p1")
    status, answer = post_chunked(live_api.url, ACTIONS.format("p1"), batch_of_exactly(3 * CHUNK + 7))
    assert status == 200, answer
    assert count_rows(db, "persona_actions") == 1


def test_a_declared_length_over_the_limit_is_refused_before_the_gate_and_unread(live_api, db):
    """No key and no body sent: the declared length alone earns the 413."""
    url = urlsplit(live_api.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.putrequest("POST", ACTIONS.format("p1"))
        conn.putheader("Content-Length", str(LIMIT + 1))
        conn.putheader("Content-Type", "application/json")
        conn.endheaders()
        response = conn.getresponse()
        assert response.status == 413
        assert orjson.loads(response.read())["error"] == "RequestEntityTooLarge"
    finally:
        conn.close()
