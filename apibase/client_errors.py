"""The errors a call to another service can end in, raised at the edge (the HTTP client)
and caught in one place (a runner's tick loop, a script's main), which says each in one
line. Runner and scripts alike build on ExpectedError."""

from __future__ import annotations

from typing import Any


class ExpectedError(Exception):
    """Anything a program expects to go wrong: a bad setting, a refusal, a dead server."""


class NetworkError(ExpectedError):
    """The server did not answer: refused connection, DNS failure, or a timeout."""

    def __init__(self, method: str, url: str, reason: str) -> None:
        super().__init__(f"{method} {url}: {reason}")
        self.method = method
        self.url = url
        self.reason = reason


class StatusError(ExpectedError):
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


class AuthError(StatusError):
    """401 or 403: a wrong password, token or service key; retrying cannot help."""


class UnexpectedResponse(ExpectedError):
    """A 2xx answer whose body is not what the contract promises."""


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
