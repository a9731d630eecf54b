"""The stand-in's configuration: the environment, read once, into one frozen object.

The stand-in is for development and tests only. Its refusal to run in production lives
here, so a deployment that points at it by mistake fails at boot, before it touches a
database or mints a token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_PORT = 3001


class ConfigError(ValueError):
    """The environment cannot run the stand-in; the message says which variable to fix."""


class ProductionRefused(ConfigError):
    """APP_ENV=production: the stand-in is never the identity service of a real deployment."""


@dataclass(frozen=True)
class DevAuthConfig:
    database_url: str
    port: int = DEFAULT_PORT
    # Empty: the service-key-gated endpoints accept any caller (a bare local run).
    service_key: str = field(default="", repr=False)
    mana_auth_url: str = ""
    jwt_audience: str = "mana"
    app_env: str = "development"

    @property
    def issuer(self) -> str:
        """`iss` of every token: where callers reach the stand-in."""
        return (self.mana_auth_url or f"http://localhost:{self.port}").rstrip("/")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DevAuthConfig:
        env = os.environ if env is None else env
        app_env = env.get("APP_ENV", "").strip() or "development"
        refuse_production(app_env)
        database_url = env.get("DATABASE_URL", "").strip()
        if not database_url:
            raise ConfigError("DATABASE_URL is not set (e.g. postgresql://user@host:5432/db)")
        raw_port = env.get("PORT", "").strip()
        try:
            port = int(raw_port) if raw_port else DEFAULT_PORT
        except ValueError:
            raise ConfigError(f"PORT must be a whole number, got {raw_port!r}") from None
        return cls(
            database_url=database_url,
            port=port,
            service_key=env.get("MANA_SERVICE_KEY", ""),
            mana_auth_url=env.get("MANA_AUTH_URL", "").strip(),
            jwt_audience=env.get("JWT_AUDIENCE", "").strip() or "mana",
            app_env=app_env,
        )


def refuse_production(app_env: str) -> None:
    if app_env == "production":
        raise ProductionRefused(
            "devauth is a DEVELOPMENT STAND-IN for mana-auth and refuses to start with "
            "APP_ENV=production; point MANA_AUTH_URL at the real mana-auth instead."
        )
