"""devllm's configuration: the environment, read once, into one frozen object; the
refusal to run in production lives here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from apibase.env import ConfigError
from apibase.standin import ProductionRefused, StandIn

__all__ = ["STAND_IN", "ConfigError", "DevLlmConfig", "ProductionRefused"]

DEFAULT_PORT = 3080


@dataclass(frozen=True)
class DevLlmConfig:
    port: int = DEFAULT_PORT
    app_env: str = "development"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DevLlmConfig:
        env = STAND_IN.env(env)
        return cls(port=env.whole("PORT", DEFAULT_PORT, minimum=1, maximum=65535), app_env=env.app_env)


STAND_IN = StandIn(
    "devllm",
    "the Anthropic Messages and OpenAI Chat Completions APIs",
    instead="unset ANTHROPIC_BASE_URL to reach Anthropic itself",
    danger="its answers are made up, deterministically",
)
