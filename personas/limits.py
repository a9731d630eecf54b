"""Request size limit: a body over MAX_BODY_BYTES is refused before anything reads it."""

from __future__ import annotations

from flask import Flask, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge


def init_app(app: Flask) -> None:
    @app.before_request
    def refuse_oversized_body() -> None:
        limit = current_app.config["PERSONAS"].max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise RequestEntityTooLarge(f"The request body is over the limit of {limit} bytes.")
