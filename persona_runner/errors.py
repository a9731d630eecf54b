"""The runner's named errors, raised at the edge (the HTTP clients, the config) and
caught in one place (the tick loop, the scripts), which turns each into one line."""

from __future__ import annotations

from typing import Any


class RunnerError(Exception):
    """Anything the runner expects to go wrong: a bad setting, a refusal, a dead server."""


class ConfigError(RunnerError):
    """The environment cannot run the runner; the message says which variable to fix."""


class SeedSecretRefused(ConfigError):
    """Production without PERSONA_SEED_SECRET: the development secret would be guessable."""


class SeedSecretEmpty(ConfigError):
    """PERSONA_SEED_SECRET is set to nothing (or only blanks): never a key, never a fallback."""


class NetworkError(RunnerError):
    """The server did not answer: refused connection, DNS failure, or a timeout."""

    def __init__(self, method: str, url: str, reason: str) -> None:
        super().__init__(f"{method} {url}: {reason}")
        self.method = method
        self.url = url
        self.reason = reason


class ApiError(RunnerError):
    """The server answered with a non-2xx status; `body` is its error body (JSON or text)."""

    def __init__(
        self, method: str, url: str, status: int, body: Any, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{method} {url}: {status} {summarize(body)}")
        self.method = method
        self.url = url
        self.status = status
        self.body = body
        self.retry_after = retry_after

    @property
    def detail(self) -> str:
        """The server's own words: `{status} {error}: {message}` plus the failed step, if any."""
        return f"{self.status} {summarize(self.body)}"


class AuthError(ApiError):
    """401 or 403: a wrong password, token or service key; retrying cannot help."""


class Unposted(RunnerError):
    """A post the API never accepted although it was retried as long as allowed (the API
    away: network errors, 429, 5xx). It carries the request, so it can be sent again."""

    def __init__(self, method: str, path: str, body: Any, cause: RunnerError) -> None:
        super().__init__(str(cause))
        self.method = method
        self.path = path
        self.body = body
        self.cause = cause


class UnexpectedResponse(RunnerError):
    """A 2xx answer whose body is not what the contract promises."""


class NoPersonalSpace(RunnerError):
    """mana-auth lists no space of type "personal" for the persona."""


class DriverFailed(RunnerError):
    """The driver could not finish the tick (the model or the product failed it), or
    produced a tick the API cannot accept; `step` is where the tick report puts it."""

    step = "driver"


class RatingsRefused(DriverFailed):
    """The model's ratings do not fit the schema: none are posted, the tick fails at feedback."""

    step = "feedback"


def summarize(body: Any, limit: int = 300) -> str:
    """One line from an error body: '{error}: {message} (step: ...)', or the text, cut short."""
    if isinstance(body, dict):
        text = ": ".join(str(body[k]) for k in ("error", "message") if body.get(k))
        if body.get("step"):
            text += f" (step: {body['step']})"
        if not text:
            text = str(body)
    else:
        text = " ".join(str(body or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
