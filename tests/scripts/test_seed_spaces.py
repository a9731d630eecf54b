"""seed.py's pair spaces, run as an operator runs it against the live API under gunicorn
and the mana-auth stand-in: each catalog pair ends up sharing one space, made by the
personas themselves, and a second run changes nothing; cleanup.py leaves none behind."""

from __future__ import annotations

import json
import re
import subprocess

import psycopg
import pytest

from devstack.processes import Process
from persona_runner.password import persona_password
from scripts.catalog import CatalogPersona, load_catalog
from scripts.catalog import pairs as catalog_pairs
from tests.devauth.test_organizations import delete, full
from tests.devauth_fixtures import add_fault
from tests.e2e.operator import SEED_SECRET, run_script
from tests.scripts.test_seed_cleanup_cli import PAIR_SLUGS
from tests.service.factories import persona_ids
from tests.support.commands import assert_no_traceback, dead_url
from tests.support.standin import Person, create, forget_stand_in_users, login, person

SPACE_LINE = re.compile(r"^space    (\S+)  (\w+), both members  \((\w+), (\S+) \+ (\S+); space (\S+)\)$")


@pytest.fixture(scope="module")
def catalog() -> list[CatalogPersona]:
    return load_catalog()


@pytest.fixture(scope="module")
def pairs(catalog) -> list[tuple[str, str, str, str]]:
    """(slug, creator, partner, type) of each pair, in catalog order."""
    return [(slug, *pair) for slug, pair in zip(PAIR_SLUGS, catalog_pairs(catalog), strict=True)]


@pytest.fixture
def fresh(devauth: Process, db: psycopg.Connection, catalog) -> Process:
    """No catalog persona in the service or the stand-in, so none of their spaces either."""
    forget_stand_in_users(devauth, [p.email for p in catalog])
    assert stand_in_spaces(db) == {}
    return devauth


def seed(
    live_api: Process, devauth: Process, token: str, *args: str, **env: str
) -> subprocess.CompletedProcess:
    return run_script(
        "seed.py", f"--api={live_api.url}", f"--jwt={token}", f"--mana-auth={devauth.url}", *args, **env
    )


def space_lines(stdout: str) -> dict[str, tuple[str, str]]:
    """slug -> (outcome, space id) of each space line that says the space is whole."""
    return {m[1]: (m[2], m[6]) for line in stdout.splitlines() if (m := SPACE_LINE.match(line))}


def stand_in_spaces(db: psycopg.Connection) -> dict[str, dict]:
    """The pair spaces as the stand-in keeps them: slug -> id, type, members and invitations."""
    rows = db.execute(
        """
        SELECT o.slug, o.id, o.metadata->>'type',
               (SELECT coalesce(jsonb_object_agg(u.email, m.role), '{}')
                  FROM devauth.members m JOIN devauth.users u ON u.id = m.user_id
                 WHERE m.organization_id = o.id),
               (SELECT coalesce(jsonb_agg(jsonb_build_array(i.id, i.email, i.status) ORDER BY i.id), '[]')
                  FROM devauth.invitations i WHERE i.organization_id = o.id)
          FROM devauth.organizations o
         WHERE o.slug = ANY(%s)
        """,
        (PAIR_SLUGS,),
    ).fetchall()
    return {r[0]: {"id": r[1], "type": r[2], "members": r[3], "invitations": r[4]} for r in rows}


def as_persona(devauth: Process, email: str, secret: str = SEED_SECRET) -> Person:
    answer = login(devauth, email, persona_password(email, secret))
    assert answer.status_code == 200, answer.text
    return Person(answer.json()["user"]["id"], email, answer.json()["token"])


def test_seed_makes_each_pairs_space_with_both_partners_as_members(fresh, live_api, admin_token, pairs, db):
    done = seed(live_api, fresh, admin_token)
    assert done.returncode == 0, done.stdout + done.stderr
    assert_no_traceback(done)
    assert done.stderr == ""
    lines = space_lines(done.stdout)
    assert {slug: outcome for slug, (outcome, _) in lines.items()} == {slug: "created" for slug in PAIR_SLUGS}
    assert done.stdout.splitlines()[-1].endswith(
        f"; 5 of 5 pair spaces whole (5 created, 0 joined, 0 already whole), 0 failed, at {fresh.url}"
    )

    for slug, creator, partner, space_type in pairs:
        space_id = lines[slug][1]
        owner, member = as_persona(fresh, creator), as_persona(fresh, partner)
        for who in (owner, member):
            answer = full(fresh, who, space_id)
            assert answer.status_code == 200, answer.text
            space = answer.json()
            assert (space["slug"], json.loads(space["metadata"])) == (slug, {"type": space_type})
            assert {m["userId"]: m["role"] for m in space["members"]} == {
                owner.id: "owner",
                member.id: "member",
            }
    stored = stand_in_spaces(db)
    assert {slug: [i[2] for i in s["invitations"]] for slug, s in stored.items()} == {
        slug: ["accepted"] for slug in PAIR_SLUGS
    }


def test_a_second_seed_finds_every_space_whole_and_changes_nothing(fresh, live_api, admin_token, db):
    first = seed(live_api, fresh, admin_token)
    assert first.returncode == 0, first.stdout + first.stderr
    before = stand_in_spaces(db)

    second = seed(live_api, fresh, admin_token)
    assert second.returncode == 0, second.stdout + second.stderr
    assert space_lines(second.stdout) == {slug: ("exists", before[slug]["id"]) for slug in PAIR_SLUGS}
    assert (
        "; 5 of 5 pair spaces whole (0 created, 0 joined, 5 already whole), 0 failed"
        in (second.stdout.splitlines()[-1])
    )
    assert stand_in_spaces(db) == before  # same ids, same members, no new invitation


def test_a_pair_whose_acceptance_failed_is_finished_by_the_next_seed_with_the_same_invitation(
    fresh, live_api, devauth_clear_faults, admin_token, pairs, db
):
    slug, creator, partner, _ = pairs[0]
    add_fault(fresh, "/api/auth/organization/accept-invitation", method="POST", status=502)
    first = seed(live_api, fresh, admin_token)
    assert first.returncode == 1
    assert_no_traceback(first)
    [line] = [line for line in first.stdout.splitlines() if line.startswith(f"space    {slug}")]
    assert line.startswith(f"space    {slug}  failed: POST ") and "accept-invitation: 502 " in line
    [[invitation_id, _, status]] = stand_in_spaces(db)[slug]["invitations"]
    assert status == "pending"

    # mana-auth refuses to invite a pending invitee again unless asked to resend.
    done = seed(live_api, fresh, admin_token)
    assert done.returncode == 0, done.stdout + done.stderr
    assert space_lines(done.stdout)[slug] == ("joined", stand_in_spaces(db)[slug]["id"])
    assert stand_in_spaces(db)[slug]["invitations"] == [[invitation_id, partner, "accepted"]]
    assert stand_in_spaces(db)[slug]["members"] == {creator: "owner", partner: "member"}


def test_a_partner_whose_upsert_failed_fails_only_its_pairs_space(
    fresh, live_api, devauth_clear_faults, admin_token, pairs, db
):
    slug, creator, partner, _ = pairs[0]
    add_fault(fresh, "/api/v1/auth/register", method="POST", status=502, times=1)  # the creator's
    done = seed(live_api, fresh, admin_token)
    assert done.returncode == 1
    assert_no_traceback(done)
    [line] = [line for line in done.stdout.splitlines() if line.startswith(f"space    {slug}")]
    assert line.startswith(f"space    {slug}  failed: {creator} not upserted (see above)")
    assert set(space_lines(done.stdout)) == set(PAIR_SLUGS[1:])
    assert "4 of 5 pair spaces whole (4 created, 0 joined, 0 already whole), 1 failed" in done.stdout
    assert set(stand_in_spaces(db)) == set(PAIR_SLUGS[1:])
    assert partner in persona_ids(db)


def test_a_partner_missing_from_the_catalog_is_named_and_nothing_is_sent(
    tmp_path, catalog, live_api, devauth, db
):
    lone = json.loads(catalog[0].model_dump_json(exclude_none=True))  # paired, its partner left out
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"personas": [lone]}), encoding="utf-8")
    done = run_script(
        "seed.py", f"--api={live_api.url}", "--jwt=x", f"--mana-auth={devauth.url}", "--catalog", str(path)
    )
    assert done.returncode == 2
    assert_no_traceback(done)
    assert f"pair: partner {lone['pair']['partner']} is not in the catalog" in done.stderr
    assert persona_ids(db) == {}


def test_a_dry_run_lists_the_spaces_and_makes_none(fresh, live_api, admin_token, db):
    done = seed(live_api, fresh, admin_token, "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [
        line.split()[3] for line in done.stdout.splitlines() if line.startswith("would make space")
    ] == PAIR_SLUGS
    assert persona_ids(db) == {} and stand_in_spaces(db) == {}


def test_no_spaces_upserts_the_personas_and_makes_no_space(fresh, live_api, admin_token, db):
    done = seed(live_api, fresh, admin_token, "--no-spaces")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not [line for line in done.stdout.splitlines() if line.startswith("space")]
    assert done.stdout.splitlines()[-1].endswith("; pair spaces skipped (--no-spaces)")
    assert len(persona_ids(db)) == 10 and stand_in_spaces(db) == {}


def test_an_unreachable_mana_auth_stops_the_spaces_with_one_clear_line(fresh, live_api, admin_token, db):
    dead = dead_url()
    done = run_script("seed.py", f"--api={live_api.url}", f"--jwt={admin_token}", MANA_AUTH_URL=dead)
    assert done.returncode == 1
    assert_no_traceback(done)
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"seed: stopped making pair spaces: cannot reach mana-auth at {dead} (")
    assert "10 of 10 personas upserted" in done.stdout.splitlines()[-1]
    assert "0 of 5 pair spaces whole" in done.stdout.splitlines()[-1]


def test_personas_seeded_with_another_secret_fail_their_spaces_by_name(
    fresh, live_api, admin_token, pairs, db
):
    assert seed(live_api, fresh, admin_token, "--no-spaces").returncode == 0
    done = seed(live_api, fresh, admin_token, PERSONA_SEED_SECRET="not-the-secret-they-were-seeded-with")
    assert done.returncode == 1
    assert_no_traceback(done)
    # The upsert already finds that their passwords no longer log in, and says why; each
    # pair's space then fails by name, pointing at those lines.
    personas = [line for line in done.stdout.splitlines() if line.startswith("failed")]
    assert len(personas) == 10
    assert all("PERSONA_SEED_SECRET" in line for line in personas)
    failed = [line for line in done.stdout.splitlines() if line.startswith("space")]
    assert len(failed) == 5
    for line, (slug, creator, partner, _) in zip(failed, pairs, strict=True):
        reason = f"{creator} and {partner} not upserted (see above), so the pair has no space"
        assert line == f"space    {slug}  failed: {reason}"
    assert stand_in_spaces(db) == {}


def test_a_slug_held_by_a_stranger_fails_that_pair_only(fresh, live_api, admin_token, pairs, db):
    slug, *_ = pairs[-1]
    stranger = person(fresh, "Stranger")
    try:
        assert create(fresh, stranger, "family", slug=slug).status_code == 200
        done = seed(live_api, fresh, admin_token)
        assert done.returncode == 1
        assert_no_traceback(done)
        [line] = [line for line in done.stdout.splitlines() if line.startswith(f"space    {slug}")]
        assert "failed: the slug is taken by a space neither partner belongs to (400 " in line
        assert set(space_lines(done.stdout)) == set(PAIR_SLUGS[:-1])
    finally:
        delete(fresh, admin_token, stranger)


def test_cleanup_leaves_no_pair_space_behind(fresh, live_api, admin_token, db):
    assert seed(live_api, fresh, admin_token).returncode == 0
    assert len(stand_in_spaces(db)) == 5
    done = run_script("cleanup.py", f"--api={live_api.url}", f"--jwt={admin_token}")
    assert done.returncode == 0, done.stdout + done.stderr
    # The stand-in drops a space with its last member; cleanup relies on it (see cleanup.py).
    assert stand_in_spaces(db) == {}
    orphans = db.execute(
        "SELECT count(*) FROM devauth.organizations o"
        " WHERE NOT EXISTS (SELECT 1 FROM devauth.members m WHERE m.organization_id = o.id)"
    ).fetchone()[0]
    assert orphans == 0
