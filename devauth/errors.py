"""The stand-in's errors: the shared named errors and JSON handlers (the same
{"error", "message", ...} shape mana-auth's callers expect), plus the injected fault."""

from __future__ import annotations

from apibase.errors import (
    Conflict,
    Forbidden,
    NotFound,
    RequestRefused,
    Unauthorized,
    ValidationFailed,
    register_error_handlers,
)

__all__ = [
    "Conflict",
    "Forbidden",
    "InjectedFault",
    "NotFound",
    "Refusal",
    "RequestRefused",
    "Unauthorized",
    "ValidationFailed",
    "register_error_handlers",
]


class InjectedFault(RequestRefused):
    """A status a test asked for through /dev/faults."""

    kind = "InjectedFault"

    def __init__(self, status: int) -> None:
        super().__init__(f"devauth answered {status} on purpose: a fault injected through /dev/faults.")
        self.status = status


class Refusal(RequestRefused):
    """A refusal on Better Auth's own routes (/api/auth/...), worded as a stock Better Auth
    words it: `{"code": "<UPPER_SNAKE>", "message"}`, so callers meet one shape on both."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status

    def body(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message}
