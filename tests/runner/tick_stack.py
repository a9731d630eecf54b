"""One persona's tick driven in this process, as `serve` drives it, against the real
processes: the live API, the mana-auth stand-in, devmcp (the product) and devllm (the
model) with the Claude driver; and what the admin API then says of the tick."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import requests

from devstack.processes import Process
from persona_runner.auth_client import AuthClient
from persona_runner.claude import ClaudeDriver
from persona_runner.config import RunnerConfig
from persona_runner.internal_client import InternalClient
from persona_runner.models import Persona
from persona_runner.tick import Tick, TickResult
from tests.conftest import SERVICE_KEY
from tests.runner.service_stack import MIX, SECRET, TIMEOUT, TestPersona


def stand_in_config(api: Process, devauth: Process, devmcp: Process, devllm: Process) -> RunnerConfig:
    """The runner's settings for the stand-ins (the Claude driver on devllm)."""
    return RunnerConfig(
        api_url=api.url,
        auth_url=devauth.url,
        service_key=SERVICE_KEY,
        seed_secret=SECRET,
        runner_id="runner-in-process",
        mcp_url=devmcp.url,
        anthropic_api_key="dev-key",
        anthropic_base_url=devllm.url,
        model="claude-dev",
    )


def drive(config: RunnerConfig, persona: TestPersona, **changes: Any) -> TickResult:
    """The persona's tick, unleased, with `config` changed by `changes`."""
    config = replace(config, **changes)
    internal, auth = InternalClient(config), AuthClient(config)
    try:
        due = Persona(persona.id, persona.email, "nurse", "You are a busy nurse.", MIX)
        return Tick(config, ClaudeDriver(config), internal, auth).drive(due)
    finally:
        internal.close()
        auth.close()


def tick_detail(api: Process, admin_token: str, persona: TestPersona, tick_id: str) -> dict[str, Any]:
    answer = requests.get(
        f"{api.url}/api/v1/personas/admin/{persona.id}/ticks/{tick_id}",
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def served(devmcp_url: str, since: str, persona: TestPersona) -> list[dict[str, Any]]:
    """devmcp's log of the calls it served the persona, oldest first."""
    answer = requests.get(f"{devmcp_url}/dev/calls", params={"since": since}, timeout=TIMEOUT)
    answer.raise_for_status()
    return [c for c in answer.json()["calls"] if c["userId"] == persona.id]
