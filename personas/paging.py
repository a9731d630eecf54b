"""Page cursors: where the previous page of a list ended, as an opaque token.

A cursor is the sort key of a page's last row (a timestamp, or null, and a persona id)
with the name of the list it belongs to, as JSON in URL-safe base64. Clients pass it back
unchanged; the next page starts strictly after that key (keyset paging), so personas
added or changed between pages never shift a page onto rows already handed out.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import NamedTuple

import orjson

CURSOR_MAX = 512
PAGE_LIMIT_MAX = 5000


class PageKey(NamedTuple):
    at: datetime | None
    user_id: str


def encode_cursor(route: str, key: PageKey) -> str:
    at = key.at.isoformat() if key.at is not None else None
    raw = orjson.dumps([route, at, key.user_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(route: str, cursor: str, *, id_max: int, nullable_at: bool) -> PageKey:
    """The key a cursor of this route carries; ValueError for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, at, user_id = orjson.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise ValueError("is not a cursor this service handed out") from None
    if kind != route:
        raise ValueError("belongs to another list")
    if not isinstance(user_id, str) or not 0 < len(user_id) <= id_max or "\x00" in user_id:
        raise ValueError("is not a cursor this service handed out")
    if at is None and nullable_at:
        return PageKey(None, user_id)
    try:
        moment = datetime.fromisoformat(at)
    except (TypeError, ValueError):
        raise ValueError("is not a cursor this service handed out") from None
    if moment.tzinfo is None:
        raise ValueError("is not a cursor this service handed out")
    return PageKey(moment, user_id)
