"""devmcp: a local stand-in for the product's MCP server (mana-mcp), for development and
tests only.

A real MCP server on the official SDK (Streamable HTTP at /mcp) with the product's
gates: a mana-auth token, a space the caller belongs to, sessions bound to their user.
Its tools are `<module>.<verb>` over items kept per space in its own PostgreSQL schema;
/dev switches inject faults and list the calls it served. It runs as one process (the
sessions live in it) and refuses to start with APP_ENV=production.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import httpx2
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.routing import Route

from devmcp import db, dev
from devmcp.auth import Gatekeeper
from devmcp.config import STAND_IN, DevMcpConfig
from devmcp.faults import CallLog, Faults
from devmcp.gate import McpGate, SessionOwners
from devmcp.listing import Listing
from devmcp.server import build_server
from devmcp.tools import Tools

log = logging.getLogger("devmcp")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def _transport_security(host: str) -> TransportSecuritySettings:
    """The SDK's DNS-rebinding protection when bound to loopback; off when bound wider,
    where the Host header is whatever name the caller used."""
    if host in LOCAL_HOSTS:
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        )
    return TransportSecuritySettings(enable_dns_rebinding_protection=False)


def create_app(config: DevMcpConfig | None = None) -> Starlette:
    config = config or DevMcpConfig.from_env()
    STAND_IN.start(log, config.app_env)
    STAND_IN.create_schema(config.database_url, db.SCHEMA_FILE, db.CONNECT_KWARGS)

    pool = db.open_pool(config.database_url)
    http = httpx2.AsyncClient(timeout=config.auth_timeout_s)
    gatekeeper = Gatekeeper(config, http)
    faults, calls, listing = Faults(), CallLog(), Listing()
    tools = Tools(config.modules, pool, gatekeeper.spaces_of)
    server = build_server(tools, faults, calls, listing, config.version)
    sessions = StreamableHTTPSessionManager(app=server, security_settings=_transport_security(config.host))
    mcp_endpoint = McpGate(StreamableHTTPASGIApp(sessions), gatekeeper, SessionOwners())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await pool.open()
        try:
            async with sessions.run():
                log.info("devmcp ready: modules %s; mana-auth %s", config.modules, config.mana_auth_url)
                yield
        finally:
            await http.aclose()
            await pool.close()

    routes = [
        Route("/mcp", mcp_endpoint, methods=["GET", "POST", "DELETE"]),
        *dev.routes(faults, calls, listing, server),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
