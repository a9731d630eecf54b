"""The mana-auth stand-in keeps every row of the contract, over real HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jwt
import psycopg
import pytest
import requests

from devauth import create_app
from devauth.config import ConfigError, DevAuthConfig, ProductionRefused
from devauth.passwords import COST_MIN, DEFAULT_COST, hash_password
from devstack.postgres import free_port
from devstack.processes import ROOT, Process
from tests.devauth_fixtures import add_fault, mint_token
from tests.support.auth import bearer
from tests.support.standin import KEY, TIMEOUT, admin, login, new_email, new_user, register, spaces


def search(devauth: Process, token: str, term: str) -> requests.Response:
    return requests.get(
        f"{devauth.url}/api/v1/admin/users", params={"search": term}, headers=admin(token), timeout=TIMEOUT
    )


def stamp(devauth: Process, user_id: str, body: object = None, headers: dict | None = None):
    return requests.post(
        f"{devauth.url}/api/v1/internal/users/{user_id}/persona-stamp",
        json={"accessTier": "founder"} if body is None else body,
        headers=KEY if headers is None else headers,
        timeout=TIMEOUT,
    )


def stored(devauth: Process, user_id: str) -> requests.Response:
    return requests.get(f"{devauth.url}/dev/users/{user_id}", timeout=TIMEOUT)


def verify_with_jwks(devauth: Process, token: str) -> dict:
    keys = requests.get(f"{devauth.url}/api/v1/auth/jwks", timeout=TIMEOUT).json()
    jwk = jwt.PyJWKSet.from_dict(keys)[jwt.get_unverified_header(token)["kid"]]
    return jwt.decode(token, jwk.key, algorithms=["EdDSA"], audience="mana", issuer=devauth.url)


# --- register and login -----------------------------------------------------------------


def test_register_answers_the_new_user(devauth):
    email = new_email()
    response = register(devauth, email=email, name="Grace")
    assert response.status_code == 200
    user = response.json()["user"]
    assert user["email"] == email and user["name"] == "Grace" and uuid.UUID(user["id"])
    row = stored(devauth, user["id"]).json()
    assert row.pop("createdAt").endswith("Z")
    assert row == {
        "id": user["id"],
        "email": email,
        "name": "Grace",
        "role": "user",
        "kind": "human",
        "accessTier": "public",
        "emailVerified": False,
    }


def test_registering_a_taken_email_in_any_case_is_409(devauth):
    email = new_email()
    new_user(devauth, email=email)
    response = register(devauth, email=email.upper())
    assert response.status_code == 409
    assert response.json()["error"] == "Conflict"


def test_with_email_verification_on_a_taken_email_registers_under_a_made_up_id(devauth_verifying_emails):
    devauth = devauth_verifying_emails
    email = new_email()
    user = new_user(devauth, email=email)
    again = register(devauth, email=email.upper(), name="Someone Else")
    assert again.status_code == 200, again.text
    made_up = again.json()["user"]
    assert made_up["id"] != user["id"] and made_up["email"] == email.lower()
    assert requests.get(f"{devauth.url}/dev/users/{made_up['id']}", timeout=TIMEOUT).status_code == 404
    assert login(devauth, email).json()["user"]["id"] == user["id"]  # the user is unchanged
    assert requests.get(f"{devauth.url}/dev/settings", timeout=TIMEOUT).json() == {
        "requireEmailVerification": True
    }


def test_a_settings_switch_must_be_a_boolean(devauth):
    response = requests.post(
        f"{devauth.url}/dev/settings", json={"requireEmailVerification": "yes"}, timeout=TIMEOUT
    )
    assert response.status_code == 400 and "requireEmailVerification" in response.json()["message"]


def test_concurrent_registrations_of_one_email_make_one_user(devauth):
    email = new_email()
    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(r.status_code for r in pool.map(lambda _: register(devauth, email=email), range(4)))
    assert statuses == [200, 409, 409, 409]


@pytest.mark.parametrize("missing", ["email", "password", "name"])
def test_register_without_a_field_is_400(devauth, missing):
    body = {"email": new_email(), "password": "correct horse", "name": "Ada"}
    del body[missing]
    response = requests.post(f"{devauth.url}/api/v1/auth/register", json=body, timeout=TIMEOUT)
    assert response.status_code == 400
    assert missing in response.json()["message"]


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"[1, 2]", b""])
def test_a_body_that_is_not_a_json_object_is_400(devauth, raw):
    response = requests.post(
        f"{devauth.url}/api/v1/auth/register",
        data=raw,
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 400
    assert set(response.json()) >= {"error", "message"}


def test_login_answers_a_token_that_verifies_against_the_jwks(devauth):
    user = new_user(devauth)
    response = login(devauth, user["email"].upper())
    assert response.status_code == 200
    assert response.json()["user"] == user
    token = response.json()["token"]
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"
    claims = verify_with_jwks(devauth, token)
    assert claims["sub"] == user["id"] and claims["email"] == user["email"]
    assert claims["role"] == "user" and claims["tier"] == "public" and claims["sid"]
    assert claims["iss"] == devauth.url and claims["aud"] == "mana"
    assert claims["iat"] <= time.time() < claims["exp"]


def test_login_with_a_wrong_password_or_an_unknown_email_is_401(devauth):
    user = new_user(devauth)
    assert login(devauth, user["email"], "wrong password").status_code == 401
    assert login(devauth, new_email()).status_code == 401


# --- admin: find and delete -----------------------------------------------------------------


def test_search_finds_an_exact_email_and_substrings_of_email_or_name(devauth, admin_token):
    tag = uuid.uuid4().hex[:10]
    first = new_user(devauth, email=f"{tag}@devauth.test", name="First")
    second = new_user(devauth, email=f"x{tag}@devauth.test", name=f"Second {tag.upper()}")

    exact = search(devauth, admin_token, first["email"].upper())
    assert exact.status_code == 200
    body = exact.json()
    assert body["total"] == 2 and body["page"] == 1 and body["limit"] >= 2
    assert body["users"][0]["email"] == first["email"]  # the exact match comes first
    assert set(body["users"][0]) == {"id", "email", "name", "role", "createdAt"}

    by_name = search(devauth, admin_token, f"second {tag}").json()
    assert [u["id"] for u in by_name["users"]] == [second["id"]]
    assert search(devauth, admin_token, f"nobody-{tag}").json() == {
        "users": [],
        "total": 0,
        "page": 1,
        "limit": 100,
    }


def test_admin_routes_need_the_service_key_and_an_admin_token(devauth, admin_token):
    url = f"{devauth.url}/api/v1/admin/users"
    user_token = mint_token(devauth, role="user")
    expired = mint_token(devauth, role="admin", expiresIn=-60)
    foreign_aud = mint_token(devauth, role="admin", aud="elsewhere")
    assert requests.get(url, headers=bearer(admin_token), timeout=TIMEOUT).status_code == 401
    assert requests.get(url, headers=KEY, timeout=TIMEOUT).status_code == 401
    assert requests.get(url, headers=admin(expired), timeout=TIMEOUT).status_code == 401
    assert requests.get(url, headers=admin(foreign_aud), timeout=TIMEOUT).status_code == 401
    assert requests.get(url, headers=admin("not.a.jwt"), timeout=TIMEOUT).status_code == 401
    forbidden = requests.get(url, headers=admin(user_token), timeout=TIMEOUT)
    assert forbidden.status_code == 403 and forbidden.json()["error"] == "Forbidden"


def test_delete_removes_the_user_and_its_space_then_answers_404(devauth, admin_token):
    user = new_user(devauth)
    token = login(devauth, user["email"]).json()["token"]
    url = f"{devauth.url}/api/v1/admin/users/{user['id']}/data"
    deleted = requests.delete(url, headers=admin(admin_token), timeout=TIMEOUT)
    assert deleted.status_code == 200
    assert stored(devauth, user["id"]).status_code == 404
    assert search(devauth, admin_token, user["email"]).json()["total"] == 0
    assert spaces(devauth, token).json() == []
    again = requests.delete(url, headers=admin(admin_token), timeout=TIMEOUT)
    assert again.status_code == 404 and again.json()["error"] == "NotFound"


# --- internal: persona stamp ----------------------------------------------------------------


def test_stamp_makes_the_user_a_verified_persona_of_that_tier_idempotently(devauth):
    user = new_user(devauth)
    for _ in range(2):
        response = stamp(devauth, user["id"])
        assert response.status_code == 200 and response.json() == {"ok": True}
        row = stored(devauth, user["id"]).json()
        assert (row["kind"], row["accessTier"], row["emailVerified"]) == ("persona", "founder", True)
    assert verify_with_jwks(devauth, login(devauth, user["email"]).json()["token"])["tier"] == "founder"


def test_stamp_refuses_an_unknown_user_a_bad_tier_and_a_missing_key(devauth):
    user = new_user(devauth)
    assert stamp(devauth, str(uuid.uuid4())).status_code == 404
    assert stamp(devauth, user["id"], body={"accessTier": "emperor"}).status_code == 400
    assert stamp(devauth, user["id"], headers={"X-Service-Key": "wrong"}).status_code == 401
    assert stored(devauth, user["id"]).json()["kind"] == "human"


# --- spaces and keys ------------------------------------------------------------------------


def test_organization_list_holds_the_users_personal_space(devauth):
    user = new_user(devauth, name="Lin")
    response = spaces(devauth, login(devauth, user["email"]).json()["token"])
    assert response.status_code == 200
    [space] = response.json()
    assert space["metadata"] == '{"type":"personal"}' and space["id"] and "Lin" in space["name"]
    assert spaces(devauth, "garbage").status_code == 401


def test_jwks_serves_ed25519_public_keys(devauth):
    keys = requests.get(f"{devauth.url}/api/v1/auth/jwks", timeout=TIMEOUT).json()["keys"]
    assert 1 <= len(keys) <= 2
    for key in keys:
        assert set(key) == {"kty", "crv", "x", "kid", "alg", "use"}
        assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")


def test_rotation_publishes_the_new_key_and_keeps_the_previous_one(devauth):
    def kids() -> list[str]:
        keys = requests.get(f"{devauth.url}/api/v1/auth/jwks", timeout=TIMEOUT).json()["keys"]
        return [key["kid"] for key in keys]

    before = mint_token(devauth, role="user")
    old_kid = jwt.get_unverified_header(before)["kid"]
    new_kid = requests.post(f"{devauth.url}/dev/rotate-keys", timeout=TIMEOUT).json()["kid"]
    assert kids() == [new_kid, old_kid]
    after = mint_token(devauth, role="user")
    assert jwt.get_unverified_header(after)["kid"] == new_kid
    assert verify_with_jwks(devauth, before)["role"] == "user"
    assert spaces(devauth, before).status_code == 200

    newest = requests.post(f"{devauth.url}/dev/rotate-keys", timeout=TIMEOUT).json()["kid"]
    assert kids() == [newest, new_kid]
    assert spaces(devauth, before).status_code == 401  # its key is no longer published


def test_dev_token_signs_the_claims_asked_for(devauth):
    claims = verify_with_jwks(devauth, mint_token(devauth, role="admin"))
    assert claims["sub"] == "dev-admin-0000" and claims["role"] == "admin"
    claims = verify_with_jwks(
        devauth, mint_token(devauth, role="user", sub="u-1", email="u@x.test", tier="beta")
    )
    assert (claims["sub"], claims["email"], claims["role"], claims["tier"]) == (
        "u-1",
        "u@x.test",
        "user",
        "beta",
    )
    with pytest.raises(jwt.ExpiredSignatureError):
        verify_with_jwks(devauth, mint_token(devauth, role="admin", expiresIn=-60))
    bad = requests.post(f"{devauth.url}/dev/token", json={"role": "root"}, timeout=TIMEOUT)
    assert bad.status_code == 400


# --- faults ---------------------------------------------------------------------------------


def jwks_status(devauth: Process) -> int:
    return requests.get(f"{devauth.url}/api/v1/auth/jwks", timeout=TIMEOUT).status_code


def test_an_injected_status_is_answered_that_many_times_then_consumed(devauth_clear_faults):
    devauth = devauth_clear_faults
    add_fault(devauth, "/api/v1/auth/jwks", status=503, times=2)
    failed = requests.get(f"{devauth.url}/api/v1/auth/jwks", timeout=TIMEOUT)
    assert failed.status_code == 503 and failed.json()["error"] == "InjectedFault"
    assert [jwks_status(devauth) for _ in range(2)] == [503, 200]


def test_a_fault_fires_exactly_times_under_concurrent_calls(devauth_clear_faults):
    devauth = devauth_clear_faults
    add_fault(devauth, "/api/v1/auth/jwks", status=502, times=3)
    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(lambda _: jwks_status(devauth), range(8)))
    assert statuses == [200] * 5 + [502] * 3


def test_an_injected_delay_stalls_that_call_but_not_the_others(devauth_clear_faults):
    devauth = devauth_clear_faults
    add_fault(devauth, "/api/v1/auth/jwks", delayMs=800)
    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        stalled = pool.submit(jwks_status, devauth)
        time.sleep(0.1)
        quick_started = time.monotonic()
        assert jwks_status(devauth) == 200
        assert time.monotonic() - quick_started < 0.5
        assert stalled.result() == 200
        assert time.monotonic() - started >= 0.8


def test_a_path_ending_in_star_matches_by_prefix_and_method(devauth_clear_faults, admin_token):
    devauth = devauth_clear_faults
    add_fault(devauth, "/api/v1/internal/*", method="post", status=500, times=2)
    user = new_user(devauth)  # a POST elsewhere is not matched
    assert jwks_status(devauth) == 200
    assert stamp(devauth, user["id"]).status_code == 500
    assert stamp(devauth, str(uuid.uuid4())).status_code == 500
    assert stamp(devauth, user["id"]).status_code == 200


def test_faults_never_apply_to_dev_routes_and_can_be_cleared(devauth_clear_faults):
    devauth = devauth_clear_faults
    add_fault(devauth, "/*", status=500, times=100)
    assert (
        requests.post(f"{devauth.url}/dev/token", json={"role": "admin"}, timeout=TIMEOUT).status_code == 200
    )
    assert jwks_status(devauth) == 500
    assert requests.delete(f"{devauth.url}/dev/faults", timeout=TIMEOUT).status_code == 204
    assert jwks_status(devauth) == 200


@pytest.mark.parametrize(
    "fault",
    [
        {"path": "no-slash", "status": 500},
        {"path": "/x"},
        {"path": "/x", "status": 200},
        {"path": "/x", "delayMs": "1"},
    ],
)
def test_a_malformed_fault_is_400(devauth, fault):
    response = requests.post(f"{devauth.url}/dev/faults", json=fault, timeout=TIMEOUT)
    assert response.status_code == 400


# --- the stand-in's own behaviour -----------------------------------------------------------


def test_unknown_routes_and_wrong_methods_answer_json(devauth):
    missing = requests.get(f"{devauth.url}/api/v1/nothing-here", timeout=TIMEOUT)
    assert missing.status_code == 404 and missing.json()["error"] == "NotFound"
    wrong = requests.get(f"{devauth.url}/api/v1/auth/register", timeout=TIMEOUT)
    assert wrong.status_code == 405 and set(wrong.json()) == {"error", "message"}
    assert stored(devauth, "no-such-user").status_code == 404


def test_input_postgres_cannot_store_is_refused_not_a_500(devauth, admin_token):
    assert stored(devauth, "a%00b").status_code == 404
    assert stored(devauth, "x" * 201).status_code == 404
    assert stamp(devauth, "a%00b").status_code == 404
    assert search(devauth, admin_token, "a\x00b").status_code == 400
    url = f"{devauth.url}/api/v1/admin/users"
    odd_page = requests.get(url, params={"page": "\u00b2"}, headers=admin(admin_token), timeout=TIMEOUT)
    assert odd_page.status_code == 400
    nul_login = login(devauth, "a\x00b@devauth.test")
    assert nul_login.status_code == 400
    huge = requests.post(f"{devauth.url}/dev/token", data=b"x" * (2 * 1024 * 1024), timeout=TIMEOUT)
    assert huge.status_code == 413 and huge.json()["error"]


def test_new_hashes_take_the_configured_cost_and_old_ones_keep_theirs(devauth, database_url):
    """The suite's stand-in hashes at the cheapest cost; a user stored at another cost
    (the default's) still logs in, since each hash carries its own."""
    user = new_user(devauth)
    with psycopg.connect(database_url, autocommit=True) as conn:
        stored = "SELECT password_hash FROM devauth.users WHERE id = %s"
        assert conn.execute(stored, (user["id"],)).fetchone()[0].startswith(f"scrypt${2**COST_MIN}$")
        older = hash_password("correct horse")  # the default cost
        assert older.startswith(f"scrypt${2**DEFAULT_COST}$")
        conn.execute("UPDATE devauth.users SET password_hash = %s WHERE id = %s", (older, user["id"]))
    assert login(devauth, user["email"]).status_code == 200
    assert login(devauth, user["email"], "not the password").status_code == 401


@pytest.mark.parametrize("cost", ["9", "21", "fourteen"])
def test_a_password_cost_out_of_range_refuses_to_start_naming_it(cost):
    with pytest.raises(ConfigError, match="DEVAUTH_PASSWORD_COST"):
        DevAuthConfig.from_env(
            {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "DEVAUTH_PASSWORD_COST": cost}
        )


def test_it_refuses_to_start_in_production(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(ProductionRefused, match="DEVELOPMENT STAND-IN"):
        create_app()
    config = DevAuthConfig(database_url="postgresql://nobody@127.0.0.1:1/none", app_env="production")
    with pytest.raises(ProductionRefused):
        create_app(config)


def test_it_says_it_is_a_development_stand_in_when_it_starts(database_url, caplog):
    app = create_app(DevAuthConfig(database_url=database_url))
    app.extensions["devauth.database"].close()
    assert any("DEVELOPMENT STAND-IN" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)


def procfile_command(process: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() == process:
            return command.strip()
    raise AssertionError(f"no {process} process in the Procfile")


def listening_address(command: str, env: dict[str, str]) -> str:
    """Start the command as a Procfile runner does (through sh) and read where gunicorn listens."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    proc = subprocess.Popen(
        ["sh", "-c", f"exec {command}"],
        cwd=ROOT,
        env={"PATH": path, **env},
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        for line in proc.stderr:
            if "Listening at:" in line:
                return line.rsplit("Listening at:", 1)[1].split()[0]
        raise AssertionError("devauth exited before listening")
    finally:
        proc.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:  # a worker still booting: end the whole group
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.mark.parametrize(("host", "expected"), [(None, "127.0.0.1"), ("127.0.0.2", "127.0.0.2")])
def test_the_procfile_devauth_listens_on_loopback_unless_told_otherwise(database_url, host, expected):
    """It mints admin tokens for anyone who asks: only this machine may ask, by default."""
    port = free_port()
    env = {"DATABASE_URL": database_url, "PORT": str(port), "APP_ENV": "development"}
    if host:
        env["DEVAUTH_HOST"] = host
    assert listening_address(procfile_command("devauth"), env) == f"http://{expected}:{port}"
