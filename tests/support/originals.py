"""What the original TypeScript seed scripts and runner fixed, written out here rather
than imported, so a persona seeded by one side is proven to log in through the other."""

from __future__ import annotations

import base64
import hmac
import string
from pathlib import Path

ALPHANUMERIC = set(string.ascii_letters + string.digits)
# The original clients' development seed secret, character for character.
ORIGINAL_DEV_SECRET = "dev-persona-seed-secret-rotate-in-prod"
# A catalog in the shape of the original TypeScript seed's: modules and archetypes of the
# product's own naming, prompts of 149-194 characters, no `pair`, no `tickCadence` on some.
ORIGINAL_SHAPE = Path(__file__).resolve().parent.parent / "scripts" / "original_catalog.json"


def recipe_written_out(email: str, secret: str) -> str:
    """The contract's password recipe, one step each, independent of the implementation."""
    digest = hmac.digest(secret.encode(), email.encode(), "sha256")
    encoded = base64.standard_b64encode(digest).decode()
    kept = "".join(ch for ch in encoded if ch in ALPHANUMERIC)
    return kept[:32]
