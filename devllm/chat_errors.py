"""Errors of the Chat Completions face in the OpenAI API's own shape:
`{"error": {"message", "type", "param", "code"}}` with the statuses it uses, the id in
`x-request-id`, and `retry-after` where a fault sets one. The Messages face's injected 529
is answered 503 here: OpenAI says "overloaded" that way."""

from __future__ import annotations

from flask import Response, jsonify

from devllm.errors import ModelApiError, new_request_id

TYPES = {429: "requests", 500: "server_error", 503: "server_error"}
CODES = {429: "rate_limit_exceeded"}
STATUSES = {529: 503}


class ChatError(ModelApiError):
    """A refusal naming the parameter at fault (`tools[0].function.name`) and the API's code
    for it (`invalid_value`, `missing_required_parameter`, ...)."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None, status: int = 400):
        super().__init__(status, message)
        self.param = param
        self.code = code


def chat_error_response(exc: ModelApiError) -> Response:
    status = STATUSES.get(exc.status, exc.status)
    default_type = "server_error" if status >= 500 else "invalid_request_error"
    error = {
        "message": exc.message,
        "type": TYPES.get(status, default_type),
        "param": getattr(exc, "param", None),
        "code": getattr(exc, "code", None) or CODES.get(status),
    }
    response = named(jsonify(error=error))
    response.status_code = status
    if exc.retry_after is not None:
        response.headers["retry-after"] = str(exc.retry_after)
    return response


def named(response: Response) -> Response:
    """The answer's id in OpenAI's header, and the same one in the header every devllm
    answer carries."""
    request_id = new_request_id()
    response.headers["x-request-id"] = response.headers["request-id"] = request_id
    return response
