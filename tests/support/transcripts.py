"""A tick's transcript as a runner uploads it: one of each kind of event, a failed call
among them; the trace id its tick was recorded under."""

from __future__ import annotations

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
EVENTS = [
    {"kind": "model", "text": "First I list my todos, then I book the dentist."},
    {
        "kind": "call",
        "tool": "todo.list",
        "arguments": {"limit": 20},
        "result": "ok",
        "output": '{"items": [{"id": "t-1", "title": "Essay"}]}',
        "latencyMs": 84,
    },
    {
        "kind": "call",
        "tool": "calendar.create",
        "arguments": {"title": "Dentist", "fields": {"at": "09:00"}},
        "result": "error",
        "output": "409 conflict: slot taken",
        "latencyMs": 211,
    },
    {
        "kind": "ratings",
        "ratings": [{"module": "calendar", "rating": 2, "notes": "It never said which slot clashed."}],
    },
    {"kind": "error", "step": "actions", "message": "POST actions: 503 Service Unavailable"},
]
