"""devmcp's configuration: the environment, read once, into one frozen object.

The stand-in is for development and tests only; its refusal to run in production lives
here, so a deployment that points at it by mistake fails at boot.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 3069
DEFAULT_CATALOG = Path(__file__).resolve().parent.parent / "scripts" / "catalog.json"


class ConfigError(ValueError):
    """The environment cannot run the stand-in; the message says which variable to fix."""


class ProductionRefused(ConfigError):
    """APP_ENV=production: the stand-in is never the product of a real deployment."""


@dataclass(frozen=True)
class DevMcpConfig:
    database_url: str
    modules: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    mana_auth_url: str = "http://localhost:3001"
    jwt_audience: str = "mana"
    jwt_issuer: str = ""
    # Every call to mana-auth (JWKS, organization list) is bounded by this.
    auth_timeout_s: float = 5.0
    # How long a caller's space list is trusted before mana-auth is asked again.
    spaces_cache_s: float = 10.0
    app_env: str = "development"

    @property
    def allowed_issuers(self) -> tuple[str, ...]:
        issuers = [self.mana_auth_url.rstrip("/")]
        if self.jwt_issuer:
            issuers.append(self.jwt_issuer)
        return tuple(issuers)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DevMcpConfig:
        env = os.environ if env is None else env
        app_env = env.get("APP_ENV", "").strip() or "development"
        refuse_production(app_env)
        database_url = env.get("DATABASE_URL", "").strip()
        if not database_url:
            raise ConfigError("DATABASE_URL is not set (e.g. postgresql://user@host:5432/db)")
        return cls(
            database_url=database_url,
            modules=_modules(env),
            host=env.get("DEVMCP_HOST", "").strip() or "127.0.0.1",
            port=_number(env, "PORT", DEFAULT_PORT, int),
            mana_auth_url=(env.get("MANA_AUTH_URL", "").strip() or "http://localhost:3001").rstrip("/"),
            jwt_audience=env.get("JWT_AUDIENCE", "").strip() or "mana",
            jwt_issuer=env.get("JWT_ISSUER", "").strip(),
            auth_timeout_s=_number(env, "DEVMCP_AUTH_TIMEOUT_S", 5.0, float),
            spaces_cache_s=_number(env, "DEVMCP_SPACES_CACHE_S", 10.0, float),
            app_env=app_env,
        )


def _number(env: Mapping[str, str], name: str, default, kind):
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {raw!r}")
    return value


def _modules(env: Mapping[str, str]) -> tuple[str, ...]:
    """DEVMCP_MODULES (comma-separated), else every module the catalog's personas use."""
    listed = [m.strip() for m in env.get("DEVMCP_MODULES", "").split(",") if m.strip()]
    if not listed:
        path = Path(env.get("DEVMCP_CATALOG", "").strip() or DEFAULT_CATALOG)
        try:
            catalog = json.loads(path.read_text())
            listed = [m for persona in catalog["personas"] for m in persona["moduleMix"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"cannot read the modules from the catalog {path}: {exc}") from None
    # spaces is served by its own tools (spaces.list), never as an item store.
    modules = sorted({m for m in listed if m != "spaces"})
    bad = [m for m in modules if not m.isascii() or not m.replace("_", "").isalnum()]
    if bad:
        raise ConfigError(f"module names must be letters, digits or _: {bad}")
    return tuple(modules)


def refuse_production(app_env: str) -> None:
    if app_env == "production":
        raise ProductionRefused(
            "devmcp is a DEVELOPMENT STAND-IN for the product's MCP server and refuses to start "
            "with APP_ENV=production; point MANA_MCP_URL at the real mana-mcp instead."
        )
