"""mana-auth as a persona meets it: log in, list its spaces, and (for the seed's pair
spaces) create a shared space, invite its partner, accept, and read the members."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests

from apibase.client_errors import UnexpectedResponse
from apibase.http_client import JsonHttp
from persona_runner.config import RunnerConfig
from persona_runner.spaces import Space, spaces_of
from persona_runner.token_cache import TokenCache


@dataclass(frozen=True)
class Login:
    user_id: str
    token: str = field(repr=False)


class AuthClient:
    def __init__(
        self, config: RunnerConfig, session: requests.Session | None = None, tokens: TokenCache | None = None
    ) -> None:
        headers = {"X-Service-Key": config.service_key} if config.service_key else {}
        self.http = JsonHttp(config.auth_url, config.timeout, headers=headers, session=session)
        self.tokens = tokens

    def login(self, email: str, password: str) -> Login:
        """A persona's token; a wrong password is an AuthError (401). With `tokens`, a held
        token that outlives a tick is reused (see token_cache)."""
        if self.tokens is None:
            return self._login(email, password)
        return self.tokens.login(email, lambda: self._login(email, password))

    def _login(self, email: str, password: str) -> Login:
        body = self.http.request("POST", "/api/v1/auth/login", json={"email": email, "password": password})
        user = body.get("user") if isinstance(body, dict) else None
        token = body.get("token") if isinstance(body, dict) else None
        if not token or not isinstance(user, dict) or not user.get("id"):
            raise UnexpectedResponse("login answered without a token and a user id")
        return Login(user_id=str(user["id"]), token=str(token))

    def spaces(self, token: str) -> list[Space]:
        """Every space the persona belongs to, in mana-auth's (unpromised) order."""
        body = self.http.request("GET", "/api/auth/organization/list", token=token)
        if not isinstance(body, list):
            raise UnexpectedResponse(f"organization list: expected a JSON array, got {str(body)[:200]}")
        return spaces_of(body)

    def create_space(self, token: str, name: str, slug: str, space_type: str) -> dict[str, Any]:
        """A shared space owned by the token's user; a taken slug is an StatusError (400)."""
        body = {"name": name, "slug": slug, "metadata": {"type": space_type}}
        return self._organization("POST", "create", token, json=body)

    def invite_member(self, token: str, organization_id: str, email: str) -> dict[str, Any]:
        """The pending invitation for `email`: a new one, or the one already pending with a
        new expiry (`resend`: without it, mana-auth refuses to invite a pending invitee)."""
        body = {"email": email, "role": "member", "organizationId": organization_id, "resend": True}
        return self._organization("POST", "invite-member", token, json=body)

    def accept_invitation(self, token: str, invitation_id: str) -> dict[str, Any]:
        return self._organization("POST", "accept-invitation", token, json={"invitationId": invitation_id})

    def full_space(self, token: str, organization_id: str) -> dict[str, Any]:
        """The space with its `members` ([{"userId", "role"}]); members only."""
        params = {"organizationId": organization_id}
        body = self._organization("GET", "get-full-organization", token, params=params)
        if not isinstance(body.get("members"), list):
            raise UnexpectedResponse(f"full organization without a members list: {str(body)[:200]}")
        return body

    def _organization(self, method: str, route: str, token: str, **kwargs: Any) -> dict[str, Any]:
        body = self.http.request(method, f"/api/auth/organization/{route}", token=token, **kwargs)
        if not isinstance(body, dict):
            raise UnexpectedResponse(f"organization/{route}: expected a JSON object, got {str(body)[:200]}")
        return body

    def close(self) -> None:
        self.http.close()
