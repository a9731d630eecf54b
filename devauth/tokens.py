"""Ed25519 signing keys, kept in the database so every worker signs with and publishes
the same ones, and the EdDSA JWTs the stand-in issues and checks."""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from typing import Any

import jwt
import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from devauth.config import DevAuthConfig
from devauth.db import queries
from devauth.errors import Unauthorized

ALGORITHM = "EdDSA"
LEEWAY_SECONDS = 5


def _new_key() -> dict[str, Any]:
    private = Ed25519PrivateKey.generate()
    return {
        "kid": f"devauth-{secrets.token_hex(8)}",
        "private_key": private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
        "public_key": private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
    }


def ensure_key(conn: psycopg.Connection) -> None:
    """A first signing key, unless one exists (run at boot, under the schema lock)."""
    queries.keys.insert_first_key(conn, **_new_key())


def rotate(conn: psycopg.Connection) -> str:
    key = _new_key()
    queries.keys.insert_key(conn, **key)
    return key["kid"]


def jwks(conn: psycopg.Connection) -> list[dict[str, str]]:
    return [
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": base64.urlsafe_b64encode(row["public_key"]).rstrip(b"=").decode(),
            "kid": row["kid"],
            "alg": ALGORITHM,
            "use": "sig",
        }
        for row in queries.keys.published_keys(conn)
    ]


def issue(
    conn: psycopg.Connection,
    config: DevAuthConfig,
    *,
    sub: str,
    role: str,
    email: str | None,
    tier: str,
    aud: str | None = None,
    iss: str | None = None,
    expires_in: int = 3600,
) -> str:
    """A token with the contract's claims, signed with the current key."""
    key = queries.keys.current_key(conn)
    now = int(time.time())
    claims = {
        "sub": sub,
        "email": email,
        "role": role,
        "tier": tier,
        "sid": str(uuid.uuid4()),
        "iss": iss or config.issuer,
        "aud": aud or config.jwt_audience,
        "iat": now,
        "exp": now + expires_in,
    }
    private = Ed25519PrivateKey.from_private_bytes(bytes(key["private_key"]))
    return jwt.encode(claims, private, algorithm=ALGORITHM, headers={"kid": key["kid"]})


def verify(conn: psycopg.Connection, config: DevAuthConfig, token: str) -> dict[str, Any]:
    """The claims of a token this stand-in signed with a key it still publishes."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.InvalidTokenError:
        raise Unauthorized("The bearer token is not a JWT.") from None
    published = {row["kid"]: bytes(row["public_key"]) for row in queries.keys.published_keys(conn)}
    if kid not in published:
        raise Unauthorized("The token was not signed with a key devauth publishes.")
    try:
        return jwt.decode(
            token,
            Ed25519PublicKey.from_public_bytes(published[kid]),
            algorithms=[ALGORITHM],
            audience=config.jwt_audience,
            issuer=config.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["sub", "exp", "iat"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The token has expired.") from None
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"The token is not valid: {exc}.") from None
