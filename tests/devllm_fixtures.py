"""devllm as the Procfile runs it (gunicorn, one worker), and the official Anthropic and
OpenAI clients pointed at it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import anthropic
import openai
import pytest

from devstack.processes import Process
from tests.support.processes import running_gunicorn, without_faults

TIMEOUT = 10


def outlive_stall(delay_ms: int) -> None:
    """Wait out an answer devllm is still stalling after its client gave up: once awake it
    would take a switch the next test sets (one worker, every request in flight at once)."""
    time.sleep(delay_ms / 1000 + 1)


@pytest.fixture(scope="session")
def devllm() -> Iterator[Process]:
    with running_gunicorn("devllm", "devllm.app:app", {"APP_ENV": "test"}, workers=1) as proc:
        yield proc


@pytest.fixture
def clean_devllm(devllm: Process) -> Iterator[Process]:
    yield from without_faults(devllm)


@pytest.fixture
def model(clean_devllm: Process) -> Iterator[anthropic.Anthropic]:
    """The SDK as the driver uses it: base URL without /v1, the SDK's own retries."""
    with anthropic.Anthropic(api_key="dev-key", base_url=clean_devllm.url, timeout=TIMEOUT) as client:
        yield client


@pytest.fixture
def chat_model(clean_devllm: Process) -> Iterator[openai.OpenAI]:
    """The openai SDK as an OpenAI driver uses it: base URL with /v1, the SDK's own retries."""
    with openai.OpenAI(api_key="x", base_url=f"{clean_devllm.url}/v1", timeout=TIMEOUT) as client:
        yield client
