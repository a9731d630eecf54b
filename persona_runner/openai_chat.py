"""The OpenAI driver: the day of `model_day` over the Chat Completions API, for any server
that speaks it with tool calling (vLLM, llama.cpp's server, Ollama, LM Studio, OpenAI).
This module only writes Chat Completions requests and reads their answers.

What these servers really do, and how it is met:
- arguments come as a JSON string that may not parse (a small model stopping early): that
  call is answered as an error and never sent to the product;
- several tool calls in one answer, each answered by its own `role: "tool"` message;
- some answer tool calls with `finish_reason: "stop"`: the calls decide, not the reason;
- a call may come without an id: it gets one, so its answer can name it;
- no `usage` at all: counted as nothing;
- a server without named `tool_choice` refuses it (400 naming tool_choice): the ratings
  are then forced with `"required"` and only `submit_ratings` offered, and the worker
  remembers not to ask again;
- requests are never streamed (tools and streaming mix badly on many servers).
"""

from __future__ import annotations

import json
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from persona_runner.errors import DriverFailed
from persona_runner.model_day import Call, CallResult, Reply
from persona_runner.model_driver import ModelDriver
from persona_runner.model_waits import MODEL_RETRIES, error_text
from persona_runner.ratings import RATINGS_TOOL, shown
from persona_runner.usage import Tokens
from persona_runner.worker_clients import LIMITS, WorkerClients

NAMED_CHOICE = "named tool_choice"
RATINGS_CHOICE = {"type": "function", "function": {"name": RATINGS_TOOL}}
# Chat Completions' finish reasons in the Messages API's stop reasons (model_day's words).
STOPS = {"length": "max_tokens", "content_filter": "refusal"}


def chat_client(config) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key=config.openai_api_key,
        base_url=config.openai_base_url,
        timeout=config.model_timeout,
        max_retries=MODEL_RETRIES,
        http_client=openai.DefaultAsyncHttpxClient(limits=LIMITS),
    )


def functions(tools: list[dict]) -> list[dict]:
    """The tools (Messages API shape) as Chat Completions functions."""
    return [
        {
            "type": "function",
            "function": {"name": t["name"], "description": t["description"], "parameters": t["input_schema"]},
        }
        for t in tools
    ]


class ChatAdapter:
    """One tick's Chat Completions requests; `lacks` is the worker's memory of what its
    server refused (shared by its ticks)."""

    provider = "openai"
    api_error = openai.APIError
    ratings_forcing = (True,)

    def __init__(
        self, client: openai.AsyncOpenAI, model: str, system: str, tools: list[dict], lacks: set[str]
    ):
        self.client = client
        self.model = model
        self.system = system
        self.tools = functions(tools)
        self.lacks = lacks

    def start(self, opening: str) -> list[dict]:
        return [{"role": "system", "content": self.system}, {"role": "user", "content": opening}]

    async def send(self, conversation: list[dict], max_tokens: int, forced: bool) -> Reply:
        """A forced request the server refuses for its named tool_choice is sent again
        with "required" (once: then the worker knows)."""
        try:
            return await self._send(conversation, max_tokens, forced)
        except openai.APIStatusError as exc:
            if not (forced and refuses_named_choice(exc)) or NAMED_CHOICE in self.lacks:
                raise
            self.lacks.add(NAMED_CHOICE)
        return await self._send(conversation, max_tokens, forced)

    def failed(self, exc: Exception) -> DriverFailed:
        if isinstance(exc, openai.APIStatusError):
            # The SDK's body is the error object itself (it unwraps {"error": ...}).
            return DriverFailed(f"model: {exc.status_code} {error_text({'error': exc.body}, str(exc))}")
        return DriverFailed(f"model: {type(exc).__name__}: {exc}")

    async def _send(self, conversation: list[dict], max_tokens: int, forced: bool) -> Reply:
        tools, choice = self.tools, {}
        if forced and NAMED_CHOICE in self.lacks:
            tools = [t for t in self.tools if t["function"]["name"] == RATINGS_TOOL]
            choice = {"tool_choice": "required"}
        elif forced:
            choice = {"tool_choice": RATINGS_CHOICE}
        reply = await self.client.chat.completions.create(
            model=self.model, messages=conversation, tools=tools, max_tokens=max_tokens, **choice
        )
        return read_reply(reply)

    def add_reply(self, conversation: list[dict], reply: Reply, answering: bool) -> None:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if answering:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.written}}
                for c in reply.calls
            ]
        if message["content"] is not None or answering:
            conversation.append(message)

    def add_results(self, conversation: list[dict], results: list[CallResult]) -> None:
        conversation.extend(
            {"role": "tool", "tool_call_id": r.call_id, "content": tool_text(r)} for r in results
        )

    def then_user(self, conversation: list[dict], text: str) -> list[dict]:
        return [*conversation, {"role": "user", "content": text}]


def refuses_named_choice(exc: openai.APIStatusError) -> bool:
    """A server without named tool_choice says so with a 400 (422 on some) naming it."""
    body = exc.body if isinstance(exc.body, dict) else {}
    named = body.get("param") == "tool_choice" or "tool_choice" in str(body.get("message", exc.message))
    return exc.status_code in (400, 422) and named


def tool_text(result: CallResult) -> str:
    """A tool message's text: a tool message takes no image, so one is named instead. A
    failed call's text starts with `Error:`, the only way Chat Completions has to say so."""
    lines = [
        block["text"] if block["type"] == "text" else f"[{block['type']} ({media(block)}), not shown]"
        for block in result.blocks
    ]
    text = "\n".join(lines)
    return f"Error: {text}" if result.is_error else text


def media(block: dict) -> str:
    return block.get("source", {}).get("media_type", "unknown type")


def read_reply(reply: ChatCompletion) -> Reply:
    if not reply.choices:
        raise DriverFailed(f"model: an answer without choices: {shown(reply.model_dump(mode='json'))}")
    choice = reply.choices[0]
    message = choice.message
    calls = read_calls(message.tool_calls or [])
    if message.refusal:
        stop = "refusal"
    elif choice.finish_reason in STOPS:
        stop = STOPS[choice.finish_reason]
    else:  # some servers end a tool-calling answer with "stop": the calls decide
        stop = "tool_use" if calls else "end_turn"
    return Reply(
        stop=stop,
        text=message.content or message.refusal or "",
        calls=calls,
        tokens=read_usage(reply.usage),
        shown=shown(message.model_dump(mode="json", exclude_none=True)),
        raw=reply,
        response_id=reply.id or "",
        response_model=reply.model or "",
        finish_reason=choice.finish_reason or "",
    )


def read_calls(tool_calls: list[Any]) -> list[Call]:
    """The answer's calls, each with its input read from the arguments string (kept as
    written: it goes back in the conversation unchanged)."""
    calls = []
    for i, tool_call in enumerate(tool_calls):
        function = getattr(tool_call, "function", None)
        call_id = tool_call.id or f"call_{i}"
        if function is None:
            calls.append(Call(call_id, "", None, f"a {tool_call.type} call, not a function call"))
            continue
        arguments, problem = read_arguments(function.arguments)
        calls.append(Call(call_id, function.name, arguments, problem, function.arguments or ""))
    return calls


def read_arguments(text: str | None) -> tuple[Any, str | None]:
    try:
        arguments = json.loads(text or "")
    except ValueError:
        return None, f"its arguments are not JSON ({shown(text)})"
    if not isinstance(arguments, dict):
        return None, f"its arguments are not a JSON object ({shown(arguments)})"
    return arguments, None


def read_usage(usage: Any) -> Tokens:
    """`prompt_tokens` counts the cached ones too: they are given apart as cache reads.
    A server that reports no usage costs nothing, as far as the runner can tell."""
    if usage is None:
        return Tokens()
    details = getattr(usage, "prompt_tokens_details", None)
    cached = (getattr(details, "cached_tokens", None) or 0) if details else 0
    prompt = usage.prompt_tokens or 0
    return Tokens(input=max(prompt - cached, 0), output=usage.completion_tokens or 0, cache_read=cached)


class OpenAIDriver(ModelDriver):
    name = "openai"

    def __init__(self, config, today=None) -> None:
        super().__init__(config, today)
        self.lacks: set[str] = set()  # what the server refused, for ticks outside a worker

    def new_client(self) -> openai.AsyncOpenAI:
        return chat_client(self.config)

    def adapter(
        self, client: Any, kept: WorkerClients | None, system: str, tools: list[dict], deadline: float
    ) -> ChatAdapter:
        # The SDK bounds any wait a server asks for itself (retry-after up to two minutes).
        lacks = kept.lacks if kept is not None else self.lacks
        return ChatAdapter(client, self.config.model, system, tools, lacks)
