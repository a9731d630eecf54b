"""The neutral conversation both API faces translate into (`Turn`: the system prompt, the
tools offered, the tool calls made with what came back, the tool choice), and the Messages
face's reading of a request into it. Which product module each tool belongs to is decided
here too, once, for both faces.

Module convention (the driver maps `todo.create` to a name the API accepts): the module of
an offered tool is, in order, the part before the first `.` of a product name written at
the start of its description (`todo.create: ...` or `[todo.create] ...`); the tool's own
name when its description starts with that name and a colon (a product name with no `.`,
`echo: ...`, is its own module, as the driver counts it); else the longest module of the
`submit_ratings` enum that the name starts with followed by `_`, `-` or `__`; else the part
of the name before the first `__`; else before the first `_` or `-`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

RATINGS_TOOL = "submit_ratings"
# The neutral tool choices, spelled so no tool name can be one; any other choice names the
# one tool to call.
AUTO, REQUIRED, NONE = "<auto>", "<required>", "<none>"
PRODUCT_NAME = re.compile(r"^\W*([A-Za-z0-9_-]+)\.[A-Za-z0-9_.-]+")
TOOK = re.compile(r"took\s+(\d+)\s*ms\W*$", re.IGNORECASE)
ITEM_ID = re.compile(r'"id"\s*:\s*"([^"]+)"')


@dataclass
class ToolCall:
    id: str
    name: str
    module: str
    is_error: bool = False
    took_ms: int | None = None
    text: str = ""
    answered: bool = False


@dataclass
class Conversation:
    first_user_text: str
    calls: list[ToolCall] = field(default_factory=list)

    def known_id(self, module: str) -> str | None:
        """The newest item id a tool of this module answered with, if any."""
        for call in reversed(self.calls):
            if call.module == module and not call.is_error:
                found = ITEM_ID.findall(call.text)
                if found:
                    return found[0]
        return None


@dataclass
class Turn:
    """One request to the model, whichever API it came through. `system` is as the request
    sent it (it seeds the day); each tool is `{"name", "description", "input_schema"}`;
    `choice` is AUTO, REQUIRED, NONE or the name of the tool to call; `last_user_text` is
    the text of the last message when a user sent it (where the ratings are asked for)."""

    system: Any
    tools: list[dict[str, Any]]
    conversation: Conversation
    choice: str = AUTO
    last_user_text: str = ""


def blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def text_of(content: Any) -> str:
    return "\n".join(b.get("text", "") for b in blocks(content) if b.get("type") == "text")


def ratings_enum(tools: list[dict[str, Any]]) -> list[str] | None:
    for tool in tools:
        if tool.get("name") == RATINGS_TOOL:
            try:
                items = tool["input_schema"]["properties"]["ratings"]["items"]
                enum = items["properties"]["module"]["enum"]
            except (KeyError, TypeError):
                return None
            return [m for m in enum if isinstance(m, str)]
    return None


def module_of(tool: dict[str, Any], enum: list[str] | None) -> str:
    name = str(tool.get("name", ""))
    described = PRODUCT_NAME.match(str(tool.get("description") or ""))
    if described:
        return described.group(1)
    if str(tool.get("description") or "").startswith(f"{name}:"):
        return name  # a product name with no module part (`echo: ...`) is its own module
    for module in sorted(enum or [], key=len, reverse=True):
        if any(name.startswith(module + sep) for sep in ("__", "_", "-")) or name == module:
            return module
    if "__" in name:
        return name.split("__", 1)[0]
    return re.split(r"[_-]", name, maxsplit=1)[0]


def messages_turn(body: dict[str, Any]) -> Turn:
    """A Messages API request (already checked) as the neutral turn."""
    choice = body.get("tool_choice") or {"type": "auto"}
    named = {"auto": AUTO, "any": REQUIRED, "none": NONE}.get(choice.get("type"))
    return Turn(
        system=body.get("system"),
        tools=body.get("tools") or [],
        conversation=read(body["messages"]),
        choice=named or choice["name"],
        last_user_text=last_user_text(body["messages"]),
    )


def last_user_text(messages: list[dict[str, Any]]) -> str:
    last = messages[-1] if messages else {}
    return text_of(last.get("content")) if last.get("role") == "user" else ""


def read(messages: list[dict[str, Any]]) -> Conversation:
    """A Messages conversation's tool calls with their results (modules not yet known)."""
    first_user = next((m for m in messages if m.get("role") == "user"), {})
    conversation = Conversation(first_user_text=text_of(first_user.get("content")))
    by_id: dict[str, ToolCall] = {}
    for message in messages:
        for block in blocks(message.get("content")):
            if block.get("type") == "tool_use":
                call = ToolCall(id=str(block.get("id")), name=str(block.get("name", "")), module="")
                by_id[call.id] = call
                conversation.calls.append(call)
            elif block.get("type") == "tool_result" and block.get("tool_use_id") in by_id:
                answer(
                    by_id[block["tool_use_id"]], text_of(block.get("content")), bool(block.get("is_error"))
                )
    return conversation


def answer(call: ToolCall, text: str, is_error: bool) -> None:
    """What the product said to a call: its text, with a last `took N ms` line read off."""
    text = text.strip()
    took = TOOK.search(text)
    if took:
        call.took_ms = int(took.group(1))
        text = text[: took.start()].rstrip()
    call.text = text
    call.is_error = is_error
    call.answered = True
