"""The project's processes started for a test, each logging to artifacts/<name>.log and
stopped when the test (or session) is done with it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import requests

from devstack.postgres import free_port
from devstack.processes import ROOT, Process, gunicorn_cmd

# One folder per pytest-xdist worker (gw0, gw1, ...), so parallel workers never write or
# read each other's logs; without xdist, artifacts/ itself.
ARTIFACTS = ROOT / "artifacts" / os.environ.get("PYTEST_XDIST_WORKER", "")


@contextmanager
def running(
    name: str, command: Callable[[int], list[str]], env: dict[str, str], port: int | None = None
) -> Iterator[Process]:
    """`command(port)` started with `env`, once its health check answers; stopped on leaving."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    proc = Process(name, command(port), env, port, log_path=ARTIFACTS / f"{name}.log")
    try:
        yield proc.wait_ready()
    finally:
        proc.stop()


@contextmanager
def running_gunicorn(
    name: str,
    app: str,
    env: dict[str, str],
    *,
    workers: int = 2,
    threads: int = 8,
    timeout: int = 30,
    options: tuple[str, ...] = (),
    port: int | None = None,
) -> Iterator[Process]:
    """`app` under gunicorn, as the Procfile runs it, with gunicorn's extra `options`."""

    def command(port: int) -> list[str]:
        return [*gunicorn_cmd(app, port, workers=workers, threads=threads, timeout=timeout), *options]

    with running(name, command, env, port) as proc:
        yield proc


@contextmanager
def running_web(
    name: str, env: dict[str, str], workers: int = 2, threads: int = 8, timeout: int = 30
) -> Iterator[Process]:
    """The service under gunicorn, as the Procfile runs it."""
    with running_gunicorn(name, "app:app", env, workers=workers, threads=threads, timeout=timeout) as proc:
        yield proc


def clear_faults(proc: Process) -> None:
    """DELETE /dev/faults: a stand-in answers normally again."""
    requests.delete(f"{proc.url}/dev/faults", timeout=10).raise_for_status()


def without_faults(proc: Process) -> Iterator[Process]:
    """A stand-in with no faults registered, and none left behind: a fixture's body
    (`yield from without_faults(stand_in)`)."""
    clear_faults(proc)
    yield proc
    clear_faults(proc)
