"""The mana-auth calls a runner makes for a persona: log in, and list its spaces."""

from __future__ import annotations

from dataclasses import dataclass, field

import requests

from persona_runner.config import RunnerConfig
from persona_runner.errors import UnexpectedResponse
from persona_runner.spaces import Space, personal_space, spaces_of
from persona_runner.transport import JsonHttp


@dataclass(frozen=True)
class Login:
    user_id: str
    token: str = field(repr=False)


class AuthClient:
    def __init__(self, config: RunnerConfig, session: requests.Session | None = None) -> None:
        headers = {"X-Service-Key": config.service_key} if config.service_key else {}
        self.http = JsonHttp(config.auth_url, config.timeout, headers=headers, session=session)

    def login(self, email: str, password: str) -> Login:
        """A persona's token; a wrong password is an AuthError (401)."""
        body = self.http.request("POST", "/api/v1/auth/login", json={"email": email, "password": password})
        user = body.get("user") if isinstance(body, dict) else None
        token = body.get("token") if isinstance(body, dict) else None
        if not token or not isinstance(user, dict) or not user.get("id"):
            raise UnexpectedResponse("login answered without a token and a user id")
        return Login(user_id=str(user["id"]), token=str(token))

    def spaces(self, token: str) -> list[Space]:
        """Every space the persona belongs to, as mana-auth lists them (personal first)."""
        body = self.http.request("GET", "/api/auth/organization/list", token=token)
        if not isinstance(body, list):
            raise UnexpectedResponse(f"organization list: expected a JSON array, got {str(body)[:200]}")
        return spaces_of(body)

    def personal_space(self, token: str) -> Space:
        """The first space whose metadata says type "personal"."""
        return personal_space(self.spaces(token))

    def close(self) -> None:
        self.http.close()
