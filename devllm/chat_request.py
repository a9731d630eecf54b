"""A Chat Completions request checked as the OpenAI API checks it (each refusal names the
parameter, as `messages[2].role` or `tools[0].function.parameters`), then read into the
neutral `Turn` the day answers.

Chat Completions has no `is_error` on a tool result, so a `role: "tool"` message whose text
starts with `Error` (as `Error: the store did not answer`) is read as a failed call; its
last line may say `took N ms`, as on the Messages face."""

from __future__ import annotations

import re
from typing import Any

from flask import request

from devllm.chat_errors import ChatError
from devllm.conversation import (
    AUTO,
    NONE,
    REQUIRED,
    Conversation,
    ToolCall,
    Turn,
    answer,
    last_user_text,
    text_of,
)
from devllm.schema_check import schema_problem

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
CHOICES = {"auto": AUTO, "required": REQUIRED, "none": NONE}
NAME = re.compile(r"^[a-zA-Z0-9_-]+$")
NAME_MAX = 64
FAILED = re.compile(r"^\s*error\b", re.IGNORECASE)
NO_PARAMETERS = {"type": "object", "properties": {}}


def check_key() -> None:
    """Any non-empty bearer key goes; none at all is refused, as the API refuses it."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ChatError(
            "You didn't provide an API key. You need to provide your API key in an Authorization "
            "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            status=401,
        )


def parse_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ChatError("We could not parse the JSON body of your request: it must be a JSON object.")
    _required(body, "model", str)
    _required(body, "messages", list)
    if not body["model"]:
        raise ChatError("Invalid 'model': empty string.", "model", "empty_string")
    if body.get("stream"):
        raise ChatError("devllm does not stream: send 'stream': false.", "stream", "unsupported_value")
    for field in ("max_tokens", "max_completion_tokens"):
        _whole(body.get(field), field)
    _check_tools(body.get("tools"))
    _check_messages(body["messages"])
    _check_tool_choice(body.get("tool_choice"), body.get("tools"))
    return body


def _required(body: dict, field: str, kind: type) -> None:
    if body.get(field) is None:
        raise ChatError(f"Missing required parameter: '{field}'.", field, "missing_required_parameter")
    if not isinstance(body[field], kind):
        raise ChatError(f"Invalid type for '{field}': expected {_kind(kind)}.", field, "invalid_type")


def _kind(kind: type) -> str:
    return {str: "a string", list: "an array", dict: "an object"}[kind]


def _whole(value: Any, field: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise ChatError(f"Invalid type for '{field}': expected an integer.", field, "invalid_type")
    if value < 1:
        raise ChatError(
            f"Invalid '{field}': integer below minimum value. Expected a value >= 1, but got {value}.",
            field,
            "integer_below_min_value",
        )


def _check_messages(messages: list) -> None:
    if not messages:
        raise ChatError(
            "Invalid 'messages': empty array. Expected an array with minimum length 1.",
            "messages",
            "empty_array",
        )
    pending: dict[str, int] = {}  # tool call id -> the assistant message that made it
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ROLES:
            raise ChatError(
                f"Invalid value: {role!r}. Supported values are: {', '.join(map(repr, ROLES))}.",
                f"messages[{i}].role",
                "invalid_value",
            )
        if role != "tool" and pending:
            _unanswered(pending)
        if role == "tool":
            _check_tool_message(i, message, pending)
        elif role == "assistant":
            pending = _tool_calls(i, message)
            if message.get("content") is None and not pending:
                raise ChatError(
                    f"Invalid 'messages[{i}].content': an assistant message needs content or tool_calls.",
                    f"messages[{i}].content",
                    "missing_required_parameter",
                )
        else:
            _check_content(i, message)
    if pending:
        _unanswered(pending)


def _check_content(i: int, message: dict) -> None:
    content = message.get("content")
    if content is None:
        raise ChatError(
            f"Missing required parameter: 'messages[{i}].content'.",
            f"messages[{i}].content",
            "missing_required_parameter",
        )
    if not isinstance(content, str | list):
        raise ChatError(
            f"Invalid type for 'messages[{i}].content': expected a string or an array of content parts.",
            f"messages[{i}].content",
            "invalid_type",
        )


def _tool_calls(i: int, message: dict) -> dict[str, int]:
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise ChatError(
            f"Invalid type for 'messages[{i}].tool_calls': expected an array.",
            f"messages[{i}].tool_calls",
            "invalid_type",
        )
    made = {}
    for j, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if (
            not isinstance(call.get("id") if isinstance(call, dict) else None, str)
            or not isinstance(function, dict)
            or not isinstance(function.get("name"), str)
            or not isinstance(function.get("arguments"), str)
        ):
            raise ChatError(
                f"Invalid 'messages[{i}].tool_calls[{j}]': expected an object with 'id', 'type': "
                "'function' and 'function': {'name', 'arguments' (a string)}.",
                f"messages[{i}].tool_calls[{j}]",
                "invalid_value",
            )
        made[call["id"]] = i
    return made


def _check_tool_message(i: int, message: dict, pending: dict[str, int]) -> None:
    if message.get("tool_call_id") not in pending:
        raise ChatError(
            "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
            "message with 'tool_calls'.",
            f"messages.[{i}].role",
        )
    _check_content(i, message)
    del pending[message["tool_call_id"]]


def _unanswered(pending: dict[str, int]) -> None:
    at = min(pending.values())
    raise ChatError(
        "An assistant message with 'tool_calls' must be followed by tool messages responding to "
        f"each 'tool_call_id'. The following tool_call_ids did not have response messages: "
        f"{', '.join(pending)}",
        f"messages.[{at}].role",
    )


def _check_tools(tools: Any) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise ChatError("Invalid type for 'tools': expected an array.", "tools", "invalid_type")
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
            raise ChatError(
                f"Invalid 'tools[{i}]': expected {{'type': 'function', 'function': {{...}}}}.",
                f"tools[{i}]",
                "invalid_value",
            )
        _check_name(i, function.get("name"))
        _check_parameters(i, function)


def _check_name(i: int, name: Any) -> None:
    param = f"tools[{i}].function.name"
    if not isinstance(name, str):
        raise ChatError(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")
    if len(name) > NAME_MAX:
        raise ChatError(
            f"Invalid '{param}': string too long. Expected a string with maximum length {NAME_MAX}, "
            f"but got a string with length {len(name)} instead.",
            param,
            "string_above_max_length",
        )
    if not NAME.fullmatch(name):
        raise ChatError(
            f"Invalid '{param}': string does not match pattern. Expected a string that matches the "
            f"pattern '{NAME.pattern}'.",
            param,
            "invalid_value",
        )


def _check_parameters(i: int, function: dict) -> None:
    """The API refuses the request when a function's parameters are not a JSON Schema of
    an object."""
    schema = function.get("parameters", NO_PARAMETERS)
    problem = None
    if not isinstance(schema, dict) or schema.get("type") != "object":
        kind = schema.get("type") if isinstance(schema, dict) else type(schema).__name__
        problem = f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{kind}\"'."
    else:
        problem = schema_problem(schema)
    if problem:
        raise ChatError(
            f"Invalid schema for function '{function['name']}': {problem}",
            f"tools[{i}].function.parameters",
            "invalid_function_parameters",
        )


def _check_tool_choice(choice: Any, tools: list | None) -> None:
    if choice is None:
        return
    if not tools:
        raise ChatError(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            "tool_choice",
        )
    if isinstance(choice, str):
        if choice not in CHOICES:
            raise ChatError(
                f"Invalid value: {choice!r}. Supported values are: 'none', 'auto', and 'required'.",
                "tool_choice",
                "invalid_value",
            )
        return
    name = _named(choice)
    if name not in {t["function"]["name"] for t in tools}:
        raise ChatError(
            f"Invalid 'tool_choice': no function named {name!r} in 'tools'.", "tool_choice", "invalid_value"
        )


def _named(choice: Any) -> Any:
    if (
        isinstance(choice, dict)
        and choice.get("type") == "function"
        and isinstance(choice.get("function"), dict)
    ):
        return choice["function"].get("name")
    return None


def chat_turn(body: dict[str, Any]) -> Turn:
    """A checked request as the neutral turn."""
    messages = body["messages"]
    system = [text_of(m["content"]) for m in messages if m["role"] in ("system", "developer")]
    first_user = next((m for m in messages if m["role"] == "user"), {})
    conversation = Conversation(first_user_text=text_of(first_user.get("content")))
    by_id: dict[str, ToolCall] = {}
    for message in messages:
        if message["role"] == "assistant":
            for call in message.get("tool_calls") or ():
                by_id[call["id"]] = ToolCall(id=call["id"], name=call["function"]["name"], module="")
                conversation.calls.append(by_id[call["id"]])
        elif message["role"] == "tool":
            text = text_of(message["content"])
            answer(by_id[message["tool_call_id"]], text, bool(FAILED.match(text)))
    choice = body.get("tool_choice", "auto")
    return Turn(
        system="\n\n".join(system) if system else None,
        tools=[_neutral_tool(t["function"]) for t in body.get("tools") or ()],
        conversation=conversation,
        choice=CHOICES.get(choice) if isinstance(choice, str) else _named(choice),
        last_user_text=last_user_text(messages),
    )


def _neutral_tool(function: dict) -> dict[str, Any]:
    return {
        "name": function["name"],
        "description": function.get("description") or "",
        "input_schema": function.get("parameters", NO_PARAMETERS),
    }
