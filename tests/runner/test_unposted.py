"""The lines a tick logs for what it could not post, as `replay` reads them back."""

from __future__ import annotations

import json

from persona_runner.unposted import records

ACTIONS = {
    "unposted": "2026-01-05T10:00:00Z",
    "reason": "POST http://api/...: [Errno 111] Connection refused",
    "method": "POST",
    "path": "/api/v1/personas/internal/u1/actions",
    "body": {"actions": [{"tickId": "t1", "toolName": "todo.create"}]},
}


def test_records_are_found_whatever_a_log_collector_put_before_them():
    line = json.dumps(ACTIONS, separators=(",", ":"))
    lines = [
        "runner: cannot claim from http://api: connection failed",
        f"ERROR persona_runner.unposted: {line}",
        f"2026-01-05T10:00:01.123Z stdout F {line}\n",
        "ok      kate@mana.test  3 actions (0 error), 3 ratings, t1",
    ]
    assert list(records(lines)) == [ACTIONS, ACTIONS]


def test_a_cut_line_and_a_route_outside_the_internal_api_are_never_sent():
    line = json.dumps(ACTIONS)
    elsewhere = json.dumps({**ACTIONS, "path": "/api/v1/personas/admin/u1"})
    absolute = json.dumps({**ACTIONS, "path": "http://elsewhere/api/v1/personas/internal/u1/actions"})
    get = json.dumps({**ACTIONS, "method": "GET"})
    assert list(records([line[:80], elsewhere, absolute, get])) == []
