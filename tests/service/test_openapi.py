"""The OpenAPI document covers every route the app serves, from the models that validate."""

from __future__ import annotations

import re

from personas.validation import ActionBatch, PersonaUpsert


def documented(client) -> dict:
    response = client.get("/api/v1/personas/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_every_route_and_method_is_documented_and_nothing_else(app, client):
    doc = documented(client)
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule).rstrip("/") or "/"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((method.lower(), path))
    listed = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert served == listed


def test_request_schemas_are_the_validating_models(client):
    schemas = documented(client)["components"]["schemas"]
    assert schemas["ActionRow"]["properties"]["tickId"]["maxLength"] == 200
    assert schemas["ActionBatch"]["properties"]["actions"]["maxItems"] == 500
    assert schemas["ActionBatch"]["required"] == ActionBatch.model_json_schema()["required"]
    assert set(schemas["PersonaUpsert"]["properties"]) == set(PersonaUpsert.model_json_schema()["properties"])


def test_every_operation_documents_its_errors_and_auth(client):
    doc = documented(client)
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert {"500", "503"} <= set(op["responses"]), (method, path)
            if "/internal/" in path:
                assert op["security"] == [{"serviceKey": []}] and "401" in op["responses"]
            if "/admin" in path:
                assert op["security"] == [{"adminJwt": []}] and {"401", "403"} <= set(op["responses"])


def test_the_upsert_email_states_the_persona_domain(client):
    email = documented(client)["components"]["schemas"]["PersonaUpsert"]["properties"]["email"]
    assert re.fullmatch(email["pattern"], "ada@mana.test")
    assert not re.fullmatch(email["pattern"], "ada@example.com")
    assert not re.fullmatch(email["pattern"], "ada@mana.test.evil.com")
