"""A fleet where some scripts and runners are still the original TypeScript ones: a persona
seeded by one side logs in through the other, with and without PERSONA_SEED_SECRET.

The other side is played by this test: it derives passwords with the recipe written out
here (tests/scripts/test_password.py), never with the package's implementation."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import requests

from tests.conftest import SERVICE_KEY
from tests.e2e.operator import run_runner, run_script
from tests.support.auth import bearer
from tests.support.commands import assert_no_traceback
from tests.support.originals import ORIGINAL_DEV_SECRET, ORIGINAL_SHAPE, recipe_written_out
from tests.support.standin import forget_stand_in_users

ADMIN = "/api/v1/personas/admin"
HTTP_TIMEOUT = 10
PROMPT = (
    "Lena runs a small bakery and plans everything on her phone between batches. "
    "She writes short notes, forgets to tick things off, and rates a module low when it "
    "makes her type twice. She has little patience for settings pages."
)
# None: PERSONA_SEED_SECRET unset, so both sides fall back to the development secret.
SECRETS = pytest.mark.parametrize("secret", [None, "fleet-secret-shared-by-both-sides"], ids=["dev", "set"])


def fresh_email() -> str:
    return f"mixed-{uuid.uuid4().hex[:12]}@mana.test"


def one_persona_catalog(tmp_path: Path, email: str) -> Path:
    path = tmp_path / "catalog.json"
    persona = {
        "email": email,
        "name": "Lena Vogt",
        "archetype": "freelancer",
        "systemPrompt": PROMPT,
        "moduleMix": {"todo": 2, "notes": 1},
        "tickCadence": "hourly",
    }
    path.write_text(json.dumps({"personas": [persona]}), encoding="utf-8")
    return path


def login(devauth, email: str, password: str) -> requests.Response:
    return requests.post(
        f"{devauth.url}/api/v1/auth/login", json={"email": email, "password": password}, timeout=HTTP_TIMEOUT
    )


@SECRETS
def test_a_persona_seeded_by_seed_py_logs_in_with_the_original_runners_password(
    tmp_path, db, live_api, devauth, admin_token, secret
):
    email = fresh_email()
    catalog = one_persona_catalog(tmp_path, email)
    done = run_script(
        "seed.py", f"--api={live_api.url}", f"--jwt={admin_token}", "--catalog", str(catalog),
        PERSONA_SEED_SECRET=secret,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert_no_traceback(done)

    theirs = recipe_written_out(email, secret if secret is not None else ORIGINAL_DEV_SECRET)
    assert login(devauth, email, theirs).status_code == 200
    other = recipe_written_out(
        email, ORIGINAL_DEV_SECRET if secret is not None else "fleet-secret-shared-by-both-sides"
    )
    assert login(devauth, email, other).status_code == 401


@SECRETS
def test_a_persona_seeded_by_the_original_scripts_is_driven_by_our_runner(
    db, live_api, devauth, admin_token, secret
):
    email = fresh_email()
    # What the original seed script posts: the password it derived on its own.
    theirs = recipe_written_out(email, secret if secret is not None else ORIGINAL_DEV_SECRET)
    upsert = requests.post(
        f"{live_api.url}{ADMIN}",
        json={
            "email": email,
            "password": theirs,
            "archetype": "freelancer",
            "systemPrompt": PROMPT,
            "moduleMix": {"todo": 2, "notes": 1},
            "tickCadence": "hourly",
        },
        headers=bearer(admin_token),
        timeout=HTTP_TIMEOUT,
    )
    assert upsert.status_code == 200, upsert.text

    done = run_runner(live_api.url, devauth.url, SERVICE_KEY, PERSONA_SEED_SECRET=secret)
    assert done.returncode == 0, done.stdout + done.stderr
    assert_no_traceback(done)
    assert done.stdout.splitlines()[0].split()[:2] == ["ok", email]
    assert done.stdout.splitlines()[-1].endswith("1 ok, 0 failed")

    # What the original dashboard reads back: the persona's name, and whose each action is.
    user_id = upsert.json()["userId"]
    detail = requests.get(
        f"{live_api.url}{ADMIN}/{user_id}",
        headers=bearer(admin_token),
        timeout=HTTP_TIMEOUT,
    ).json()
    assert detail["persona"]["name"] == email.split("@")[0]  # registered without a name: mana-auth's
    assert detail["recentActions"] and {a["personaId"] for a in detail["recentActions"]} == {user_id}


def test_seed_py_upserts_a_catalog_in_the_original_shape(db, live_api, devauth, admin_token):
    raw = json.loads(ORIGINAL_SHAPE.read_text(encoding="utf-8"))["personas"]
    forget_stand_in_users(devauth, [e["email"] for e in raw])
    done = run_script(
        "seed.py", f"--api={live_api.url}", f"--jwt={admin_token}", "--catalog", str(ORIGINAL_SHAPE)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert_no_traceback(done)
    assert [line.split()[:2] for line in done.stdout.splitlines()[:-1]] == [
        ["created", e["email"]] for e in raw
    ]
    warnings = done.stderr.splitlines()
    assert len(warnings) == len(raw) + 1 and all(w.startswith("seed: warning: personas[") for w in warnings)
    assert "locale: unknown field, ignored" in warnings[0]

    listed = requests.get(f"{live_api.url}{ADMIN}", headers=bearer(admin_token), timeout=HTTP_TIMEOUT).json()[
        "personas"
    ]
    assert {p["email"]: p["name"] for p in listed} == {e["email"]: e["name"] for e in raw}
    rows = db.execute("SELECT email, archetype, module_mix, tick_cadence FROM personas.personas").fetchall()
    assert sorted(rows) == sorted(
        (e["email"], e["archetype"], e["moduleMix"], e.get("tickCadence", "daily")) for e in raw
    )
