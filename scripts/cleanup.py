"""Hard-delete every live persona through the personas API's admin route.

    python scripts/cleanup.py [--api=URL] [--jwt=TOKEN] [--dry-run] [--catalog PATH]

Live personas whose email is not in the catalog are deleted too, with a warning: they
are leftovers of an older catalog or of a test, and the admin route only ever deletes
personas, never a human's account. One line per persona, then a summary; exit 0 only
if every live persona is gone.

The pairs' shared spaces (made by seed.py) go with their members: deleting a persona
deletes its mana-auth user, and mana-auth drops a space once its last member is gone
(the stand-in does; the contract names no route to delete a space, so cleanup relies on
that rather than deleting spaces itself).
"""

from __future__ import annotations

import sys
from typing import Any

import repo_root  # noqa: F401  (first: puts the repository root on the path)

from apibase.client_errors import AuthError, ExpectedError, NetworkError, StatusError
from scripts.admin_api import AdminApi
from scripts.admin_flags import (
    EXIT_CANNOT_START,
    EXIT_FAILED,
    EXIT_OK,
    AdminTarget,
    admin_parser,
    admin_target,
    stop_message,
)
from scripts.catalog import CatalogError, CatalogPersona, load_catalog

PROG = "cleanup"


def dry_run(target: AdminTarget, personas: list[CatalogPersona]) -> int:
    """Sends nothing, so it cannot know who is live: it says what a real run would do."""
    for persona in personas:
        print(f"would delete  {persona.email}  (if live)")
    print(
        f"{PROG}: dry run: every live persona at {target.api_url} would be deleted "
        f"({len(personas)} in the catalog, any others with a warning); nothing was sent"
    )
    return EXIT_OK


def delete_line(api: AdminApi, persona: dict[str, Any]) -> str:
    """The persona's line once it is gone. A 404 means someone deleted it first: also gone."""
    email, user_id = persona.get("email", "?"), persona["userId"]
    try:
        api.delete_persona(user_id)
    except StatusError as exc:
        if isinstance(exc, AuthError) or exc.status != 404:
            raise
        return f"gone     {email}  (user {user_id}, already deleted)"
    return f"deleted  {email}  (user {user_id})"


def cleanup(target: AdminTarget, catalog_emails: set[str]) -> int:
    api = AdminApi(target.api_url, target.jwt)
    deleted = failed = strangers = 0
    try:
        live = api.list_personas()
        for persona in live:
            email = persona.get("email", "?")
            if email not in catalog_emails:
                strangers += 1
                print(
                    f"{PROG}: warning: {email} is live but not in the catalog; deleting it anyway",
                    file=sys.stderr,
                )
            try:
                line = delete_line(api, persona)
                deleted += 1
            except (NetworkError, AuthError):
                raise  # the server or the token: every other delete would fail the same way
            except ExpectedError as exc:
                failed += 1
                line = f"failed   {email}  {exc.detail if isinstance(exc, StatusError) else exc}"
            print(line)
    except (NetworkError, AuthError) as exc:
        print(f"{PROG}: stopped, {deleted} deleted: {stop_message(target.api_url, exc)}", file=sys.stderr)
        return EXIT_FAILED
    except ExpectedError as exc:
        print(f"{PROG}: stopped, cannot list the live personas: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        api.close()
    print(
        f"{PROG}: {deleted} of {len(live)} live personas deleted, {failed} failed, "
        f"{strangers} not in the catalog, at {target.api_url}"
    )
    return EXIT_FAILED if failed else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    target = admin_target(admin_parser(PROG, "Hard-delete every live persona."), argv)
    try:
        personas = load_catalog(target.catalog)
    except CatalogError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    if target.dry_run:
        return dry_run(target, personas)
    return cleanup(target, {p.email for p in personas})


if __name__ == "__main__":
    sys.exit(main())
