"""What the development stand-ins (devauth, devmcp, devllm) do alike: each refuses to run
with APP_ENV=production, so a deployment pointed at one by mistake fails at boot, says
loudly in its log what it is, and (those with a database) creates its own schema at start."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from apibase.env import ConfigError, Env


class ProductionRefused(ConfigError):
    """A development-only program was asked to run with APP_ENV=production."""


@dataclass(frozen=True)
class StandIn:
    name: str  # the program, e.g. "devauth"
    stands_in_for: str  # e.g. "mana-auth"
    instead: str  # what a production deployment should do instead
    danger: str  # why it must never face the world

    @property
    def what(self) -> str:
        return f"{self.name} is a DEVELOPMENT STAND-IN for {self.stands_in_for}"

    def refuse_production(self, app_env: str) -> None:
        if app_env == "production":
            raise ProductionRefused(
                f"{self.what} and refuses to start with APP_ENV=production; {self.instead}."
            )

    def env(self, values: Mapping[str, str] | None = None) -> Env:
        """The environment (the process's unless given), refused first in production."""
        env = Env(os.environ if values is None else values)
        self.refuse_production(env.app_env)
        return env

    def start(self, log: logging.Logger, app_env: str) -> None:
        """The app factory's first step: refused in production again (a config built in
        code never went through `env`), logging set up, the banner logged."""
        self.refuse_production(app_env)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
        banner = f"{self.what}: for local runs and tests only, NEVER for production ({self.danger})."
        log.warning("*" * 20 + " %s " + "*" * 20, banner)

    def create_schema(
        self,
        url: str,
        schema_file: Path,
        connect: dict[str, Any],
        after: Callable[[psycopg.Connection], None] = lambda conn: None,
    ) -> None:
        """Its own schema, named after it, and the tables of `schema_file`, created
        idempotently at every start, then `after` run in the same transaction. Each worker
        does this at boot: concurrent starts take turns under an advisory lock, because two
        concurrent `CREATE ... IF NOT EXISTS` of one object can still collide."""
        with psycopg.connect(url, **connect) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{self.name}.schema",))
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.name)))
            conn.execute(schema_file.read_text())
            after(conn)
