"""The runner's configuration: the environment, read once, into one frozen object.

Nothing else in the runner package reads `os.environ`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from persona_runner.errors import ConfigError
from persona_runner.password import resolve_seed_secret

DEFAULT_API_URL = "http://localhost:3060"
DEFAULT_AUTH_URL = "http://localhost:3001"


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value > 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def seed_secret_from_env(env: Mapping[str, str] | None = None) -> str:
    """PERSONA_SEED_SECRET (taken exactly as set), or the development secret outside production."""
    env = os.environ if env is None else env
    return resolve_seed_secret(env.get("PERSONA_SEED_SECRET"), app_env_from(env))


def app_env_from(env: Mapping[str, str]) -> str:
    return env.get("APP_ENV", "").strip() or "development"


@dataclass(frozen=True)
class RunnerConfig:
    api_url: str = DEFAULT_API_URL
    auth_url: str = DEFAULT_AUTH_URL
    service_key: str = field(default="", repr=False)
    seed_secret: str = field(default="", repr=False)
    app_env: str = "development"
    runner_id: str = ""
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    # Bounded retries for the idempotent posts: the whole budget stays under a minute.
    retry_attempts: int = 4
    retry_base_delay: float = 0.5
    retry_max_delay: float = 8.0
    lease_seconds: int = 600

    @property
    def timeout(self) -> tuple[float, float]:
        """(connect, read), as `requests` takes it."""
        return (self.connect_timeout, self.read_timeout)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RunnerConfig:
        env = os.environ if env is None else env
        service_key = env.get("MANA_SERVICE_KEY", "")
        if not service_key:
            raise ConfigError("MANA_SERVICE_KEY is not set: the internal routes refuse a runner without it")
        return cls(
            api_url=_url(env, "MANA_API_URL", DEFAULT_API_URL),
            auth_url=_url(env, "MANA_AUTH_URL", DEFAULT_AUTH_URL),
            service_key=service_key,
            seed_secret=seed_secret_from_env(env),
            app_env=app_env_from(env),
            runner_id=env.get("RUNNER_ID", "").strip() or default_runner_id(),
            connect_timeout=_float(env, "RUNNER_CONNECT_TIMEOUT", 3.0),
            read_timeout=_float(env, "RUNNER_READ_TIMEOUT", 10.0),
            retry_attempts=_int(env, "RUNNER_RETRY_ATTEMPTS", 4, minimum=1, maximum=10),
            lease_seconds=_int(env, "RUNNER_LEASE_SECONDS", 600, minimum=5, maximum=3600),
        )


def default_runner_id() -> str:
    """Unique enough among a fleet: two runners on one host differ by process id."""
    return f"{socket.gethostname()}-{os.getpid()}"
