"""Verifying mana-auth's admin JWTs: EdDSA only, keys from its JWKS.

The key set is cached per process and loaded on first use. A token with an unknown
`kid` triggers a refetch, at most one every JWKS_REFETCH_SECONDS, so a rotated key is
honoured within that time while a flood of forged kids cannot turn into a flood of
requests to mana-auth. Fetches go through the mana-auth client's bulkhead and
timeouts, one at a time per process, and no lock is held while one is on the network:
a stalled mana-auth costs the admin routes one thread, never the internal routes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from flask import Flask, current_app

from config import Config
from personas.errors import Unauthorized, Unavailable, UpstreamError
from personas.mana_auth import ManaAuth

ALGORITHM = "EdDSA"
JWKS_REFETCH_SECONDS = 10.0
# While no keys are held, a failed load may be retried this soon (by one request).
JWKS_RETRY_SECONDS = 1.0
# A request may wait for a fetch another thread has in flight until the fetch is this
# old: a healthy mana-auth answers in milliseconds; a stalled one is not waited out,
# and once a fetch has stalled this long, requests behind it are answered at once.
JWKS_WAIT_SECONDS = 0.5
# Kids found unknown are remembered until the next refetch may run; a flood of random
# kids cannot grow the memory past this many.
UNKNOWN_KIDS_MAX = 1024
LEEWAY_SECONDS = 10


@dataclass
class _Fetch:
    started: float
    done: threading.Event = field(default_factory=threading.Event)


class TokenVerifier:
    def __init__(self, config: Config, mana_auth: ManaAuth) -> None:
        self.audience = config.jwt_audience
        self.issuers = list(config.allowed_issuers)
        self.mana_auth = mana_auth
        # The lock guards the fields below and is never held across a network call.
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._refetched_at = float("-inf")
        self._failed_at = float("-inf")
        self._in_flight: _Fetch | None = None
        self._unknown: dict[str, float] = {}

    def key_for(self, kid: str) -> jwt.PyJWK:
        keys = self._keys
        if keys is not None and kid in keys:
            return keys[kid]
        fetch, mine = self._join_or_start_fetch(kid)
        if mine:
            self._fetch(fetch)
        elif fetch is not None:
            fetch.done.wait(max(0.0, fetch.started + JWKS_WAIT_SECONDS - time.monotonic()))
        return self._known_key(kid)

    def _join_or_start_fetch(self, kid: str) -> tuple[_Fetch | None, bool]:
        """The fetch to wait for (and whether this thread is to run it), or none."""
        now = time.monotonic()
        with self._lock:
            if (self._keys is not None and kid in self._keys) or self._unknown.get(kid, float("-inf")) > now:
                return None, False
            if self._in_flight is not None:
                return self._in_flight, False
            if self._keys is None:
                due = now - self._failed_at >= JWKS_RETRY_SECONDS
            else:
                due = now - self._refetched_at >= JWKS_REFETCH_SECONDS
            if not due:
                return None, False
            if self._keys is not None:
                self._refetched_at = now
            self._in_flight = _Fetch(started=now)
            return self._in_flight, True

    def _fetch(self, fetch: _Fetch) -> None:
        """Load the key set; on failure the caller's request answers 503."""
        try:
            keys = self._parse(self.mana_auth.signing_keys())
        except (UpstreamError, Unavailable) as exc:
            with self._lock:
                if self._keys is None:
                    self._failed_at = time.monotonic()
            # The gate could not do its check: 503 (try again), whatever mana-auth did.
            raise Unavailable(f"Cannot fetch mana-auth's signing keys: {exc.message}") from None
        else:
            with self._lock:
                self._keys = keys
                self._unknown.clear()
        finally:
            with self._lock:
                self._in_flight = None
            fetch.done.set()

    @staticmethod
    def _parse(jwks: Any) -> dict[str, jwt.PyJWK]:
        try:
            jwk_set = jwt.PyJWKSet.from_dict(jwks)
        except (jwt.PyJWKSetError, jwt.InvalidKeyError, TypeError, ValueError, AttributeError):
            raise UpstreamError("jwks", "mana-auth's JWKS is not a usable key set.") from None
        return {k.key_id: k for k in jwk_set.keys if k.key_id and k.algorithm_name == ALGORITHM}

    def _known_key(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            keys = self._keys
            if keys is None:
                raise Unavailable("mana-auth's signing keys are not loaded yet; try again shortly.")
            if kid in keys:
                return keys[kid]
            self._remember_unknown(kid)
        raise Unauthorized("The token is signed with a key mana-auth does not list.")

    def _remember_unknown(self, kid: str) -> None:
        """Until the next refetch is due, this kid is refused without a look at mana-auth."""
        until, now = self._refetched_at + JWKS_REFETCH_SECONDS, time.monotonic()
        if until <= now:
            return
        if len(self._unknown) >= UNKNOWN_KIDS_MAX:
            self._unknown = {k: t for k, t in self._unknown.items() if t > now}
            if len(self._unknown) >= UNKNOWN_KIDS_MAX:
                return
        self._unknown[kid] = until

    def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Unauthorized("The bearer token is not a JWT.") from None
        # Pin the algorithm before touching any key: never `none`, never an HMAC.
        if header.get("alg") != ALGORITHM or not isinstance(header.get("kid"), str):
            raise Unauthorized("The token must be EdDSA-signed with a key id.")
        key = self.key_for(header["kid"])
        try:
            return jwt.decode(
                token,
                key=key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuers,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "sub", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The token has expired.") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"The token is not valid: {exc}.") from None


def init_app(app: Flask, config: Config, mana_auth: ManaAuth) -> TokenVerifier:
    verifier = TokenVerifier(config, mana_auth)
    app.extensions["token_verifier"] = verifier
    return verifier


def get_token_verifier() -> TokenVerifier:
    return current_app.extensions["token_verifier"]
