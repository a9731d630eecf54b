"""The personas API's value lists and caps, one home for the service that enforces them
and for the clients (runner, scripts) that keep within them: its OpenAPI document states
them, and a value over a cap is a 400 that would lose a runner its tick's rows."""

from __future__ import annotations

import math
from typing import Literal, get_args

# How often a persona ticks (the rules: sql/functions/cadence.sql).
Cadence = Literal["hourly", "daily", "weekdays"]
CADENCES: tuple[str, ...] = get_args(Cadence)
DEFAULT_CADENCE: Cadence = "daily"

# Length caps: generous for real use, small enough that one row can never blow up an
# index entry or a log line.
ID_MAX = 200
NAME_MAX = 200
HASH_MAX = 256
TEXT_MAX = 4000
PROMPT_MAX = 20_000
TICK_ERROR_MAX = 2000
# Rows in one batch: the actions of a tick, its ratings.
ACTIONS_MAX = 500
FEEDBACK_MAX = 100
# A tick's transcript: the whole body, the model's text of one answer, one call's output
# (the runner cuts a longer one and says so at the cut), the name of the step that failed.
TRANSCRIPT_BYTES_MAX = 1024 * 1024
MODEL_TEXT_MAX = 20_000
CALL_OUTPUT_MAX = 8_000
STEP_MAX = 100


def check_finite(value: float, low: float, high: float) -> float:
    """A number from `low` to `high`, never NaN or infinite: a NaN passes every comparison,
    so a range check alone lets it through."""
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"must be a finite number from {low:,} to {high:,}")
    return value
