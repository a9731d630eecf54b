"""The alerts: conditions found once while they last, and the `alerts` process delivering
them to a real receiver (signatures verified with standardwebhooks) through refusals,
stalls, a 410, a kill, and a second process at once."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from config import Config, ConfigError
from personas.alerts.conditions import look_for_conditions
from personas.alerts.delivery import deliver_one
from personas.alerts.messages import new_message
from personas.alerts.models import EVENTS
from personas.queries import queries
from personas.webhooks import new_secret
from tests.alerts_fixtures import alerts_config
from tests.service.factories import add_action, add_persona, add_rating, add_tick
from tests.support.receiver import Answer


@pytest.fixture
def settings(config):
    return alerts_config(config)


def add_webhook(db, receiver, events=EVENTS, format="standard") -> dict:
    return queries.alerts.insert_webhook(
        db, url=receiver.url, events=list(events), format=format, description=None, secret=new_secret()
    )


def queue(db, event: str = "tool.failing", data: dict | None = None) -> str:
    message_id = new_message(db, event, data or {"tool": "todo.create"})
    queries.alerts.queue_for_subscribers(db, message_id=message_id, event=event)
    return message_id


def deliveries(db) -> list[dict]:
    return db.execute(
        "SELECT d.message_id, d.status, d.attempts, d.last_status_code, d.last_error, m.event, m.body"
        " FROM personas.alert_deliveries d JOIN personas.alert_messages m ON m.id = d.message_id"
        " ORDER BY d.created_at"
    ).fetchall()


def wait_until(check, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.05)
    raise TimeoutError(f"{check.__doc__ or check} did not hold within {timeout} s")


def fail_three_ticks(db, persona: str) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)
    for i in range(3):
        add_tick(
            db,
            persona,
            f"{persona}-f{i}",
            state="failed",
            started_at=start + timedelta(minutes=i),
            error="boom",
        )


# Conditions: found by look_for_conditions, once while they last.


def test_a_failing_persona_is_sent_once_while_it_lasts_and_again_when_it_returns(
    alerts_db, settings, receiver
):
    add_webhook(alerts_db, receiver)
    add_persona(alerts_db, "p1")
    fail_three_ticks(alerts_db, "p1")
    assert look_for_conditions(alerts_db, settings) == 1
    assert look_for_conditions(alerts_db, settings) == 0
    add_tick(alerts_db, "p1", "p1-ok", state="ok", started_at=datetime.now(UTC) - timedelta(minutes=10))
    assert look_for_conditions(alerts_db, settings) == 0
    for i in range(3):
        add_tick(
            alerts_db,
            "p1",
            f"p1-g{i}",
            state="timeout",
            started_at=datetime.now(UTC) - timedelta(minutes=5 - i),
        )
    assert look_for_conditions(alerts_db, settings) == 1
    rows = deliveries(alerts_db)
    assert [r[5] for r in rows] == ["persona.failing"] * 2
    assert '"tickId":"p1-g2"' in rows[1][6] and '"failedTicks":3' in rows[1][6]


def test_an_open_condition_is_sent_again_after_the_repeat_interval(alerts_db, settings, receiver):
    add_webhook(alerts_db, receiver)
    add_persona(alerts_db, "p1")
    fail_three_ticks(alerts_db, "p1")
    assert look_for_conditions(alerts_db, settings) == 1
    alerts_db.execute("UPDATE personas.alert_conditions SET sent_at = now() - interval '25 hours'")
    assert look_for_conditions(alerts_db, settings) == 1


def test_a_tool_failing_needs_half_of_ten_calls_in_the_hour(alerts_db, settings, receiver):
    add_webhook(alerts_db, receiver, events=["tool.failing"])
    add_persona(alerts_db, "p1")
    now = datetime.now(UTC)
    for i in range(10):
        add_action(
            alerts_db, "p1", now - timedelta(minutes=5), tool="todo.create", error="x" if i < 5 else None
        )
        add_action(
            alerts_db, "p1", now - timedelta(minutes=5), tool="notes.list", error="x" if i < 4 else None
        )
    for _ in range(9):
        add_action(alerts_db, "p1", now - timedelta(minutes=5), tool="calendar.add", error="x")
    for _ in range(10):
        add_action(alerts_db, "p1", now - timedelta(minutes=61), tool="old.tool", error="x")
    assert look_for_conditions(alerts_db, settings) == 1
    [row] = deliveries(alerts_db)
    assert '"tool":"todo.create"' in row[6] and '"errorRate":0.5' in row[6] and '"calls":10' in row[6]


def test_the_budget_reached_is_sent_once_a_day(alerts_db, settings, receiver):
    add_webhook(alerts_db, receiver, events=["budget.reached"])
    add_persona(alerts_db, "p1")
    add_tick(alerts_db, "p1", "t1", state="ok", cost_usd=2.0)
    spent = queries.insights.budget_standing(alerts_db)["spentUsd"]
    assert look_for_conditions(alerts_db, replace(settings, fleet_daily_budget_usd=spent + 100)) == 0
    reached = replace(settings, fleet_daily_budget_usd=1.0)
    assert look_for_conditions(alerts_db, reached) == 1
    assert look_for_conditions(alerts_db, reached) == 0
    body = deliveries(alerts_db)[0][6]
    assert '"limitUsd":1.0' in body and '"resetsAt"' in body


RATERS = ("p1", "p2", "p3", "p4", "p5")


def rate(db, module: str, ratings: list[int], days_ago: tuple[float, float]) -> None:
    """`ratings` spread evenly between `days_ago` (newest, oldest), dealt to RATERS in turn."""
    newest, oldest = days_ago
    now = datetime.now(UTC)
    step = (oldest - newest) / (len(ratings) - 1)
    for i, value in enumerate(ratings):
        add_rating(db, RATERS[i % len(RATERS)], module, value, now - timedelta(days=newest + i * step))


def test_a_module_the_regression_rule_flags_is_sent_once_with_its_evidence(alerts_db, settings, receiver):
    add_webhook(alerts_db, receiver, events=["module.regressed"])
    for persona in RATERS:
        add_persona(alerts_db, persona)
    for module in ("notes", "todo"):
        rate(alerts_db, module, [4, 5, 5, 4, 5] * 4, days_ago=(8, 34))  # the 28 days before
    rate(alerts_db, "notes", [2, 3, 2, 1, 3] * 2, days_ago=(0.1, 6.5))  # the last 7: a drop
    rate(alerts_db, "todo", [5, 4, 5, 4, 4] * 2, days_ago=(0.1, 6.5))  # no change
    assert look_for_conditions(alerts_db, settings) == 1
    assert look_for_conditions(alerts_db, settings) == 0
    [row] = deliveries(alerts_db)
    message = json.loads(row[6])
    assert (message["type"], message["data"]["module"]) == ("module.regressed", "notes")
    regression = message["data"]["regression"]
    assert (regression["baselineAvg"], regression["recentAvg"], regression["recentCount"]) == (4.6, 2.2, 10)
    assert regression["effect"] == -1.0 and 0 < regression["pValue"] < 0.001
    alerts_db.execute("DELETE FROM personas.persona_feedback WHERE created_at > now() - interval '7 days'")
    assert look_for_conditions(alerts_db, settings) == 0  # too few recent ratings: it cleared
    assert alerts_db.execute("SELECT count(*) FROM personas.alert_conditions").fetchone()[0] == 0


def release_ticks(db, version: str, hours_ago: float, failed_calls: int) -> None:
    """Ten ticks of p1 against product `version`, each calling calendar.add once (hours ago:
    out of tool.failing's hour)."""
    at = datetime.now(UTC) - timedelta(hours=hours_ago)
    for i in range(10):
        tick = add_tick(db, "p1", f"{version}-{i}", started_at=at, product_version=version)
        error = "boom" if i < failed_calls else None
        add_action(db, "p1", at, tool="calendar.add", error=error, tick_id=tick)


def test_a_release_worse_than_the_one_before_is_sent_once_for_that_pair(alerts_db, settings, receiver):
    add_webhook(alerts_db, receiver, events=["release.worse"])
    add_persona(alerts_db, "p1")
    release_ticks(alerts_db, "1.0.0", hours_ago=8, failed_calls=0)
    release_ticks(alerts_db, "1.1.0", hours_ago=6, failed_calls=6)
    assert look_for_conditions(alerts_db, settings) == 1
    assert look_for_conditions(alerts_db, settings) == 0
    [row] = deliveries(alerts_db)
    message = json.loads(row[6])
    assert message["type"] == "release.worse"
    data = message["data"]
    assert (data["from"], data["to"], data["modules"]) == ("1.0.0", "1.1.0", [])
    [tool] = data["tools"]
    assert (tool["tool"], tool["fromErrorRate"], tool["toErrorRate"], tool["verdict"]) == (
        "calendar.add",
        0.0,
        0.6,
        "worse",
    )
    release_ticks(alerts_db, "1.2.0", hours_ago=4, failed_calls=0)  # the fix: better than 1.1.0
    assert look_for_conditions(alerts_db, settings) == 0
    assert alerts_db.execute("SELECT count(*) FROM personas.alert_conditions").fetchone()[0] == 0
    release_ticks(alerts_db, "1.3.0", hours_ago=2, failed_calls=10)  # a new pair, worse again
    assert look_for_conditions(alerts_db, settings) == 1
    assert json.loads(deliveries(alerts_db)[1][6])["data"]["to"] == "1.3.0"


def test_only_subscribed_webhooks_get_an_event(alerts_db, settings, receiver):
    add_webhook(alerts_db, receiver, events=["tool.failing"])
    add_persona(alerts_db, "p1")
    fail_three_ticks(alerts_db, "p1")
    assert look_for_conditions(alerts_db, settings) == 1  # the message is kept ...
    assert deliveries(alerts_db) == []  # ... but goes nowhere


# Delivery, in this process: retries, Retry-After, stalls, 410.


def test_retry_after_sets_the_next_attempt(alerts_db, settings, receiver):
    hook = add_webhook(alerts_db, receiver)
    receiver.expect(hook["secret"], Answer(429, headers={"Retry-After": "120"}))
    queue(alerts_db)
    assert deliver_one(alerts_db, settings)
    wait = alerts_db.execute(
        "SELECT extract(epoch FROM next_attempt_at - now()) FROM personas.alert_deliveries"
    ).fetchone()[0]
    assert 100 < wait <= 120
    assert deliver_one(alerts_db, settings) is None  # not due yet


def test_a_receiver_that_stalls_past_the_timeout_gets_the_same_message_again(alerts_db, settings, receiver):
    hook = add_webhook(alerts_db, receiver)
    receiver.expect(hook["secret"], Answer(200, stall=settings.alert_send_timeout + 1))
    message_id = queue(alerts_db)
    started = time.monotonic()
    deliver_one(alerts_db, settings)
    assert time.monotonic() - started < settings.alert_send_timeout + 1
    [row] = deliveries(alerts_db)
    assert row[1:5] == ("pending", 1, None, f"no answer within {settings.alert_send_timeout:g} s")
    wait_until(lambda: deliver_one(alerts_db, settings))
    assert deliveries(alerts_db)[0][1:3] == ("delivered", 2)
    assert receiver.ids() == [message_id, message_id]


def test_after_the_last_retry_a_delivery_fails(alerts_db, settings, receiver):
    hook = add_webhook(alerts_db, receiver)
    receiver.expect(hook["secret"], *[Answer(500)] * 5)
    queue(alerts_db)
    deliver_one(alerts_db, settings)
    for _ in settings.alert_retry_seconds[:-1]:
        wait_until(lambda: deliver_one(alerts_db, settings))
    alerts_db.execute("UPDATE personas.alert_deliveries SET next_attempt_at = now()")
    deliver_one(alerts_db, settings)
    assert deliveries(alerts_db)[0][1:4] == ("failed", len(settings.alert_retry_seconds) + 1, 500)


def test_after_a_410_nothing_more_is_sent_to_that_webhook(alerts_db, settings, receiver):
    hook = add_webhook(alerts_db, receiver)
    receiver.expect(hook["secret"], Answer(410))
    queue(alerts_db)
    queue(alerts_db)
    while deliver_one(alerts_db, settings):
        pass
    assert [r[1:4] for r in deliveries(alerts_db)] == [("failed", 1, 410), ("failed", 0, None)]
    assert len(receiver.received) == 1
    assert queries.alerts.webhook_state(alerts_db, webhook_id=hook["id"])["disabled"]


# The `alerts` process.


def test_the_process_delivers_a_condition_after_a_refusal_with_the_same_id(alerts_db, receiver, start_alerts):
    hook = add_webhook(alerts_db, receiver)
    receiver.expect(hook["secret"], Answer(500))
    add_persona(alerts_db, "p1")
    fail_three_ticks(alerts_db, "p1")
    process = start_alerts()
    first, second = receiver.wait_for(2)
    assert first.webhook_id == second.webhook_id and first.verified and second.verified
    assert second.body["type"] == "persona.failing" and second.body["data"]["userId"] == "p1"
    wait_until(lambda: deliveries(alerts_db)[0][1] == "delivered")
    assert deliveries(alerts_db)[0][1:4] == ("delivered", 2, 200)
    assert process.stop() == 0  # SIGTERM: a clean stop


def test_a_killed_process_loses_nothing(alerts_db, receiver, start_alerts):
    hook = add_webhook(alerts_db, receiver)
    receiver.expect(hook["secret"], Answer(500), Answer(200, stall=30))
    message_id = queue(alerts_db)
    first = start_alerts(ALERT_RETRY_SECONDS="1", ALERT_SEND_TIMEOUT="60")
    receiver.wait_for(1)
    wait_until(lambda: deliveries(alerts_db)[0][2] == 1)
    first.kill()  # between attempts
    second = start_alerts(ALERT_RETRY_SECONDS="1", ALERT_SEND_TIMEOUT="60")
    receiver.wait_for(2)
    second.kill()  # in the middle of the second attempt
    start_alerts()
    receiver.wait_for(3)
    wait_until(lambda: deliveries(alerts_db)[0][1] == "delivered")
    assert receiver.ids() == [message_id] * 3
    assert deliveries(alerts_db)[0][1:3] == ("delivered", 2)


def test_two_processes_never_send_one_message_at_once(alerts_db, receiver, start_alerts):
    hook = add_webhook(alerts_db, receiver)
    receiver.expect(hook["secret"], *[Answer(200, stall=0.05)] * 16)
    sent = {queue(alerts_db) for _ in range(16)}
    start_alerts()
    start_alerts()
    receiver.wait_for(16)
    wait_until(lambda: all(r[1] == "delivered" for r in deliveries(alerts_db)))
    assert sorted(receiver.ids()) == sorted(sent)
    assert receiver.overlapping == set()


# Settings.


def test_the_contracts_schedule_and_timeout_are_the_defaults():
    config = Config.from_env({"DATABASE_URL": "postgresql://u@h/db"})
    assert config.alert_retry_seconds == (5, 300, 1800, 7200, 18000, 36000)
    assert config.alert_send_timeout == 10
    assert config.alert_repeat_hours == 24
    assert not config.alerts_allow_private_urls


@pytest.mark.parametrize("schedule", ["5,soon", "0", "-1,5"])
def test_a_bad_retry_schedule_is_refused_naming_it(schedule):
    with pytest.raises(ConfigError, match="ALERT_RETRY_SECONDS"):
        Config.from_env({"DATABASE_URL": "postgresql://u@h/db", "ALERT_RETRY_SECONDS": schedule})
