"""Verifying mana-auth's admin JWTs: EdDSA only, keys from its JWKS.

The key set is cached per process and loaded on first use. A token with an unknown
`kid` triggers a refetch, at most one every JWKS_REFETCH_SECONDS, so a rotated key is
honoured at once (or within that time) while a flood of forged kids cannot turn into a
flood of requests to mana-auth.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import jwt
import requests

from config import Config
from personas.errors import Unauthorized, Unavailable
from personas.metrics import UPSTREAM_CALLS

ALGORITHM = "EdDSA"
JWKS_PATH = "/api/v1/auth/jwks"
JWKS_REFETCH_SECONDS = 10.0
LEEWAY_SECONDS = 10


class TokenVerifier:
    def __init__(self, config: Config, session: requests.Session) -> None:
        self.jwks_url = config.mana_auth_url.rstrip("/") + JWKS_PATH
        self.audience = config.jwt_audience
        self.issuers = list(config.allowed_issuers)
        self.timeout = (config.upstream_connect_timeout, config.upstream_read_timeout)
        self.session = session
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._refetched_at = float("-inf")
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        try:
            response = self.session.get(self.jwks_url, timeout=self.timeout)
            response.raise_for_status()
            jwk_set = jwt.PyJWKSet.from_dict(response.json())
        except (requests.RequestException, ValueError, jwt.PyJWKSetError) as exc:
            UPSTREAM_CALLS.labels("jwks", "failed").inc()
            raise Unavailable(
                f"Cannot fetch mana-auth's signing keys ({type(exc).__name__}); try again shortly."
            ) from None
        UPSTREAM_CALLS.labels("jwks", "ok").inc()
        self._keys = {k.key_id: k for k in jwk_set.keys if k.key_id and k.algorithm_name == ALGORITHM}

    def key_for(self, kid: str) -> jwt.PyJWK:
        keys = self._keys
        if keys is None or kid not in keys:
            with self._lock:
                if self._keys is None:
                    self._refresh()
                elif kid not in self._keys and time.monotonic() - self._refetched_at >= JWKS_REFETCH_SECONDS:
                    self._refetched_at = time.monotonic()
                    self._refresh()
                keys = self._keys
        key = keys.get(kid) if keys else None
        if key is None:
            raise Unauthorized("The token is signed with a key mana-auth does not list.")
        return key

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
