"""The whole local stack in one command, until Ctrl-C: PostgreSQL, migrations, the
mana-auth stand-in, the personas API, the product (devmcp) and model (devllm) stand-ins,
the catalog seeded, every persona asked to run now, and the runner service driving them
with the Claude driver (against devllm, or Claude itself with --llm=anthropic), or with
the OpenAI driver through devllm's Chat Completions face (--llm=openai).

`python -m devstack` (the README's first command runs it through scripts/dev.sh).
With DATABASE_URL set it uses that database instead of starting its own.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import requests

from devstack.first_tick import FirstTickLink
from devstack.postgres import LocalPostgres, PostgresUnavailable, create_database
from devstack.processes import ROOT, Process, gunicorn_cmd
from devstack.release_demo import BROKEN_MODULE, FIRST_VERSION, NEW_VERSION, ReleaseDemo
from devstack.run_now import run_everyone_now

LOG_DIR = ROOT / ".local"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devstack", description="Run the personas service locally with everything it needs."
    )
    parser.add_argument("--port", type=int, default=3060, help="port of the personas API (default 3060)")
    parser.add_argument(
        "--auth-port", type=int, default=3001, help="port of the mana-auth stand-in (default 3001)"
    )
    parser.add_argument(
        "--mcp-port", type=int, default=3069, help="port of the product stand-in (default 3069)"
    )
    parser.add_argument(
        "--llm-port", type=int, default=3080, help="port of the model stand-in (default 3080)"
    )
    parser.add_argument(
        "--runner-port", type=int, default=3070, help="port of the runner service (default 3070)"
    )
    parser.add_argument(
        "--llm",
        choices=("devllm", "openai", "anthropic"),
        default="devllm",
        help="the model: the local stand-in (default: its Messages face, the Claude driver), the "
        "stand-in's Chat Completions face (openai: the OpenAI driver), or Claude itself (anthropic: "
        "needs ANTHROPIC_API_KEY)",
    )
    parser.add_argument(
        "--receiver-port", type=int, default=3075, help="port of the local alerts receiver (default 3075)"
    )
    parser.add_argument("--no-seed", action="store_true", help="do not seed the persona catalog")
    parser.add_argument("--no-runner", action="store_true", help="start no runner service")
    parser.add_argument(
        "--no-release",
        action="store_true",
        help=f"do not deploy devmcp {NEW_VERSION} with {BROKEN_MODULE} failing part way (devllm only)",
    )
    args = parser.parse_args()
    if args.llm == "anthropic" and not os.environ.get("ANTHROPIC_API_KEY"):
        parser.error("--llm=anthropic needs ANTHROPIC_API_KEY in the environment")
    return args


def start_database(cleanup: list[Callable[[], None]]) -> str:
    if os.environ.get("DATABASE_URL"):
        print("database   using DATABASE_URL")
        return os.environ["DATABASE_URL"]
    server = LocalPostgres()
    server.start()
    cleanup.append(server.destroy)
    print(f"database   local PostgreSQL on 127.0.0.1:{server.port} (throwaway, removed on exit)")
    return create_database(server.url, "personas")


def start(name: str, app: str, port: int, env: dict[str, str], cleanup: list) -> Process:
    proc = Process(
        name, gunicorn_cmd(app, port, workers=2, threads=4), env, port, log_path=LOG_DIR / f"{name}.log"
    )
    cleanup.append(proc.stop)
    return proc.wait_ready()


def seed(api: Process, token: str, env: dict[str, str]) -> None:
    cmd = [sys.executable, "scripts/seed.py", f"--api={api.url}", f"--jwt={token}"]
    result = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **env}, check=False)
    if result.returncode != 0:
        raise RuntimeError("seeding the catalog failed (see above)")


def start_product_and_model(args: argparse.Namespace, env: dict[str, str], cleanup: list) -> dict[str, str]:
    """devmcp, and devllm unless Claude itself drives; what the runner needs to reach them
    (the Claude driver devllm's Messages face, the OpenAI driver its Chat Completions face)."""
    devmcp_env = {**env, "DEVMCP_VERSION": FIRST_VERSION}
    devmcp = Process(
        "devmcp", [sys.executable, "-m", "devmcp"], devmcp_env, args.mcp_port, log_path=LOG_DIR / "devmcp.log"
    )
    cleanup.append(devmcp.stop)
    devmcp.wait_ready()
    reach = {"MANA_MCP_URL": devmcp.url}
    if args.llm != "anthropic":
        devllm = Process(
            "devllm",
            gunicorn_cmd("devllm.app:app", args.llm_port, workers=1, threads=8),
            env,
            args.llm_port,
            log_path=LOG_DIR / "devllm.log",
        )
        cleanup.append(devllm.stop)
        devllm.wait_ready()
        # Any key will do for the stand-in; the SDKs insist on one.
        if args.llm == "openai":
            reach |= {
                "OPENAI_BASE_URL": f"{devllm.url}/v1",
                "OPENAI_API_KEY": "devllm-local-key",
                "RUNNER_MODEL": "devllm-open",
            }
        else:
            reach |= {"ANTHROPIC_BASE_URL": devllm.url, "ANTHROPIC_API_KEY": "devllm-local-key"}
    return reach


def start_runner(args: argparse.Namespace, env: dict[str, str], cleanup: list) -> Process:
    """The runner service, claiming every few seconds so the dashboard fills within a minute."""
    runner_env = {
        **env,
        "RUNNER_DRIVER": "openai" if args.llm == "openai" else "claude",
        "RUNNER_ID": "devstack-runner",
        "PERSONA_CONCURRENCY": "4",
        "RUNNER_TICK_INTERVAL_S": "5",
    }
    runner = Process(
        "runner",
        [sys.executable, "-m", "persona_runner", "serve"],
        runner_env,
        args.runner_port,
        log_path=LOG_DIR / "runner.log",
    )
    cleanup.append(runner.stop)
    return runner.wait_ready()


def start_alerts(
    args: argparse.Namespace, web: Process, token: str, env: dict[str, str], cleanup: list
) -> list[Process]:
    """A local receiver registered as a webhook for every event, and the `alerts` process
    that looks for conditions and sends to it."""
    receiver_url = f"http://127.0.0.1:{args.receiver_port}/alerts"
    answer = requests.post(
        f"{web.url}/api/v1/personas/admin/webhooks",
        json={"url": receiver_url, "description": "the local stack's receiver"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    answer.raise_for_status()
    receiver = Process(
        "alerts-receiver",
        [sys.executable, "-m", "devstack.alerts_receiver", "--log", str(LOG_DIR / "alerts-received.log")],
        {**env, "ALERTS_RECEIVER_SECRET": answer.json()["secret"]},
        args.receiver_port,
        log_path=LOG_DIR / "alerts-receiver.log",
    )
    cleanup.append(receiver.stop)
    receiver.wait_ready()
    # It serves no HTTP: up once started, and watched like the others. Its PORT (which
    # Config reads for the web process) is the API's, so the setting stays valid.
    alerts = Process(
        "alerts", [sys.executable, "-m", "personas.alerts"], env, args.port, log_path=LOG_DIR / "alerts.log"
    )
    cleanup.append(alerts.stop)
    return [receiver, alerts]


def describe_loop(
    args: argparse.Namespace, env: dict[str, str], auth: str, api: str, key: str, token: str
) -> str:
    mcp = env["MANA_MCP_URL"]
    model = env.get("OPENAI_BASE_URL") or env.get("ANTHROPIC_BASE_URL", "Anthropic (Claude itself)")
    lines = [
        f"product (MCP)    {mcp}/mcp     (development stand-in; log: .local/devmcp.log)",
        f"model            {model}     (log: .local/devllm.log)",
    ]
    if not args.no_runner:
        lines += [
            f"runner           http://127.0.0.1:{args.runner_port}/health   (log: .local/runner.log)",
            "",
            "every persona was asked to run now: within a minute the dashboard shows their ticks,",
            "tool calls, ratings and spend. Make a module fail in the product and watch its",
            "ratings and error rate move (then ask the personas to run again from the dashboard",
            "or with run-now):",
            f"  curl -X POST {mcp}/dev/faults -H 'Content-Type: application/json' \\",
            """    -d '{"tool": "todo.*", "errorRate": 1, "times": 1000}'""",
            f"  curl -X DELETE {mcp}/dev/faults      # the product recovers",
            "",
            "",
            "alerts go to a local receiver that checks their signatures: with the fault above, ask",
            "every persona to run again once or twice; a tool.failing alert arrives within 10 s of",
            "the tenth call of one tool in the hour (half of them failed):",
            f"  .venv/bin/python -m devstack.run_now --api {api} --jwt {token}",
            "  tail -f .local/alerts-received.log",
        ]
    if release_demo(args):
        lines += [
            "",
            f"a release, part way: the personas tick three rounds against product {FIRST_VERSION}, then",
            f"devmcp deploys {NEW_VERSION} with every {BROKEN_MODULE} tool failing, and three rounds more;",
            "within a few minutes the dashboard's 'Since the last release' panel shows",
            f"{BROKEN_MODULE} and its tools worse, and a release.worse alert reaches the receiver",
            "(lines starting 'release' below say when). Deploy",
            "a version yourself (new sessions answer it at the MCP handshake; --no-release skips this):",
            f"  curl -X POST {mcp}/dev/version -H 'Content-Type: application/json' \\",
            """    -d '{"version": "1.2.0"}'""",
        ]
    lines += [
        "",
        "the same stack driven by Claude itself, or by the OpenAI driver (Chat Completions):",
        "  ANTHROPIC_API_KEY=<your key> bash scripts/dev.sh --llm=anthropic",
        "  bash scripts/dev.sh --llm=openai",
        "",
        "one scripted pass over the due personas, as a minimal runner would:",
        f"  MANA_API_URL={api} MANA_AUTH_URL={auth} MANA_SERVICE_KEY={key} \\",
        "    .venv/bin/python -m persona_runner --once",
    ]
    return "\n".join(lines) + "\n"


def release_demo(args: argparse.Namespace) -> bool:
    """Whether to stage a release part way: only with the runner, and never on Claude's bill."""
    return not (args.no_runner or args.no_seed or args.no_release) and args.llm != "anthropic"


def main() -> int:
    args = parse_args()
    LOG_DIR.mkdir(exist_ok=True)
    cleanup: list[Callable[[], None]] = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        database_url = start_database(cleanup)
        from personas.migrate import apply

        print(f"migrations {len(apply(database_url))} applied")
        service_key = os.environ.get("MANA_SERVICE_KEY") or f"dev-{secrets.token_urlsafe(18)}"
        auth_url = f"http://127.0.0.1:{args.auth_port}"
        env = {
            "DATABASE_URL": database_url,
            "MANA_SERVICE_KEY": service_key,
            "APP_ENV": "development",
            # The local receiver is on 127.0.0.1; alerts look for conditions every 10 s.
            "ALERTS_ALLOW_PRIVATE_URLS": "true",
            "ALERT_CHECK_SECONDS": "10",
            "MANA_AUTH_URL": auth_url,
            "MANA_API_URL": f"http://127.0.0.1:{args.port}",
        }
        devauth = start("devauth", "devauth.app:app", args.auth_port, env, cleanup)
        web = start("web", "app:app", args.port, env, cleanup)
        env |= start_product_and_model(args, env, cleanup)
        token = requests.post(
            f"{devauth.url}/dev/token", json={"role": "admin", "expiresIn": 86400}, timeout=10
        ).json()["token"]
        if not args.no_seed:
            seed(web, token, env)
        running = [web, devauth, *start_alerts(args, web, token, env, cleanup)]
        if not args.no_runner:
            print(f"run now    {run_everyone_now(web.url, token)} personas asked to run at once")
            running.append(start_runner(args, env, cleanup))
        if release_demo(args):
            ReleaseDemo(web.url, env["MANA_MCP_URL"], token).start()
        print(
            f"""
personas API     {web.url}          (log: .local/web.log)
mana-auth        {devauth.url}          (development stand-in; log: .local/devauth.log)
dashboard        {web.url}/dashboard#token={token}
service key      {service_key}
admin token      {token}
                 (valid 24 h; a new one: curl -X POST {devauth.url}/dev/token -d '{{"role":"admin"}}' \\
                  -H 'Content-Type: application/json')

{describe_loop(args, env, devauth.url, web.url, service_key, token)}
Running; Ctrl-C stops everything started here.""",
            flush=True,
        )
        first_tick = FirstTickLink(web.url, token)
        while all(p.proc.poll() is None for p in running):
            if not args.no_runner:
                first_tick.poll()
            time.sleep(1)
        print("a process exited; stopping", file=sys.stderr)
        return 1
    except (PostgresUnavailable, RuntimeError, TimeoutError, requests.RequestException) as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    finally:
        for stop in reversed(cleanup):
            stop()
        print("stopped")


if __name__ == "__main__":
    sys.exit(main())
