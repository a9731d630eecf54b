"""Errors in the Messages API's own shape: {"type": "error", "error": {"type", "message"}}."""

from __future__ import annotations

import secrets

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(status: int, message: str) -> Response:
    response = jsonify(type="error", error={"type": TYPES.get(status, "api_error"), "message": message})
    response.status_code = status
    response.headers["request-id"] = f"req_dev{secrets.token_hex(10)}"
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return error_response(exc.code or 500, exc.description or exc.name)
