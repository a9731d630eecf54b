"""Bounds the service states in its contract and its clients keep to alike."""

from __future__ import annotations

import math


def check_finite(value: float, low: float, high: float) -> float:
    """A number from `low` to `high`, never NaN or infinite: a NaN passes every comparison,
    so a range check alone lets it through."""
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"must be a finite number from {low:,} to {high:,}")
    return value
