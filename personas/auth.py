"""The two gates: the service key for runners, the admin JWT for operators."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import current_app, request

from personas.errors import Unauthorized

View = TypeVar("View", bound=Callable)


def require_service_key(view: View) -> View:
    """Allow the call only with the configured X-Service-Key; with none configured, refuse all."""

    @wraps(view)
    def gated(*args, **kwargs):
        expected = current_app.config["PERSONAS"].service_key
        if not expected:
            raise Unauthorized("This service has no service key configured; internal calls are refused.")
        given = request.headers.get("X-Service-Key", "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise Unauthorized("Missing or wrong X-Service-Key.")
        return view(*args, **kwargs)

    return gated  # type: ignore[return-value]
