"""Each tick as one OpenTelemetry trace, after the GenAI semantic conventions, exported over
OTLP (http/protobuf) when an endpoint is configured; with none, no exporter and no cost.

    invoke_agent <persona email>    the tick (persona id, tick id, outcome)
      chat <model>                  each model request (tokens, finish reasons)
      execute_tool <tool>           each product call (error.type when it failed)

The spans come from a provider of the runner's own, never the process-wide one: the SDKs
(anthropic, mcp) look only at the process-wide provider, so they add no spans of their
own, yet they carry the current span's context. The MCP client thereby puts the
`execute_tool` span's `traceparent` in each `tools/call`'s `_meta`, and
`inject_traceparent` puts it on each HTTP request to the product, so the product's own
spans join the tick's trace.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, MutableMapping
from contextvars import ContextVar
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

# The GenAI semantic conventions' names (they moved out of the semconv package).
OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
AGENT_NAME = "gen_ai.agent.name"
AGENT_ID = "gen_ai.agent.id"
CONVERSATION_ID = "gen_ai.conversation.id"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
RESPONSE_ID = "gen_ai.response.id"
RESPONSE_MODEL = "gen_ai.response.model"
FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
CACHE_CREATION_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
TOOL_NAME = "gen_ai.tool.name"
ERROR_TYPE = "error.type"
# Ours: how the tick ended, as reported (ok, failed, timeout), and the step that failed.
TICK_OUTCOME = "mana.tick.outcome"
TICK_STEP = "mana.tick.step"

NO_TRACER = trace.NoOpTracer()
# The tracer of the tick being driven in this context; None outside a traced tick.
_tracer: ContextVar[Tracer | None] = ContextVar("persona_runner_tracer", default=None)


def current_tracer() -> Tracer:
    return _tracer.get() or NO_TRACER


class TickSpan:
    """The root span of one tick, and the trace id the tick reports (None untraced)."""

    def __init__(self, span: trace.Span) -> None:
        self.span = span
        context = span.get_span_context()
        self.trace_id = trace.format_trace_id(context.trace_id) if context.is_valid else None

    def ended(self, state: str, step: str | None, error: str | None) -> None:
        self.span.set_attribute(TICK_OUTCOME, state)
        if step:
            self.span.set_attribute(TICK_STEP, step)
            self.span.set_attribute(ERROR_TYPE, step)
            self.span.set_status(Status(StatusCode.ERROR, error))


class Tracing:
    """The runner's tracer provider (None: tracing off)."""

    def __init__(self, provider: Any = None) -> None:
        self.provider = provider
        self.tracer: Tracer = provider.get_tracer("persona_runner") if provider else NO_TRACER

    @classmethod
    @functools.cache
    def exporting(cls, endpoint: str, service_name: str) -> Tracing:
        """One per process and endpoint: spans batched and sent from a background thread
        (ticks never wait on the collector), flushed when the process exits."""
        if not endpoint:
            return cls()
        # Imported here: an untraced runner never loads the SDK.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
        # The exporter reads OTEL_EXPORTER_OTLP_HEADERS and _TIMEOUT (default 10 s) itself.
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        return cls(provider)

    def flush(self, timeout_ms: int = 10_000) -> None:
        if self.provider is not None:
            self.provider.force_flush(timeout_ms)

    @contextlib.contextmanager
    def tick(self, email: str, persona_id: str, tick_id: str) -> Iterator[TickSpan]:
        """The tick's root span, a new trace; the spans opened inside it are its children."""
        attributes = {
            OPERATION: "invoke_agent",
            AGENT_NAME: email,
            AGENT_ID: persona_id,
            CONVERSATION_ID: tick_id,
        }
        token = _tracer.set(self.tracer)
        try:
            with self.tracer.start_as_current_span(
                f"invoke_agent {email}", context=Context(), attributes=attributes
            ) as span:
                yield TickSpan(span)
        finally:
            _tracer.reset(token)


class ChatSpan:
    def __init__(self, span: trace.Span) -> None:
        self.span = span

    def answered(self, reply: Any) -> None:
        """The answer's model, finish reason and tokens (a `model_day.Reply`, whatever the
        API). `input_tokens` counts every input token, cached ones too, as the conventions
        ask; the cached ones are also given apart."""
        tokens = reply.tokens
        self.span.set_attributes(
            {
                RESPONSE_ID: reply.response_id,
                RESPONSE_MODEL: reply.response_model,
                FINISH_REASONS: [reply.finish_reason],
                INPUT_TOKENS: tokens.input + tokens.cache_read + tokens.cache_write,
                OUTPUT_TOKENS: tokens.output,
                CACHE_READ_TOKENS: tokens.cache_read,
                CACHE_CREATION_TOKENS: tokens.cache_write,
            }
        )


@contextlib.contextmanager
def chat_span(model: str, max_tokens: int, provider: str) -> Iterator[ChatSpan]:
    """One model request; what raises out of it is its error.type."""
    attributes = {
        OPERATION: "chat",
        PROVIDER: provider,
        REQUEST_MODEL: model,
        REQUEST_MAX_TOKENS: max_tokens,
    }
    with failing(
        current_tracer().start_as_current_span(f"chat {model}", kind=SpanKind.CLIENT, attributes=attributes)
    ) as span:
        yield ChatSpan(span)


class ToolSpan:
    def __init__(self, span: trace.Span) -> None:
        self.span = span

    def failed(self, error_type: str | None) -> None:
        if error_type:
            self.span.set_attribute(ERROR_TYPE, error_type)
            self.span.set_status(Status(StatusCode.ERROR))


@contextlib.contextmanager
def tool_span(tool: str) -> Iterator[ToolSpan]:
    """One call to the product, as its client (the product's spans are its children)."""
    attributes = {OPERATION: "execute_tool", TOOL_NAME: tool}
    span = current_tracer().start_as_current_span(
        f"execute_tool {tool}", kind=SpanKind.CLIENT, attributes=attributes
    )
    with failing(span) as span:
        yield ToolSpan(span)


@contextlib.contextmanager
def failing(current: contextlib.AbstractContextManager[trace.Span]) -> Iterator[trace.Span]:
    """The span, with error.type the class of whatever raises out of it (a cancelled
    call too, which the SDK would not mark)."""
    with current as span:
        try:
            yield span
        except BaseException as exc:
            span.set_attribute(ERROR_TYPE, type(exc).__name__)
            span.set_status(Status(StatusCode.ERROR, str(exc)[:200]))
            raise


def inject_traceparent(headers: MutableMapping[str, str]) -> None:
    """The current span's W3C trace context (`traceparent`, `tracestate`) into `headers`."""
    propagate.inject(headers)
