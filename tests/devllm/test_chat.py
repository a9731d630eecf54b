"""devllm's Chat Completions face, driven by the official openai SDK over real HTTP: the same
persona as the Messages face, answers that are the SDK's own types, OpenAI's errors."""

from __future__ import annotations

import json

import jsonschema
import openai
import pytest
import requests
from openai.types.chat import ChatCompletion

from tests.devllm.test_devllm import (
    DAY,
    MODEL,
    SCHEMAS,
    TOOLS,
    as_message,
    fault,
    live_day,
    no_extras,
    post,
    product_answer,
    ratings_tool,
    ratings_turn,
    tool_uses,
)
from tests.devllm_fixtures import TIMEOUT, outlive_stall

SYSTEM = "You are Noah."
CHAT_TOOLS = [
    {
        "type": "function",
        "function": {"name": t["name"], "description": t["description"], "parameters": t["input_schema"]},
    }
    for t in TOOLS
]
RATE = {"role": "user", "content": "Now rate each module you used today."}
ANSWERED = {"role": "tool", "tool_call_id": "c1", "content": "ok"}
CALLED = {
    "role": "assistant",
    "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "todo__list", "arguments": "{}"}}],
}
USER = {"role": "user", "content": "hi"}


def as_function(tool: dict) -> dict:
    return {
        "type": "function",
        "function": {
            "name": tool["name"],
            "description": tool["description"],
            "parameters": tool["input_schema"],
        },
    }


def named(tool: str) -> dict:
    return {"type": "function", "function": {"name": tool}}


def ask(client: openai.OpenAI, **request) -> ChatCompletion:
    """One answer, checked field by field against the SDK's own type before it is parsed."""
    raw = client.chat.completions.with_raw_response.create(model=MODEL, **request)
    assert raw.headers["x-request-id"].startswith("req_")
    no_extras(ChatCompletion.model_validate(raw.http_response.json(), strict=True))
    completion = raw.parse()
    assert isinstance(completion, ChatCompletion) and completion.model == MODEL
    usage = completion.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    return completion


def tool_message(call) -> dict:
    """The product's answer as an OpenAI driver hands it back: a failure says `Error: ...`."""
    text, failed, took = product_answer(call.function.name)
    return {
        "role": "tool",
        "tool_call_id": call.id,
        "content": f"{'Error: ' if failed else ''}{text}\ntook {took} ms",
    }


def chat_day(client: openai.OpenAI) -> tuple[list, list[ChatCompletion]]:
    """A day as an OpenAI driver runs it: every tool call answered, until the model stops."""
    messages: list = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": DAY}]
    answers = []
    for _ in range(15):
        answer = ask(client, messages=messages, tools=CHAT_TOOLS)
        answers.append(answer)
        (choice,) = answer.choices
        messages.append(choice.message.model_dump(exclude_none=True))
        if choice.finish_reason != "tool_calls":
            assert choice.finish_reason == "stop" and not choice.message.tool_calls and choice.message.content
            return messages, answers
        messages.extend(tool_message(call) for call in choice.message.tool_calls)
    raise AssertionError("the day did not end within 15 turns")


def calls_of(messages: list) -> list[dict]:
    return [call for m in messages if m["role"] == "assistant" for call in m.get("tool_calls") or ()]


def ratings_of(answer: ChatCompletion) -> dict:
    (call,) = answer.choices[0].message.tool_calls
    assert answer.choices[0].finish_reason == "tool_calls" and call.function.name == "submit_ratings"
    return json.loads(call.function.arguments)


def test_a_chat_day_is_the_messages_faces_day_with_several_calls_in_one_answer(chat_model, model):
    messages, answers = chat_day(chat_model)
    calls = calls_of(messages)
    assert 3 <= len(calls) <= 8 and len({c["id"] for c in calls}) == len(calls)
    for call in calls:
        jsonschema.validate(json.loads(call["function"]["arguments"]), SCHEMAS[call["function"]["name"]])
    assert calls[0]["function"]["name"].startswith("todo__")
    assert any(len(a.choices[0].message.tool_calls or ()) == 2 for a in answers)
    # The same persona on both faces: the same calls with the same arguments.
    messages_day, _ = live_day(model)
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == [
        (use["name"], use["input"]) for use in tool_uses(messages_day)
    ]


def test_forced_ratings_by_name_or_required_rate_from_the_error_text_and_the_took_lines(chat_model):
    messages, _ = chat_day(chat_model)
    used = sorted({c["function"]["name"].split("__")[0] for c in calls_of(messages)})
    tools = [as_function(ratings_tool(used))]
    by_name = ratings_of(
        ask(chat_model, messages=[*messages, RATE], tools=tools, tool_choice=named("submit_ratings"))
    )
    # A server without named tool choice is forced with "required" and the one tool.
    assert (
        ratings_of(ask(chat_model, messages=[*messages, RATE], tools=tools, tool_choice="required"))
        == by_name
    )
    jsonschema.validate(by_name, ratings_tool(used)["input_schema"])
    ratings = {r["module"]: r for r in by_name["ratings"]}
    assert sorted(ratings) == used
    assert ratings["todo"]["rating"] <= 3 and "the store did not answer" in ratings["todo"]["notes"]
    if "notes" in ratings:
        assert ratings["notes"]["rating"] <= 3 and "took 2400 ms" in ratings["notes"]["notes"]
    for module in set(used) - {"todo", "notes"}:
        assert ratings[module]["rating"] >= 4


def test_tool_choice_none_answers_in_words_and_required_always_calls(chat_model):
    first = [{"role": "user", "content": DAY}]
    silent = ask(chat_model, messages=first, tools=CHAT_TOOLS, tool_choice="none").choices[0]
    assert silent.finish_reason == "stop" and silent.message.tool_calls is None and silent.message.content
    messages, _ = chat_day(chat_model)  # the day is over: auto answers in words...
    more = ask(chat_model, messages=messages[:-1], tools=CHAT_TOOLS, tool_choice="required").choices[0]
    assert more.finish_reason == "tool_calls" and more.message.tool_calls  # ...required calls anyway
    forced = ask(chat_model, messages=first, tools=CHAT_TOOLS, tool_choice=named("habits__list")).choices[0]
    assert [c.function.name for c in forced.message.tool_calls] == ["habits__list"]


def test_usage_counts_a_token_per_four_characters_and_a_cut_ends_with_length(chat_model):
    long = ask(chat_model, messages=[{"role": "user", "content": "x" * 4000}])
    assert 900 <= long.usage.prompt_tokens <= 1100 and long.choices[0].finish_reason == "stop"
    rating = [{"role": "user", "content": "A day."}]
    tools = [as_function(ratings_tool(["todo", "notes"]))]
    whole = ask(chat_model, messages=rating, tools=tools, tool_choice=named("submit_ratings"))
    cut = ask(
        chat_model, messages=rating, tools=tools, tool_choice=named("submit_ratings"), max_completion_tokens=3
    )
    assert cut.choices[0].finish_reason == "length" and cut.usage.completion_tokens == 3
    arguments = cut.choices[0].message.tool_calls[0].function.arguments
    assert whole.choices[0].message.tool_calls[0].function.arguments.startswith(arguments)
    with pytest.raises(json.JSONDecodeError):
        json.loads(arguments)


def test_malformed_arguments_break_the_next_answers_with_tool_calls_only(chat_model, clean_devllm):
    first = [{"role": "user", "content": DAY}]
    fault(clean_devllm, malformedArguments=True, times=1)
    assert ask(chat_model, messages=first, tools=CHAT_TOOLS, tool_choice="none").choices[0].message.content
    broken = ask(chat_model, messages=first, tools=CHAT_TOOLS).choices[0]
    assert broken.finish_reason == "tool_calls"
    for call in broken.message.tool_calls:
        with pytest.raises(json.JSONDecodeError):
            json.loads(call.function.arguments)
    for call in ask(chat_model, messages=first, tools=CHAT_TOOLS).choices[0].message.tool_calls:
        json.loads(call.function.arguments)


def test_no_tool_call_answers_a_forced_rating_in_words_then_stops(chat_model, clean_devllm):
    rating = [USER, CALLED, ANSWERED, RATE]
    tools = [as_function(ratings_tool(["todo"]))]
    schema = ratings_tool(["todo"])["input_schema"]
    fault(clean_devllm, noToolCall=True, times=1)
    ask(chat_model, messages=rating[:3], tools=CHAT_TOOLS)  # not a forced rating: left alone
    prose = ask(chat_model, messages=rating, tools=tools, tool_choice=named("submit_ratings")).choices[0]
    assert prose.finish_reason == "stop" and prose.message.tool_calls is None
    assert prose.message.content.startswith("Here is how my day went. todo: ")
    jsonschema.validate(
        ratings_of(ask(chat_model, messages=rating, tools=tools, tool_choice="required")), schema
    )
    fault(clean_devllm, badRatings=True, times=1)  # the Messages face's switch holds here too
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            ratings_of(ask(chat_model, messages=rating, tools=tools, tool_choice="required")), schema
        )


def test_no_tool_call_is_one_switch_for_both_faces_and_ratings_asked_by_name(chat_model, clean_devllm):
    """On the Messages face it holds for ratings asked for by name with the tool choice left
    as it was (the Claude driver's cached request) as for forced ones; one count serves both."""
    asked = ratings_turn()
    del asked["tool_choice"]
    asked["tools"] = [*TOOLS, *asked["tools"]]
    asked["messages"][-1]["content"].append({"type": "text", "text": "Rate your day with submit_ratings."})
    assert as_message(post(clean_devllm, asked)).content[0].name == "submit_ratings"
    fault(clean_devllm, noToolCall=True, times=2)
    prose = as_message(post(clean_devllm, asked))
    assert prose.stop_reason == "end_turn" and prose.content[0].text.startswith("Here is how my day went. ")
    rating = [USER, CALLED, ANSWERED, RATE]
    tools = [as_function(ratings_tool(["todo"]))]
    in_words = ask(chat_model, messages=rating, tools=tools, tool_choice=named("submit_ratings")).choices[0]
    assert in_words.finish_reason == "stop" and in_words.message.tool_calls is None
    assert as_message(post(clean_devllm, asked)).content[0].type == "tool_use"  # both times used


def test_injected_errors_reach_the_sdk_as_its_own_exceptions(chat_model, clean_devllm):
    hi = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    impatient = chat_model.with_options(max_retries=0)
    fault(clean_devllm, status=429, retryAfter=7)
    with pytest.raises(openai.RateLimitError) as limited:
        impatient.chat.completions.create(**hi)
    assert limited.value.code == "rate_limit_exceeded" and limited.value.type == "requests"
    assert limited.value.response.headers["retry-after"] == "7"
    fault(clean_devllm, status=529)
    with pytest.raises(openai.InternalServerError) as overloaded:
        impatient.chat.completions.create(**hi)
    assert overloaded.value.status_code == 503 and overloaded.value.type == "server_error"
    fault(clean_devllm, status=500)
    assert chat_model.chat.completions.create(**hi).choices[0].finish_reason == "stop"  # the SDK retried
    fault(clean_devllm, delayMs=1500)
    with pytest.raises(openai.APITimeoutError):
        impatient.with_options(timeout=0.5).chat.completions.create(**hi)
    assert impatient.chat.completions.create(**hi).choices[0].finish_reason == "stop"
    outlive_stall(1500)


@pytest.mark.parametrize(
    ("request_body", "param", "code"),
    [
        (
            {"tools": [as_function({**TOOLS[0], "name": "todo.create"})]},
            "tools[0].function.name",
            "invalid_value",
        ),
        (
            {"tools": [as_function({**TOOLS[0], "name": "t" * 65})]},
            "tools[0].function.name",
            "string_above_max_length",
        ),
        (
            {
                "tools": [
                    CHAT_TOOLS[0],
                    as_function({**TOOLS[1], "input_schema": {"type": "object", "required": 1}}),
                ]
            },
            "tools[1].function.parameters",
            "invalid_function_parameters",
        ),
        (
            {"tools": [as_function({**TOOLS[0], "input_schema": {"type": "string"}})]},
            "tools[0].function.parameters",
            "invalid_function_parameters",
        ),
        ({"tools": CHAT_TOOLS, "tool_choice": named("todo__delete")}, "tool_choice", "invalid_value"),
        ({"tools": CHAT_TOOLS, "tool_choice": "sometimes"}, "tool_choice", "invalid_value"),
        ({"tool_choice": "auto"}, "tool_choice", None),
        ({"messages": []}, "messages", "empty_array"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role", "invalid_value"),
        ({"messages": [USER, CALLED]}, "messages.[1].role", None),
        ({"messages": [USER, CALLED, USER, ANSWERED]}, "messages.[1].role", None),
        ({"messages": [USER, ANSWERED]}, "messages.[1].role", None),
        ({"stream": True, "tools": CHAT_TOOLS}, "stream", "unsupported_value"),
        ({"max_completion_tokens": 0}, "max_completion_tokens", "integer_below_min_value"),
        ({"max_tokens": "10"}, "max_tokens", "invalid_type"),
    ],
)
def test_a_request_the_api_refuses_is_a_400_naming_the_parameter(chat_model, request_body, param, code):
    with pytest.raises(openai.BadRequestError) as refused:
        chat_model.chat.completions.create(**{"model": MODEL, "messages": [USER], **request_body})
    assert refused.value.status_code == 400 and refused.value.type == "invalid_request_error"
    assert (refused.value.param, refused.value.code) == (param, code)
    assert set(refused.value.body) == {"message", "type", "param", "code"}


def test_a_key_is_required_and_a_bad_body_is_a_4xx_in_openais_shape(clean_devllm):
    url = f"{clean_devllm.url}/v1/chat/completions"
    body = {"model": MODEL, "messages": [USER]}

    def error(answer: requests.Response, status: int) -> dict:
        assert answer.status_code == status, answer.text
        assert set(answer.json()) == {"error"} and answer.headers["x-request-id"].startswith("req_")
        return answer.json()["error"]

    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Basic abc"}):
        refused = error(requests.post(url, json=body, headers=headers, timeout=TIMEOUT), 401)
        assert "API key" in refused["message"] and refused["type"] == "invalid_request_error"
    key = {"Authorization": "Bearer any"}
    assert requests.post(url, json=body, headers=key, timeout=TIMEOUT).status_code == 200
    missing = error(requests.post(url, json={"messages": [USER]}, headers=key, timeout=TIMEOUT), 400)
    assert (missing["param"], missing["code"]) == ("model", "missing_required_parameter")
    error(
        requests.post(url, data="[1", headers={**key, "Content-Type": "application/json"}, timeout=TIMEOUT),
        400,
    )
    error(requests.get(url, headers=key, timeout=TIMEOUT), 405)
    for switch in ("malformedArguments", "noToolCall"):
        bad = requests.post(f"{clean_devllm.url}/dev/faults", json={switch: 1}, timeout=TIMEOUT)
        assert bad.status_code == 400 and switch in bad.json()["error"]["message"]


def test_no_usage_leaves_the_next_answers_without_usage_only(chat_model, clean_devllm):
    first = [{"role": "user", "content": DAY}]
    fault(clean_devllm, noUsage=True, times=1)
    bare = chat_model.chat.completions.create(model=MODEL, messages=first, tools=CHAT_TOOLS)
    assert bare.usage is None and bare.choices[0].message.tool_calls
    assert ask(chat_model, messages=first, tools=CHAT_TOOLS).usage.prompt_tokens > 0


def test_without_named_tool_choice_a_named_choice_is_refused_until_cleared(chat_model, clean_devllm):
    rating = [USER, CALLED, ANSWERED, RATE]
    tools = [as_function(ratings_tool(["todo"]))]
    fault(clean_devllm, namedToolChoice=False)
    for _ in range(2):  # not counted down: the server lacks it
        with pytest.raises(openai.BadRequestError) as refused:
            chat_model.chat.completions.create(
                model=MODEL, messages=rating, tools=tools, tool_choice=named("submit_ratings")
            )
        assert refused.value.param == "tool_choice"
    assert ratings_of(ask(chat_model, messages=rating, tools=tools, tool_choice="required"))
    requests.delete(f"{clean_devllm.url}/dev/faults", timeout=TIMEOUT).raise_for_status()
    assert ratings_of(ask(chat_model, messages=rating, tools=tools, tool_choice=named("submit_ratings")))


@pytest.mark.parametrize("body", [{"namedToolChoice": True}, {"noUsage": 1}])
def test_the_new_switches_take_only_their_one_value(clean_devllm, body):
    answer = requests.post(f"{clean_devllm.url}/dev/faults", json=body, timeout=TIMEOUT)
    assert answer.status_code == 400 and next(iter(body)) in answer.text
