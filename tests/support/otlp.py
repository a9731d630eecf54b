"""An OTLP/HTTP trace receiver for tests: a real HTTP server on a loopback port taking
`POST /v1/traces` (http/protobuf, as the OpenTelemetry exporter sends it), decoding each
body with the official `opentelemetry-proto` messages and keeping every span it got."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tests.support.serving import QuietHandler, loopback_server, serving

PATH = "/v1/traces"


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_id: str  # "" for a root span
    kind: str  # SPAN_KIND_CLIENT, ...
    attributes: dict[str, Any]
    status: str  # STATUS_CODE_ERROR, ...
    resource: dict[str, Any]


def value_of(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [value_of(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: value_of(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def attributes_of(pairs: Any) -> dict[str, Any]:
    return {kv.key: value_of(kv.value) for kv in pairs}


def spans_of(body: bytes) -> list[ReceivedSpan]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = attributes_of(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        kind=Span.SpanKind.Name(span.kind),
                        attributes=attributes_of(span.attributes),
                        status=Status.StatusCode.Name(span.status.code),
                        resource=resource,
                    )
                )
    return spans


class Collector:
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.content_types: set[str] = set()
        self.lock = threading.Lock()
        self.url = ""

    def receive(self, body: bytes, content_type: str) -> None:
        spans = spans_of(body)
        with self.lock:
            self.content_types.add(content_type)
            self.spans.extend(spans)

    def trace(self, trace_id: str, count: int, timeout: float = 20) -> list[ReceivedSpan]:
        """The trace's spans once at least `count` of them have arrived."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = [s for s in self.spans if s.trace_id == trace_id]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


def _handler(collector: Collector) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if self.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path != PATH:
                self.send_response(404)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            collector.receive(body, self.headers.get("content-type", ""))
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    return Handler


@contextmanager
def running_collector() -> Iterator[Collector]:
    collector = Collector()
    with serving(loopback_server(_handler(collector))) as url:
        collector.url = url
        yield collector
