"""The flags seed.py and cleanup.py share (--api, --auth, --jwt, --dry-run, --catalog),
and the exit statuses every operator script keeps."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from apibase.client_errors import AuthError, NetworkError
from scripts.admin_api import PREFIX
from scripts.catalog import DEFAULT_PATH

DEFAULT_API_URL = "http://localhost:3060"

EXIT_OK = 0
EXIT_FAILED = 1  # it ran, and something failed: a persona, the server, or the token
EXIT_CANNOT_START = 2  # nothing was sent: bad flags, catalog or secret (argparse uses 2 too)


@dataclass(frozen=True)
class AdminTarget:
    api_url: str
    jwt: str
    dry_run: bool
    catalog: Path


def admin_parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog="Exit status: 0 all done, 1 something failed, 2 nothing was sent (bad input).",
    )
    parser.add_argument(
        "--api",
        metavar="URL",
        help=f"the personas API (default: env MANA_API_URL, else {DEFAULT_API_URL})",
    )
    parser.add_argument("--auth", metavar="URL", help="deprecated alias of --api")
    parser.add_argument(
        "--jwt",
        metavar="TOKEN",
        default=os.environ.get("MANA_ADMIN_JWT", ""),
        help="an admin JWT from mana-auth (default: env MANA_ADMIN_JWT)",
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would be done, send nothing")
    parser.add_argument(
        "--catalog", metavar="PATH", type=Path, default=DEFAULT_PATH, help="the persona catalog (JSON)"
    )
    return parser


def admin_target(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> AdminTarget:
    return target_from_args(parser, parser.parse_args(argv))


def target_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> AdminTarget:
    """The shared flags, checked; --auth (the old name, from when it pointed at mana-auth) still works."""
    api_url = args.api
    if args.auth:
        if args.api:
            note = "--auth is deprecated and ignored because --api is given"
        else:
            note = "--auth is deprecated; use --api (it names the personas API)"
            api_url = args.auth
        print(f"{parser.prog}: note: {note}", file=sys.stderr)
    api_url = (api_url or os.environ.get("MANA_API_URL", "").strip() or DEFAULT_API_URL).rstrip("/")
    check_http_url(parser, "--api", api_url)
    if not args.dry_run and not args.jwt:
        print(
            f"{parser.prog}: no admin token: pass --jwt=TOKEN or set MANA_ADMIN_JWT (or use --dry-run)",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_CANNOT_START)
    return AdminTarget(api_url=api_url, jwt=args.jwt, dry_run=args.dry_run, catalog=args.catalog)


def check_http_url(parser: argparse.ArgumentParser, flag: str, url: str) -> None:
    if not url.startswith(("http://", "https://")):
        parser.error(f"{flag} must be an http(s) URL, got {url!r}")


def stop_message(api_url: str, exc: NetworkError | AuthError) -> str:
    """Why a script stopped early: the server is not there, or it refused the token."""
    if isinstance(exc, AuthError):
        return f"the personas API refused the admin token ({exc.detail}); pass an admin JWT with --jwt"
    return f"cannot reach the personas API at {api_url}{PREFIX} ({exc.reason}); is it running?"
