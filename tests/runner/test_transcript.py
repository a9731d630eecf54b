"""Every tick the runner drives ends with its transcript sent once, whatever its outcome:
the model's text, each call with the arguments sent and the output the model saw, the
ratings, the error that stopped it. Checked against what the admin API then shows and
what devmcp says it served; a transcript the API refuses never fails the tick."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from apibase.limits import CALL_OUTPUT_MAX, TRANSCRIPT_BYTES_MAX
from devstack.first_tick import first_finished_tick
from persona_runner.metrics import RunnerMetrics
from persona_runner.models import Rating
from persona_runner.password import persona_password
from persona_runner.transcript import Transcript, cut, size
from personas.validation import Transcript as AcceptedTranscript
from tests.e2e.proxy import REFUSE, FaultyProxy
from tests.runner.service_stack import SECRET, add_persona, fault, metric
from tests.runner.tick_stack import drive, served, stand_in_config, tick_detail


@pytest.fixture
def config(db, live_api, devauth, clean_devmcp, clean_devllm):
    return stand_in_config(live_api, devauth, clean_devmcp, clean_devllm)


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def kinds(events: list[dict]) -> list[str]:
    return [event["kind"] for event in events]


def test_a_long_output_is_cut_at_the_cap_saying_so_at_the_cut():
    text = "x" * 20_000
    shown = cut(text, CALL_OUTPUT_MAX)
    assert len(shown) <= CALL_OUTPUT_MAX and shown.startswith("x" * 7000)
    assert "20,000 characters" in shown[-100:] and "cut" in shown[-100:]
    assert cut("short\x00", CALL_OUTPUT_MAX) == "short"


def test_a_day_of_many_long_answers_still_fits_the_apis_size_cap():
    transcript = Transcript()
    for i in range(300):
        transcript.said(f"turn {i}")
        transcript.called("todo.list", {"limit": i}, False, "y" * 50_000, 12)
    body = transcript.body([Rating("todo", 2, "slow")], ("feedback", "no ratings came back"))
    assert size(body) <= TRANSCRIPT_BYTES_MAX
    outputs = [e["output"] for e in body["events"] if e["kind"] == "call"]
    assert len(outputs) == 300 and all("50,000 characters" in o for o in outputs)
    # What the API's own model accepts, byte for byte.
    AcceptedTranscript.model_validate(body)
    assert kinds(body["events"])[-2:] == ["ratings", "error"]


def test_a_ticks_transcript_is_kept_with_the_calls_devmcp_served(config, live_api, admin_token, clean_devmcp):
    kate = add_persona(live_api, admin_token, "kate")
    fault(clean_devmcp, tool="todo.*")
    since = now_iso()
    result = drive(config, kate)
    assert result.state == "ok" and result.transcript_sent

    detail = tick_detail(live_api, admin_token, kate, result.tick_id)
    events = detail["transcript"]["events"]
    calls = [e for e in events if e["kind"] == "call"]
    served_calls = served(config.mcp_url, since, kate)
    assert [(c["tool"], c["result"] == "error") for c in calls] == [
        (c["tool"], c["isError"]) for c in served_calls
    ]
    assert [c["tool"] for c in calls] == [a["toolName"] for a in detail["actions"]]
    assert any(c["result"] == "error" for c in calls)
    for call in calls:
        assert isinstance(call["arguments"], dict) and isinstance(call["latencyMs"], int)
        if call["result"] == "error":
            assert call["output"] == f"{call['tool']}: the store did not answer"
        else:
            json.loads(call["output"])  # devmcp's answer, as the model read it
    assert kinds(events)[0] == "model" and any(e["kind"] == "model" and e["text"] for e in events)
    assert kinds(events)[-1] == "ratings" and "error" not in kinds(events)
    given = [(r["module"], r["rating"], r["notes"]) for r in events[-1]["ratings"]]
    assert sorted(given) == sorted((r["module"], r["rating"], r["notes"]) for r in detail["ratings"])
    # Nothing secret: no password, no token, no header.
    text = json.dumps(detail["transcript"])
    assert persona_password(kate.email, SECRET) not in text
    assert "Bearer" not in text and "eyJ" not in text
    # The local stack's first-tick link points at it (the only finished tick here).
    assert first_finished_tick(live_api.url, admin_token) == (kate.id, result.tick_id)
    # Untraced: no trace id on the tick, no traceparent to the product.
    assert "traceId" not in detail["tick"] and result.trace_id is None
    assert all("traceparent" not in c for c in served_calls)


def test_a_failed_ticks_transcript_ends_with_the_error_that_stopped_it(
    config, live_api, admin_token, clean_devllm
):
    walter = add_persona(live_api, admin_token, "walter")
    fault(clean_devllm, badRatings=True)
    result = drive(config, walter)
    assert (result.state, result.step) == ("failed", "feedback") and result.transcript_sent

    events = tick_detail(live_api, admin_token, walter, result.tick_id)["transcript"]["events"]
    assert "call" in kinds(events) and "ratings" not in kinds(events)
    assert events[-1] == {"kind": "error", "step": "feedback", "message": result.error}


def test_an_api_refusing_the_transcript_does_not_fail_the_tick(config, live_api, admin_token, db):
    ana = add_persona(live_api, admin_token, "ana")
    proxy = FaultyProxy(live_api.url)
    try:
        proxy.fail("PUT", "/transcript", REFUSE, status=409)
        result = drive(config, ana, api_url=proxy.url)
    finally:
        proxy.close()
    assert result.state == "ok" and result.actions_posted and not result.transcript_sent
    assert any(note.startswith("transcript not kept: ") for note in result.notes)
    detail = tick_detail(live_api, admin_token, ana, result.tick_id)
    assert detail["tick"]["state"] == "ok" and detail["ratings"] and detail["transcript"] is None
    metrics = RunnerMetrics()
    metrics.count(result)
    assert metric(metrics.exposition().decode(), "persona_transcripts_unsent_total") == 1
