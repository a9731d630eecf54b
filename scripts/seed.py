"""Create or update every catalog persona through the personas API's admin route, then
make each catalog pair's shared space in mana-auth as the two personas themselves.

    python scripts/seed.py [--api=URL] [--jwt=TOKEN] [--mana-auth=URL] [--no-spaces]
                           [--dry-run] [--catalog PATH]

One line per persona (created, updated or failed, with the server's reason), one per
pair space (created, joined, exists or failed), then a summary. Warnings about the
catalog (a short prompt, a field it does not know) go to standard error, one line each,
and stop nothing. Exit 0 only if every persona was upserted and every space is whole.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

import repo_root  # noqa: F401  (first: puts the repository root on the path)

from apibase.client_errors import AuthError, ExpectedError, NetworkError, StatusError
from persona_runner.auth_client import AuthClient
from persona_runner.config import DEFAULT_AUTH_URL, RunnerConfig, seed_secret_from_env
from persona_runner.errors import RunnerConfigError
from persona_runner.password import persona_password
from scripts.admin_api import AdminApi
from scripts.admin_flags import (
    EXIT_CANNOT_START,
    EXIT_FAILED,
    EXIT_OK,
    AdminTarget,
    admin_parser,
    check_http_url,
    stop_message,
    target_from_args,
)
from scripts.catalog import CatalogError, CatalogPersona, read_catalog, to_upsert_body
from scripts.pair_spaces import PairSpace, make_spaces, pair_spaces

PROG = "seed"


@dataclass(frozen=True)
class SpaceTarget:
    auth_url: str
    spaces: list[PairSpace]  # empty with --no-spaces or a catalog without pairs
    skipped: bool


def seed_parser() -> argparse.ArgumentParser:
    parser = admin_parser(PROG, "Create or update every catalog persona, then make the pairs' shared spaces.")
    parser.add_argument(
        "--mana-auth",
        metavar="URL",
        help=f"mana-auth, for the pair spaces (default: env MANA_AUTH_URL, else {DEFAULT_AUTH_URL})",
    )
    parser.add_argument(
        "--no-spaces", action="store_true", help="upsert the personas only; make no pair spaces"
    )
    return parser


def space_target(parser: argparse.ArgumentParser, args: argparse.Namespace, personas: list) -> SpaceTarget:
    auth_url = (args.mana_auth or os.environ.get("MANA_AUTH_URL", "").strip() or DEFAULT_AUTH_URL).rstrip("/")
    check_http_url(parser, "--mana-auth", auth_url)
    spaces = [] if args.no_spaces else pair_spaces(personas)
    return SpaceTarget(auth_url=auth_url, spaces=spaces, skipped=args.no_spaces)


def describe_persona(persona: CatalogPersona) -> str:
    return f"{persona.archetype}, {persona.tickCadence}, {len(persona.moduleMix)} modules"


def dry_run(target: AdminTarget, personas: list[CatalogPersona], where: SpaceTarget) -> int:
    for persona in personas:
        print(f"would upsert  {persona.email}  {describe_persona(persona)}")
    for space in where.spaces:
        print(f"would make space  {space.slug}  ({space.label()})")
    spaces = f" and {len(where.spaces)} shared spaces made at {where.auth_url}" if where.spaces else ""
    print(
        f"{PROG}: dry run: {len(personas)} personas would be upserted to {target.api_url}{spaces}; "
        "nothing was sent"
    )
    return EXIT_OK


LOGIN_FAILS = (
    "its password does not log in: its user was made with another PERSONA_SEED_SECRET, "
    "so every tick would fail at login"
)


def upsert_personas(
    target: AdminTarget, personas: list[CatalogPersona], secret: str
) -> tuple[dict[str, int], set[str]] | None:
    """Counts by outcome and the emails upserted, or None when the API stopped the run."""
    api = AdminApi(target.api_url, target.jwt)
    counts = {"created": 0, "updated": 0, "upserted": 0, "failed": 0}
    done: set[str] = set()
    try:
        for index, persona in enumerate(personas):
            try:
                answer = api.upsert_persona(to_upsert_body(persona, persona_password(persona.email, secret)))
            except (NetworkError, AuthError) as exc:
                # Every persona after this one would fail the same way: say it once and stop.
                reason = stop_message(target.api_url, exc)
                print(
                    f"{PROG}: stopped, {index - counts['failed']} of {len(personas)} upserted: {reason}",
                    file=sys.stderr,
                )
                return None
            except ExpectedError as exc:
                counts["failed"] += 1
                print(f"failed   {persona.email}  {exc.detail if isinstance(exc, StatusError) else exc}")
                continue
            if answer.get("loginOk") is False:
                counts["failed"] += 1
                print(f"failed   {persona.email}  upserted, but {LOGIN_FAILS}")
                continue
            outcome = {True: "created", False: "updated"}.get(answer.get("created"), "upserted")
            counts[outcome] += 1
            done.add(persona.email)
            print(f"{outcome:<8} {persona.email}  {describe_persona(persona)}  (user {answer['userId']})")
    finally:
        api.close()
    return counts, done


def seed_spaces(where: SpaceTarget, secret: str, upserted: set[str]) -> tuple[dict[str, int], str]:
    """Counts by outcome and the summary's clause for the spaces."""
    if where.skipped:
        return {"failed": 0}, "; pair spaces skipped (--no-spaces)"
    if not where.spaces:
        return {"failed": 0}, ""
    auth = AuthClient(RunnerConfig(auth_url=where.auth_url))
    try:
        counts, stopped = make_spaces(auth, secret, where.spaces, upserted)
    finally:
        auth.close()
    if stopped:
        print(f"{PROG}: stopped making pair spaces: {stopped}", file=sys.stderr)
    whole = len(where.spaces) - counts["failed"]
    clause = (
        f"; {whole} of {len(where.spaces)} pair spaces whole ({counts['created']} created, "
        f"{counts['joined']} joined, {counts['exists']} already whole), {counts['failed']} failed, "
        f"at {where.auth_url}"
    )
    return counts, clause


def seed(target: AdminTarget, personas: list[CatalogPersona], secret: str, where: SpaceTarget) -> int:
    upserted = upsert_personas(target, personas, secret)
    if upserted is None:
        return EXIT_FAILED
    counts, done = upserted
    space_counts, spaces = seed_spaces(where, secret, done)
    print(
        f"{PROG}: {len(personas) - counts['failed']} of {len(personas)} personas upserted "
        f"({counts['created']} created, {counts['updated']} updated), {counts['failed']} failed, "
        f"at {target.api_url}{spaces}"
    )
    return EXIT_FAILED if counts["failed"] or space_counts["failed"] else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = seed_parser()
    args = parser.parse_args(argv)
    target = target_from_args(parser, args)
    try:
        catalog = read_catalog(target.catalog)
        secret = seed_secret_from_env()
    except (CatalogError, RunnerConfigError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    for warning in catalog.warnings:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    personas = catalog.personas
    where = space_target(parser, args, personas)
    if target.dry_run:
        return dry_run(target, personas, where)
    return seed(target, personas, secret, where)


if __name__ == "__main__":
    sys.exit(main())
