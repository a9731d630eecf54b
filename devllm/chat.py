"""POST /v1/chat/completions: the OpenAI Chat Completions face. The request is checked as
the API checks it and read into the neutral turn; the day answers it as it answers the
Messages face; the answer is written as a `chat.completion` (tool calls with their
arguments as a JSON string, cut at `max_completion_tokens` as the API cuts it, with
`finish_reason: length`), or changed as a fault switch says. Not streamed."""

from __future__ import annotations

import secrets
import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from devllm import day
from devllm.chat_errors import ChatError, named
from devllm.chat_request import chat_turn, check_key, parse_body
from devllm.cut import CHARS_PER_TOKEN, dump, tokens
from devllm.faults import Faults

bp = Blueprint("chat", __name__)


@bp.post("/v1/chat/completions")
def create_chat_completion() -> Response:
    check_key()
    body = parse_body()
    faults: Faults = current_app.extensions["devllm.faults"]
    if not faults.named_choice:
        refuse_named_choice(body.get("tool_choice"))
    turn = chat_turn(body)
    rating = day.rates_now(turn)
    blocks = day.respond(turn, bad_ratings=rating and faults.take_bad_ratings())
    if rating and faults.take_once("noToolCall"):
        blocks = day.ratings_in_words(blocks)
    calling = any(b["type"] == "tool_use" for b in blocks)
    content, calls = written(blocks, malformed=calling and faults.take_once("malformedArguments"))
    produced = tokens(output_of(content, calls))
    finish = "tool_calls" if calls else "stop"
    budget = body.get("max_completion_tokens") or body.get("max_tokens")
    if budget is not None and produced > budget:
        content, calls = cut(content, calls, budget)
        produced, finish = budget, "length"
    prompt = tokens(str(body["messages"]) + str(body.get("tools") or ""))
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None, "annotations": []}
    if calls:
        message["tool_calls"] = calls
    answer = {
        "id": f"chatcmpl-dev{secrets.token_hex(12)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": produced, "total_tokens": prompt + produced},
    }
    if faults.take_once("noUsage"):
        del answer["usage"]
    return named(jsonify(answer))


def refuse_named_choice(choice: Any) -> None:
    """As a server without named tool_choice refuses it (`namedToolChoice: false`)."""
    if isinstance(choice, dict):
        raise ChatError(
            "Invalid 'tool_choice': only 'none', 'auto' and 'required' are supported by this server.",
            "tool_choice",
            "unsupported_value",
        )


def written(blocks: list[dict[str, Any]], malformed: bool) -> tuple[str | None, list[dict[str, Any]]]:
    """The day's blocks as the message's text and tool calls. Malformed arguments are the
    JSON cut before its closing brace, as a small model that stops early writes them."""
    text = "\n".join(b["text"] for b in blocks if b["type"] == "text") or None
    calls = []
    for block in blocks:
        if block["type"] == "tool_use":
            arguments = dump(block["input"])
            calls.append(
                {
                    "id": "call_" + block["id"].removeprefix("toolu_"),
                    "type": "function",
                    "function": {
                        "name": block["name"],
                        "arguments": arguments[:-1] if malformed else arguments,
                    },
                }
            )
    return text, calls


def output_of(content: str | None, calls: list[dict[str, Any]]) -> str:
    """What the model wrote: its text, then each call's arguments."""
    return (content or "") + "".join(c["function"]["arguments"] for c in calls)


def cut(content: str | None, calls: list[dict[str, Any]], budget_tokens: int) -> tuple[str | None, list]:
    """The answer as far as `budget_tokens` reach: the text first, then the calls in order,
    the last one's arguments cut mid-string (no longer JSON), the rest dropped."""
    left = budget_tokens * CHARS_PER_TOKEN
    if content:
        content, left = content[:left] or None, left - len(content)
    kept = []
    for call in calls:
        if left <= 0:
            break
        arguments = call["function"]["arguments"]
        kept.append({**call, "function": {**call["function"], "arguments": arguments[:left]}})
        left -= len(arguments)
    return content, kept
