"""Password hashes with the standard library's scrypt, each with its own salt.

The cost is modest (this is a development stand-in that tests register many users
with), set by DEVAUTH_PASSWORD_COST (log2 of scrypt's N), and stored with the hash, so it
can change without breaking old rows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

R, P = 8, 1
DEFAULT_COST = 14  # N = 2**14
COST_MIN, COST_MAX = 10, 20


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def hash_password(password: str, cost: int = DEFAULT_COST) -> str:
    n = 2**cost
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=R, p=P, dklen=32)
    return f"scrypt${n}${R}${P}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, stored: str) -> bool:
    scheme, n, r, p, salt, digest = stored.split("$")
    if scheme != "scrypt":
        return False
    expected = base64.b64decode(digest)
    actual = hashlib.scrypt(
        password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
    )
    return hmac.compare_digest(actual, expected)
