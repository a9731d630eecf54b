"""The two mana-auth calls a runner makes for a persona: log in, and find its personal space."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import requests

from persona_runner.config import RunnerConfig
from persona_runner.errors import NoPersonalSpace, UnexpectedResponse
from persona_runner.transport import JsonHttp


@dataclass(frozen=True)
class Login:
    user_id: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class Space:
    id: str
    name: str


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

    def spaces(self, token: str) -> list[dict[str, Any]]:
        body = self.http.request("GET", "/api/auth/organization/list", token=token)
        if not isinstance(body, list):
            raise UnexpectedResponse(f"organization list: expected a JSON array, got {str(body)[:200]}")
        return [item for item in body if isinstance(item, dict)]

    def personal_space(self, token: str) -> Space:
        """The first space whose metadata says type "personal"."""
        for item in self.spaces(token):
            if space_type(item.get("metadata")) == "personal" and item.get("id"):
                return Space(id=str(item["id"]), name=str(item.get("name", "")))
        raise NoPersonalSpace("mana-auth lists no personal space for this persona")

    def close(self) -> None:
        self.http.close()


def space_type(metadata: Any) -> str | None:
    """metadata is an object, or (some mana-auth builds) that object as a JSON string."""
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return None
    return metadata.get("type") if isinstance(metadata, dict) else None
