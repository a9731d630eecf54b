"""devllm answers the official Anthropic client like the Messages API would, deterministically."""

from __future__ import annotations

import subprocess
import sys

import anthropic
import jsonschema
import pytest
import requests
from anthropic.types import Message
from anthropic.types.shared import ErrorResponse
from pydantic import BaseModel

from devllm.config import DevLlmConfig, ProductionRefused
from devstack.processes import ROOT, Process
from tests.devllm_fixtures import TIMEOUT, outlive_stall

MODEL = "claude-dev"
ITEM = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "priority": {"type": "integer", "minimum": 1, "maximum": 3},
        "due": {"type": "string", "format": "date"},
    },
    "required": ["title"],
    "additionalProperties": False,
}
BY_ID = {"type": "object", "properties": {"id": {"type": "string", "minLength": 1}}, "required": ["id"]}
LISTING = {"type": "object", "properties": {"limit": {"type": "integer", "minimum": 1, "maximum": 50}}}
MODULES = ("todo", "notes", "calendar", "habits")
# Product names mapped as a driver would (`todo.create` -> `todo__create`), the product
# name kept at the start of the description.
TOOLS = [
    {
        "name": f"{module}__{verb}",
        "description": f"{module}.{verb}: {verb} a {module} item",
        "input_schema": schema,
    }
    for module in MODULES
    for verb, schema in (("create", ITEM), ("list", LISTING), ("complete", BY_ID))
]
SCHEMAS = {tool["name"]: tool["input_schema"] for tool in TOOLS}
DAY = "Spend a short day in the app using 3 to 8 tools. You favour todo (0.5), then notes (0.3)."


def ratings_tool(modules: list[str]) -> dict:
    rating = {
        "type": "object",
        "properties": {
            "module": {"type": "string", "enum": modules},
            "rating": {"type": "integer", "minimum": 1, "maximum": 5},
            "notes": {"type": "string", "maxLength": 1000},
        },
        "required": ["module", "rating", "notes"],
    }
    schema = {
        "type": "object",
        "properties": {"ratings": {"type": "array", "items": rating}},
        "required": ["ratings"],
    }
    return {"name": "submit_ratings", "description": "Rate each module you used.", "input_schema": schema}


def forced_todo_ratings(model: anthropic.Anthropic, messages: list) -> dict:
    """The input of the submit_ratings call the driver forces at a day's end, for todo."""
    reply = model.messages.create(
        model=MODEL,
        max_tokens=512,
        messages=messages,
        tools=[ratings_tool(["todo"])],
        tool_choice={"type": "tool", "name": "submit_ratings"},
    )
    return reply.content[0].input


def product_answer(name: str) -> tuple[str, bool, int]:
    """What the product said to a call: todo fails, notes is slow, the rest is fine."""
    product = name.replace("__", ".")
    if name.startswith("todo"):
        return f"{product}: the store did not answer", True, 40
    if name.startswith("notes"):
        return '{"items": []}', False, 2400
    return '{"item": {"id": "item-1", "title": "x"}}', False, 35


def live_day(model: anthropic.Anthropic) -> tuple[list, list]:
    """A day as the driver runs it: every tool_use answered, until the model ends its turn."""
    messages: list = [{"role": "user", "content": DAY}]
    for _ in range(15):
        reply = model.messages.create(
            model=MODEL, max_tokens=1024, system="You are Noah.", messages=messages, tools=TOOLS
        )
        messages.append({"role": "assistant", "content": [block.model_dump() for block in reply.content]})
        uses = [block for block in reply.content if block.type == "tool_use"]
        if reply.stop_reason != "tool_use":
            assert reply.stop_reason == "end_turn" and not uses and reply.content[-1].text
            return messages, reply.content
        results = []
        for use in uses:
            text, failed, took = product_answer(use.name)
            results.append(
                {
                    "type": "tool_result",
                    "tool_use_id": use.id,
                    "is_error": failed,
                    "content": [{"type": "text", "text": f"{text}\ntook {took} ms"}],
                }
            )
        messages.append({"role": "user", "content": results})
    raise AssertionError("the day did not end within 15 turns")


def tool_uses(messages: list) -> list[dict]:
    return [
        block
        for message in messages
        if message["role"] == "assistant"
        for block in message["content"]
        if block["type"] == "tool_use"
    ]


def test_a_day_calls_3_to_8_offered_tools_with_valid_arguments_then_ends(model):
    messages, _ = live_day(model)
    uses = tool_uses(messages)
    assert 3 <= len(uses) <= 8
    assert len({use["id"] for use in uses}) == len(uses)
    for use in uses:
        jsonschema.validate(use["input"], SCHEMAS[use["name"]])
    # The first user turn names todo first, then notes: the day starts there.
    assert uses[0]["name"].startswith("todo__")
    assert {use["name"].split("__")[0] for use in uses[:2]} == {"todo", "notes"}


def test_the_same_conversation_gets_the_same_answers(model):
    first, _ = live_day(model)
    second, _ = live_day(model)
    assert tool_uses(first) == tool_uses(second)


def test_forced_ratings_rate_failing_and_slow_modules_lower_and_quote_the_error(model):
    messages, _ = live_day(model)
    used = sorted({use["name"].split("__")[0] for use in tool_uses(messages)})
    messages.append({"role": "user", "content": "Now rate each module you used today."})
    reply = model.messages.create(
        model=MODEL,
        max_tokens=1024,
        messages=messages,
        tools=[ratings_tool(used)],
        tool_choice={"type": "tool", "name": "submit_ratings"},
    )
    assert reply.stop_reason == "tool_use"
    (use,) = reply.content
    jsonschema.validate(use.input, ratings_tool(used)["input_schema"])
    ratings = {r["module"]: r for r in use.input["ratings"]}
    assert sorted(ratings) == used
    assert ratings["todo"]["rating"] <= 3
    assert "todo.create: the store did not answer" in ratings["todo"]["notes"]
    if "notes" in ratings:
        assert ratings["notes"]["rating"] <= 3 and "took 2400 ms" in ratings["notes"]["notes"]
    for module in set(used) - {"todo", "notes"}:
        assert ratings[module]["rating"] >= 4


def test_more_failures_rate_lower_still(model):
    def rated(failures: int) -> int:
        messages: list = [{"role": "user", "content": "A day with todo."}]
        for i in range(3):
            call = {"type": "tool_use", "id": f"toolu_{i}", "name": "todo__list", "input": {}}
            messages.append({"role": "assistant", "content": [call]})
            answer = "todo.list: the store did not answer" if i < failures else '{"items": []}'
            result = {
                "type": "tool_result",
                "tool_use_id": f"toolu_{i}",
                "is_error": i < failures,
                "content": answer,
            }
            messages.append({"role": "user", "content": [result, {"type": "text", "text": "go on"}]})
        return forced_todo_ratings(model, messages)["ratings"][0]["rating"]

    assert rated(0) >= 4
    assert 3 >= rated(1) > rated(2) > rated(3) >= 1


def test_a_tool_name_the_api_forbids_is_refused(model):
    with pytest.raises(anthropic.BadRequestError) as refused:
        model.messages.create(
            model=MODEL,
            max_tokens=64,
            messages=[{"role": "user", "content": "hi"}],
            tools=[{"name": "todo.create", "input_schema": ITEM}],
        )
    assert refused.value.status_code == 400
    assert refused.value.body["error"]["type"] == "invalid_request_error"
    assert "tools.0.custom.name" in refused.value.body["error"]["message"]


def test_a_tool_input_schema_that_is_not_json_schema_is_refused(model):
    broken = {"type": "object", "properties": {"title": {"type": "text"}}}
    with pytest.raises(anthropic.BadRequestError) as refused:
        model.messages.create(
            model=MODEL,
            max_tokens=64,
            messages=[{"role": "user", "content": "hi"}],
            tools=[TOOLS[0], {"name": "notes__create", "input_schema": broken}],
        )
    assert refused.value.status_code == 400
    assert refused.value.body["error"]["type"] == "invalid_request_error"
    message = refused.value.body["error"]["message"]
    assert message.startswith("tools.1.custom.input_schema: JSON schema is invalid")
    assert "2020-12" in message


def test_usage_counts_roughly_a_token_per_four_characters(model):
    reply = model.messages.create(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "x" * 4000}]
    )
    assert 900 <= reply.usage.input_tokens <= 1100 and reply.usage.output_tokens > 0
    assert reply.stop_reason == "end_turn"


def test_a_tiny_max_tokens_stops_at_max_tokens(model):
    reply = model.messages.create(
        model=MODEL, max_tokens=1, messages=[{"role": "user", "content": "hi"}], tools=TOOLS
    )
    assert reply.stop_reason == "max_tokens" and reply.usage.output_tokens == 1


def test_529_then_recovery_is_absorbed_by_the_sdks_own_retries(model, clean_devllm):
    requests.post(f"{clean_devllm.url}/dev/faults", json={"status": 529, "times": 2}, timeout=TIMEOUT)
    reply = model.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    assert reply.stop_reason == "end_turn"

    requests.post(f"{clean_devllm.url}/dev/faults", json={"status": 529, "times": 3}, timeout=TIMEOUT)
    with pytest.raises(anthropic.APIStatusError) as failed:
        model.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    assert failed.value.status_code == 529 and failed.value.body["error"]["type"] == "overloaded_error"


def test_bad_ratings_switch_breaks_the_next_forced_ratings_only(model, clean_devllm):
    messages: list = [{"role": "user", "content": "A day with todo."}]
    messages.append(
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "todo__list", "input": {}}],
        }
    )
    messages.append(
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "[]"}]}
    )

    def forced_ratings() -> dict:
        return forced_todo_ratings(model, messages)

    on = requests.post(f"{clean_devllm.url}/dev/faults", json={"badRatings": True}, timeout=TIMEOUT)
    assert on.status_code == 204
    model.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    broken = forced_ratings()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, ratings_tool(["todo"])["input_schema"])
    assert isinstance(broken["ratings"][0]["rating"], str)
    jsonschema.validate(forced_ratings(), ratings_tool(["todo"])["input_schema"])
    bad = requests.post(f"{clean_devllm.url}/dev/faults", json={"badRatings": "yes"}, timeout=TIMEOUT)
    assert bad.status_code == 400 and "badRatings" in bad.json()["error"]["message"]


def test_a_delay_fault_stalls_the_next_calls_past_a_clients_timeout_then_stops(clean_devllm):
    on = requests.post(f"{clean_devllm.url}/dev/faults", json={"delayMs": 1500, "times": 1}, timeout=TIMEOUT)
    assert on.status_code == 204
    hi = {"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    with anthropic.Anthropic(api_key="k", base_url=clean_devllm.url, timeout=0.5, max_retries=0) as impatient:
        with pytest.raises(anthropic.APITimeoutError):
            impatient.messages.create(**hi)
        assert impatient.messages.create(**hi).stop_reason == "end_turn"
    outlive_stall(1500)
    for delay in (0, "10", True, 600_001):
        bad = requests.post(f"{clean_devllm.url}/dev/faults", json={"delayMs": delay}, timeout=TIMEOUT)
        assert bad.status_code == 400 and "delayMs" in bad.json()["error"]["message"]


def test_headers_and_bad_faults_are_refused_in_the_apis_error_shape(clean_devllm):
    body = {"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    no_key = requests.post(
        f"{clean_devllm.url}/v1/messages",
        json=body,
        headers={"anthropic-version": "2023-06-01"},
        timeout=TIMEOUT,
    )
    assert no_key.status_code == 401 and no_key.json()["error"]["type"] == "authentication_error"
    no_version = requests.post(
        f"{clean_devllm.url}/v1/messages", json=body, headers={"x-api-key": "k"}, timeout=5
    )
    assert no_version.status_code == 400 and no_version.json()["type"] == "error"
    bad = requests.post(f"{clean_devllm.url}/dev/faults", json={"status": 418}, timeout=TIMEOUT)
    assert bad.status_code == 400 and "status" in bad.json()["error"]["message"]


def test_devllm_refuses_production():
    with pytest.raises(ProductionRefused):
        DevLlmConfig.from_env({"APP_ENV": "production"})
    done = subprocess.run(
        [sys.executable, "-c", "import devllm.app"],
        env={"APP_ENV": "production", "PATH": ""},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0 and "DEVELOPMENT STAND-IN" in done.stderr


def test_devllm_imports_nothing_of_the_service_or_the_other_stand_ins():
    sources = "".join(p.read_text() for p in (ROOT / "devllm").rglob("*.py"))
    for package in ("personas", "persona_runner", "devmcp", "devauth"):
        assert f"from {package}" not in sources and f"import {package}" not in sources


# --- faithful to the API as it is: its types, headers, cuts and stop reasons ----------

HEADERS = {"x-api-key": "k", "anthropic-version": "2023-06-01"}


def post(devllm: Process, body: dict) -> requests.Response:
    return requests.post(f"{devllm.url}/v1/messages", json=body, headers=HEADERS, timeout=TIMEOUT)


def no_extras(model: BaseModel, where: str = "answer") -> None:
    """Every field devllm sent is one the SDK's type declares, all the way down."""
    assert not model.model_extra, f"{where}: fields the SDK does not know: {model.model_extra}"
    for name in type(model).model_fields:
        value = getattr(model, name)
        for i, part in enumerate(value if isinstance(value, list) else [value]):
            if isinstance(part, BaseModel):
                no_extras(part, f"{where}.{name}.{i}")


def as_message(answer: requests.Response) -> Message:
    assert answer.status_code == 200, answer.text
    assert answer.headers["request-id"].startswith("req_")
    message = Message.model_validate(answer.json(), strict=True)
    no_extras(message)
    return message


def as_error(answer: requests.Response, status: int) -> ErrorResponse:
    assert answer.status_code == status, answer.text
    error = ErrorResponse.model_validate(answer.json(), strict=True)
    no_extras(error)
    assert error.request_id == answer.headers["request-id"] and error.request_id.startswith("req_")
    return error


def day_turn(max_tokens: int = 1024) -> dict:
    return {
        "model": MODEL,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": DAY}],
        "tools": TOOLS,
    }


def ratings_turn(max_tokens: int = 1024) -> dict:
    """A forced ratings request after a day of one call in each of three modules."""
    calls = [
        {"type": "tool_use", "id": f"t{i}", "name": f"{module}__list", "input": {}}
        for i, module in enumerate(MODULES[:3])
    ]
    results = [{"type": "tool_result", "tool_use_id": call["id"], "content": "[]"} for call in calls]
    messages = [
        {"role": "user", "content": "A day with todo."},
        {"role": "assistant", "content": calls},
        {"role": "user", "content": results},
    ]
    return {
        "model": MODEL,
        "max_tokens": max_tokens,
        "messages": messages,
        "tools": [ratings_tool(list(MODULES[:3]))],
        "tool_choice": {"type": "tool", "name": "submit_ratings"},
    }


def test_every_answer_parses_as_the_sdks_own_types_with_a_request_id(clean_devllm):
    day = as_message(post(clean_devllm, day_turn()))
    assert day.stop_reason == "tool_use" and day.content[-1].type == "tool_use"
    assert as_message(post(clean_devllm, ratings_turn())).stop_reason == "tool_use"
    hi = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    assert as_message(post(clean_devllm, hi)).stop_reason == "end_turn"
    refused = as_error(
        post(clean_devllm, {**day_turn(), "tools": [{"name": "a.b", "input_schema": ITEM}]}), 400
    )
    assert refused.error.type == "invalid_request_error"
    no_key = requests.post(f"{clean_devllm.url}/v1/messages", json=hi, timeout=TIMEOUT)
    assert as_error(no_key, 401).error.type == "authentication_error"
    assert no_key.headers["x-should-retry"] == "false"
    for status, kind in ((429, "rate_limit_error"), (500, "api_error"), (529, "overloaded_error")):
        fault(clean_devllm, status=status)
        failed = post(clean_devllm, hi)
        assert as_error(failed, status).error.type == kind
        assert failed.headers["x-should-retry"] == "true"


def test_retry_after_goes_with_faulted_429_and_529_and_a_429_always_has_one(clean_devllm):
    hi = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    fault(clean_devllm, status=429, retryAfter=3600)
    fault(clean_devllm, status=529, retryAfter=7)
    fault(clean_devllm, status=429)
    fault(clean_devllm, status=529)
    assert [post(clean_devllm, hi).headers.get("retry-after") for _ in range(4)] == ["3600", "7", "1", None]
    for bad in ({"status": 500, "retryAfter": 5}, {"status": 429, "retryAfter": -1}, {"retryAfter": 5}):
        refused = requests.post(f"{clean_devllm.url}/dev/faults", json=bad, timeout=TIMEOUT)
        assert refused.status_code == 400 and "retryAfter" in refused.json()["error"]["message"]


def test_max_tokens_cuts_a_tool_use_mid_input_as_the_api_does(clean_devllm):
    whole = as_message(post(clean_devllm, ratings_turn()))
    cut = as_message(post(clean_devllm, ratings_turn(max_tokens=30)))
    assert cut.stop_reason == "max_tokens" and cut.usage.output_tokens == 30
    # The tool_use block is there, with only the first part of its input.
    (use,) = cut.content
    assert use.type == "tool_use" and use.name == "submit_ratings" and use.id == whole.content[0].id
    whole_ratings, ratings = whole.content[0].input["ratings"], use.input["ratings"]
    assert len(whole_ratings) == 3 and 1 <= len(ratings) <= 3
    assert ratings[:-1] == whole_ratings[: len(ratings) - 1]  # whole items before the cut
    assert ratings[-1] != whole_ratings[len(ratings) - 1]  # the last one cut mid-way


@pytest.mark.parametrize("stop_reason", ["max_tokens", "model_context_window_exceeded"])
def test_an_injected_cut_ends_the_next_answers_half_way_then_stops(clean_devllm, stop_reason):
    whole = as_message(post(clean_devllm, ratings_turn()))
    fault(clean_devllm, stopReason=stop_reason, times=2)
    for _ in range(2):
        cut = as_message(post(clean_devllm, ratings_turn()))
        assert cut.stop_reason == stop_reason and cut.usage.output_tokens < whole.usage.output_tokens
        assert cut.content[0].input != whole.content[0].input
    assert as_message(post(clean_devllm, ratings_turn())).stop_reason == "tool_use"


def test_an_injected_refusal_carries_no_tool_use(clean_devllm):
    fault(clean_devllm, stopReason="refusal", times=2)
    for body in (day_turn(), ratings_turn()):
        refusal = as_message(post(clean_devllm, body))
        assert refusal.stop_reason == "refusal" and refusal.stop_details.type == "refusal"
        assert all(block.type == "text" for block in refusal.content)
    assert as_message(post(clean_devllm, day_turn())).stop_reason == "tool_use"
    bad = requests.post(f"{clean_devllm.url}/dev/faults", json={"stopReason": "pause_turn"}, timeout=TIMEOUT)
    assert bad.status_code == 400 and "stopReason" in bad.json()["error"]["message"]


def fault(devllm: Process, **body) -> None:
    requests.post(f"{devllm.url}/dev/faults", json=body, timeout=TIMEOUT).raise_for_status()
