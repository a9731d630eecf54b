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

from persona_runner.errors import SeedSecretRefused

# Good enough for a laptop and CI, where every persona is a throwaway test account;
# never for production, where anyone reading this file could log in as a persona.
DEV_SEED_SECRET = "mana-personas-dev-seed-secret"
PASSWORD_LENGTH = 32

_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


def persona_password(email: str, secret: str) -> str:
    """The password of the persona with this email (taken exactly as given, UTF-8)."""
    digest = hmac.new(secret.encode("utf-8"), email.encode("utf-8"), hashlib.sha256).digest()
    encoded = base64.b64encode(digest).decode("ascii")
    return _NOT_ALNUM.sub("", encoded)[:PASSWORD_LENGTH]


def resolve_seed_secret(configured: str | None, app_env: str) -> str:
    """The configured secret, else the development one, which production refuses."""
    if configured:
        return configured
    if app_env == "production":
        raise SeedSecretRefused(
            "PERSONA_SEED_SECRET is not set and APP_ENV=production: refusing the development "
            "secret, which would make every persona's password public"
        )
    return DEV_SEED_SECRET
