"""Start the project's processes (gunicorn, the stand-in) and wait until they answer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


class Process:
    """A child process listening on `port`, ready once `health_path` answers 200."""

    def __init__(
        self,
        name: str,
        cmd: list[str],
        env: dict[str, str],
        port: int,
        health_path: str = "/health",
        log_path: Path | None = None,
    ) -> None:
        self.name = name
        self.cmd = cmd
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.health_path = health_path
        self.log_path = log_path
        self._log = open(log_path, "ab") if log_path else None  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**os.environ, **env, "PORT": str(port)},
            stdout=self._log or None,
            stderr=subprocess.STDOUT if self._log else None,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 30) -> Process:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if requests.get(self.url + self.health_path, timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not answer on {self.url}{self.health_path}")

    def stop(self, timeout: float = 10) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self._log:
            self._log.close()


WEB_APP = "app:app"


def gunicorn_cmd(app: str, port: int, workers: int = 2, threads: int = 4, timeout: int = 30) -> list[str]:
    """gunicorn as the Procfile runs it (from the repository root, so it reads gunicorn.conf.py).

    The web process runs on its gevent worker (web_worker.py), where `threads` means
    nothing; the other processes run gunicorn's threaded worker.
    """
    # fmt: off
    cmd = [
        sys.executable, "-m", "gunicorn", app,
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--timeout", str(timeout),
        "--no-control-socket",
    ]
    if app == WEB_APP:
        cmd += ["--worker-class", "web_worker.WebWorker", "--keep-alive", "5"]
    else:
        cmd += ["--threads", str(threads)]
    # fmt: on
    return cmd
