"""Who is calling: the bearer token verified as the personas API verifies it (EdDSA, the
mana-auth JWKS, iss/aud/exp; any role), and the spaces mana-auth lists for the caller."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx2
import jwt

from devmcp.config import DevMcpConfig

ALGORITHM = "EdDSA"
JWKS_PATH = "/api/v1/auth/jwks"
SPACES_PATH = "/api/auth/organization/list"
JWKS_REFETCH_SECONDS = 10.0
LEEWAY_SECONDS = 30


class Refused(Exception):
    """The request may not reach the MCP server: `status` (401 or 403) and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Upstream(Refused):
    """mana-auth did not answer as it should; the caller may try again."""

    def __init__(self, step: str, detail: str) -> None:
        super().__init__(502, f"mana-auth {step} failed ({detail}); try again shortly.")


@dataclass(frozen=True)
class Caller:
    user_id: str
    space_id: str
    claims: dict[str, Any]


class Gatekeeper:
    """Verifies tokens and spaces; keys and space lists are cached per process."""

    def __init__(self, config: DevMcpConfig, http: httpx2.AsyncClient) -> None:
        self.config = config
        self.http = http
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._refetched_at = float("-inf")
        self._keys_lock = asyncio.Lock()
        # token -> (fetched at, space ids): a short cache, so a busy session does not
        # ask mana-auth on every call, while a revoked membership ends within seconds.
        self._spaces: dict[str, tuple[float, tuple[dict[str, Any], ...]]] = {}

    async def caller(self, authorization: str, space_id: str) -> Caller:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Refused(401, "Missing Authorization: Bearer <token>.")
        claims = await self.verify(token)
        if not space_id.strip():
            raise Refused(403, "Missing X-Mana-Space: the space this session acts in.")
        if space_id not in {space["id"] for space in await self.spaces_of(token)}:
            raise Refused(403, "X-Mana-Space names a space the caller is not a member of.")
        return Caller(user_id=claims["sub"], space_id=space_id, claims=claims)

    async def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Refused(401, "The bearer token is not a JWT.") from None
        # Pin the algorithm before touching any key: never `none`, never an HMAC.
        if header.get("alg") != ALGORITHM or not isinstance(header.get("kid"), str):
            raise Refused(401, "The token must be EdDSA-signed with a key id.")
        key = await self._key_for(header["kid"])
        try:
            return jwt.decode(
                token,
                key=key,
                algorithms=[ALGORITHM],
                audience=self.config.jwt_audience,
                issuer=list(self.config.allowed_issuers),
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "sub", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise Refused(401, "The token has expired.") from None
        except jwt.InvalidTokenError as exc:
            raise Refused(401, f"The token is not valid: {exc}.") from None

    async def _key_for(self, kid: str) -> jwt.PyJWK:
        if self._keys is None or kid not in self._keys:
            async with self._keys_lock:
                stale = time.monotonic() - self._refetched_at >= JWKS_REFETCH_SECONDS
                if self._keys is None or (kid not in self._keys and stale):
                    self._refetched_at = time.monotonic()
                    self._keys = await self._fetch_keys()
        key = self._keys.get(kid)
        if key is None:
            raise Refused(401, "The token is signed with a key mana-auth does not list.")
        return key

    async def _fetch_keys(self) -> dict[str, jwt.PyJWK]:
        try:
            response = await self.http.get(self.config.mana_auth_url + JWKS_PATH)
            response.raise_for_status()
            jwk_set = jwt.PyJWKSet.from_dict(response.json())
        except (httpx2.HTTPError, ValueError, jwt.PyJWKSetError) as exc:
            raise Upstream("jwks", type(exc).__name__) from None
        return {k.key_id: k for k in jwk_set.keys if k.key_id and k.algorithm_name == ALGORITHM}

    async def spaces_of(self, token: str) -> tuple[dict[str, Any], ...]:
        """The caller's spaces as mana-auth lists them (`id`, `name`, ...)."""
        now = time.monotonic()
        cached = self._spaces.get(token)
        if cached and now - cached[0] < self.config.spaces_cache_s:
            return cached[1]
        try:
            response = await self.http.get(
                self.config.mana_auth_url + SPACES_PATH, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx2.HTTPError as exc:
            raise Upstream("organization/list", type(exc).__name__) from None
        if response.status_code in (401, 403):
            raise Refused(401, "mana-auth does not accept this token.")
        if response.status_code != 200:
            raise Upstream("organization/list", f"status {response.status_code}")
        try:
            spaces = tuple({**org, "id": str(org["id"])} for org in response.json())
        except (ValueError, KeyError, TypeError):
            raise Upstream("organization/list", "unexpected body") from None
        self._forget_expired(now)
        self._spaces[token] = (now, spaces)
        return spaces

    def _forget_expired(self, now: float) -> None:
        expired = [t for t, (at, _) in self._spaces.items() if now - at >= self.config.spaces_cache_s]
        for token in expired:
            del self._spaces[token]
