"""devllm's configuration: the environment, read once, into one frozen object; the
refusal to run in production lives here."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_PORT = 3080


class ConfigError(ValueError):
    """The environment cannot run the stand-in; the message says which variable to fix."""


class ProductionRefused(ConfigError):
    """APP_ENV=production: the stand-in never answers for a real model."""


@dataclass(frozen=True)
class DevLlmConfig:
    port: int = DEFAULT_PORT
    app_env: str = "development"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DevLlmConfig:
        env = os.environ if env is None else env
        app_env = env.get("APP_ENV", "").strip() or "development"
        refuse_production(app_env)
        raw_port = env.get("PORT", "").strip()
        try:
            port = int(raw_port) if raw_port else DEFAULT_PORT
        except ValueError:
            raise ConfigError(f"PORT must be a whole number, got {raw_port!r}") from None
        return cls(port=port, app_env=app_env)


def refuse_production(app_env: str) -> None:
    if app_env == "production":
        raise ProductionRefused(
            "devllm is a DEVELOPMENT STAND-IN for the Anthropic Messages API and refuses to start "
            "with APP_ENV=production; unset ANTHROPIC_BASE_URL to reach Anthropic itself."
        )
