"""What a tick costs in model tokens: the catalog's ten personas, one tick each, with
prompt caching off and on, against its floor.

One throwaway stack (PostgreSQL, devauth, devmcp, devllm, which bills caching as the
Messages API does). Each catalog persona is registered in devauth and logged in; then
every persona's tick is driven by the Claude driver (in this process) twice: first with
RUNNER_PROMPT_CACHE=off, then on, each pass with an API key of its own (devllm's caches
are per key, so the "on" pass starts cold). The "off" pass runs first, so the "on" pass
meets a product with more items in it: its conversations are no shorter, and the ratio
errs against caching.

Per tick and in total: input, cache-write and cache-read tokens (from devllm's record of
every request, `GET /dev/requests`), output tokens, the cost at the runner's default
prices, and
- on ÷ off: the cost with caching over the cost without (goal ≤ 0.35);
- on ÷ floor: the cost with caching over the floor, what the same requests would cost if
  every block already sent earlier in the tick, and the tools, were read from the cache
  and only the new blocks written (goal ≤ 1.10).

    .venv/bin/python bench/tick_cost.py
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from bench.stack import Stack, bench, bench_args, section
from devstack.devllm_log import requests_sent
from devstack.postgres import free_port
from devstack.processes import Process, gunicorn_cmd
from persona_runner.auth_client import AuthClient
from persona_runner.claude import ClaudeDriver
from persona_runner.config import RunnerConfig
from persona_runner.models import Persona, Session, TickOutcome
from persona_runner.password import persona_password
from persona_runner.spaces import personal_space
from persona_runner.usage import MTOK, Prices
from scripts.catalog import load_catalog

SEED_SECRET = f"bench-{uuid.uuid4().hex}"
TIMEOUT = 10


@dataclass
class Tokens:
    input: int = 0
    write: int = 0
    read: int = 0
    output: int = 0
    requests: int = 0

    def cost(self, prices: Prices) -> float:
        return (
            self.input * prices.input
            + self.write * prices.cache_write
            + self.read * prices.cache_read
            + self.output * prices.output
        ) / MTOK

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(*(a + b for a, b in zip(self.fields(), other.fields(), strict=True)))

    def fields(self) -> tuple[int, ...]:
        return (self.input, self.write, self.read, self.output, self.requests)


def start_standins(stack: Stack, devauth: Process) -> tuple[Process, Process]:
    env = {"DATABASE_URL": stack.url, "MANA_AUTH_URL": devauth.url, "APP_ENV": "development"}
    devmcp = stack.start_process("devmcp", [sys.executable, "-m", "devmcp"], env, free_port())
    port = free_port()
    devllm = stack.start_process(
        "devllm", gunicorn_cmd("devllm.app:app", port, workers=1, threads=8), {"APP_ENV": "development"}, port
    )
    return devmcp, devllm


def catalog_sessions(config: RunnerConfig) -> list[tuple[Persona, str, str]]:
    """Each catalog persona registered in devauth: (persona, token, personal space id)."""
    auth = AuthClient(config)
    sessions = []
    try:
        for entry in load_catalog():
            password = persona_password(entry.email, config.seed_secret)
            requests.post(
                f"{config.auth_url}/api/v1/auth/register",
                json={"email": entry.email, "password": password, "name": entry.name},
                headers={"X-Service-Key": config.service_key},
                timeout=TIMEOUT,
            ).raise_for_status()
            login = auth.login(entry.email, password)
            persona = Persona(
                login.user_id, entry.email, entry.archetype, entry.systemPrompt, dict(entry.moduleMix)
            )
            sessions.append((persona, login.token, personal_space(auth.spaces(login.token)).id))
    finally:
        auth.close()
    return sessions


def drive_pass(config: RunnerConfig, sessions: list[tuple[Persona, str, str]]) -> list[dict]:
    """One tick per persona; devllm's record of every request the pass made."""
    driver = ClaudeDriver(config)
    for persona, token, space_id in sessions:
        session = Session(f"tick-cost-{uuid.uuid4().hex[:8]}", persona.user_id, space_id, token)
        outcome = TickOutcome()
        asyncio.run(driver.act(persona, session, outcome))
        print(
            f"  {persona.email:<34} {len(outcome.actions)} calls, {outcome.usage.requests} requests",
            flush=True,
        )
    return requests_sent(str(config.anthropic_base_url), config.anthropic_api_key, TIMEOUT)


def by_tick(sent: list[dict]) -> list[list[dict]]:
    """The pass's requests, one list per tick (a tick's requests share its system prompt)."""
    ticks: dict[str, list[dict]] = {}
    for request in sent:
        ticks.setdefault(request["system"], []).append(request)
    return list(ticks.values())


def billed(tick: list[dict]) -> Tokens:
    total = Tokens()
    for request in tick:
        u = request["usage"]
        total += Tokens(
            u["input_tokens"],
            u["cache_creation_input_tokens"],
            u["cache_read_input_tokens"],
            u["output_tokens"],
            1,
        )
    return total


def floor(tick: list[dict]) -> Tokens:
    """The same requests if every block sent earlier in the tick, and the tools, were read
    and only new blocks written (a block's digest covers everything before it too)."""
    seen: set[str] = set()
    total = Tokens()
    for request in tick:
        read = sum(
            tokens for digest, tokens, level in request["blocks"] if level == "tools" or digest in seen
        )
        written = sum(tokens for _, tokens, _ in request["blocks"]) - read
        total += Tokens(0, written, read, request["usage"]["output_tokens"], 1)
        seen.update(digest for digest, _, _ in request["blocks"])
    return total


def report(emails: list[str], off: list[list[dict]], on: list[list[dict]], prices: Prices) -> None:
    head = f"{'persona':<34} {'req':>3} {'input':>7} {'c.write':>8} {'c.read':>8} {'output':>6}"
    print(head + f" {'on $':>8} {'off $':>8} {'floor $':>8} {'on/off':>6} {'on/flr':>6}")
    totals = [Tokens(), Tokens(), Tokens()]
    for email, tick_off, tick_on in zip(emails, off, on, strict=True):
        row = (billed(tick_on), billed(tick_off), floor(tick_on))
        totals = [t + r for t, r in zip(totals, row, strict=True)]
        print_row(email, *row, prices)
    print_row("total", *totals, prices)
    t_on, t_off, t_floor = totals
    print(f"\noff: {t_off.input:,} input tokens in {t_off.requests} requests (no cache)")
    print(f"on ÷ off   {t_on.cost(prices) / t_off.cost(prices):.3f}   (goal ≤ 0.35)")
    print(f"on ÷ floor {t_on.cost(prices) / t_floor.cost(prices):.3f}   (goal ≤ 1.10)")


def print_row(label: str, on: Tokens, off: Tokens, flr: Tokens, prices: Prices) -> None:
    cost_on, cost_off, cost_floor = on.cost(prices), off.cost(prices), flr.cost(prices)
    print(
        f"{label:<34} {on.requests:>3} {on.input:>7,} {on.write:>8,} {on.read:>8,} {on.output:>6,}"
        f" {cost_on:>8.4f} {cost_off:>8.4f} {cost_floor:>8.4f}"
        f" {cost_on / cost_off:>6.3f} {cost_on / cost_floor:>6.3f}"
    )


def main() -> int:
    args = bench_args(__doc__, service=False)
    with bench("what a tick costs: prompt caching off and on, against its floor", args) as stack:
        devauth = stack.start_devauth()
        devmcp, devllm = start_standins(stack, devauth)
        config = RunnerConfig(
            auth_url=devauth.url,
            service_key=stack.service_key,
            seed_secret=SEED_SECRET,
            mcp_url=devmcp.url,
            anthropic_base_url=devllm.url,
            anthropic_api_key="unused",
        )
        sessions = catalog_sessions(config)
        passes = {}
        for mode in ("off", "on"):
            section(f"RUNNER_PROMPT_CACHE={mode}")
            key = f"tick-cost-{mode}-{uuid.uuid4().hex}"
            passes[mode] = by_tick(
                drive_pass(replace(config, anthropic_api_key=key, prompt_cache=mode == "on"), sessions)
            )
        section("per tick (the 'on' pass's tokens)")
        report([p.email for p, _, _ in sessions], passes["off"], passes["on"], config.prices)
    return 0


if __name__ == "__main__":
    sys.exit(main())
