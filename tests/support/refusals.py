"""How the service refuses bad input: a 400 ValidationError naming each field."""

from __future__ import annotations


def assert_refused_naming(response, *fields: str) -> None:
    """`response` is a 400 ValidationError whose details name exactly `fields`, in order."""
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "ValidationError"
    assert [d["field"] for d in body["details"]] == list(fields)
