"""The two gates: the service key for runners, the admin JWT for operators."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from flask import Blueprint, current_app, g, request

from personas.errors import Forbidden, Unauthorized
from personas.tokens import get_token_verifier


def is_accepted_key(given: str, accepted: tuple[str, ...]) -> bool:
    """Compares with every accepted key, each in constant time, and never stops early: the
    time taken says nothing about which key, or how much of one, was right."""
    matched = False
    for key in accepted:
        matched |= hmac.compare_digest(given.encode(), key.encode())
    return matched


def check_service_key() -> None:
    """Refuse the request unless it carries one of the configured service keys; with none
    configured, refuse every one."""
    accepted = current_app.config["PERSONAS"].accepted_service_keys
    if not accepted:
        raise Unauthorized("This service has no service key configured; internal calls are refused.")
    if not is_accepted_key(request.headers.get("X-Service-Key", ""), accepted):
        raise Unauthorized("Missing or wrong X-Service-Key.")


def check_admin() -> None:
    """Refuse the request unless it carries a mana-auth JWT whose role is admin; the token
    goes on `g` (the admin routes act in mana-auth with it)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Missing bearer token (Authorization: Bearer <admin JWT>).")
    claims = get_token_verifier().verify(token.strip())
    if not isinstance(claims.get("sub"), str) or not claims["sub"].strip():
        # Every admin action is done as someone: a token that names nobody is no token.
        raise Unauthorized("The token names no subject (sub).")
    if claims.get("role") != "admin":
        raise Forbidden("This route needs an admin token.")
    g.admin_token = token.strip()


def gate(bp: Blueprint, check: Callable[[], None], scheme: str) -> None:
    """Every route of `bp` (and of the blueprints nested in it) runs `check` first. So does
    a path under its prefix that matches no route (or not with this method), or whose
    persona id cannot exist: without credentials it is a 401 like any route, so probing
    cannot list the routes; with them it goes on to the usual 404 or 405. `scheme` names
    the credentials in the OpenAPI document (its securitySchemes)."""
    bp.before_request(check)
    bp.security_scheme = scheme  # type: ignore[attr-defined]
    prefix = bp.url_prefix or ""

    @bp.before_app_request
    def gate_unmatched_paths() -> None:
        if request.url_rule is None and (request.path == prefix or request.path.startswith(prefix + "/")):
            check()
