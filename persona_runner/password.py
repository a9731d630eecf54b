"""The persona password recipe: the one implementation in the repository.

password = HMAC-SHA256(key=PERSONA_SEED_SECRET, message=email), digest in standard
base64, every character outside A-Z a-z 0-9 removed, first 32 characters kept.
Runners written in other languages derive the same password to log in, so this
recipe is a contract: change it and every seeded persona is locked out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from persona_runner.errors import SeedSecretEmpty, SeedSecretRefused

# Good enough for a laptop and CI, where every persona is a throwaway test account;
# never for production, where anyone reading this file could log in as a persona.
# The same string as the original TypeScript seed scripts and runner, so that a persona
# seeded by either side logs in through the other in a mixed development setup.
DEV_SEED_SECRET = "dev-persona-seed-secret-rotate-in-prod"
PASSWORD_LENGTH = 32

_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


def persona_password(email: str, secret: str) -> str:
    """The password of the persona with this email (taken exactly as given, UTF-8)."""
    digest = hmac.new(secret.encode("utf-8"), email.encode("utf-8"), hashlib.sha256).digest()
    encoded = base64.b64encode(digest).decode("ascii")
    return _NOT_ALNUM.sub("", encoded)[:PASSWORD_LENGTH]


def resolve_seed_secret(configured: str | None, app_env: str) -> str:
    """The configured secret (None: not set), else the development one, which production refuses.

    A secret that is set but empty is a mistake (an unfilled template, a missing value in
    a secret store), not a request for the fallback: falling back would silently derive
    other passwords than the operator meant, and an empty HMAC key would be public too.
    """
    if configured is not None:
        if not configured.strip():
            raise SeedSecretEmpty(
                "PERSONA_SEED_SECRET is set but empty: set it to the fleet's secret, or unset it "
                "to use the development secret outside production"
            )
        return configured
    if app_env == "production":
        raise SeedSecretRefused(
            "PERSONA_SEED_SECRET is not set and APP_ENV=production: refusing the development "
            "secret, which would make every persona's password public"
        )
    return DEV_SEED_SECRET
