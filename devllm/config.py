"""devllm's configuration: the environment, read once, into one frozen object; the
refusal to run in production lives here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from apibase.env import ConfigError
from apibase.standin import ProductionRefused, StandIn

__all__ = ["STAND_IN", "ConfigError", "DevLlmConfig", "ProductionRefused"]

DEFAULT_PORT = 3080
STAND_IN = StandIn(
    "devllm (the Messages API stand-in)",
    "unset ANTHROPIC_BASE_URL to reach Anthropic itself",
    banner=(
        "devllm is a DEVELOPMENT STAND-IN for the Anthropic Messages and OpenAI Chat Completions APIs: "
        "for local runs and tests "
        "only, NEVER for production (its answers are made up, deterministically)."
    ),
)


@dataclass(frozen=True)
class DevLlmConfig:
    port: int = DEFAULT_PORT
    app_env: str = "development"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DevLlmConfig:
        env = STAND_IN.env(env)
        return cls(port=env.whole("PORT", DEFAULT_PORT, minimum=1, maximum=65535), app_env=env.app_env)
