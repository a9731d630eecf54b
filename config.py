"""The service's configuration: the environment, read once, into one frozen object.

Nothing else in the service reads `os.environ`. Refusals that only make sense in
production (no service key, say) live here, so a misconfigured deployment fails at
boot instead of on its first request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from apibase.env import ConfigError, Env

__all__ = ["Config", "ConfigError"]

DEFAULT_PORT = 3060
DEFAULT_MANA_AUTH_URL = "http://localhost:3001"


def retry_schedule(env: Env, name: str, default: tuple[float, ...]) -> tuple[float, ...]:
    """`5, 300, 1800`: seconds before each retry, in order; empty: the default."""
    items = env.items(name)
    if not items:
        return default
    try:
        steps = tuple(float(item) for item in items)
    except ValueError:
        raise ConfigError(f"{name} must be numbers of seconds separated by commas, got {items!r}") from None
    if not all(0 < step < 10**7 for step in steps):
        raise ConfigError(f"{name}: every wait must be a positive number of seconds, got {items!r}")
    return steps


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
    # How long one request may spend on mana-auth in all, waiting for a free slot of the
    # bulkhead included: calls queue for their turn until then, and are shed (503) after.
    upstream_request_deadline: float = 10.0
    db_pool_min: int = 1
    db_pool_max: int = 8
    # How long a request waits for a pooled connection before answering 503.
    db_pool_timeout: float = 3.0
    db_statement_timeout_ms: int = 15_000
    # Behind a transaction pooler (PgBouncer's pool_mode=transaction) a session is not
    # ours: no startup options, no server-side prepared statements, settings per transaction.
    db_transaction_pooling: bool = False
    action_retention_days: int = 90
    # Transcripts are far larger than the audit and read only while a tick is fresh.
    transcript_retention_days: int = 30
    # Where each gunicorn worker writes its metrics (PROMETHEUS_MULTIPROC_DIR, set by
    # gunicorn.conf.py before the app is built); empty: one process, its own registry.
    metrics_dir: str = ""
    # FLEET_DAILY_BUDGET_USD: claims hand out no persona once the cost of the ticks started
    # this UTC day reaches it. None: no budget.
    fleet_daily_budget_usd: float | None = None
    # FLEET_TICK_COST_ESTIMATE_USD: what a claim reserves per persona before any tick has
    # finished (then: the mean cost of the fleet's last 50 finished ticks that cost
    # something); above 0.
    fleet_tick_cost_estimate_usd: float = 0.1
    # Alerts (personas.alerts): webhook URLs on loopback, private or link-local addresses
    # are refused unless this is on (the local stack turns it on).
    alerts_allow_private_urls: bool = False
    # An open condition is sent again after this many hours while it lasts.
    alert_repeat_hours: float = 24.0
    # The waits before each retry of a delivery that failed (the contract's schedule).
    alert_retry_seconds: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000)
    # How long a receiver has to answer one attempt.
    alert_send_timeout: float = 10.0
    # How often the `alerts` process looks for conditions, and for deliveries due.
    alert_check_seconds: float = 30.0
    alert_poll_seconds: float = 1.0

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
        env = Env(os.environ if env is None else env)
        config = cls(
            database_url=env.required("DATABASE_URL", "postgresql://user@host:5432/db"),
            service_key=env.secret("MANA_SERVICE_KEY"),
            extra_service_keys=env.items("MANA_SERVICE_KEYS"),
            app_env=env.app_env,
            port=env.whole("PORT", DEFAULT_PORT, minimum=1),
            mana_auth_url=env.text("MANA_AUTH_URL", DEFAULT_MANA_AUTH_URL),
            jwt_audience=env.text("JWT_AUDIENCE", "mana"),
            jwt_issuer=env.text("JWT_ISSUER"),
            persona_email_domain=env.text("PERSONA_EMAIL_DOMAIN", "mana.test").lower(),
            max_body_bytes=env.whole("MAX_BODY_BYTES", 4 * 1024 * 1024, minimum=1024),
            upstream_connect_timeout=env.seconds("MANA_AUTH_CONNECT_TIMEOUT", 2.0),
            upstream_read_timeout=env.seconds("MANA_AUTH_READ_TIMEOUT", 5.0),
            upstream_max_in_flight=env.whole("MANA_AUTH_MAX_IN_FLIGHT", 2, minimum=1),
            upstream_request_deadline=env.seconds("MANA_AUTH_DEADLINE", 10.0),
            db_pool_min=env.whole("DB_POOL_MIN", 1, minimum=0),
            db_pool_max=env.whole("DB_POOL_MAX", 8, minimum=1),
            db_pool_timeout=env.seconds("DB_POOL_TIMEOUT", 3.0),
            db_statement_timeout_ms=env.whole("DB_STATEMENT_TIMEOUT_MS", 15_000, minimum=100),
            db_transaction_pooling=env.flag("DB_TRANSACTION_POOLING", False),
            action_retention_days=env.whole("ACTION_RETENTION_DAYS", 90, minimum=1),
            transcript_retention_days=env.whole("TRANSCRIPT_RETENTION_DAYS", 30, minimum=1),
            metrics_dir=env.text("PROMETHEUS_MULTIPROC_DIR"),
            fleet_daily_budget_usd=env.number(
                "FLEET_DAILY_BUDGET_USD", None, minimum=0, unit="a number of US dollars"
            ),
            fleet_tick_cost_estimate_usd=env.number(
                "FLEET_TICK_COST_ESTIMATE_USD", 0.1, minimum=0, unit="a number of US dollars"
            ),
            alerts_allow_private_urls=env.flag("ALERTS_ALLOW_PRIVATE_URLS", False),
            alert_repeat_hours=env.number("ALERT_REPEAT_HOURS", 24.0, minimum=0.01, unit="a number of hours"),
            alert_retry_seconds=retry_schedule(
                env, "ALERT_RETRY_SECONDS", (5, 300, 1800, 7200, 18000, 36000)
            ),
            alert_send_timeout=env.seconds("ALERT_SEND_TIMEOUT", 10.0),
            alert_check_seconds=env.seconds("ALERT_CHECK_SECONDS", 30.0),
            alert_poll_seconds=env.seconds("ALERT_POLL_SECONDS", 1.0),
        )
        config.check()
        return config

    def check(self) -> None:
        """Refuse configurations that would run unsafely."""
        if self.production and not self.accepted_service_keys:
            raise ConfigError("MANA_SERVICE_KEY or MANA_SERVICE_KEYS must be set when APP_ENV=production")
        if self.db_pool_min > self.db_pool_max:
            raise ConfigError("DB_POOL_MIN must not exceed DB_POOL_MAX")
        # A claim reserves this per persona: $0 would hand out every due persona at once.
        if self.fleet_tick_cost_estimate_usd <= 0:
            raise ConfigError("FLEET_TICK_COST_ESTIMATE_USD must be above 0")
