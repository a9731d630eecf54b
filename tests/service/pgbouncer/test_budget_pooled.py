"""Budgeted claims behind PgBouncer: the turn is a transaction of its own, committed with
it, and the claim's transaction after it gets the service's settings again."""

from tests.service.test_budget import (  # noqa: F401
    budget_app,
    budget_client,
    test_a_hold_counts_against_the_room_until_it_lapses,
    test_before_any_tick_a_claim_reserves_the_estimate_until_the_tick_is_reported,
)
