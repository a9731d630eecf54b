"""The two gates: the service key for runners, the admin JWT for operators."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import current_app, g, request

from personas.errors import Forbidden, Unauthorized

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


def require_admin(view: View) -> View:
    """Allow the call only with a mana-auth JWT whose role is admin; its claims go on `g`."""

    @wraps(view)
    def gated(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Missing bearer token (Authorization: Bearer <admin JWT>).")
        claims = current_app.extensions["token_verifier"].verify(token.strip())
        if claims.get("role") != "admin":
            raise Forbidden("This route needs an admin token.")
        g.admin_claims = claims
        g.admin_token = token.strip()
        return view(*args, **kwargs)

    return gated  # type: ignore[return-value]
