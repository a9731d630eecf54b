"""The Claude driver's small parts, without any process: the tool-name mapping, the
rating schema, the story so far, the prompts and the price of a tick."""

from __future__ import annotations

import hashlib
import logging
from datetime import date

import jsonschema
import pytest
from anthropic.types import Message

from persona_runner.claude import assistant_turn, input_hash, then_user
from persona_runner.config import DEFAULT_MODEL, RunnerConfig
from persona_runner.day_prompts import favoured_modules, opening_turn, system_prompt
from persona_runner.errors import RatingsRefused, RunnerConfigError
from persona_runner.models import Persona, Rating
from persona_runner.product import Closing, TeardownNoise
from persona_runner.ratings import RATINGS_TOOL, parse_ratings, ratings_tool
from persona_runner.story import story_so_far
from persona_runner.tool_names import ALLOWED, map_tool_names
from persona_runner.usage import Prices, cost_usd

# --- tool names ---------------------------------------------------------------------


def test_product_names_map_to_allowed_names_and_back():
    products = ["todo.create", "todo.list", "spaces.list", "calendar.events.add"]
    names = map_tool_names(products)
    assert names.model_name("todo.create") == "todo__create"
    assert names.model_name("calendar.events.add") == "calendar__events__add"
    for product in products:
        assert ALLOWED.fullmatch(names.model_name(product))
        assert names.product_name(names.model_name(product)) == product
    assert names.product_name("todo__delete") is None


def test_names_that_would_clash_are_too_long_or_odd_stay_distinct_and_reversible():
    products = ["todo.create", "todo__create", "notes.ünïcode", "x." + "y" * 80, "submit.ratings", "a b"]
    names = map_tool_names(products, reserved=["submit_ratings", "todo__create_x"])
    mapped = [names.model_name(p) for p in products]
    assert len(set(mapped)) == len(products)
    assert all(ALLOWED.fullmatch(m) for m in mapped)
    assert "todo__create" not in mapped  # two products would have it: neither gets it
    assert [names.product_name(m) for m in mapped] == products


def test_a_reserved_name_is_never_handed_to_a_product_tool():
    names = map_tool_names(["submit_ratings"], reserved=[RATINGS_TOOL])
    assert names.model_name("submit_ratings") != RATINGS_TOOL
    assert names.product_name(names.model_name("submit_ratings")) == "submit_ratings"


def test_the_mapping_does_not_depend_on_the_process():
    assert map_tool_names(["a b"]).to_model == map_tool_names(["a b"]).to_model


# --- rating schema ------------------------------------------------------------------

MODULES = ["notes", "todo"]


def test_valid_ratings_become_feedback_rows():
    answer = {"ratings": [{"module": "todo", "rating": 2, "notes": "todo.create failed"}]}
    jsonschema.validate(answer, ratings_tool(MODULES)["input_schema"])
    assert parse_ratings(answer, MODULES) == [Rating("todo", 2, "todo.create failed")]


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ({"ratings": [{"module": "todo", "rating": "5", "notes": ""}]}, "ratings.0.rating"),
        ({"ratings": [{"module": "todo", "rating": 5.0, "notes": ""}]}, "ratings.0.rating"),
        ({"ratings": [{"module": "todo", "rating": True, "notes": ""}]}, "ratings.0.rating"),
        ({"ratings": [{"module": "todo", "rating": 6, "notes": ""}]}, "ratings.0.rating"),
        ({"ratings": [{"module": "todo", "rating": 0, "notes": ""}]}, "ratings.0.rating"),
        ({"ratings": [{"module": "todo", "rating": 3}]}, "ratings.0.notes"),
        ({"ratings": [{"module": "todo", "rating": 3, "notes": "x" * 1001}]}, "ratings.0.notes"),
        ({"ratings": [{"module": "todo", "rating": 3, "notes": "", "mood": "ok"}]}, "ratings.0.mood"),
        ({"ratings": [{"module": "chat", "rating": 3, "notes": ""}]}, "'chat' is not a module used"),
        ({"ratings": []}, "ratings"),
        ({"rating": 5}, "ratings"),
        ("todo 5/5", "input"),
    ],
)
def test_ratings_out_of_the_schema_are_refused_naming_what_came_back(answer, named):
    with pytest.raises(RatingsRefused) as refused:
        parse_ratings(answer, MODULES)
    assert refused.value.step == "feedback"
    assert named in str(refused.value)


def test_a_module_rated_twice_is_refused():
    twice = {"ratings": [{"module": "todo", "rating": 3, "notes": ""}] * 2}
    with pytest.raises(RatingsRefused, match="rated twice"):
        parse_ratings(twice, MODULES)


def test_the_ratings_tool_offers_exactly_the_modules_used():
    schema = ratings_tool(["notes", "todo"])["input_schema"]
    item = schema["properties"]["ratings"]["items"]
    assert item["properties"]["module"]["enum"] == ["notes", "todo"]
    assert item["properties"]["rating"] == {"type": "integer", "minimum": 1, "maximum": 5}
    assert item["properties"]["notes"]["maxLength"] == 1000


# --- story, prompts, hashing --------------------------------------------------------


def tick(day: str, tools: list, ratings: list) -> dict:
    return {"tickId": f"t-{day}", "state": "ok", "startedAt": f"{day}T08:00:00Z", "spaceId": "s"} | {
        "tools": tools,
        "ratings": ratings,
    }


def test_the_story_is_one_line_a_day_oldest_first_with_failures_and_ratings():
    newest_first = [
        tick("2025-06-02", [{"toolName": "notes.list", "result": "ok"}], []),
        tick(
            "2025-06-01",
            [{"toolName": "todo.create", "result": "error"}, {"toolName": "todo.create", "result": "ok"}],
            [{"module": "todo", "rating": 2, "notes": "todo.create: the store\ndid not answer"}],
        ),
    ]
    assert story_so_far(newest_first).splitlines() == [
        '- 2025-06-01 (ok): used todo.create 2 times (1 failed). rated todo 2/5 "todo.create: the store did '
        'not answer"',
        "- 2025-06-02 (ok): used notes.list.",
    ]
    assert story_so_far([]) == ""


def test_the_story_stays_short_however_long_the_history():
    long = [
        tick(f"2025-05-{d:02d}", [{"toolName": f"todo.t{i}", "result": "ok"} for i in range(50)], [])
        for d in range(1, 21)
    ]
    assert len(story_so_far(long)) <= 2000 and story_so_far(long).count("\n") <= 4


def test_the_system_prompt_carries_the_persona_the_date_and_the_story():
    persona = Persona("u", "kate@mana.test", "nurse", "You are Kate.", {"todo": 2, "notes": 1})
    story = [tick("2025-06-01", [{"toolName": "todo.list", "result": "ok"}], [])]
    prompt = system_prompt(persona, date(2025, 6, 3), story)
    assert prompt.startswith("You are Kate.")
    assert "2025-06-03" in prompt and "- 2025-06-01 (ok): used todo.list." in prompt
    assert "earlier days" not in system_prompt(persona, date(2025, 6, 3))
    assert favoured_modules({"todo": 2, "notes": 1, "chat": 0}) == "todo (67%), notes (33%)"
    assert "3 to 8 tools" in opening_turn(persona) and "todo (67%)" in opening_turn(persona)


def test_the_input_hash_is_of_canonical_json():
    assert input_hash({"b": 1, "a": [1, "é"]}) == input_hash({"a": [1, "é"], "b": 1})
    assert input_hash({"b": 1, "a": "é"}) == hashlib.sha256('{"a":"é","b":1}'.encode()).hexdigest()


def test_the_ratings_request_joins_a_trailing_user_turn():
    results = [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}]}]
    joined = then_user(results, "rate")
    assert len(joined) == 1 and joined[0]["content"][-1] == {"type": "text", "text": "rate"}
    ended = [{"role": "user", "content": "go"}, {"role": "assistant", "content": "done"}]
    assert then_user(ended, "rate")[-1] == {"role": "user", "content": "rate"}


# --- prices and configuration -------------------------------------------------------


def test_cost_is_tokens_times_prices_per_million():
    prices = Prices(input=3.0, output=15.0, cache_read=0.3, cache_write=3.75)
    assert cost_usd(1_000_000, 0, 0, 0, prices) == pytest.approx(3.0)
    assert cost_usd(1000, 2000, 3000, 4000, prices) == pytest.approx(0.003 + 0.03 + 0.0009 + 0.015)


def test_the_driver_settings_come_from_the_environment_with_documented_defaults():
    config = RunnerConfig.from_env({"MANA_SERVICE_KEY": "k"})
    assert (config.model, config.max_turns, config.mcp_url) == (DEFAULT_MODEL, 15, "http://localhost:3069")
    assert config.prices == Prices(3.0, 15.0, 0.30, 3.75)
    assert config.anthropic_base_url is None and config.driver == ""
    env = {
        "MANA_SERVICE_KEY": "k",
        "RUNNER_DRIVER": "claude",
        "RUNNER_MODEL": "claude-haiku-4-5",
        "RUNNER_MAX_TURNS": "4",
        "RUNNER_MAX_TOKENS_PER_TICK": "20000",
        "RUNNER_PRICE_INPUT_PER_MTOK": "1",
        "RUNNER_PRICE_OUTPUT_PER_MTOK": "5",
        "RUNNER_PRICE_CACHE_READ_PER_MTOK": "0.1",
        "RUNNER_PRICE_CACHE_WRITE_PER_MTOK": "1.25",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:3080/",
        "MANA_MCP_URL": "http://mcp:3069",
    }
    config = RunnerConfig.from_env(env)
    assert (config.driver, config.model, config.max_turns, config.max_tokens_per_tick) == (
        "claude",
        "claude-haiku-4-5",
        4,
        20000,
    )
    assert config.prices == Prices(1.0, 5.0, 0.1, 1.25)
    assert (config.anthropic_base_url, config.mcp_url) == ("http://127.0.0.1:3080", "http://mcp:3069")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RUNNER_DRIVER", "gpt"),
        ("RUNNER_MAX_TURNS", "0"),
        ("RUNNER_PRICE_INPUT_PER_MTOK", "-1"),
        ("RUNNER_PRICE_OUTPUT_PER_MTOK", "cheap"),
        ("MANA_MCP_URL", "localhost:3069"),
    ],
)
def test_bad_driver_settings_are_refused_naming_the_variable(name, value):
    with pytest.raises(RunnerConfigError, match=name):
        RunnerConfig.from_env({"MANA_SERVICE_KEY": "k", name: value})


def test_thinking_blocks_go_back_to_the_model_unchanged():
    thinking = {"type": "thinking", "thinking": "Todo first, then notes.", "signature": "sig-Zx9=="}
    redacted = {"type": "redacted_thinking", "data": "opaque-bytes=="}
    use = {"type": "tool_use", "id": "toolu_1", "name": "todo__list", "input": {"limit": 5}}
    reply = Message.model_validate(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-dev",
            "content": [thinking, redacted, {"type": "text", "text": "Let me look."}, use],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 20},
        }
    )
    turn = assistant_turn(reply, keep_tool_use=True)
    assert turn == {
        "role": "assistant",
        "content": [thinking, redacted, {"type": "text", "text": "Let me look."}, use],
    }
    assert assistant_turn(reply, keep_tool_use=False)["content"][:2] == [thinking, redacted]


# --- the MCP transport's log --------------------------------------------------------


def test_a_get_stream_drop_outside_a_closing_session_is_still_logged():
    record = logging.LogRecord(
        "mcp.client.streamable_http",
        logging.INFO,
        __file__,
        1,
        "GET stream disconnected, reconnecting",
        (),
        None,
    )
    closing = Closing()
    with closing.scope():
        assert TeardownNoise().filter(record)  # mid-session: the product dropped it, that is news
        closing.now = True
        assert not TeardownNoise().filter(record)
    assert TeardownNoise().filter(record)  # no session of ours: not ours to drop
