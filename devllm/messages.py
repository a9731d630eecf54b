"""POST /v1/messages: the request checked as the API checks it, then the deterministic
answer: cut at `max_tokens` as the API cuts it, or ended as an injected stop reason says."""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from devllm import day
from devllm.cache import PromptCache
from devllm.conversation import messages_turn
from devllm.cut import cut, output_tokens
from devllm.errors import ModelApiError
from devllm.prompt import read_prompt, system_blocks, without_cache_control
from devllm.schema_check import schema_problem

bp = Blueprint("messages", __name__)
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
CHOICES = ("auto", "any", "tool", "none")


def api_key() -> str:
    """The request's API key, "" without one. The 2.x SDK sends it as `Authorization:
    Bearer <key>` rather than `x-api-key`, so either is taken."""
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    return request.headers.get("x-api-key", "").strip() or (
        bearer.strip() if scheme.lower() == "bearer" else ""
    )


def check_headers() -> str:
    """The API key: required but never checked (it only says whose caches are whose)."""
    key = api_key()
    if not key:
        raise ModelApiError(401, "x-api-key header is required")
    if not request.headers.get("anthropic-version", "").strip():
        raise ModelApiError(400, "anthropic-version: header is required")
    return key


def parse_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ModelApiError(400, "The request body must be a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise ModelApiError(400, "model: Field required")
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ModelApiError(400, "max_tokens: Field required (an integer of at least 1)")
    _check_messages(body.get("messages"))
    _check_tools(body.get("tools"))
    _check_tool_choice(body.get("tool_choice"), body.get("tools") or [])
    system = body.get("system")
    if system is not None and not isinstance(system, str | list):
        raise ModelApiError(400, "system: Input should be a string or a list of text blocks")
    return body


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise ModelApiError(400, "messages: at least one message is required")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise ModelApiError(400, f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if not isinstance(message.get("content"), str | list):
            raise ModelApiError(400, f"messages.{i}.content: Field required")
    if messages[0]["role"] != "user":
        raise ModelApiError(400, "messages: the first message must use the 'user' role")


def _check_tools(tools: Any) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise ModelApiError(400, "tools: Input should be a valid list")
    names = set()
    for i, tool in enumerate(tools):
        name = tool.get("name") if isinstance(tool, dict) else None
        if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
            raise ModelApiError(
                400, f"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
            )
        if name in names:
            raise ModelApiError(400, f"tools: Tool names must be unique ({name})")
        names.add(name)
        schema = tool.get("input_schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise ModelApiError(400, f"tools.{i}.custom.input_schema: an object schema is required")
        _check_schema(i, schema)


def _check_schema(i: int, schema: dict) -> None:
    """The API refuses the whole request when one tool's input schema is not JSON Schema."""
    problem = schema_problem(schema)
    if problem is not None:
        raise ModelApiError(
            400,
            f"tools.{i}.custom.input_schema: JSON schema is invalid. It must match JSON Schema "
            f"draft 2020-12 (https://json-schema.org/draft/2020-12). {problem}",
        )


def _check_tool_choice(choice: Any, tools: list[dict]) -> None:
    if choice is None:
        return
    if not isinstance(choice, dict) or choice.get("type") not in CHOICES:
        raise ModelApiError(400, f"tool_choice.type: Input should be one of {', '.join(CHOICES)}")
    if choice["type"] == "tool" and choice.get("name") not in {t["name"] for t in tools}:
        raise ModelApiError(400, "tool_choice.name: names no tool of this request")


@bp.post("/v1/messages")
def create_message() -> Response:
    api_key = check_headers()
    body = parse_body()
    prompt = read_prompt(body)
    faults = current_app.extensions["devllm.faults"]
    turn = messages_turn(as_read(body))
    rating = day.rates_now(turn)
    content = day.respond(turn, bad_ratings=rating and faults.take_bad_ratings())
    if rating and faults.take_once("noToolCall"):
        content = day.ratings_in_words(content)
    stop_reason = "tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn"
    produced = output_tokens(content)
    stop_details = None
    injected = faults.take_stop_reason()
    if injected == "refusal":
        # The classifier stops the answer before any tool call is made.
        content = content[: next((i for i, b in enumerate(content) if b["type"] == "tool_use"), len(content))]
        stop_reason, stop_details = "refusal", {"type": "refusal", "category": None, "explanation": None}
        produced = output_tokens(content)
    elif injected:  # max_tokens or model_context_window_exceeded: cut half-way
        produced = max(1, produced // 2)
        content, stop_reason = cut(content, produced), injected
    if produced > body["max_tokens"]:
        content, produced, stop_reason = cut(content, body["max_tokens"]), body["max_tokens"], "max_tokens"
    cache: PromptCache = current_app.extensions["devllm.cache"]
    billed = cache.bill(api_key, body["model"], prompt)
    answer = {
        "id": f"msg_dev{secrets.token_hex(12)}",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": billed.input_tokens,
            "output_tokens": produced,
            "cache_creation_input_tokens": billed.cache_creation_input_tokens,
            "cache_read_input_tokens": billed.cache_read_input_tokens,
        },
    }
    if stop_details:
        answer["stop_details"] = stop_details
    current_app.extensions["devllm.requests"].record(api_key, body, prompt, answer["usage"])
    return jsonify(answer)


def as_read(body: dict[str, Any]) -> dict[str, Any]:
    """The request as the model reads it: no cache marks, the system prompt as one text,
    so caching on or off gets the same answers."""
    plain = without_cache_control(body)
    plain["system"] = "\n\n".join(str(b.get("text", "")) for b in system_blocks(plain)) or None
    return plain
