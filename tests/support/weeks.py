"""Moments counted in ISO weeks (Monday 00:00 UTC), as insights group ratings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def this_monday() -> datetime:
    now = datetime.now(UTC)
    return (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)


def week(ago: int, hours: float = 1) -> datetime:
    """A moment `hours` into the week that started `ago` Mondays back (0: this week)."""
    return this_monday() - timedelta(weeks=ago) + timedelta(hours=hours)


def monday(ago: int) -> str:
    """The date of the Monday `ago` weeks back, as the contract writes a week."""
    return (this_monday() - timedelta(weeks=ago)).date().isoformat()
