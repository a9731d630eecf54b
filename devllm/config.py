"""devllm's configuration: the environment, read once, into one frozen object; the
refusal to run in production lives here."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from apibase.env import ConfigError, Env, ProductionRefused
from apibase.env import refuse_production as refuse

__all__ = ["ConfigError", "DevLlmConfig", "ProductionRefused", "refuse_production"]

DEFAULT_PORT = 3080


@dataclass(frozen=True)
class DevLlmConfig:
    port: int = DEFAULT_PORT
    app_env: str = "development"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DevLlmConfig:
        env = Env(os.environ if env is None else env)
        refuse_production(env.app_env)
        return cls(port=env.whole("PORT", DEFAULT_PORT, minimum=1, maximum=65535), app_env=env.app_env)


def refuse_production(app_env: str) -> None:
    refuse(
        app_env,
        "devllm (the Messages API stand-in)",
        "unset ANTHROPIC_BASE_URL to reach Anthropic itself",
    )
