"""The personas API's admin routes, as the operator scripts call them (admin JWT)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from apibase.client_errors import UnexpectedResponse
from apibase.http_client import JsonHttp

PREFIX = "/api/v1/personas/admin"
# An upsert makes up to three calls to mana-auth, so the read timeout is generous;
# a dead server is still known within the connect timeout.
TIMEOUT = (3.0, 30.0)


class AdminApi:
    def __init__(self, api_url: str, jwt: str, timeout: tuple[float, float] = TIMEOUT) -> None:
        self.http = JsonHttp(api_url, timeout)
        self.jwt = jwt

    def upsert_persona(self, body: dict[str, Any]) -> dict[str, Any]:
        """{"ok", "userId", "email", "created"?}: create or update by email."""
        answer = self.http.request("POST", PREFIX, json=body, token=self.jwt)
        if not isinstance(answer, dict) or not answer.get("userId"):
            raise UnexpectedResponse(f"upsert answered without a userId: {str(answer)[:200]}")
        return answer

    def list_personas(self) -> list[dict[str, Any]]:
        answer = self.http.request("GET", PREFIX, token=self.jwt)
        if not isinstance(answer, dict) or not isinstance(answer.get("personas"), list):
            raise UnexpectedResponse(f'expected {{"personas": [...]}}, got {str(answer)[:200]}')
        return [p for p in answer["personas"] if isinstance(p, dict) and p.get("userId")]

    def delete_persona(self, user_id: str) -> None:
        self.http.request("DELETE", f"{PREFIX}/{quote(user_id, safe='')}", token=self.jwt)

    def close(self) -> None:
        self.http.close()
