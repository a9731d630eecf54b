"""What the runner service's tests arrange: personas made through the admin API (so they
are real mana-auth users with derived passwords), a pair's shared space made by the
partners themselves, the runner service as a subprocess, and waits on the database."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
import requests

from devstack.postgres import free_port
from devstack.processes import Process
from persona_runner.password import persona_password
from persona_runner.spaces import space_type
from tests.conftest import SERVICE_KEY
from tests.devauth.test_organizations import Person, accept, create, invite
from tests.support.processes import ARTIFACTS

SECRET = "runner-service-test-secret"
TIMEOUT = 10
MIX = {"todo": 0.5, "notes": 0.3, "calendar": 0.2}
T = TypeVar("T")


@dataclass(frozen=True)
class TestPersona:
    id: str
    email: str


def add_persona(live_api: Process, admin_token: str, name: str = "kate") -> TestPersona:
    email = f"{name}-{uuid.uuid4().hex[:10]}@mana.test"
    body = {
        "email": email,
        "password": persona_password(email, SECRET),
        "archetype": "nurse",
        "systemPrompt": f"You are {name.title()}, a busy nurse who plans her week on her phone.",
        "moduleMix": MIX,
        "tickCadence": "hourly",
    }
    answer = requests.post(
        f"{live_api.url}/api/v1/personas/admin",
        json=body,
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200, answer.text
    return TestPersona(answer.json()["userId"], email)


def as_person(devauth: Process, persona: TestPersona) -> Person:
    login = requests.post(
        f"{devauth.url}/api/v1/auth/login",
        json={"email": persona.email, "password": persona_password(persona.email, SECRET)},
        timeout=TIMEOUT,
    )
    login.raise_for_status()
    return Person(persona.id, persona.email, login.json()["token"])


def share_space(devauth: Process, owner: TestPersona, partner: TestPersona) -> str:
    """A family space the two make as a person would (create, invite, accept); its id."""
    first, second = as_person(devauth, owner), as_person(devauth, partner)
    space = create(devauth, first, "family").json()
    invitation = invite(devauth, first, space["id"], second.email).json()
    assert accept(devauth, second, invitation["id"]).status_code == 200
    return space["id"]


def personal_space(devauth: Process, persona: TestPersona) -> str:
    who = as_person(devauth, persona)
    listed = requests.get(
        f"{devauth.url}/api/auth/organization/list",
        headers={"Authorization": f"Bearer {who.token}"},
        timeout=TIMEOUT,
    ).json()
    return next(s["id"] for s in listed if space_type(s["metadata"]) == "personal")


def start_runner(
    name: str, api: Process, devauth: Process, devmcp: Process, devllm: Process, **env: str
) -> Process:
    """`python -m persona_runner serve` with the Claude driver on the stand-ins."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    settings = {
        "MANA_API_URL": api.url,
        "MANA_AUTH_URL": devauth.url,
        "MANA_MCP_URL": devmcp.url,
        "MANA_SERVICE_KEY": SERVICE_KEY,
        "PERSONA_SEED_SECRET": SECRET,
        "APP_ENV": "test",
        "RUNNER_ID": name,
        "ANTHROPIC_API_KEY": "dev-key",
        "ANTHROPIC_BASE_URL": devllm.url,
        "RUNNER_MODEL": "claude-dev",
        "RUNNER_TICK_INTERVAL_S": "0.3",
        **env,
    }
    cmd = [sys.executable, "-m", "persona_runner", "serve"]
    proc = Process(name, cmd, settings, port, log_path=ARTIFACTS / f"{name}.log")
    try:
        return proc.wait_ready()
    except BaseException:
        proc.stop()
        raise


def wait_for(what: str, check: Callable[[], T], timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"waited {timeout}s for {what}")


def ticks_of(db: psycopg.Connection, persona_id: str) -> list[dict[str, Any]]:
    """The persona's ticks, oldest first, with their action counts."""
    rows = db.execute(
        "SELECT t.tick_id, t.runner_id, t.state, t.step, t.error, t.driver, t.model, t.space_id,"
        " t.started_at, t.finished_at, t.input_tokens, t.output_tokens, t.cost_usd,"
        " t.cache_read_tokens, t.cache_write_tokens,"
        " (SELECT count(*) FROM personas.persona_actions a"
        "   WHERE a.persona_id = t.persona_id AND a.tick_id = t.tick_id) AS actions"
        " FROM personas.persona_ticks t WHERE t.persona_id = %s ORDER BY t.started_at",
        (persona_id,),
    )
    names = [c.name for c in rows.description]
    return [dict(zip(names, row, strict=True)) for row in rows.fetchall()]


def finished(db: psycopg.Connection, personas: list[TestPersona], count: int = 1) -> bool:
    return all(
        len([t for t in ticks_of(db, p.id) if t["finished_at"] is not None]) >= count for p in personas
    )


def running(db: psycopg.Connection, personas: list[TestPersona]) -> bool:
    return all(any(t["state"] == "running" for t in ticks_of(db, p.id)) for p in personas)


def leased(db: psycopg.Connection) -> list[str]:
    return [r[0] for r in db.execute("SELECT user_id FROM personas.personas WHERE lease_runner IS NOT NULL")]


def action_rows(db: psycopg.Connection, personas: list[TestPersona]) -> list[tuple]:
    """(tool, persona, space, is error) of every stored action, as devmcp logs its calls."""
    rows = db.execute(
        "SELECT a.tool_name, a.persona_id, t.space_id, a.result = 'error'"
        " FROM personas.persona_actions a"
        " JOIN personas.persona_ticks t ON t.persona_id = a.persona_id AND t.tick_id = a.tick_id"
        " WHERE a.persona_id = ANY(%s)",
        ([p.id for p in personas],),
    ).fetchall()
    return sorted(rows)


def served_calls(devmcp: Process, since: str, personas: list[TestPersona]) -> list[tuple]:
    ids = {p.id for p in personas}
    calls = requests.get(f"{devmcp.url}/dev/calls", params={"since": since}, timeout=TIMEOUT).json()["calls"]
    return sorted((c["tool"], c["userId"], c["spaceId"], c["isError"]) for c in calls if c["userId"] in ids)


def fault(process: Process, **body: Any) -> None:
    requests.post(f"{process.url}/dev/faults", json=body, timeout=TIMEOUT).raise_for_status()


def metric(text: str, name: str) -> float:
    """The value of one sample line (`name{labels}` exactly) of a Prometheus exposition."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"no sample {name}")
