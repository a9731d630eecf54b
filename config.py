"""The service's configuration: the environment, read once, into one frozen object.

Nothing else in the service reads `os.environ`. Refusals that only make sense in
production (no service key, say) live here, so a misconfigured deployment fails at
boot instead of on its first request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_PORT = 3060
DEFAULT_MANA_AUTH_URL = "http://localhost:3001"


class ConfigError(ValueError):
    """The environment cannot run the service; the message says which variable to fix."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "on", "true", "yes"}:
        return True
    if raw in {"0", "off", "false", "no"}:
        return False
    raise ConfigError(f"{name} must be on or off, got {raw!r}")


def _key_list(raw: str) -> tuple[str, ...]:
    """`key-a, key-b` -> ('key-a', 'key-b'); blanks between commas are dropped."""
    return tuple(key.strip() for key in raw.split(",") if key.strip())


@dataclass(frozen=True)
class Config:
    database_url: str = field(repr=False)
    # The key this service sends to mana-auth, and one that runners may send us.
    service_key: str = field(default="", repr=False)
    # More keys runners may send (MANA_SERVICE_KEYS), so a key can be rotated without a
    # moment when some runner holds a key the service refuses.
    extra_service_keys: tuple[str, ...] = field(default=(), repr=False)
    app_env: str = "development"
    port: int = DEFAULT_PORT
    mana_auth_url: str = DEFAULT_MANA_AUTH_URL
    jwt_audience: str = "mana"
    jwt_issuer: str = ""
    persona_email_domain: str = "mana.test"
    max_body_bytes: int = 4 * 1024 * 1024
    # Upstream (mana-auth) timeouts stay well under gunicorn's worker timeout, so a
    # stalled mana-auth costs a 504, never a killed worker.
    upstream_connect_timeout: float = 2.0
    upstream_read_timeout: float = 5.0
    upstream_max_in_flight: int = 2
    db_pool_min: int = 1
    db_pool_max: int = 8
    # How long a request waits for a pooled connection before answering 503.
    db_pool_timeout: float = 3.0
    db_statement_timeout_ms: int = 15_000
    # Behind a transaction pooler (PgBouncer's pool_mode=transaction) a session is not
    # ours: no startup options, no server-side prepared statements, settings per transaction.
    db_transaction_pooling: bool = False
    action_retention_days: int = 90

    @property
    def production(self) -> bool:
        return self.app_env == "production"

    @property
    def accepted_service_keys(self) -> tuple[str, ...]:
        """Every key a runner may send: MANA_SERVICE_KEY and each of MANA_SERVICE_KEYS."""
        keys = (self.service_key, *self.extra_service_keys)
        return tuple(dict.fromkeys(k for k in keys if k))

    @property
    def allowed_issuers(self) -> tuple[str, ...]:
        issuers = [self.mana_auth_url.rstrip("/")]
        if self.jwt_issuer:
            issuers.insert(0, self.jwt_issuer.rstrip("/"))
        return tuple(issuers)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        database_url = env.get("DATABASE_URL", "").strip()
        if not database_url:
            raise ConfigError("DATABASE_URL is not set (e.g. postgresql://user@host:5432/db)")
        config = cls(
            database_url=database_url,
            service_key=env.get("MANA_SERVICE_KEY", ""),
            extra_service_keys=_key_list(env.get("MANA_SERVICE_KEYS", "")),
            app_env=env.get("APP_ENV", "development").strip() or "development",
            port=_int(env, "PORT", DEFAULT_PORT, minimum=1),
            mana_auth_url=env.get("MANA_AUTH_URL", "").strip() or DEFAULT_MANA_AUTH_URL,
            jwt_audience=env.get("JWT_AUDIENCE", "").strip() or "mana",
            jwt_issuer=env.get("JWT_ISSUER", "").strip(),
            persona_email_domain=(env.get("PERSONA_EMAIL_DOMAIN", "").strip() or "mana.test").lower(),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", 4 * 1024 * 1024, minimum=1024),
            upstream_connect_timeout=_float(env, "MANA_AUTH_CONNECT_TIMEOUT", 2.0),
            upstream_read_timeout=_float(env, "MANA_AUTH_READ_TIMEOUT", 5.0),
            upstream_max_in_flight=_int(env, "MANA_AUTH_MAX_IN_FLIGHT", 2, minimum=1),
            db_pool_min=_int(env, "DB_POOL_MIN", 1, minimum=0),
            db_pool_max=_int(env, "DB_POOL_MAX", 8, minimum=1),
            db_pool_timeout=_float(env, "DB_POOL_TIMEOUT", 3.0),
            db_statement_timeout_ms=_int(env, "DB_STATEMENT_TIMEOUT_MS", 15_000, minimum=100),
            db_transaction_pooling=_bool(env, "DB_TRANSACTION_POOLING", False),
            action_retention_days=_int(env, "ACTION_RETENTION_DAYS", 90, minimum=1),
        )
        config.check()
        return config

    def check(self) -> None:
        """Refuse configurations that would run unsafely."""
        if self.production and not self.accepted_service_keys:
            raise ConfigError("MANA_SERVICE_KEY or MANA_SERVICE_KEYS must be set when APP_ENV=production")
        if self.db_pool_min > self.db_pool_max:
            raise ConfigError("DB_POOL_MIN must not exceed DB_POOL_MAX")
