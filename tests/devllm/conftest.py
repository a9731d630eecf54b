"""devllm as the Procfile runs it (gunicorn, one worker), and the official Anthropic client
pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest
import requests

from devstack.postgres import free_port
from devstack.processes import ROOT, Process, gunicorn_cmd

ARTIFACTS = ROOT / "artifacts"
TIMEOUT = 10


@pytest.fixture(scope="session")
def devllm() -> Iterator[Process]:
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    proc = Process(
        "devllm",
        gunicorn_cmd("devllm.app:app", port, workers=1, threads=8),
        {"APP_ENV": "test"},
        port,
        log_path=ARTIFACTS / "devllm.log",
    )
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def clean_devllm(devllm: Process) -> Iterator[Process]:
    requests.delete(f"{devllm.url}/dev/faults", timeout=TIMEOUT).raise_for_status()
    yield devllm
    requests.delete(f"{devllm.url}/dev/faults", timeout=TIMEOUT).raise_for_status()


@pytest.fixture
def model(clean_devllm: Process) -> Iterator[anthropic.Anthropic]:
    """The SDK as the driver uses it: base URL without /v1, the SDK's own retries."""
    with anthropic.Anthropic(api_key="dev-key", base_url=clean_devllm.url, timeout=TIMEOUT) as client:
        yield client
