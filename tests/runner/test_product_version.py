"""The runner reads the product's serverInfo at the MCP handshake (the official SDK's
initialize result) and reports it on the tick, so ticks can be grouped by release."""

from __future__ import annotations

import requests

from persona_runner.claude import ClaudeDriver
from persona_runner.tick import TickResult
from tests.runner.test_claude_driver import TIMEOUT, config, new_persona  # noqa: F401 - config is a fixture
from tests.support.drivers import drive


def deploy(url: str, version: str) -> None:
    requests.post(f"{url}/dev/version", json={"version": version}, timeout=TIMEOUT).raise_for_status()


def test_the_tick_reports_the_version_the_product_answered_at_the_handshake(config):  # noqa: F811
    persona, session = new_persona(config)
    deploy(config.mcp_url, "3.1.0")
    try:
        outcome = drive(ClaudeDriver(config), persona, session)
    finally:
        deploy(config.mcp_url, "dev")
    assert outcome.product == {"name": "devmcp", "version": "3.1.0"}
    report = TickResult(persona, session.tick_id, outcome=outcome).report("runner-1")
    assert report["product"] == {"name": "devmcp", "version": "3.1.0"}


def test_a_tick_that_never_reached_the_product_reports_none():
    report = TickResult(None, "tick-1").report("runner-1")  # type: ignore[arg-type]
    assert "product" not in report
