"""`python -m persona_runner --once`: one tick over the due personas, then exit.

Exit status: 0 every persona ticked, 1 some failed, 2 no tick (bad configuration,
or the personas API could not be asked who is due).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from persona_runner.config import DRIVER_NAMES, RunnerConfig
from persona_runner.drivers import make_driver
from persona_runner.errors import ConfigError
from persona_runner.tick import EXIT_NO_TICK, run_once


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m persona_runner",
        description="Drive the due personas for one tick. Env: MANA_API_URL, MANA_AUTH_URL, "
        "MANA_SERVICE_KEY, PERSONA_SEED_SECRET (plus RUNNER_ID and RUNNER_* timeouts); the claude "
        "driver also MANA_MCP_URL, ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL and RUNNER_MODEL.",
    )
    parser.add_argument("--once", action="store_true", help="run one tick and exit (the only mode)")
    parser.add_argument(
        "--driver",
        choices=DRIVER_NAMES,
        help="who decides the actions (default: env RUNNER_DRIVER, else scripted)",
    )
    parser.add_argument(
        "--limit", type=int, default=50, help="at most this many personas (1..500, default 50)"
    )
    parser.add_argument(
        "--runner-id", help="this runner's name in leases (default: env RUNNER_ID, else host-pid)"
    )
    args = parser.parse_args(argv)
    if not args.once:
        parser.error("--once is required: this runner does one tick and exits (schedule it with cron)")
    if not 1 <= args.limit <= 500:
        parser.error("--limit must be between 1 and 500")
    if args.runner_id is not None and not 1 <= len(args.runner_id) <= 200:
        parser.error("--runner-id must be 1..200 characters")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = RunnerConfig.from_env()
    except ConfigError as exc:
        print(f"persona_runner: {exc}", file=sys.stderr)
        return EXIT_NO_TICK
    if args.runner_id:
        config = replace(config, runner_id=args.runner_id)
    try:
        driver = make_driver(args.driver or config.driver or "scripted", config)
    except ConfigError as exc:
        print(f"persona_runner: {exc}", file=sys.stderr)
        return EXIT_NO_TICK
    return run_once(config, driver, limit=args.limit)


if __name__ == "__main__":
    sys.exit(main())
