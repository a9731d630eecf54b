"""The stand-in's gates: the service key (when one is configured) and bearer tokens."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import current_app, g, request

from devauth import tokens
from devauth.config import DevAuthConfig
from devauth.db import get_db
from devauth.errors import Forbidden, Unauthorized

View = TypeVar("View", bound=Callable)


def get_config() -> DevAuthConfig:
    return current_app.config["DEVAUTH"]


def check_service_key() -> None:
    """With MANA_SERVICE_KEY configured, callers must send it; without, anyone may call."""
    expected = get_config().service_key
    if not expected:
        return
    given = request.headers.get("X-Service-Key", "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("Missing or wrong X-Service-Key.")


def check_bearer() -> dict:
    """The claims of the request's `Authorization: Bearer` token, also kept on `g.claims`."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Missing Authorization: Bearer <token>.")
    with get_db().connection() as conn:
        g.claims = tokens.verify(conn, get_config(), token.strip())
    return g.claims


def check_admin() -> None:
    """The service key (if configured), then a bearer token whose role is admin."""
    check_service_key()
    if check_bearer().get("role") != "admin":
        raise Forbidden("This endpoint needs a token with role=admin.")


def gate(check: Callable[[], object]) -> Callable[[View], View]:
    """A decorator that runs `check` before the view; `check` raises to refuse."""

    def decorate(view: View) -> View:
        @wraps(view)
        def gated(*args, **kwargs):
            check()
            return view(*args, **kwargs)

        return gated  # type: ignore[return-value]

    return decorate


require_service_key = gate(check_service_key)
require_bearer = gate(check_bearer)
require_admin = gate(check_admin)
