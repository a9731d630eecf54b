"""A product tool's answer as the model is shown it: the `content` of a `tool_result`.

Text stays text; an image goes as an image block (the media types the Messages API
takes); an embedded text resource goes as its text; what the model cannot be shown
(audio, binary resources, other image types) is named in a line, so it knows something
came back."""

from __future__ import annotations

from typing import Any

# The image types the Messages API accepts in an image block.
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


def model_blocks(content: tuple[Any, ...], fallback_text: str) -> list[dict[str, Any]]:
    """The MCP content blocks as Messages API blocks; `fallback_text` when there are none
    (a failed call carries only its error text)."""
    if not content:
        return [text_block(fallback_text)] if fallback_text else []
    return [model_block(block) for block in content]


def model_block(block: Any) -> dict[str, Any]:
    kind = getattr(block, "type", "")
    if kind == "text":
        return text_block(block.text)
    if kind == "image" and block.mime_type in IMAGE_TYPES:
        source = {"type": "base64", "media_type": block.mime_type, "data": block.data}
        return {"type": "image", "source": source}
    if kind == "resource":
        resource = block.resource
        text = getattr(resource, "text", None)
        if isinstance(text, str):
            return text_block(f"[resource {resource.uri}]\n{text}")
        return text_block(f"[resource {resource.uri} ({resource.mime_type or 'binary'}), not shown]")
    if kind == "resource_link":
        return text_block(f"[link {block.name}: {block.uri}]")
    mime = getattr(block, "mime_type", None)
    return text_block(f"[{kind or 'content'}{f' ({mime})' if mime else ''}, not shown]")


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}
