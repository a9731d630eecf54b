"""The runner service's Prometheus metrics, in a registry of its own, counted from each
finished tick's result in one place."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from persona_runner.ratings import module_of
from persona_runner.tick import TickResult

OUTCOMES = ("ok", "failed", "timeout")
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write")
TICK_SECONDS = (1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200)


class RunnerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.ticks = Counter(
            "persona_ticks", "Finished persona ticks by outcome.", ["outcome"], registry=self.registry
        )
        self.tool_calls = Counter(
            "persona_tool_calls",
            "Product tool calls made by personas, by module and result (ok, error).",
            ["module", "result"],
            registry=self.registry,
        )
        self.tools_skipped = Counter(
            "persona_tools_skipped",
            "Product tools left out of a tick's model tools: an input schema that is not JSON Schema.",
            registry=self.registry,
        )
        self.tick_duration = Histogram(
            "persona_tick_duration_seconds",
            "Wall time of one persona's tick, report to report.",
            buckets=TICK_SECONDS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "persona_llm_tokens", "Model tokens used by ticks, by kind.", ["kind"], registry=self.registry
        )
        self.cost = Counter("persona_llm_cost_usd", "Model spend of ticks, in USD.", registry=self.registry)
        self.transcripts_unsent = Counter(
            "persona_transcripts_unsent",
            "Ticks whose transcript the API did not keep (refused, or logged for replay).",
            registry=self.registry,
        )
        self.inflight = Gauge(
            "persona_runner_inflight", "Ticks this runner is driving now.", registry=self.registry
        )
        for outcome in OUTCOMES:
            self.ticks.labels(outcome)
        for kind in TOKEN_KINDS:
            self.tokens.labels(kind)

    def count(self, result: TickResult) -> None:
        outcome = result.outcome
        self.ticks.labels(result.state).inc()
        self.tick_duration.observe(result.seconds)
        for action in outcome.actions:
            self.tool_calls.labels(module_of(action.tool_name), action.result).inc()
        usage = outcome.usage
        for kind, tokens in zip(
            TOKEN_KINDS,
            (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.cache_write_tokens),
            strict=True,
        ):
            self.tokens.labels(kind).inc(tokens)
        self.cost.inc(usage.cost_usd)
        self.tools_skipped.inc(outcome.tools_skipped)
        if not result.transcript_sent:
            self.transcripts_unsent.inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
