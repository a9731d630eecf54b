"""Print a persona's password, for an operator who needs to log in as it.

    python scripts/password.py EMAIL [EMAIL ...]

The recipe lives in the runner package (persona_runner.password); this is only a door
to it. The secret is PERSONA_SEED_SECRET, or the development one outside production.
"""

from __future__ import annotations

import argparse
import sys

import repo_root  # noqa: F401  (first: puts the repository root on the path)

from persona_runner.config import seed_secret_from_env
from persona_runner.errors import RunnerConfigError
from persona_runner.password import persona_password

PROG = "password"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Print each persona's password (derived from PERSONA_SEED_SECRET), one per line.",
        epilog="Exit status: 0 printed, 2 refused (bad email or no secret in production).",
    )
    parser.add_argument("emails", nargs="+", metavar="EMAIL", help="the persona's email, exactly as seeded")
    args = parser.parse_args(argv)
    try:
        secret = seed_secret_from_env()
    except RunnerConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    for email in args.emails:
        if email != email.strip() or "@" not in email:
            parser.error(f"not an email address: {email!r}")
    if len(args.emails) == 1:
        print(persona_password(args.emails[0], secret))
    else:
        for email in args.emails:
            print(f"{email}  {persona_password(email, secret)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
