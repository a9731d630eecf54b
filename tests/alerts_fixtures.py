"""Fixtures for the alerts: the app allowed to send to loopback receivers (with a short
retry schedule and send timeout), a receiver that verifies signatures, and empty alert
tables for each test."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace

import psycopg
import pytest
from flask import Flask

from config import Config
from devstack.processes import ROOT
from tests.support.processes import ARTIFACTS
from tests.support.receiver import Receiver, running_receiver

ALERT_TABLES = (
    "personas.webhooks",
    "personas.alert_messages",
    "personas.alert_deliveries",
    "personas.alert_conditions",
)
# Short enough for tests; the contract's schedule stays the default (config.py).
TEST_RETRY_SECONDS = (0.3, 0.3, 60)
TEST_SEND_TIMEOUT = 1.0
# The same for the `alerts` process, which also looks for conditions and work often.
ALERTS_ENV = {
    "ALERTS_ALLOW_PRIVATE_URLS": "true",
    "ALERT_RETRY_SECONDS": ",".join(map(str, TEST_RETRY_SECONDS)),
    "ALERT_SEND_TIMEOUT": str(TEST_SEND_TIMEOUT),
    "ALERT_CHECK_SECONDS": "0.3",
    "ALERT_POLL_SECONDS": "0.1",
}


def alerts_config(config: Config) -> Config:
    return replace(
        config,
        alerts_allow_private_urls=True,
        alert_retry_seconds=TEST_RETRY_SECONDS,
        alert_send_timeout=TEST_SEND_TIMEOUT,
    )


@pytest.fixture(scope="session")
def alerts_app(config: Config) -> Iterator[Flask]:
    from tests.conftest import running_app

    with running_app(alerts_config(config)) as application:
        yield application


@pytest.fixture(scope="session")
def session_receiver() -> Iterator[Receiver]:
    with running_receiver() as receiver:
        yield receiver


@pytest.fixture
def receiver(session_receiver: Receiver) -> Receiver:
    session_receiver.expect(None)
    return session_receiver


@pytest.fixture
def alerts_db(db: psycopg.Connection) -> psycopg.Connection:
    """`db`, with no webhook, message, delivery or open condition left from another test."""
    db.execute(f"TRUNCATE {', '.join(ALERT_TABLES)} CASCADE")
    return db


class AlertsProcess:
    """`python -m personas.alerts` as the Procfile runs it, logging to artifacts/."""

    count = 0

    def __init__(self, env: dict[str, str]) -> None:
        AlertsProcess.count += 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / f"alerts-{AlertsProcess.count}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "personas.alerts"],
            cwd=ROOT,
            env={"PATH": "", **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: no chance to finish or record anything."""
        self.proc.kill()
        self.proc.wait()

    def terminate(self) -> None:
        """SIGTERM: it finishes a send in flight, then exits."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> int:
        self.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
        return self.proc.returncode


@pytest.fixture
def start_alerts(service_env: dict[str, str]) -> Iterator[Callable[..., AlertsProcess]]:
    """Starts `alerts` processes (with `env` over the test settings); all stopped afterwards."""
    started: list[AlertsProcess] = []

    def start(**env: str) -> AlertsProcess:
        process = AlertsProcess({**service_env, **ALERTS_ENV, **env})
        started.append(process)
        return process

    yield start
    for process in started:  # all told at once, then each waited for
        process.terminate()
    for process in started:
        process.stop()
