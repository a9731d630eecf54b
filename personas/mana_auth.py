"""The mana-auth client: the calls the admin routes make (and the key fetch of their
gate), each with a timeout, all through one bulkhead.

Network errors, timeouts and 5xx become UpstreamError(step), which the error handler
answers with 502 (504 for a timeout) naming the step, so an operator knows what failed.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from urllib.parse import quote

import requests
from flask import Flask, current_app, g, has_request_context

from config import Config
from personas.errors import Unavailable, UpstreamError
from personas.metrics import UPSTREAM_CALLS

log = logging.getLogger(__name__)
JWKS_PATH = "/api/v1/auth/jwks"
# Less time than this left before the request's deadline: no call is started.
MIN_CALL_SECONDS = 0.25


class ManaAuth:
    def __init__(self, config: Config, session: requests.Session) -> None:
        self.base = config.mana_auth_url.rstrip("/")
        self.service_key = config.service_key
        self.timeout = (config.upstream_connect_timeout, config.upstream_read_timeout)
        self.request_budget = config.upstream_request_deadline
        self.session = session
        # A bulkhead: however long mana-auth stalls, at most this many of a worker's
        # calls are on the wire at once, so the rest keep serving runners. The others wait
        # their turn, each until its request's deadline, then are shed (503).
        self.in_flight = threading.BoundedSemaphore(config.upstream_max_in_flight)

    def deadline(self) -> float:
        """When the current request must be done with mana-auth (monotonic clock): its
        start plus MANA_AUTH_DEADLINE; outside a request, that long from now."""
        if has_request_context():
            if "mana_auth_deadline" not in g:
                g.mana_auth_deadline = time.monotonic() + self.request_budget
            return g.mana_auth_deadline
        return time.monotonic() + self.request_budget

    def _call(
        self,
        step: str,
        method: str,
        path: str,
        admin_jwt: str | None = None,
        ok: tuple[int, ...] = (200,),
        **kwargs: Any,
    ) -> requests.Response:
        headers = {"Content-Type": "application/json", "X-Service-Key": self.service_key}
        if admin_jwt:
            headers["Authorization"] = f"Bearer {admin_jwt}"
        deadline = self.deadline()
        if deadline - time.monotonic() < MIN_CALL_SECONDS:
            # This request's own earlier calls used its time up: a timeout of this step,
            # not a mana-auth busy with other calls.
            UPSTREAM_CALLS.labels(step, "timeout").inc()
            raise UpstreamError(
                step, f"No time was left for the {step} call within this request's deadline.", timeout=True
            )
        if not self.in_flight.acquire(timeout=max(0.0, deadline - time.monotonic())):
            self._shed(step)
        try:
            # The read waits no longer than the request has left (a 504 past it); a turn
            # that came too late for any answer is shed like one that never came.
            left = deadline - time.monotonic()
            if left < MIN_CALL_SECONDS:
                self._shed(step)
            timeout = (self.timeout[0], min(self.timeout[1], left))
            return self._send(step, method, path, headers, ok, timeout, **kwargs)
        finally:
            self.in_flight.release()

    @staticmethod
    def _shed(step: str) -> None:
        UPSTREAM_CALLS.labels(step, "shed").inc()
        raise Unavailable("mana-auth is busy with other calls; try again shortly.", step=step)

    def _send(
        self,
        step: str,
        method: str,
        path: str,
        headers: dict[str, str],
        ok: tuple[int, ...],
        timeout: tuple[float, float],
        **kwargs: Any,
    ) -> requests.Response:
        try:
            response = self.session.request(
                method, self.base + path, headers=headers, timeout=timeout, **kwargs
            )
        except requests.Timeout:
            UPSTREAM_CALLS.labels(step, "timeout").inc()
            raise UpstreamError(
                step, f"mana-auth did not answer the {step} call in time.", timeout=True
            ) from None
        except requests.RequestException as exc:
            UPSTREAM_CALLS.labels(step, "unreachable").inc()
            raise UpstreamError(step, f"mana-auth is unreachable ({type(exc).__name__}).") from None
        log.info("mana-auth %s answered %s", step, response.status_code)
        if response.status_code not in ok:
            UPSTREAM_CALLS.labels(step, f"http_{response.status_code}").inc()
            raise UpstreamError(
                step,
                f"mana-auth answered {response.status_code} to the {step} call.",
                upstream_status=response.status_code,
            )
        UPSTREAM_CALLS.labels(step, "ok").inc()
        return response

    @staticmethod
    def _json(step: str, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise UpstreamError(
                step,
                f"mana-auth answered the {step} call with something not JSON.",
                upstream_status=response.status_code,
            ) from None

    def signing_keys(self) -> Any:
        """mana-auth's JWKS document, as it answered it."""
        return self._json("jwks", self._call("jwks", "GET", JWKS_PATH))

    def find_user(self, email: str, admin_jwt: str) -> dict[str, Any] | None:
        """The user whose email equals `email` (case-insensitive); search is a substring match."""
        response = self._call("find", "GET", f"/api/v1/admin/users?search={quote(email)}", admin_jwt)
        users = self._json("find", response)
        if not isinstance(users, dict) or not isinstance(users.get("users"), list):
            raise UpstreamError("find", "mana-auth's user search answered an unexpected shape.")
        wanted = email.lower()
        for user in users["users"]:
            if isinstance(user, dict) and str(user.get("email", "")).lower() == wanted and user.get("id"):
                return user
        return None

    def register(self, email: str, password: str, name: str) -> None:
        """Ask mana-auth to register the user. Its answer says nothing reliable about who
        the user is: a taken email is a 409/422, or (email verification on) a 200 naming a
        made-up id, so the caller finds the user by email afterwards."""
        self._call(
            "register",
            "POST",
            "/api/v1/auth/register",
            ok=(200, 201, 409, 422),
            json={"email": email, "password": password, "name": name},
        )

    def stamp_persona(self, user_id: str) -> None:
        self._call(
            "stamp",
            "POST",
            f"/api/v1/internal/users/{quote(user_id, safe='')}/persona-stamp",
            json={"accessTier": "founder"},
        )

    def login_works(self, email: str, password: str) -> bool:
        """Whether the persona logs in with this password, as its runner will: a user made
        under an older PERSONA_SEED_SECRET keeps its old password and would not."""
        response = self._call(
            "login",
            "POST",
            "/api/v1/auth/login",
            ok=(200, 400, 401, 403),
            json={"email": email, "password": password},
        )
        return response.status_code == 200

    def delete_user(self, user_id: str, admin_jwt: str) -> bool:
        """Delete the user's data; False when mana-auth no longer knows the user."""
        response = self._call(
            "delete",
            "DELETE",
            f"/api/v1/admin/users/{quote(user_id, safe='')}/data",
            admin_jwt,
            ok=(200, 204, 404),
        )
        return response.status_code != 404


def init_app(app: Flask, config: Config) -> ManaAuth:
    client = ManaAuth(config, requests.Session())
    app.extensions["mana_auth"] = client
    return client


def get_mana_auth() -> ManaAuth:
    return current_app.extensions["mana_auth"]
