"""Each persona's mana-auth token, kept between ticks so a tick logs in (a password hash
on mana-auth) only when the token it holds would not outlive the tick.

A held token is reused while it still has `keep_for` seconds to live (the longest a tick
may run, and a minute more), so no call of a tick ever carries an expired token. When a
login is refused or fails while the held token is still valid, the tick runs with the
held one: mana-auth having a bad minute costs no tick that does not need it.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from apibase.client_errors import ExpectedError

SPARE_SECONDS = 60


@dataclass(frozen=True)
class Held:
    login: object  # auth_client.Login (not imported: it imports this module)
    expires_at: float


def expiry(token: str) -> float | None:
    """The JWT's `exp` (seconds since the epoch), read without checking the signature: it
    is our own token, just received from mana-auth; only when to log in again hangs on it."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


class TokenCache:
    def __init__(self, keep_for: float, clock: Callable[[], float] = time.time) -> None:
        self.keep_for = keep_for + SPARE_SECONDS
        self.clock = clock
        self._lock = threading.Lock()
        self._held: dict[str, Held] = {}

    def login(self, email: str, log_in: Callable[[], object]) -> object:
        """The held login of `email` when it outlives a tick, else a new one from `log_in()`;
        a failed `log_in()` falls back to a held token that is still valid."""
        now = self.clock()
        with self._lock:
            held = self._held.get(email)
        if held is not None and held.expires_at - now >= self.keep_for:
            return held.login
        try:
            login = log_in()
        except ExpectedError:
            if held is not None and held.expires_at > now:
                return held.login
            raise
        expires_at = expiry(login.token)
        with self._lock:
            if expires_at is None:
                self._held.pop(email, None)
            else:
                self._held[email] = Held(login, expires_at)
        return login
