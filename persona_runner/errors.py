"""The runner's own named errors, raised at the edge (the config, the drivers) and caught
in one place (the tick loop, the scripts), which turns each into one line."""

from __future__ import annotations

from typing import Any

from apibase.client_errors import ExpectedError


class RunnerError(ExpectedError):
    """What goes wrong in the runner itself: a bad setting, a driver that cannot finish.
    The HTTP clients' errors are apibase.client_errors'; both are ExpectedError."""


class RunnerConfigError(RunnerError):
    """The environment cannot run the runner; the message says which variable to fix."""


class SeedSecretRefused(RunnerConfigError):
    """Production without PERSONA_SEED_SECRET: the development secret would be guessable."""


class SeedSecretEmpty(RunnerConfigError):
    """PERSONA_SEED_SECRET is set to nothing (or only blanks): never a key, never a fallback."""


class Unposted(RunnerError):
    """A post the API never accepted although it was retried as long as allowed (the API
    away: network errors, 429, 5xx). It carries the request, so it can be sent again."""

    def __init__(self, method: str, path: str, body: Any, cause: ExpectedError) -> None:
        super().__init__(str(cause))
        self.method = method
        self.path = path
        self.body = body
        self.cause = cause


class NoPersonalSpace(RunnerError):
    """mana-auth lists no space of type "personal" for the persona."""


class DriverFailed(RunnerError):
    """The driver could not finish the tick (the model or the product failed it), or
    produced a tick the API cannot accept; `step` is where the tick report puts it."""

    step = "driver"


class RatingsRefused(DriverFailed):
    """The model's ratings do not fit the schema: none are posted, the tick fails at feedback."""

    step = "feedback"
