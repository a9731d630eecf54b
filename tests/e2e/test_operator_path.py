"""The operator's and the runner's whole path, run as an operator runs it: seed.py,
`python -m persona_runner --once` and cleanup.py as subprocesses against the live API
under gunicorn and the mana-auth stand-in, with nothing mocked."""

from __future__ import annotations

import json
import re
import socket
import uuid

import psycopg
import pytest
import requests

from devstack.processes import Process
from persona_runner.drivers import ScriptedDriver
from persona_runner.models import Persona, Session, TickOutcome
from persona_runner.password import persona_password
from scripts.catalog import CatalogPersona
from tests.conftest import SERVICE_KEY
from tests.devauth_fixtures import add_fault, mint_token
from tests.e2e.operator import SEED_SECRET, run_runner, run_script
from tests.e2e.proxy import LOSE_ANSWER, REFUSE, FaultyProxy
from tests.service.factories import persona_ids
from tests.support.auth import bearer
from tests.support.commands import assert_no_traceback
from tests.support.drivers import drive
from tests.support.standin import forget_stand_in_users

ADMIN = "/api/v1/personas/admin"
HTTP_TIMEOUT = 10
USER_ID = re.compile(r"\(user ([^)]+)\)$", re.MULTILINE)


def seed(live_api: Process, devauth: Process, token: str):
    return run_script("seed.py", f"--api={live_api.url}", f"--jwt={token}", f"--mana-auth={devauth.url}")


def cleanup(api_url: str, token: str, *args: str):
    return run_script("cleanup.py", f"--api={api_url}", f"--jwt={token}", *args)


def outcomes(stdout: str) -> list[tuple[str, str]]:
    """(outcome, email) of each persona line, in order; space lines and the summary are left out."""
    return [tuple(line.split()[:2]) for line in stdout.splitlines()[:-1] if not line.startswith("space ")]


def stand_in_user(devauth: Process, user_id: str) -> requests.Response:
    return requests.get(f"{devauth.url}/dev/users/{user_id}", timeout=HTTP_TIMEOUT)


def admin_detail(live_api: Process, token: str, user_id: str) -> dict:
    response = requests.get(f"{live_api.url}{ADMIN}/{user_id}", headers=bearer(token), timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text
    return response.json()


def weekday_by_database_clock(db: psycopg.Connection) -> bool:
    """Whether "weekdays" personas are due today, by the clock the service judges with."""
    return db.execute("SELECT extract(isodow FROM now() AT TIME ZONE 'UTC') < 6").fetchone()[0]


def scripted_tick(persona: CatalogPersona, user_id: str) -> TickOutcome:
    """What the scripted driver does for this persona (its ratings and tool names do not
    depend on the session, so any session tells them)."""
    runner_persona = Persona(
        user_id=user_id,
        email=persona.email,
        archetype=persona.archetype,
        system_prompt=persona.systemPrompt,
        module_mix=dict(persona.moduleMix),
    )
    return drive(ScriptedDriver(), runner_persona, Session("tick", user_id, "space", token="-"))


# --- seed ----------------------------------------------------------------------------------


def test_seed_creates_every_catalog_persona_and_a_rerun_updates_them(
    db: psycopg.Connection, live_api, devauth, admin_token, catalog
):
    emails = [p.email for p in catalog]
    first = seed(live_api, devauth, admin_token)
    assert first.returncode == 0, first.stdout + first.stderr
    assert outcomes(first.stdout) == [("created", email) for email in emails]
    summary = first.stdout.splitlines()[-1]
    assert summary.startswith("seed: 10 of 10 personas upserted (10 created, 0 updated), 0 failed")
    assert first.stderr == ""

    second = seed(live_api, devauth, admin_token)
    assert second.returncode == 0, second.stdout + second.stderr
    assert outcomes(second.stdout) == [("updated", email) for email in emails]
    assert "(0 created, 10 updated), 0 failed" in second.stdout.splitlines()[-1]
    ids = USER_ID.findall(first.stdout)
    assert ids == USER_ID.findall(second.stdout)

    rows = db.execute(
        "SELECT email, user_id, archetype, tick_cadence, module_mix, system_prompt FROM personas.personas"
    ).fetchall()
    by_email = {row[0]: row[1:] for row in rows}
    assert len(rows) == 10
    for persona, user_id in zip(catalog, ids, strict=True):
        assert by_email[persona.email] == (
            user_id,
            persona.archetype,
            persona.tickCadence,
            dict(persona.moduleMix),
            persona.systemPrompt,
        )
        user = stand_in_user(devauth, user_id)
        assert user.status_code == 200
        stored = {k: user.json()[k] for k in ("email", "kind", "accessTier", "emailVerified")}
        assert stored == {
            "email": persona.email,
            "kind": "persona",
            "accessTier": "founder",
            "emailVerified": True,
        }


def test_each_seeded_persona_logs_in_with_its_derived_password_and_not_with_another_secret(
    seeded, devauth, catalog
):
    emails = [p.email for p in catalog]
    printed = run_script("password.py", *emails)  # the operator's door to the same recipe
    assert printed.returncode == 0, printed.stderr
    passwords = dict(line.split() for line in printed.stdout.splitlines())
    assert passwords == {email: persona_password(email, SEED_SECRET) for email in emails}

    with requests.Session() as http:
        for email in emails:
            login = http.post(
                f"{devauth.url}/api/v1/auth/login",
                json={"email": email, "password": passwords[email]},
                timeout=HTTP_TIMEOUT,
            )
            assert login.status_code == 200, (email, login.text)
            assert login.json()["user"]["id"] == seeded[email]
            wrong = http.post(
                f"{devauth.url}/api/v1/auth/login",
                json={"email": email, "password": persona_password(email, "another-secret")},
                timeout=HTTP_TIMEOUT,
            )
            assert wrong.status_code == 401, (email, wrong.text)


def test_a_seed_with_a_rotated_secret_says_which_personas_no_longer_log_in(
    seeded, live_api, devauth, admin_token
):
    rotated = run_script(
        "seed.py",
        f"--api={live_api.url}",
        f"--jwt={admin_token}",
        f"--mana-auth={devauth.url}",
        "--no-spaces",
        PERSONA_SEED_SECRET="a-rotated-secret-that-registered-nobody",
    )
    assert rotated.returncode == 1, rotated.stdout + rotated.stderr
    lines = rotated.stdout.splitlines()[:-1]
    assert len(lines) == len(seeded)
    assert all(line.startswith("failed ") and "does not log in" in line for line in lines), lines
    assert_no_traceback(rotated)


@pytest.mark.parametrize(
    ("claims", "status"),
    [({"expiresIn": -3600}, "401"), ({"role": "user"}, "403")],
    ids=["expired", "not-an-admin"],
)
def test_seed_with_a_refused_token_stops_with_one_clear_line(db, live_api, devauth, claims, status):
    token = mint_token(devauth, **claims)
    done = seed(live_api, devauth, token)
    assert done.returncode == 1
    assert_no_traceback(done)
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("seed: stopped, 0 of 10 upserted: the personas API refused the admin token")
    assert f"({status} " in line and "--jwt" in line
    assert token not in line
    assert persona_ids(db) == {}


def test_seed_against_a_dead_port_stops_with_one_clear_line(admin_token):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    done = run_script("seed.py", f"--api={dead}", f"--jwt={admin_token}")
    assert done.returncode == 1
    assert_no_traceback(done)
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert "cannot reach the personas API" in line and dead in line


def test_a_failed_register_fails_only_that_persona_and_a_rerun_repairs_it(
    db, live_api, devauth_clear_faults, admin_token, catalog
):
    devauth = devauth_clear_faults
    emails = [p.email for p in catalog]
    forget_stand_in_users(devauth, emails)  # so that every persona has to register
    add_fault(devauth, "/api/v1/auth/register", method="POST", status=502, times=1)

    broken = seed(live_api, devauth, admin_token)
    assert broken.returncode == 1
    assert_no_traceback(broken)
    lines = broken.stdout.splitlines()
    assert lines[0].split()[:2] == ["failed", emails[0]]
    assert "502" in lines[0] and "(step: register)" in lines[0]
    assert outcomes(broken.stdout)[1:] == [("created", email) for email in emails[1:]]
    assert "9 of 10 personas upserted (9 created, 0 updated), 1 failed" in lines[-1]
    assert set(persona_ids(db)) == set(emails[1:])  # nothing half-made for the failed one

    repair = seed(live_api, devauth, admin_token)
    assert repair.returncode == 0, repair.stdout + repair.stderr
    assert outcomes(repair.stdout) == [("created", emails[0])] + [("updated", e) for e in emails[1:]]
    ids = persona_ids(db)
    assert set(ids) == set(emails)
    assert stand_in_user(devauth, ids[emails[0]]).json()["kind"] == "persona"


# --- the runner ----------------------------------------------------------------------------


def test_runner_drives_every_due_persona_and_the_admin_sees_its_actions_and_ratings(
    seeded, live_api, devauth, admin_token, catalog, db
):
    due = [p for p in catalog if p.tickCadence != "weekdays" or weekday_by_database_clock(db)]
    done = run_runner(live_api.url, devauth.url, SERVICE_KEY)
    assert done.returncode == 0, done.stdout + done.stderr
    assert_no_traceback(done)
    assert sorted(outcomes(done.stdout)) == sorted(("ok", p.email) for p in due)
    summary = rf"tick: {len(due)} personas \(via (claims|due)\), {len(due)} ok, 0 failed"
    assert re.fullmatch(summary, done.stdout.splitlines()[-1])

    for persona in due:
        user_id = seeded[persona.email]
        expected = scripted_tick(persona, user_id)
        detail = admin_detail(live_api, admin_token, user_id)
        assert detail["persona"]["lastActiveAt"] is not None
        actions = detail["recentActions"]
        assert sorted(a["toolName"] for a in actions) == sorted(a.tool_name for a in expected.actions)
        assert [a["result"] for a in actions].count("error") == 1
        assert len({a["tickId"] for a in actions}) == 1
        ratings = {m["module"]: (m["avgRating"], m["count"]) for m in detail["feedbackByModule"]}
        assert ratings == {r.module: (r.rating, 1) for r in expected.ratings}

    again = run_runner(live_api.url, devauth.url, SERVICE_KEY)
    assert again.returncode == 0, again.stdout + again.stderr
    assert re.fullmatch(r"tick: no personas due \(via (claims|due)\)\n", again.stdout)


def test_runner_retries_an_actions_post_through_503s_and_the_rows_are_stored_once(
    seeded, proxy: FaultyProxy, devauth, db
):
    # The first post never reaches the service; the second is written, but its answer is lost.
    proxy.fail("POST", "/actions", REFUSE, LOSE_ANSWER)
    done = run_runner(proxy.url, devauth.url, SERVICE_KEY, "--limit=1")
    assert done.returncode == 0, done.stdout + done.stderr
    [(outcome, email)] = outcomes(done.stdout)
    assert outcome == "ok"
    assert done.stdout.splitlines()[-1].endswith("1 ok, 0 failed")

    user_id = seeded[email]
    posts = proxy.matching("POST", f"/{user_id}/actions")
    assert [(p.status, p.reached_service) for p in posts] == [(503, False), (503, True), (200, True)]
    assert len({p.body for p in posts}) == 1  # the same batch, retried as it was
    batch = json.loads(posts[0].body)["actions"]
    rows = db.execute(
        "SELECT tick_id, tool_name FROM personas.persona_actions WHERE persona_id = %s", (user_id,)
    ).fetchall()
    assert sorted(rows) == sorted((a["tickId"], a["toolName"]) for a in batch)
    feedback = db.execute(
        "SELECT count(*) FROM personas.persona_feedback WHERE persona_id = %s", (user_id,)
    ).fetchone()[0]
    assert feedback == len(json.loads(proxy.matching("POST", f"/{user_id}/feedback")[0].body)["feedback"])


def test_a_running_report_lost_stops_nothing_and_the_final_report_outlasts_the_retry_attempts(
    seeded, proxy: FaultyProxy, devauth, db
):
    # One attempt per bounded call: the running report is lost at once. The final report
    # is refused three times more, and is retried (until the lease would lapse) past them.
    proxy.fail("PUT", "/ticks/", REFUSE, REFUSE, REFUSE, REFUSE)
    done = run_runner(proxy.url, devauth.url, SERVICE_KEY, "--limit=1", RUNNER_RETRY_ATTEMPTS="1")
    assert done.returncode == 0, done.stdout + done.stderr
    [(outcome, email)] = outcomes(done.stdout)
    assert outcome == "ok" and "(tick running not recorded: 503 Unavailable" in done.stdout
    assert "logged for replay" not in done.stdout + done.stderr

    user_id = seeded[email]
    # The tick's reports; its transcript (a PUT of its own) follows them.
    puts = proxy.matching("PUT", "")
    reports = [(json.loads(e.body)["state"], e.status) for e in puts if not e.path.endswith("/transcript")]
    assert reports == [("running", 503), ("ok", 503), ("ok", 503), ("ok", 503), ("ok", 200)]
    assert puts[-1].path.endswith("/transcript") and puts[-1].status == 200
    # The final report created the tick the running one never did, with the tick's actions.
    ticks = db.execute(
        "SELECT state, started_at IS NOT NULL, finished_at IS NOT NULL,"
        " (SELECT count(*) FROM personas.persona_actions a"
        "   WHERE a.persona_id = t.persona_id AND a.tick_id = t.tick_id)"
        " FROM personas.persona_ticks t WHERE persona_id = %s",
        (user_id,),
    ).fetchall()
    assert len(ticks) == 1 and ticks[0][:3] == ("ok", True, True) and ticks[0][3] > 0


# --- cleanup -------------------------------------------------------------------------------


def test_cleanup_deletes_every_live_persona_and_warns_about_one_not_in_the_catalog(
    seeded, live_api, devauth, admin_token, db
):
    stranger = f"e2e-stranger-{uuid.uuid4().hex[:8]}@mana.test"
    created = requests.post(
        f"{live_api.url}{ADMIN}",
        json={
            "email": stranger,
            "password": "a stranger's password",
            "archetype": "solo-dev",
            "systemPrompt": "Left behind by an older catalog.",
            "moduleMix": {"notes": 1},
        },
        headers=bearer(admin_token),
        timeout=HTTP_TIMEOUT,
    )
    assert created.status_code == 200, created.text
    live = {**seeded, stranger: created.json()["userId"]}

    done = cleanup(live_api.url, admin_token)
    assert done.returncode == 0, done.stdout + done.stderr
    assert_no_traceback(done)
    assert sorted(outcomes(done.stdout)) == sorted(("deleted", email) for email in live)
    assert done.stdout.splitlines()[-1].startswith(
        "cleanup: 11 of 11 live personas deleted, 0 failed, 1 not in the catalog"
    )
    assert done.stderr.splitlines() == [
        f"cleanup: warning: {stranger} is live but not in the catalog; deleting it anyway"
    ]
    assert persona_ids(db) == {}
    for user_id in live.values():
        assert stand_in_user(devauth, user_id).status_code == 404

    again = cleanup(live_api.url, admin_token)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.splitlines() == [
        f"cleanup: 0 of 0 live personas deleted, 0 failed, 0 not in the catalog, at {live_api.url}"
    ]


def test_cleanup_dry_run_sends_nothing_and_deletes_nothing(
    seeded, proxy: FaultyProxy, devauth, admin_token, db
):
    done = cleanup(proxy.url, admin_token, "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nothing was sent" in done.stdout.splitlines()[-1]
    assert proxy.exchanges == []
    assert persona_ids(db) == seeded
    for user_id in seeded.values():
        assert stand_in_user(devauth, user_id).status_code == 200
