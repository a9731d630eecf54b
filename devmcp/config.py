"""devmcp's configuration: the environment, read once, into one frozen object.

The stand-in is for development and tests only; its refusal to run in production lives
here, so a deployment that points at it by mistake fails at boot.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from apibase.env import ConfigError, Env
from apibase.standin import ProductionRefused, StandIn

__all__ = ["STAND_IN", "ConfigError", "DevMcpConfig", "ProductionRefused"]

DEFAULT_PORT = 3069
DEFAULT_CATALOG = Path(__file__).resolve().parent.parent / "scripts" / "catalog.json"


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
    # serverInfo.version at the MCP handshake (POST /dev/version changes it live).
    version: str = "dev"

    @property
    def allowed_issuers(self) -> tuple[str, ...]:
        issuers = [self.mana_auth_url.rstrip("/")]
        if self.jwt_issuer:
            issuers.append(self.jwt_issuer)
        return tuple(issuers)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DevMcpConfig:
        env = STAND_IN.env(env)
        return cls(
            database_url=env.required("DATABASE_URL", "postgresql://user@host:5432/db"),
            modules=_modules(env),
            host=env.text("DEVMCP_HOST", "127.0.0.1"),
            port=env.whole("PORT", DEFAULT_PORT, minimum=1, maximum=65535),
            mana_auth_url=env.url("MANA_AUTH_URL", "http://localhost:3001"),
            jwt_audience=env.text("JWT_AUDIENCE", "mana"),
            jwt_issuer=env.text("JWT_ISSUER"),
            auth_timeout_s=env.seconds("DEVMCP_AUTH_TIMEOUT_S", 5.0),
            spaces_cache_s=env.number("DEVMCP_SPACES_CACHE_S", 10.0, minimum=0),
            app_env=env.app_env,
            version=env.text("DEVMCP_VERSION", "dev") or "dev",
        )


def _modules(env: Env) -> tuple[str, ...]:
    """DEVMCP_MODULES (comma-separated), else every module the catalog's personas use."""
    listed = list(env.items("DEVMCP_MODULES"))
    if not listed:
        path = Path(env.text("DEVMCP_CATALOG") or DEFAULT_CATALOG)
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


STAND_IN = StandIn(
    "devmcp",
    "the product's MCP server",
    instead="point MANA_MCP_URL at the real mana-mcp instead",
    danger="anyone who reaches it can break its tools at /dev/faults",
)
