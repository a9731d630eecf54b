"""The request body limit: one rule for every framing of a body.

A body over MAX_BODY_BYTES is a 413 and nothing of it reaches a view. A declared
Content-Length over the limit is refused before anything is read; a chunked body, whose
length nobody declares, is counted as it is read and refused at its first byte over the
limit, so a view never parses (and never writes) a body cut short at the limit.
"""

from __future__ import annotations

import io

from flask import Flask, Request, current_app, request
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.utils import cached_property

READ_CHUNK = 64 * 1024


def too_large(limit: int) -> RequestEntityTooLarge:
    return RequestEntityTooLarge(f"The request body is over the limit of {limit} bytes.")


class BoundedBody(io.RawIOBase):
    """The server's input stream, read to its end or to one byte past `limit`, whichever
    comes first; that one byte more is the 413."""

    def __init__(self, raw: io.RawIOBase, limit: int) -> None:
        self.raw = raw
        self.limit = limit
        self.seen = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self.raw.read(min(len(buffer), self.limit + 1 - self.seen))
        except OSError as exc:
            # The client went away, or stopped sending past the server's body deadline
            # (gunicorn's NoMoreData is an OSError): a 400 as werkzeug gives, never a 500.
            raise ClientDisconnected() from exc
        self.seen += len(data)
        if self.seen > self.limit:
            raise too_large(self.limit)
        buffer[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        chunks = []
        while data := self.read(READ_CHUNK):
            chunks.append(data)
        return b"".join(chunks)


def read_at_most(limit: int) -> bytes:
    """The whole body for a route whose own cap is below MAX_BODY_BYTES: a declared length
    over `limit` is refused unread, an undeclared one at its first byte over it."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    chunks, seen = [], 0
    # A raw stream's read may return less than asked: read on to the end or past the cap.
    while seen <= limit and (data := request.stream.read(min(READ_CHUNK, limit + 1 - seen))):
        chunks.append(data)
        seen += len(data)
    if seen > limit:
        raise too_large(limit)
    return b"".join(chunks)


class BoundedRequest(Request):
    @cached_property
    def stream(self) -> io.RawIOBase:  # type: ignore[override]
        limit = current_app.config["PERSONAS"].max_body_bytes
        if self.content_length is not None and self.content_length > limit:
            raise too_large(limit)
        if self.content_length is None and not self.environ.get("wsgi.input_terminated"):
            # No length and a server that does not end the stream (gunicorn does): reading
            # could wait forever, so there is no body, as werkzeug would have it.
            return io.BytesIO()
        return BoundedBody(self.environ["wsgi.input"], limit)


def init_app(app: Flask) -> None:
    app.request_class = BoundedRequest

    @app.before_request
    def refuse_a_declared_oversized_body() -> None:
        """Before any gate or view: a declared length over the limit is refused unread."""
        request.stream  # noqa: B018 - opening the stream applies the limit
