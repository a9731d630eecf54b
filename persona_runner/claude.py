"""The Claude driver: the day of `model_day` over the Anthropic Messages API, with prompt
caching (`prompt_cache`). This module only writes Messages requests and reads their
answers; the loop, the audit, the ratings and the usage are shared with every model
driver (`model_driver`)."""

from __future__ import annotations

from typing import Any

import anthropic
from anthropic.types import Message

from persona_runner.errors import DriverFailed
from persona_runner.model_day import STOPPED, Call, CallResult, Reply, input_hash
from persona_runner.model_driver import ModelDriver
from persona_runner.model_waits import bounded_waits, error_text
from persona_runner.prompt_cache import cached_request
from persona_runner.ratings import RATINGS_TOOL, shown
from persona_runner.usage import Tokens
from persona_runner.worker_clients import WorkerClients, model_client

__all__ = ["STOPPED", "ClaudeDriver", "assistant_turn", "input_hash", "then_user"]
RATINGS_CHOICE = {"type": "tool", "name": RATINGS_TOOL}


class MessagesAdapter:
    """One tick's Messages requests: the system prompt and tools as they were all day
    (with their cache breakpoints when RUNNER_PROMPT_CACHE is on)."""

    provider = "anthropic"
    api_error = anthropic.APIError
    # The ratings are asked for with tool_choice as it was all day, so the request reads
    # the whole day from the cache: the API keys the conversation's cache on
    # tool_choice, so forcing the tool would write the day again. Only an answer without
    # the call is asked once more with `submit_ratings` forced.
    ratings_forcing = (False, True)

    def __init__(
        self, client: anthropic.AsyncAnthropic, model: str, cache: bool, system: str, tools: list[dict]
    ):
        self.client = client
        self.model = model
        self.cache = cache
        self.system = system
        self.tools = tools

    def start(self, opening: str) -> list[dict]:
        return [{"role": "user", "content": opening}]

    async def send(self, conversation: list[dict], max_tokens: int, forced: bool) -> Reply:
        if self.cache:
            prompt = cached_request(self.tools, self.system, conversation)
        else:
            prompt = {"tools": self.tools, "system": self.system, "messages": conversation}
        choice = {"tool_choice": RATINGS_CHOICE} if forced else {}
        reply = await self.client.messages.create(model=self.model, max_tokens=max_tokens, **prompt, **choice)
        return read_reply(reply)

    def failed(self, exc: Exception) -> DriverFailed:
        if isinstance(exc, anthropic.APIStatusError):
            return DriverFailed(f"model: {exc.status_code} {error_text(exc.body, str(exc))}")
        return DriverFailed(f"model: {type(exc).__name__}: {exc}")

    def add_reply(self, conversation: list[dict], reply: Reply, answering: bool) -> None:
        turn = assistant_turn(reply.raw, keep_tool_use=answering)
        if turn:
            conversation.append(turn)

    def add_results(self, conversation: list[dict], results: list[CallResult]) -> None:
        conversation.append({"role": "user", "content": [tool_result(r) for r in results]})

    def then_user(self, conversation: list[dict], text: str) -> list[dict]:
        return then_user(conversation, text)


def read_reply(reply: Message) -> Reply:
    usage = reply.usage
    tokens = Tokens(
        input=usage.input_tokens or 0,
        output=usage.output_tokens or 0,
        cache_read=getattr(usage, "cache_read_input_tokens", None) or 0,
        cache_write=getattr(usage, "cache_creation_input_tokens", None) or 0,
    )
    # The API always sends an object input; anything else goes as {} (as it always has).
    calls = [
        Call(b.id, b.name, b.input if isinstance(b.input, dict) else {})
        for b in reply.content
        if b.type == "tool_use"
    ]
    return Reply(
        stop=reply.stop_reason or "",
        text="\n\n".join(b.text for b in reply.content if b.type == "text"),
        calls=calls,
        tokens=tokens,
        shown=shown([b.to_dict(mode="json", exclude_none=True) for b in reply.content]),
        raw=reply,
        response_id=reply.id,
        response_model=reply.model,
        finish_reason=reply.stop_reason or "",
    )


def assistant_turn(reply: Message, keep_tool_use: bool) -> dict[str, Any] | None:
    """The reply as the next request's assistant message (tool_use blocks kept only when
    they will be answered); None when nothing is left to send back. Thinking blocks go
    back exactly as they came: the API checks their signatures."""
    content: list[dict[str, Any]] = []
    for block in reply.content:
        if block.type == "text" and block.text:
            content.append({"type": "text", "text": block.text})
        elif block.type == "tool_use" and keep_tool_use:
            content.append({"type": "tool_use", "id": block.id, "name": block.name, "input": block.input})
        elif block.type in ("thinking", "redacted_thinking"):
            content.append(block.to_dict(mode="json"))
    return {"role": "assistant", "content": content} if content else None


def tool_result(result: CallResult) -> dict[str, Any]:
    return {
        "type": "tool_result",
        "tool_use_id": result.call_id,
        "content": result.blocks,
        "is_error": result.is_error,
    }


def then_user(messages: list[dict], text: str) -> list[dict]:
    """`messages` with `text` as the next user words (joined to a trailing user turn)."""
    last = messages[-1]
    if last["role"] != "user":
        return [*messages, {"role": "user", "content": text}]
    content = last["content"]
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    return [*messages[:-1], {"role": "user", "content": [*blocks, {"type": "text", "text": text}]}]


class ClaudeDriver(ModelDriver):
    name = "claude"

    def new_client(self) -> anthropic.AsyncAnthropic:
        return model_client(self.config)

    def adapter(
        self, client: Any, kept: WorkerClients | None, system: str, tools: list[dict], deadline: float
    ) -> MessagesAdapter:
        # A copy with this tick's deadline: it shares the client's connections.
        client = client.with_options(middleware=[bounded_waits(deadline)])
        return MessagesAdapter(client, self.config.model, self.config.prompt_cache, system, tools)
