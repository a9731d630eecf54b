"""Admin tokens, as personas/tokens.py verifies them: the admin gate's answers, the
claims a token must carry, signatures and issuers, key rotation and unreachable keys."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import replace

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import REGISTRY

from devstack.postgres import free_port
from tests.conftest import running_app
from tests.devauth_fixtures import mint_token
from tests.support.auth import bearer

BASE = "/api/v1/personas/admin"


# --- the admin gate ----------------------------------------------------------------------


def test_no_token_is_401(client):
    response = client.get(BASE)
    assert response.status_code == 401
    assert response.get_json()["error"] == "Unauthorized"


@pytest.mark.parametrize(
    "path",
    ["/nothing/here", "/p1/nothing", "/" + "x" * 201, "/insights/more"],
    ids=["top", "nested", "odd-id", "deep"],
)
def test_an_unknown_admin_path_is_401_without_a_token_and_404_with_one(client, db, admin_token, path):
    """As on the internal prefix: without a token nothing tells a route from a non-route."""
    response = client.get(f"{BASE}{path}")
    assert response.status_code == 401
    assert response.get_json()["error"] == "Unauthorized"
    assert client.get(f"{BASE}{path}", headers=bearer(admin_token)).status_code == 404


@pytest.mark.parametrize("header", ["Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer a.b.c"])
def test_malformed_authorization_is_401(client, header):
    assert client.get(BASE, headers={"Authorization": header}).status_code == 401


def test_a_user_token_is_403(client, devauth):
    response = client.get(BASE, headers=bearer(mint_token(devauth, role="user")))
    assert response.status_code == 403
    assert response.get_json()["error"] == "Forbidden"


def test_an_admin_token_is_accepted_and_its_claims_known(client, admin_token):
    assert client.get(BASE, headers=bearer(admin_token)).status_code == 200


@pytest.mark.parametrize(
    "claims",
    [{"expiresIn": -120}, {"aud": "another-service"}, {"iss": "https://evil.example"}],
    ids=["expired", "wrong-audience", "wrong-issuer"],
)
def test_tokens_with_bad_claims_are_401(client, devauth, claims):
    assert client.get(BASE, headers=bearer(mint_token(devauth, **claims))).status_code == 401


def test_a_token_just_past_expiry_is_within_the_leeway(client, devauth):
    assert client.get(BASE, headers=bearer(mint_token(devauth, expiresIn=-5))).status_code == 200


def test_the_expiry_leeway_is_at_most_ten_seconds(client, devauth):
    response = client.get(BASE, headers=bearer(mint_token(devauth, expiresIn=-15)))
    assert response.status_code == 401
    assert "expired" in response.get_json()["message"]


def signed_by_devauth(db, claims: dict) -> str:
    """A token with these claims, signed with the stand-in's current key (as it would be)."""
    kid, private = db.execute(
        "SELECT kid, private_key FROM devauth.signing_keys ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    key = Ed25519PrivateKey.from_private_bytes(bytes(private))
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})


@pytest.mark.parametrize("sub", ["", "   "], ids=["empty", "blank"])
def test_a_token_that_names_no_subject_is_401(client, devauth, db, sub):
    claims = jwt.decode(mint_token(devauth), options={"verify_signature": False})
    response = client.get(BASE, headers=bearer(signed_by_devauth(db, {**claims, "sub": sub})))
    assert response.status_code == 401
    assert "sub" in response.get_json()["message"]
    assert client.get(BASE, headers=bearer(signed_by_devauth(db, claims))).status_code == 200


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_tampered_payload_is_401(client, devauth):
    header, _, signature = mint_token(devauth, role="user").split(".")
    claims = jwt.decode(mint_token(devauth, role="user"), options={"verify_signature": False})
    forged = f"{header}.{_b64({**claims, 'role': 'admin'})}.{signature}"
    assert client.get(BASE, headers=bearer(forged)).status_code == 401


def test_alg_none_and_hmac_confusion_are_401(client, devauth):
    claims = jwt.decode(mint_token(devauth), options={"verify_signature": False})
    kid = jwt.get_unverified_header(mint_token(devauth))["kid"]
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_b64(claims)}."
    assert client.get(BASE, headers=bearer(unsigned)).status_code == 401
    jwks = requests.get(f"{devauth.url}/api/v1/auth/jwks", timeout=10).json()
    public_x = jwks["keys"][0]["x"]
    hmac_token = jwt.encode(claims, public_x, algorithm="HS256", headers={"kid": kid})
    assert client.get(BASE, headers=bearer(hmac_token)).status_code == 401


def test_a_token_signed_by_a_foreign_key_with_a_known_kid_is_401(client, devauth):
    claims = jwt.decode(mint_token(devauth), options={"verify_signature": False})
    kid = jwt.get_unverified_header(mint_token(devauth))["kid"]
    forged = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid})
    assert client.get(BASE, headers=bearer(forged)).status_code == 401


def test_the_issuer_allow_list_holds_mana_auth_url_and_jwt_issuer(config, devauth, db):
    token = mint_token(devauth)  # iss is the stand-in's own URL, http://127.0.0.1:<port>
    alias = devauth.url.replace("127.0.0.1", "localhost")
    with (
        running_app(replace(config, mana_auth_url=alias)) as strict,
        running_app(replace(config, mana_auth_url=alias, jwt_issuer=devauth.url)) as allowing,
    ):
        assert strict.test_client().get(BASE, headers=bearer(token)).status_code == 401
        assert allowing.test_client().get(BASE, headers=bearer(token)).status_code == 200


def jwks_fetches() -> float:
    return REGISTRY.get_sample_value("personas_upstream_calls_total", {"step": "jwks", "outcome": "ok"}) or 0


def test_a_rotated_key_is_honoured_and_unknown_kids_refetch_at_most_once(config, devauth, db):
    with running_app(config) as app:
        client = app.test_client()
        assert client.get(BASE, headers=bearer(mint_token(devauth))).status_code == 200
        requests.post(f"{devauth.url}/dev/rotate-keys", timeout=10).raise_for_status()
        rotated = mint_token(devauth)
        assert client.get(BASE, headers=bearer(rotated)).status_code == 200
        before = jwks_fetches()
        claims = jwt.decode(rotated, options={"verify_signature": False})
        for _ in range(5):
            forged = jwt.encode(
                claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": uuid.uuid4().hex}
            )
            assert client.get(BASE, headers=bearer(forged)).status_code == 401
        assert jwks_fetches() - before <= 1


# --- keys out of reach ------------------------------------------------------------


def test_tokens_cannot_be_checked_while_mana_auth_keys_are_unreachable(config, db, admin_token):
    with running_app(replace(config, mana_auth_url=f"http://127.0.0.1:{free_port()}")) as app:
        response = app.test_client().get(BASE, headers=bearer(admin_token))
        assert response.status_code == 503
        assert "signing keys" in response.get_json()["message"]
