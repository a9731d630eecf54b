"""The stand-in's configuration: the environment, read once, into one frozen object.

The stand-in is for development and tests only. Its refusal to run in production lives
here, so a deployment that points at it by mistake fails at boot, before it touches a
database or mints a token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from apibase.env import ConfigError
from apibase.standin import ProductionRefused, StandIn
from devauth.passwords import COST_MAX, COST_MIN, DEFAULT_COST

__all__ = ["STAND_IN", "ConfigError", "DevAuthConfig", "ProductionRefused"]

DEFAULT_PORT = 3001


@dataclass(frozen=True)
class DevAuthConfig:
    database_url: str
    port: int = DEFAULT_PORT
    # Empty: the service-key-gated endpoints accept any caller (a bare local run).
    service_key: str = field(default="", repr=False)
    mana_auth_url: str = ""
    jwt_audience: str = "mana"
    app_env: str = "development"
    # log2 of scrypt's N for new password hashes: a test suite registering thousands of
    # users lowers it; a hash keeps the cost it was made with.
    password_cost: int = DEFAULT_COST

    @property
    def issuer(self) -> str:
        """`iss` of every token: where callers reach the stand-in."""
        return (self.mana_auth_url or f"http://localhost:{self.port}").rstrip("/")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DevAuthConfig:
        env = STAND_IN.env(env)
        return cls(
            database_url=env.required("DATABASE_URL", "postgresql://user@host:5432/db"),
            port=env.whole("PORT", DEFAULT_PORT, minimum=1, maximum=65535),
            service_key=env.secret("MANA_SERVICE_KEY"),
            mana_auth_url=env.text("MANA_AUTH_URL"),
            jwt_audience=env.text("JWT_AUDIENCE", "mana"),
            app_env=env.app_env,
            password_cost=env.whole(
                "DEVAUTH_PASSWORD_COST", DEFAULT_COST, minimum=COST_MIN, maximum=COST_MAX
            ),
        )


STAND_IN = StandIn(
    "devauth",
    "mana-auth",
    instead="point MANA_AUTH_URL at the real mana-auth instead",
    danger="anyone who reaches it can mint admin tokens at /dev/token",
)
