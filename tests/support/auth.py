"""Request headers as the service's two gates read them."""

from __future__ import annotations


def bearer(token: str) -> dict[str, str]:
    """The Authorization header carrying `token`."""
    return {"Authorization": f"Bearer {token}"}
