"""devllm as the Procfile runs it (gunicorn, one worker), and the official Anthropic client
pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest

from devstack.processes import Process, gunicorn_cmd
from tests.support.processes import running, without_faults

TIMEOUT = 10


@pytest.fixture(scope="session")
def devllm() -> Iterator[Process]:
    def command(port: int) -> list[str]:
        return gunicorn_cmd("devllm.app:app", port, workers=1, threads=8)

    with running("devllm", command, {"APP_ENV": "test"}) as proc:
        yield proc


@pytest.fixture
def clean_devllm(devllm: Process) -> Iterator[Process]:
    with without_faults(devllm) as proc:
        yield proc


@pytest.fixture
def model(clean_devllm: Process) -> Iterator[anthropic.Anthropic]:
    """The SDK as the driver uses it: base URL without /v1, the SDK's own retries."""
    with anthropic.Anthropic(api_key="dev-key", base_url=clean_devllm.url, timeout=TIMEOUT) as client:
        yield client
