"""What one worker of the runner service keeps across the ticks it drives: the model client
and a pool of connections to the product, so a tick builds neither (each costs an SSL
context, tens of milliseconds of CPU) and finds its connections open.

Both are made inside the worker's event loop and closed inside it: the SDKs' async clients
belong to the loop they were used in, and one closed from another loop, or left to the
garbage collector once its loop has ended, cannot close its connections. Each tick still
gets its own view of them: the model client copied with the tick's deadline middleware
(the copy shares the connections), and an MCP session whose HTTP client, with the
persona's headers, sends through the worker's pool and leaves it open when it closes.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2

from apibase.http_client import IDLE_REUSE_LIMIT_S
from persona_runner.config import RunnerConfig
from persona_runner.model_waits import MODEL_RETRIES

# As every other client here: a connection idle longer than this is not reused, so reuse
# never races a server closing it for idleness (devllm's gunicorn closes after 2 s).
LIMITS = httpx2.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=IDLE_REUSE_LIMIT_S)


def model_client(config: RunnerConfig, middleware: Sequence[Any] = ()) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        api_key=config.anthropic_api_key,
        base_url=config.anthropic_base_url,
        timeout=config.model_timeout,
        max_retries=MODEL_RETRIES,
        middleware=list(middleware),
        http_client=anthropic.DefaultAsyncHttpxClient(limits=LIMITS),
    )


class KeptTransport(httpx2.AsyncBaseTransport):
    """The worker's pool as one session's transport: closing the session leaves it open."""

    def __init__(self, pool: httpx2.AsyncBaseTransport) -> None:
        self.pool = pool

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self.pool.handle_async_request(request)

    async def aclose(self) -> None:
        """Nothing: the worker closes the pool when it stops."""


def environment_proxies() -> bool:
    """Whether the environment names an HTTP proxy (`*_proxy`). A client given a transport
    ignores them, so the product's connections are pooled only where there are none."""
    return any(scheme != "no" for scheme in urllib.request.getproxies())


@dataclass
class WorkerClients:
    model: Any  # the driver's async model client (AsyncAnthropic, AsyncOpenAI)
    product: httpx2.AsyncHTTPTransport | None  # None: each MCP session opens its own
    # What this worker found its model server lacks (e.g. "named tool_choice"), so its
    # later ticks do not ask for it again.
    lacks: set[str] = field(default_factory=set)

    @classmethod
    def open(cls, model: Any) -> WorkerClients:
        """Call inside the worker's event loop, which must also be the one that closes them."""
        pool = None if environment_proxies() else httpx2.AsyncHTTPTransport(limits=LIMITS)
        return cls(model=model, product=pool)

    def product_transport(self) -> KeptTransport | None:
        return KeptTransport(self.product) if self.product is not None else None

    async def close(self) -> None:
        await self.model.close()
        if self.product is not None:
            await self.product.aclose()
