"""Create or update every catalog persona through the personas API's admin route.

    python scripts/seed.py [--api=URL] [--jwt=TOKEN] [--dry-run] [--catalog PATH]

One line per persona (created, updated or failed, with the server's reason), then a
summary. Warnings about the catalog (a short prompt, a field it does not know) go to
standard error, one line each, and stop nothing. Exit 0 only if every persona was upserted.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python scripts/seed.py` puts scripts/ on the path, not the repository root.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from persona_runner.config import seed_secret_from_env  # noqa: E402
from persona_runner.errors import ApiError, AuthError, ConfigError, NetworkError, RunnerError  # noqa: E402
from persona_runner.password import persona_password  # noqa: E402
from scripts.admin_api import AdminApi  # noqa: E402
from scripts.admin_flags import (  # noqa: E402
    EXIT_CANNOT_START,
    EXIT_FAILED,
    EXIT_OK,
    AdminTarget,
    admin_parser,
    admin_target,
    stop_message,
)
from scripts.catalog import CatalogError, CatalogPersona, read_catalog, to_upsert_body  # noqa: E402

PROG = "seed"


def describe_persona(persona: CatalogPersona) -> str:
    return f"{persona.archetype}, {persona.tickCadence}, {len(persona.moduleMix)} modules"


def dry_run(target: AdminTarget, personas: list[CatalogPersona]) -> int:
    for persona in personas:
        print(f"would upsert  {persona.email}  {describe_persona(persona)}")
    print(
        f"{PROG}: dry run: {len(personas)} personas would be upserted to {target.api_url}; nothing was sent"
    )
    return EXIT_OK


def seed(target: AdminTarget, personas: list[CatalogPersona], secret: str) -> int:
    api = AdminApi(target.api_url, target.jwt)
    counts = {"created": 0, "updated": 0, "upserted": 0, "failed": 0}
    try:
        for index, persona in enumerate(personas):
            try:
                answer = api.upsert_persona(to_upsert_body(persona, persona_password(persona.email, secret)))
            except (NetworkError, AuthError) as exc:
                # Every persona after this one would fail the same way: say it once and stop.
                done = index - counts["failed"]
                reason = stop_message(target.api_url, exc)
                print(f"{PROG}: stopped, {done} of {len(personas)} upserted: {reason}", file=sys.stderr)
                return EXIT_FAILED
            except RunnerError as exc:
                counts["failed"] += 1
                print(f"failed   {persona.email}  {exc.detail if isinstance(exc, ApiError) else exc}")
                continue
            outcome = {True: "created", False: "updated"}.get(answer.get("created"), "upserted")
            counts[outcome] += 1
            print(f"{outcome:<8} {persona.email}  {describe_persona(persona)}  (user {answer['userId']})")
    finally:
        api.close()
    print(
        f"{PROG}: {len(personas) - counts['failed']} of {len(personas)} personas upserted "
        f"({counts['created']} created, {counts['updated']} updated), {counts['failed']} failed, "
        f"at {target.api_url}"
    )
    return EXIT_FAILED if counts["failed"] else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    target = admin_target(admin_parser(PROG, "Create or update every catalog persona."), argv)
    try:
        catalog = read_catalog(target.catalog)
        secret = seed_secret_from_env()
    except (CatalogError, ConfigError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    for warning in catalog.warnings:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    personas = catalog.personas
    if target.dry_run:
        return dry_run(target, personas)
    return seed(target, personas, secret)


if __name__ == "__main__":
    sys.exit(main())
