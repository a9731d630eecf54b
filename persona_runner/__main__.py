"""`python -m persona_runner --once`: one tick over the due personas, then exit;
`python -m persona_runner serve`: the runner service, until SIGTERM;
`python -m persona_runner replay FILE...`: send again what ticks logged as unposted.

Exit status of --once: 0 every persona ticked, 1 some failed, 2 no tick (bad
configuration, or the personas API could not be asked who is due). `serve` exits 0 after
SIGTERM once its ticks are reported, 2 on bad configuration. `replay` exits 0 when every
record was accepted, 1 when some failed, 2 on bad configuration.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from persona_runner.config import DRIVER_NAMES, RunnerConfig
from persona_runner.drivers import make_driver, make_fallback
from persona_runner.errors import RunnerConfigError
from persona_runner.once import EXIT_NO_TICK, run_once


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m persona_runner",
        description="Drive the due personas for one tick. Env: MANA_API_URL, MANA_AUTH_URL, "
        "MANA_SERVICE_KEY, PERSONA_SEED_SECRET (plus RUNNER_ID and RUNNER_* timeouts); the claude "
        "driver also MANA_MCP_URL, ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL and RUNNER_MODEL; the openai "
        "driver OPENAI_API_KEY and OPENAI_BASE_URL instead of the ANTHROPIC ones.",
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=["serve", "replay"],
        help="serve: claim and drive personas until stopped; replay FILE...: send again the "
        "posts the runner logged as unposted (FILE - reads stdin)",
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="replay: the runner's logs")
    parser.add_argument("--once", action="store_true", help="run one tick over the due personas and exit")
    parser.add_argument(
        "--driver",
        choices=DRIVER_NAMES,
        help="who decides the actions (default: env RUNNER_DRIVER, else claude for serve, "
        "scripted for --once)",
    )
    parser.add_argument(
        "--limit", type=int, default=50, help="at most this many personas (1..500, default 50)"
    )
    parser.add_argument(
        "--runner-id", help="this runner's name in leases (default: env RUNNER_ID, else host-pid)"
    )
    args = parser.parse_args(argv)
    if args.command == "replay":
        if not args.files:
            parser.error("replay needs the log files to read (- for stdin)")
        return args
    if args.files:
        parser.error("only replay takes files")
    if args.once == (args.command == "serve"):
        parser.error("say either serve (the runner service) or --once (one pass, then exit)")
    if not 1 <= args.limit <= 500:
        parser.error("--limit must be between 1 and 500")
    if args.runner_id is not None and not 1 <= len(args.runner_id) <= 200:
        parser.error("--runner-id must be 1..200 characters")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = RunnerConfig.from_env(driver=args.driver if args.command != "replay" else None)
    except RunnerConfigError as exc:
        print(f"persona_runner: {exc}", file=sys.stderr)
        return EXIT_NO_TICK
    if args.command == "replay":
        from persona_runner.unposted import replay

        return replay(config, args.files)
    if args.runner_id:
        config = replace(config, runner_id=args.runner_id)
    default_driver = "claude" if args.command == "serve" else "scripted"
    try:
        driver = make_driver(config.driver or default_driver, config)
        fallback = make_fallback(config) if args.command == "serve" else None
    except RunnerConfigError as exc:
        print(f"persona_runner: {exc}", file=sys.stderr)
        return EXIT_NO_TICK
    if args.command == "serve":
        from persona_runner.service import serve

        return serve(config, driver, fallback)
    return run_once(config, driver, limit=args.limit)


if __name__ == "__main__":
    sys.exit(main())
