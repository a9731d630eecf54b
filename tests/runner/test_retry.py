"""Retries for the idempotent posts: network errors, 429 and 5xx are retried with a
growing, jittered wait and a bounded number of attempts; a 4xx never is."""

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
