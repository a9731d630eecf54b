"""The personas API's internal routes, as a runner calls them (service-key gated)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import requests

from apibase.client_errors import ExpectedError, StatusError, UnexpectedResponse
from apibase.http_client import JsonHttp
from persona_runner.config import RunnerConfig
from persona_runner.errors import Unposted
from persona_runner.models import Action, Persona, Rating
from persona_runner.retry import RetryPolicy, retryable, with_retries

PREFIX = "/api/v1/personas/internal"
# A tick's posts take `until`: a deadline (time.monotonic) to retry them to, instead of
# the policy's bounded attempts. Given up while the API is away, they raise Unposted.
Until = Callable[[], float] | None


@dataclass(frozen=True)
class DueBatch:
    """Personas to drive now; `source` says whether they are leased ("claims") or not ("due")."""

    personas: list[Persona]
    source: str
    # The claims answer said the fleet budget is spent or reserved to its limit.
    budget_reached: bool = False


class InternalClient:
    def __init__(
        self,
        config: RunnerConfig,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.http = JsonHttp(
            config.api_url, config.timeout, headers={"X-Service-Key": config.service_key}, session=session
        )
        self.retry = RetryPolicy(config.retry_attempts, config.retry_base_delay, config.retry_max_delay)
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.claims_supported = True

    def due(self) -> DueBatch:
        body = self.http.request("GET", f"{PREFIX}/due")
        return DueBatch(personas_of(body), "due")

    def claim(self, runner_id: str, limit: int, lease_seconds: int, cost_free: bool = False) -> DueBatch:
        """Lease due personas to this runner (`cost_free`: its driver costs nothing, so the
        budget does not stop it). Never retried: a lost answer would leave personas leased
        to nobody until the lease runs out."""
        request = {"runnerId": runner_id, "limit": limit, "leaseSeconds": lease_seconds}
        if cost_free:
            request["costFree"] = True
        body = self.http.request("POST", f"{PREFIX}/claims", json=request)
        return DueBatch(personas_of(body), "claims", budget_reached(body))

    def claim_or_due(self, runner_id: str, limit: int, lease_seconds: int) -> DueBatch:
        """Claims when the server has them; an older server without the route answers
        404, and then /due (unleased) is the only way, for the rest of this client's life."""
        if self.claims_supported:
            try:
                return self.claim(runner_id, limit, lease_seconds)
            except StatusError as exc:
                if exc.status != 404:
                    raise
                self.claims_supported = False
        batch = self.due()
        return DueBatch(batch.personas[:limit], batch.source)

    def release(self, persona_id: str, runner_id: str, until: Until = None) -> bool:
        """End a lease early; False if there was none (409, held by another runner, raises).
        Retried: a release whose answer was lost is answered 404 the second time."""
        path = f"{PREFIX}/claims/{quote(persona_id, safe='')}?{urlencode({'runnerId': runner_id})}"
        try:
            self._retried("DELETE", path, None, until)
        except StatusError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def post_actions(
        self, persona_id: str, tick_id: str, actions: list[Action], until: Until = None
    ) -> dict[str, Any]:
        rows = [action.to_json(tick_id) for action in actions]
        path = f"{PREFIX}/{quote(persona_id, safe='')}/actions"
        return self._post_idempotent(path, {"actions": rows}, until)

    def post_feedback(
        self,
        persona_id: str,
        tick_id: str,
        ratings: list[Rating],
        runner_id: str | None = None,
        until: Until = None,
    ) -> dict[str, Any]:
        """The ratings; with `runner_id` only that runner's lease ends (another's stays)."""
        body: dict[str, Any] = {"feedback": [rating.to_json(tick_id) for rating in ratings]}
        if runner_id:
            body["runnerId"] = runner_id
        return self._post_idempotent(f"{PREFIX}/{quote(persona_id, safe='')}/feedback", body, until)

    def report_tick(
        self, persona_id: str, tick_id: str, report: dict[str, Any], until: Until = None
    ) -> dict[str, Any]:
        """PUT the tick's state; repeating the same body is a no-op, so it is retried."""
        path = f"{PREFIX}/{quote(persona_id, safe='')}/ticks/{quote(tick_id, safe='')}"
        answer = self._retried("PUT", path, report, until)
        if not isinstance(answer, dict) or not isinstance(answer.get("tick"), dict):
            raise UnexpectedResponse(f"PUT {path}: expected {{'tick': {{...}}}}, got {str(answer)[:200]}")
        return answer["tick"]

    def put_transcript(
        self, persona_id: str, tick_id: str, body: dict[str, Any], until: Until = None
    ) -> dict[str, Any]:
        """PUT the tick's transcript (after the tick was reported); the same body again
        changes nothing, so it is retried."""
        path = f"{PREFIX}/{quote(persona_id, safe='')}/ticks/{quote(tick_id, safe='')}/transcript"
        answer = self._retried("PUT", path, body, until)
        if not isinstance(answer, dict) or answer.get("ok") is not True:
            raise UnexpectedResponse(f"PUT {path}: expected {{'ok': true, ...}}, got {str(answer)[:200]}")
        return answer

    def heartbeat(self, persona_id: str, runner_id: str, lease_seconds: int) -> str | None:
        """Extend this runner's lease; its new end. 404 (no live lease) and 409 (another
        runner's) raise StatusError: the caller has lost the persona."""
        body = self.http.request(
            "POST",
            f"{PREFIX}/claims/{quote(persona_id, safe='')}/heartbeat",
            json={"runnerId": runner_id, "leaseSeconds": lease_seconds},
        )
        until = body.get("leaseUntil") if isinstance(body, dict) else None
        return str(until) if until is not None else None

    def history(self, persona_id: str, ticks: int = 5) -> list[dict[str, Any]]:
        """The persona's finished ticks, newest first (the story so far)."""
        path = f"{PREFIX}/{quote(persona_id, safe='')}/history"
        body = with_retries(
            lambda: self.http.request("GET", path, params={"ticks": ticks}), self.retry, self.sleep, self.rng
        )
        if not isinstance(body, dict) or not isinstance(body.get("ticks"), list):
            raise UnexpectedResponse(f"GET {path}: expected {{'ticks': [...]}}, got {str(body)[:200]}")
        return [tick for tick in body["ticks"] if isinstance(tick, dict)]

    def send(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        """A post a tick could not make, sent again as it was logged (retried)."""
        return self._retried(method, path, body, None)

    def _post_idempotent(self, path: str, body: dict[str, Any], until: Until) -> dict[str, Any]:
        answer = self._retried("POST", path, body, until)
        if not isinstance(answer, dict) or answer.get("ok") is not True:
            raise UnexpectedResponse(f"POST {path}: expected {{'ok': true, ...}}, got {str(answer)[:200]}")
        return answer

    def _retried(self, method: str, path: str, body: dict[str, Any] | None, until: Until) -> Any:
        """The call, retried; given up while the API is away, Unposted with the request."""
        try:
            return with_retries(
                lambda: self.http.request(method, path, json=body),
                self.retry,
                self.sleep,
                self.rng,
                deadline=until,
            )
        except ExpectedError as exc:
            if retryable(exc):
                raise Unposted(method, path, body, exc) from exc
            raise

    def close(self) -> None:
        self.http.close()


def budget_reached(body: Any) -> bool:
    """Whether the answer's `budget` (present whenever one is set) has no room left."""
    budget = body.get("budget") if isinstance(body, dict) else None
    if not isinstance(budget, dict):
        return False
    try:
        used = float(budget.get("spentUsd") or 0) + float(budget.get("reservedUsd") or 0)
        return used >= float(budget["limitUsd"])
    except (KeyError, TypeError, ValueError):
        return False


def personas_of(body: Any) -> list[Persona]:
    if not isinstance(body, dict) or not isinstance(body.get("personas"), list):
        raise UnexpectedResponse(f"expected {{'personas': [...]}}, got {str(body)[:200]}")
    return [Persona.from_json(row) for row in body["personas"]]
