"""What a new user runs, checked before the tests: the README's first command on a fresh
copy of the checkout, with nothing but what it installs itself (its venv from
requirements.txt alone). The stack must come up, personas must tick through the product
within two minutes, and SIGTERM must leave no process and no port behind.

`python3 .ci/smoke.py` (standard library only: it runs before any venv exists).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORTS = {"personas API": 3060, "mana-auth stand-in": 3001, "devmcp": 3069, "devllm": 3080, "runner": 3070}
PROCFILE_WEB_PORT = 3098
UP_WITHIN_S = 300  # the first run makes the venv and installs requirements.txt
TICKS_WITHIN_S = 120
STOP_WITHIN_S = 60


class SmokeFailed(Exception):
    pass


def get_json(url: str, token: str | None = None) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def answers(url: str) -> bool:
    try:
        get_json(url)
        return True
    except (OSError, ValueError):
        return False


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def wait_for(what: str, check, within: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + within
    while not check():
        if process.poll() is not None:
            raise SmokeFailed(f"it exited ({process.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise SmokeFailed(f"{what}: not within {within:.0f} s")
        time.sleep(1)


def admin_token(log: Path) -> str:
    match = re.search(r"^admin token\s+(\S+)", log.read_text(), re.MULTILINE)
    if not match:
        raise SmokeFailed("the first command printed no admin token")
    return match.group(1)


def ticked_through_product(token: str) -> bool:
    """An ok tick on record and tool calls the product served, as the API's insights show."""
    try:
        insights = get_json("http://127.0.0.1:3060/api/v1/personas/admin/insights?weeks=1", token)
        calls = get_json("http://127.0.0.1:3069/dev/calls")["calls"]
    except (OSError, ValueError):
        return False
    ok_ticks = sum(day.get("ok", 0) for day in insights["runs"]["daily"])
    audited = sum(tool["calls"] for tool in insights["tools"])
    return ok_ticks > 0 and audited > 0 and len(calls) > 0


def procfile(copy: Path) -> dict[str, str]:
    lines = (copy / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if ": " in line)


def boots_as_deployed(copy: Path, printed: str, database_port: int) -> None:
    """The Procfile's `release` and `web` lines as a platform runs them (a shell, $PORT,
    the install's bin first on PATH), against the stack's database and mana-auth."""
    key = re.search(r"^service key\s+(\S+)", printed, re.MULTILINE)
    if not key:
        raise SmokeFailed("the first command printed no service key")
    env = {
        **os.environ,
        "PATH": f"{copy / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{database_port}/personas",
        "MANA_SERVICE_KEY": key.group(1),
        "MANA_AUTH_URL": "http://127.0.0.1:3001",
        "APP_ENV": "development",
        "PORT": str(PROCFILE_WEB_PORT),
    }
    processes = procfile(copy)
    release = subprocess.run(
        ["bash", "-c", processes["release"]],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if release.returncode != 0:
        raise SmokeFailed(f"the Procfile's release failed: {release.stderr[-2000:]}")
    with open(copy / "procfile-web.log", "wb") as out:
        web = subprocess.Popen(
            ["bash", "-c", f"exec {processes['web']}"],
            cwd=copy,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        ready = f"http://127.0.0.1:{PROCFILE_WEB_PORT}/ready"
        wait_for("the Procfile's web answering /ready", lambda: answers(ready), 60, web)
    except SmokeFailed:
        sys.stdout.write((copy / "procfile-web.log").read_text()[-4000:])
        raise
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(30)


def processes_under(folder: Path) -> list[str]:
    """Processes still running from the copy (by working directory or command line)."""
    left = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(str(folder)) or str(folder) in cmdline:
            left.append(f"{proc.name}: {cmdline.strip()[:120]}")
    return left


def smoke(copy: Path) -> None:
    log = copy / "first-command.log"
    ports = dict(PORTS)
    started = time.monotonic()
    with open(log, "wb") as out:
        stack = subprocess.Popen(
            ["bash", "scripts/dev.sh"],
            cwd=copy,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        for name, port in ports.items():
            wait_for(
                f"{name} answering /health",
                lambda p=port: answers(f"http://127.0.0.1:{p}/health"),
                UP_WITHIN_S - (time.monotonic() - started),
                stack,
            )
        wait_for("the admin token printed", lambda: "Running;" in log.read_text(), 60, stack)
        up = time.monotonic()
        print(f"smoke: stack up in {up - started:.0f} s")
        token = admin_token(log)
        database = re.search(r"local PostgreSQL on 127\.0\.0\.1:(\d+)", log.read_text())
        if not database:
            raise SmokeFailed("the first command printed no throwaway PostgreSQL")
        ports["throwaway PostgreSQL"] = int(database.group(1))  # it must go with the rest
        wait_for(
            "personas ticking through the product",
            lambda: ticked_through_product(token),
            TICKS_WITHIN_S,
            stack,
        )
        print(f"smoke: personas ticked through the product {time.monotonic() - up:.0f} s after start-up")
        check = subprocess.run(
            [str(copy / ".venv" / "bin" / "python"), "-m", "pip", "check"],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            raise SmokeFailed(f"pip check in the install from requirements.txt alone: {check.stdout}")
        boots_as_deployed(copy, log.read_text(), ports["throwaway PostgreSQL"])
        print("smoke: pip check is clean; the Procfile's release and web run from the same install")
    except SmokeFailed:
        sys.stdout.write(log.read_text()[-4000:])
        raise
    finally:
        if stack.poll() is None:
            stack.send_signal(signal.SIGTERM)
        try:
            stack.wait(STOP_WITHIN_S)
        except subprocess.TimeoutExpired:
            stack.kill()
            raise SmokeFailed(f"the stack did not stop within {STOP_WITHIN_S} s of SIGTERM") from None
    deadline = time.monotonic() + 10
    while (left := processes_under(copy)) or not all(map(port_free, ports.values())):
        if time.monotonic() > deadline:
            busy = [f"{name} :{port}" for name, port in ports.items() if not port_free(port)]
            raise SmokeFailed(f"after SIGTERM: processes left {left}, ports still open {busy}")
        time.sleep(0.5)
    print(f"smoke: stopped cleanly; {time.monotonic() - started:.0f} s in all")


def main() -> int:
    busy = [port for port in (*PORTS.values(), PROCFILE_WEB_PORT) if not port_free(port)]
    if busy:
        print(f"smoke: ports {busy} are taken; stop whatever holds them first", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="personas-smoke-") as folder:
        copy = Path(folder) / "checkout"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(copy)], check=True)
        try:
            smoke(copy)
        except SmokeFailed as exc:
            print(f"smoke: FAILED: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
