"""Retries for the idempotent calls: network errors, 429 and 5xx are retried with a
growing, jittered wait, a bounded number of times or until a deadline (a tick's posts,
until its lease would lapse); a 4xx never is."""

from __future__ import annotations

import random

import pytest

from apibase.client_errors import AuthError, NetworkError, StatusError
from persona_runner.retry import RetryPolicy, retryable, with_retries

POLICY = RetryPolicy(attempts=4, base_delay=0.5, max_delay=8.0)


class Flaky:
    """Fails with the given errors in turn, then answers."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "answer"


def api_error(status: int, retry_after: float | None = None) -> StatusError:
    return StatusError("POST", "http://api/x", status, {"error": "E", "message": "m"}, retry_after)


def network_error() -> NetworkError:
    return NetworkError("POST", "http://api/x", "[Errno 111] Connection refused")


@pytest.mark.parametrize("error", [network_error(), api_error(429), api_error(500), api_error(503)])
def test_transient_failures_are_retried_until_the_answer(error):
    call, waits = Flaky(error, error), []
    assert with_retries(call, POLICY, sleep=waits.append, rng=random.Random(1)) == "answer"
    assert call.calls == 3 and len(waits) == 2


@pytest.mark.parametrize("error", [api_error(400), api_error(404), api_error(409), api_error(422)])
def test_client_errors_are_never_retried(error):
    call, waits = Flaky(error), []
    with pytest.raises(StatusError):
        with_retries(call, POLICY, sleep=waits.append)
    assert call.calls == 1 and waits == []


def test_auth_refusals_are_never_retried():
    error = AuthError("POST", "http://api/x", 401, {"error": "Unauthorized"})
    assert not retryable(error)


def test_attempts_are_bounded_and_the_last_error_is_raised():
    call, waits = Flaky(*[api_error(503) for _ in range(10)]), []
    with pytest.raises(StatusError) as raised:
        with_retries(call, POLICY, sleep=waits.append)
    assert raised.value.status == 503
    assert call.calls == POLICY.attempts and len(waits) == POLICY.attempts - 1


def test_waits_grow_exponentially_with_jitter_and_stay_under_the_cap():
    rng = random.Random(7)
    for retry in range(8):
        ceiling = min(POLICY.max_delay, POLICY.base_delay * 2**retry)
        waits = {POLICY.delay(retry, rng) for _ in range(50)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(waits) > 1  # jittered, so a fleet does not retry in step


def test_retry_after_from_the_server_is_honoured_up_to_the_cap():
    call, waits = Flaky(api_error(429, retry_after=3.0), api_error(429, retry_after=600.0)), []
    with_retries(call, POLICY, sleep=waits.append, rng=random.Random(1))
    assert waits[0] >= 3.0
    assert waits[1] == POLICY.max_delay


def test_a_policy_without_attempts_is_refused():
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


class Clock:
    """Time that passes only when the retry loop waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def test_with_a_deadline_retries_go_on_past_the_attempts_until_the_answer():
    clock, call = Clock(), Flaky(*[api_error(503) for _ in range(12)])
    answer = with_retries(
        call, POLICY, sleep=clock.sleep, rng=random.Random(1), deadline=lambda: 120.0, clock=lambda: clock.now
    )
    assert answer == "answer" and call.calls == 13
    assert max(clock.waits) <= POLICY.max_delay


def test_with_a_deadline_the_last_attempt_is_made_at_it_and_its_error_raised():
    clock, call = Clock(), Flaky(*[network_error() for _ in range(100)])
    with pytest.raises(NetworkError):
        with_retries(
            call,
            POLICY,
            sleep=clock.sleep,
            rng=random.Random(3),
            deadline=lambda: 30.0,
            clock=lambda: clock.now,
        )
    assert clock.now == pytest.approx(30.0)  # the wait before the last try was cut to the deadline
    assert call.calls > POLICY.attempts


def test_a_deadline_that_moves_on_is_followed():
    """A heartbeat that lands while the posts are retried extends how long they may be."""
    clock, call = Clock(), Flaky(*[api_error(503) for _ in range(8)])
    ends = iter([5.0, 5.0, 60.0, 60.0, 60.0, 60.0, 60.0, 60.0])
    answer = with_retries(
        call,
        POLICY,
        sleep=clock.sleep,
        rng=random.Random(1),
        deadline=lambda: next(ends),
        clock=lambda: clock.now,
    )
    assert answer == "answer" and clock.now > 5.0


def test_a_deadline_already_passed_still_gets_one_attempt():
    clock, call = Clock(), Flaky()
    assert (
        with_retries(call, POLICY, sleep=clock.sleep, deadline=lambda: -1.0, clock=lambda: clock.now)
        == "answer"
    )
    failing = Flaky(api_error(503))
    with pytest.raises(StatusError):
        with_retries(failing, POLICY, sleep=clock.sleep, deadline=lambda: -1.0, clock=lambda: clock.now)
    assert failing.calls == 1 and clock.waits == []


def test_with_a_deadline_client_errors_are_still_never_retried():
    clock, call = Clock(), Flaky(api_error(409))
    with pytest.raises(StatusError):
        with_retries(call, POLICY, sleep=clock.sleep, deadline=lambda: 600.0, clock=lambda: clock.now)
    assert call.calls == 1 and clock.waits == []
