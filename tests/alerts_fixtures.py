"""Fixtures for the alerts: the app allowed to send to loopback receivers (with a short
retry schedule and send timeout), a receiver that verifies signatures, and empty alert
tables for each test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest
from flask import Flask

from config import Config
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
