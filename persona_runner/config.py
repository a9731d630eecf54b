"""The runner's configuration: the environment, read once, into one frozen object.

Nothing else in the runner package reads `os.environ`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace

from apibase.env import Env
from persona_runner.errors import RunnerConfigError
from persona_runner.password import resolve_seed_secret
from persona_runner.usage import Prices

DEFAULT_API_URL = "http://localhost:3060"
DEFAULT_AUTH_URL = "http://localhost:3001"
DEFAULT_MCP_URL = "http://localhost:3069"
DRIVER_NAMES = ("claude", "openai", "scripted")
# The drivers a runner may fall back on past the budget: its claims say they cost nothing.
FALLBACK_DRIVERS = ("openai",)
# The default model and its public list prices (USD per million tokens; cache writes at
# the 5-minute rate). Another model needs its own RUNNER_PRICE_* to cost right.
DEFAULT_MODEL = "claude-sonnet-4-5"
DEFAULT_PRICES = Prices(input=3.0, output=15.0, cache_read=0.30, cache_write=3.75)
# An open model on a server of one's own is priced at nothing unless told otherwise.
FREE = Prices(input=0.0, output=0.0, cache_read=0.0, cache_write=0.0)
DEFAULT_SERVICE_NAME = "persona-runner"


def _prices(env: Env, driver: str) -> Prices:
    """RUNNER_PRICE_<KIND>_PER_MTOK for each kind of token, else the default model's price
    (nothing for the openai driver)."""
    defaults = FREE if driver == "openai" else DEFAULT_PRICES
    return Prices(
        **{
            kind.name: env.number(
                f"RUNNER_PRICE_{kind.name.upper()}_PER_MTOK",
                getattr(defaults, kind.name),
                minimum=0,
                maximum=10_000,
                unit="USD per million tokens",
            )
            for kind in fields(Prices)
        }
    )


def _traces_endpoint(env: Env) -> str:
    """OpenTelemetry's own variables, read as its SDK reads them: the traces endpoint as
    given, else the base endpoint with `/v1/traces`; neither set, "" (no traces)."""
    if env.text("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return env.url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
    if env.text("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return env.url("OTEL_EXPORTER_OTLP_ENDPOINT", "") + "/v1/traces"
    return ""


def _driver(env: Env, name: str = "RUNNER_DRIVER", allowed: tuple[str, ...] = DRIVER_NAMES) -> str:
    value = env.text(name)
    if value and value not in allowed:
        raise RunnerConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _fallback_model(env: Env, fallback_driver: str) -> str:
    model = env.text("RUNNER_FALLBACK_MODEL")
    if fallback_driver and not model:
        raise RunnerConfigError(
            "RUNNER_FALLBACK_MODEL is not set: the fallback driver needs the model it asks for"
        )
    return model


def seed_secret_from_env(env: Mapping[str, str] | None = None) -> str:
    """PERSONA_SEED_SECRET (taken exactly as set), or the development secret outside production."""
    env = os.environ if env is None else env
    return resolve_seed_secret(env.get("PERSONA_SEED_SECRET"), Env(env).app_env)


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
    # Bounded retries for the calls outside a tick's posts (history, the running report,
    # replay); a tick's posts are retried until its lease would lapse instead.
    retry_attempts: int = 4
    retry_base_delay: float = 0.5
    retry_max_delay: float = 8.0
    lease_seconds: int = 600
    # The service loop (`serve`): its address, cadence, slots, and how long a tick may run.
    # All interfaces by default, so a container's health check from outside reaches it.
    host: str = "0.0.0.0"
    port: int = 3070
    tick_interval: float = 60.0
    concurrency: int = 2
    paused: bool = False
    tick_timeout: float = 600.0
    grace_seconds: float = 30.0
    history_ticks: int = 5
    # The driver: "" lets the entry point choose (scripted for --once).
    driver: str = ""
    mcp_url: str = DEFAULT_MCP_URL
    mcp_timeout: float = 30.0
    anthropic_api_key: str = field(default="", repr=False)
    anthropic_base_url: str | None = None
    openai_api_key: str = field(default="", repr=False)
    openai_base_url: str | None = None
    model: str = DEFAULT_MODEL
    model_timeout: float = 120.0
    max_turns: int = 15
    max_tokens_per_tick: int = 150_000
    # Cache breakpoints on the model's requests (RUNNER_PROMPT_CACHE=off for comparison).
    prompt_cache: bool = True
    prices: Prices = DEFAULT_PRICES
    # Where each tick's trace goes (OTLP over HTTP); "" sends none (persona_runner.tracing).
    traces_endpoint: str = ""
    service_name: str = DEFAULT_SERVICE_NAME
    # Past the fleet budget: claim again as cost-free and drive with this driver and model
    # ("": stop claiming until the budget resets).
    fallback_driver: str = ""
    fallback_model: str = ""

    def for_fallback(self) -> RunnerConfig:
        """The settings the fallback driver runs with: its own model, at no price (its
        claims tell the budget it costs nothing)."""
        return replace(self, driver=self.fallback_driver, model=self.fallback_model, prices=FREE)

    def api_key_for(self, driver: str) -> str:
        """The model API key `driver` (claude or openai) calls with; RunnerConfigError,
        naming the variable, when it is not set."""
        variable, key, hint = {
            "claude": ("ANTHROPIC_API_KEY", self.anthropic_api_key, "devllm takes any"),
            "openai": ("OPENAI_API_KEY", self.openai_api_key, "any value for a local server"),
        }[driver]
        if not key:
            raise RunnerConfigError(f"{variable} is not set: the {driver} driver needs one ({hint})")
        return key

    @property
    def timeout(self) -> tuple[float, float]:
        """(connect, read), as `requests` takes it."""
        return (self.connect_timeout, self.read_timeout)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, driver: str | None = None) -> RunnerConfig:
        """`driver` (the command line's) stands for RUNNER_DRIVER when given."""
        values = os.environ if env is None else env
        if driver:
            values = {**values, "RUNNER_DRIVER": driver}
        env = Env(values, error=RunnerConfigError)
        service_key = env.secret("MANA_SERVICE_KEY")
        if not service_key:
            raise RunnerConfigError(
                "MANA_SERVICE_KEY is not set: the internal routes refuse a runner without it"
            )
        anthropic_base_url = env.url("ANTHROPIC_BASE_URL", "") if env.text("ANTHROPIC_BASE_URL") else None
        openai_base_url = env.url("OPENAI_BASE_URL", "") if env.text("OPENAI_BASE_URL") else None
        fallback_driver = _driver(env, "RUNNER_FALLBACK_DRIVER", FALLBACK_DRIVERS)
        return cls(
            api_url=env.url("MANA_API_URL", DEFAULT_API_URL),
            auth_url=env.url("MANA_AUTH_URL", DEFAULT_AUTH_URL),
            service_key=service_key,
            seed_secret=seed_secret_from_env(values),
            app_env=env.app_env,
            runner_id=env.text("RUNNER_ID") or default_runner_id(),
            connect_timeout=env.seconds("RUNNER_CONNECT_TIMEOUT", 3.0),
            read_timeout=env.seconds("RUNNER_READ_TIMEOUT", 10.0),
            retry_attempts=env.whole("RUNNER_RETRY_ATTEMPTS", 4, minimum=1, maximum=10),
            lease_seconds=env.whole("RUNNER_LEASE_S", 600, minimum=5, maximum=3600),
            host=env.text("RUNNER_HOST", "0.0.0.0"),
            port=env.whole("PORT", 3070, minimum=1, maximum=65535),
            tick_interval=env.seconds("RUNNER_TICK_INTERVAL_S", 60.0),
            concurrency=env.whole("PERSONA_CONCURRENCY", 2, minimum=1, maximum=256),
            paused=env.flag("RUNNER_PAUSED", False),
            tick_timeout=env.seconds("RUNNER_TICK_TIMEOUT_S", 600.0),
            grace_seconds=env.number("RUNNER_GRACE_S", 30.0, minimum=0, maximum=3600, unit="seconds"),
            driver=_driver(env),
            mcp_url=env.url("MANA_MCP_URL", DEFAULT_MCP_URL),
            mcp_timeout=env.seconds("RUNNER_MCP_TIMEOUT", 30.0),
            anthropic_api_key=env.text("ANTHROPIC_API_KEY"),
            # Unset: the SDK's own default (Anthropic itself).
            anthropic_base_url=anthropic_base_url,
            openai_api_key=env.text("OPENAI_API_KEY"),
            # Unset: the SDK's own default (OpenAI itself).
            openai_base_url=openai_base_url,
            model=env.text("RUNNER_MODEL", DEFAULT_MODEL),
            model_timeout=env.seconds("RUNNER_MODEL_TIMEOUT", 120.0),
            max_turns=env.whole("RUNNER_MAX_TURNS", 15, minimum=1, maximum=100),
            max_tokens_per_tick=env.whole(
                "RUNNER_MAX_TOKENS_PER_TICK", 150_000, minimum=1000, maximum=10_000_000
            ),
            prompt_cache=env.flag("RUNNER_PROMPT_CACHE", True),
            prices=_prices(env, env.text("RUNNER_DRIVER")),
            traces_endpoint=_traces_endpoint(env),
            service_name=env.text("OTEL_SERVICE_NAME", DEFAULT_SERVICE_NAME),
            fallback_driver=fallback_driver,
            fallback_model=_fallback_model(env, fallback_driver),
        )


def default_runner_id() -> str:
    """Unique enough among a fleet: two runners on one host differ by process id."""
    return f"{socket.gethostname()}-{os.getpid()}"
