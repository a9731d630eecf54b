"""Request bodies: validated at the edge with pydantic, one error shape for every problem."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeVar

from flask import request
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from devauth.errors import RequestRefused, ValidationFailed

# The user id /dev/token signs for when the caller names none.
DEV_USER_ID = "dev-admin-0000"
DEV_USER_EMAIL = "dev-admin@devauth.invalid"
Tier = Literal["guest", "public", "beta", "alpha", "founder"]
Role = Literal["admin", "user"]
HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
TEN_YEARS = 10 * 365 * 24 * 3600


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


def _email(value: str) -> str:
    local, at, domain = value.partition("@")
    if not (at and local and domain) or any(c.isspace() for c in value):
        raise ValueError("must be an email address")
    return value


def text(max_length: int, min_length: int = 1) -> Any:
    """A JSON string (never a number or a bool), without NUL, within the caps."""
    return Annotated[StrictStr, Field(min_length=min_length, max_length=max_length), AfterValidator(_no_nul)]


Email = Annotated[text(320, 3), AfterValidator(_email)]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Registration(Body):
    email: Email
    password: text(128, 8)
    name: text(200)


class Login(Body):
    email: text(320)
    password: text(1024)


class PersonaStamp(Body):
    accessTier: Tier


# The space types a person may create; `personal` is made with the user, never asked for.
SharedSpaceType = Literal["family", "team", "practice", "brand"]
SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
PERSONAL_SLUG_PREFIX = "personal-"


class SpaceMetadata(Body):
    type: SharedSpaceType


def _not_personal_slug(value: str) -> str:
    if value.startswith(PERSONAL_SLUG_PREFIX):
        raise ValueError(f"the prefix {PERSONAL_SLUG_PREFIX!r} is kept for personal spaces")
    return value


Slug = Annotated[
    StrictStr, Field(min_length=2, max_length=64, pattern=SLUG_PATTERN), AfterValidator(_not_personal_slug)
]


class NewOrganization(Body):
    name: text(100)
    slug: Slug
    metadata: SpaceMetadata


class NewInvitation(Body):
    email: Email
    # Owners are made by creating a space, never by invitation.
    role: Literal["member", "admin"] = "member"
    organizationId: text(200)
    # Better Auth refuses to invite someone with a pending invitation unless told to resend it.
    resend: StrictBool = False


class InvitationAnswer(Body):
    invitationId: text(200)


class OrganizationQuery(Body):
    organizationId: text(200)


class TokenRequest(Body):
    role: Role
    sub: text(200) = DEV_USER_ID
    email: text(320) = DEV_USER_EMAIL
    tier: Tier = "founder"
    aud: text(200) | None = None
    # Not in the contract: lets a test mint a token from a foreign issuer.
    iss: text(500) | None = None
    expiresIn: Annotated[StrictInt, Field(ge=-TEN_YEARS, le=TEN_YEARS)] = 3600


class Settings(Body):
    # As a mana-auth with email verification on: a taken email registers "successfully".
    requireEmailVerification: StrictBool


class FaultRequest(Body):
    path: text(2000)
    method: text(10) | None = None
    status: Annotated[StrictInt, Field(ge=400, le=599)] | None = None
    delayMs: Annotated[StrictInt, Field(ge=0, le=120_000)] | None = None
    times: Annotated[StrictInt, Field(ge=1, le=10_000)] = 1

    @model_validator(mode="after")
    def check_fault(self) -> FaultRequest:
        if not self.path.startswith("/"):
            raise ValueError("path must start with /")
        if self.method is not None and self.method.upper() not in HTTP_METHODS:
            raise ValueError(f"method must be one of {', '.join(sorted(HTTP_METHODS))}")
        if self.status is None and not self.delayMs:
            raise ValueError("a fault needs a status, a delayMs, or both")
        return self


Model = TypeVar("Model", bound=BaseModel)


def _describe(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


def parse_body(model: type[Model]) -> Model:
    """The request body as a valid `model`, or a 400 that says what is wrong."""
    try:
        data = json.loads(request.get_data(cache=False) or b"null")
    except (ValueError, UnicodeDecodeError):
        raise RequestRefused("The request body is not valid JSON (UTF-8).") from None
    if not isinstance(data, dict):
        raise RequestRefused("The request body must be a JSON object.")
    return _validate(model, data)


def parse_query(model: type[Model]) -> Model:
    """The query string as a valid `model` (each name once), or a 400 naming the field."""
    return _validate(model, request.args.to_dict())


def _validate(model: type[Model], data: dict[str, Any]) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = _describe(exc)
        message = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        raise ValidationFailed(message, details=details) from None
