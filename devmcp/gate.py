"""The gate in front of /mcp (plain ASGI, so the SDK's streaming passes untouched):
a verified token (401), a space the caller belongs to (403), and a session only ever
used by the user who opened it (403)."""

from __future__ import annotations

import json
import threading

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from devmcp.auth import Gatekeeper, Refused
from devmcp.server import CALLER_KEY, TOKEN_KEY

SESSION_HEADER = b"mcp-session-id"


class SessionOwners:
    """Which user opened each MCP session; the SDK keeps the sessions, we keep who owns them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[str, str] = {}

    def claim(self, session_id: str, user_id: str) -> None:
        with self._lock:
            self._owners.setdefault(session_id, user_id)

    def owner(self, session_id: str) -> str | None:
        with self._lock:
            return self._owners.get(session_id)

    def forget(self, session_id: str) -> None:
        with self._lock:
            self._owners.pop(session_id, None)


class McpGate:
    def __init__(self, app: ASGIApp, gatekeeper: Gatekeeper, owners: SessionOwners) -> None:
        self.app = app
        self.gatekeeper = gatekeeper
        self.owners = owners

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        session_id = headers.get(SESSION_HEADER.decode(), "")
        try:
            authorization, space = headers.get("authorization", ""), headers.get("x-mana-space", "")
            caller = await self.gatekeeper.caller(authorization, space)
            owner = self.owners.owner(session_id) if session_id else None
            if owner is not None and owner != caller.user_id:
                raise Refused(403, "This MCP session belongs to another user.")
        except Refused as exc:
            await _refuse(send, exc)
            return
        state = scope.setdefault("state", {})
        state[CALLER_KEY] = caller
        state[TOKEN_KEY] = headers["authorization"].partition(" ")[2].strip()

        async def send_and_note_owner(message: Message) -> None:
            if message["type"] == "http.response.start" and not session_id:
                opened = dict(message.get("headers", [])).get(SESSION_HEADER)
                if opened:
                    self.owners.claim(opened.decode("latin-1"), caller.user_id)
            await send(message)

        await self.app(scope, receive, send_and_note_owner)
        if scope["method"] == "DELETE" and session_id:
            self.owners.forget(session_id)


async def _refuse(send: Send, exc: Refused) -> None:
    error = {401: "Unauthorized", 403: "Forbidden"}.get(exc.status, "BadGateway")
    body = json.dumps({"error": error, "message": exc.message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if exc.status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
