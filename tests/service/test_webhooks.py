"""The webhook routes: registration and its URL rules, the secret shown once, the test
button, the delivery log and replay, with a real receiver verifying every signature."""

from __future__ import annotations

import base64
import time

import pytest

from personas.alerts.delivery import deliver_one
from personas.alerts.models import EVENTS
from tests.alerts_fixtures import alerts_config
from tests.support.auth import bearer
from tests.support.receiver import Answer

BASE = "/api/v1/personas/admin/webhooks"


@pytest.fixture
def api(alerts_app, alerts_db, admin_token):
    """Admin calls to the app that may send to loopback receivers."""
    client = alerts_app.test_client()
    headers = bearer(admin_token)

    def call(method: str, path: str = "", **kwargs):
        return client.open(BASE + path, method=method, headers=headers, **kwargs)

    return call


def register(api, receiver, **body) -> dict:
    answer = api("POST", json={"url": receiver.url, **body})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def test_a_webhook_is_registered_with_its_secret_shown_only_then(api, receiver):
    created = register(api, receiver, description="ops channel")
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) >= 24
    assert created["events"] == list(EVENTS)
    assert created["format"] == "standard"
    listed = api("GET").get_json()["webhooks"]
    assert [w["id"] for w in listed] == [created["id"]]
    assert "secret" not in listed[0]
    assert listed[0]["description"] == "ops channel"
    assert listed[0]["disabledAt"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "url"),
        ({"url": "ftp://example.com/hook"}, "url"),
        ({"url": "http://example.com/" + "a" * 2000}, "url"),
        ({"url": 5}, "url"),
        ({"url": "RECEIVER", "events": ["module.exploded"]}, "events[0]"),
        ({"url": "RECEIVER", "events": []}, "events"),
        ({"url": "RECEIVER", "events": ["tool.failing", "tool.failing"]}, "events"),
        ({"url": "RECEIVER", "format": "teams"}, "format"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(api, receiver, body, field):
    if body.get("url") == "RECEIVER":
        body = {**body, "url": receiver.url}
    answer = api("POST", json=body)
    assert answer.status_code == 400, answer.get_json()
    assert field in [d["field"] for d in answer.get_json()["details"]]
    assert api("GET").get_json()["webhooks"] == []


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/hook", "http://localhost/hook", "http://10.1.2.3/hook", "http://169.254.1.1/"],
)
def test_internal_addresses_are_refused_unless_allowed(client, admin_token, url):
    answer = client.post(BASE, json={"url": url}, headers=bearer(admin_token))
    assert answer.status_code == 400
    assert answer.get_json()["details"][0]["field"] == "url"
    assert "ALERTS_ALLOW_PRIVATE_URLS" in answer.get_json()["message"]


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data", "http://[fd00:ec2::254]/"])
def test_metadata_addresses_are_refused_even_when_private_ones_are_allowed(api, url):
    answer = api("POST", json={"url": url})
    assert answer.status_code == 400
    assert "metadata" in answer.get_json()["message"]


def test_the_test_button_sends_a_signed_message_at_once(api, receiver):
    hook = register(api, receiver)
    receiver.expect(hook["secret"])
    answer = api("POST", f"/{hook['id']}/test")
    assert answer.status_code == 200, answer.get_json()
    delivery = answer.get_json()["delivery"]
    assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == ("delivered", 1, 200)
    [got] = receiver.received
    assert got.verified
    assert got.webhook_id == delivery["messageId"]
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    assert got.headers["content-type"] == "application/json"
    assert got.body["type"] == "webhook.test" and got.body["data"] == {}
    assert got.body["timestamp"].endswith("Z")
    assert api("GET", f"/{hook['id']}/deliveries").get_json()["deliveries"] == [delivery]


def test_a_refused_test_stays_pending_for_a_retry(api, receiver):
    hook = register(api, receiver)
    receiver.expect(hook["secret"], Answer(503))
    delivery = api("POST", f"/{hook['id']}/test").get_json()["delivery"]
    assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == ("pending", 1, 503)
    assert delivery["nextAttemptAt"] is not None


def test_redirects_are_not_followed(api, receiver):
    hook = register(api, receiver)
    receiver.expect(hook["secret"], Answer(307, headers={"Location": receiver.url + "/elsewhere"}))
    delivery = api("POST", f"/{hook['id']}/test").get_json()["delivery"]
    assert (delivery["status"], delivery["lastStatusCode"]) == ("pending", 307)
    assert len(receiver.received) == 1


def test_replay_sends_the_same_webhook_id_again(api, receiver, alerts_app, alerts_db):
    hook = register(api, receiver)
    receiver.expect(hook["secret"])
    first = api("POST", f"/{hook['id']}/test").get_json()["delivery"]
    answer = api("POST", f"/deliveries/{first['id']}/replay")
    assert answer.status_code == 202
    again = answer.get_json()["delivery"]
    assert (again["messageId"], again["status"]) == (first["messageId"], "pending")
    assert api("POST", f"/deliveries/{first['id']}/replay").status_code == 409  # one pending at a time
    assert deliver_one(alerts_db, alerts_config(alerts_app.config["PERSONAS"])) == again["id"]
    assert [r.webhook_id for r in receiver.received] == [first["messageId"]] * 2
    assert all(r.verified for r in receiver.received)
    assert api("POST", "/deliveries/dlv_nope/replay").status_code == 404


def test_a_410_disables_the_webhook(api, receiver):
    hook = register(api, receiver)
    receiver.expect(hook["secret"], Answer(410))
    delivery = api("POST", f"/{hook['id']}/test").get_json()["delivery"]
    assert (delivery["status"], delivery["lastStatusCode"]) == ("failed", 410)
    assert api("GET").get_json()["webhooks"][0]["disabledAt"] is not None
    assert api("POST", f"/{hook['id']}/test").status_code == 409
    assert api("POST", f"/deliveries/{delivery['id']}/replay").status_code == 409
    assert len(receiver.received) == 1


def test_slack_webhooks_get_slacks_body(api, receiver):
    hook = register(api, receiver, format="slack")
    receiver.expect(hook["secret"])
    assert api("POST", f"/{hook['id']}/test").get_json()["delivery"]["status"] == "delivered"
    [got] = receiver.received
    assert set(got.body) == {"text", "blocks"}
    assert "test" in got.body["text"]
    assert got.verified


def test_deleting_a_webhook_and_unknown_ids(api, receiver):
    hook = register(api, receiver)
    assert api("DELETE", f"/{hook['id']}").status_code == 204
    assert api("DELETE", f"/{hook['id']}").status_code == 404
    assert api("GET", f"/{hook['id']}/deliveries").status_code == 404
    assert api("POST", f"/{hook['id']}/test").status_code == 404
    assert api("GET").get_json()["webhooks"] == []


def test_the_delivery_log_is_newest_first_and_bounded(api, receiver):
    hook = register(api, receiver)
    receiver.expect(hook["secret"])
    ids = [api("POST", f"/{hook['id']}/test").get_json()["delivery"]["id"] for _ in range(3)]
    listed = api("GET", f"/{hook['id']}/deliveries?limit=2").get_json()["deliveries"]
    assert [d["id"] for d in listed] == ids[::-1][:2]
    bad = api("GET", f"/{hook['id']}/deliveries?limit=0")
    assert bad.status_code == 400 and bad.get_json()["details"][0]["field"] == "limit"


def test_the_routes_need_an_admin(client):
    assert client.get(BASE).status_code == 401
    assert client.post(BASE, json={"url": "https://example.com/hook"}).status_code == 401
