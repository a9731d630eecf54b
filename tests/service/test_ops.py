"""Operations: health, readiness, migrations, configuration refusals, JSON errors."""

from __future__ import annotations

import psycopg
import pytest

from config import Config, ConfigError
from devstack.postgres import create_database
from personas import create_app
from personas.errors import SchemaNotMigrated
from personas.migrate import apply, migration_ids
from tests.conftest import running_app
from tests.service.migrating import roll_back_from, roll_back_only
from tests.support.commands import run_module


def test_health_and_ready_answer_when_the_database_does(client):
    assert client.get("/health").get_json() == {"ok": True}
    assert client.get("/ready").get_json() == {"ok": True, "database": "ok"}


def test_unknown_route_is_json_404(client):
    response = client.get("/api/v1/personas/nope")
    assert response.status_code == 404
    assert response.get_json()["error"] == "NotFound"


def test_wrong_method_is_json_405(client, internal_headers):
    response = client.delete("/api/v1/personas/internal/due", headers=internal_headers)
    assert response.status_code == 405
    assert response.get_json()["error"] == "MethodNotAllowed"
    assert "GET" in response.headers["Allow"]


def test_release_applies_every_migration_and_is_safe_to_run_twice(server_url):
    url = create_database(server_url, "personas_release_twice")
    assert apply(url) == migration_ids()
    assert apply(url) == []
    run = run_module("personas.migrate", env={"DATABASE_URL": url})
    assert run.returncode == 0, run.stderr
    assert "0 applied" in run.stdout


def test_the_persona_name_migration_rolls_back_and_applies_again(server_url):
    url = create_database(server_url, "personas_name_rollback")
    apply(url)
    column = (
        "SELECT count(*) FROM information_schema.columns"
        " WHERE table_schema = 'personas' AND table_name = 'personas' AND column_name = 'name'"
    )
    roll_back_only(url, "0007_persona_name")
    with psycopg.connect(url) as conn:
        assert conn.execute(column).fetchone()[0] == 0
    assert apply(url) == ["0007_persona_name"]
    with psycopg.connect(url) as conn:
        assert conn.execute(column).fetchone()[0] == 1


def test_every_migrate_reapplies_the_rules_of_sql_functions(server_url):
    """The due rule lives in sql/functions/: a database whose copy drifted gets the file's
    version back on the next `migrate`, with no new migration."""
    url = create_database(server_url, "personas_rules_reapplied")
    apply(url)
    drifted = """CREATE OR REPLACE FUNCTION personas.cadence_interval(tick_cadence text)
                 RETURNS interval LANGUAGE sql IMMUTABLE AS $$ SELECT interval '1 year' $$"""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(drifted)
        assert conn.execute("SELECT personas.cadence_interval('hourly')").fetchone()[0].days == 365
    assert apply(url) == []
    with psycopg.connect(url, autocommit=True) as conn:
        gaps = conn.execute(
            "SELECT personas.cadence_interval(c), personas.expected_gap(c)"
            "  FROM unnest(array['hourly', 'daily', 'weekdays']) AS c"
        ).fetchall()
    hours = [(a.total_seconds() / 3600, b.total_seconds() / 3600) for a, b in gaps]
    assert hours == [(1, 1), (24, 24), (24, 48)]


@pytest.fixture
def unmigrated_url(server_url):
    return create_database(server_url, "personas_unmigrated")


def test_boot_against_an_unmigrated_database_refuses_and_names_the_command(unmigrated_url):
    with pytest.raises(SchemaNotMigrated, match=r"python -m personas\.migrate"):
        create_app(Config(database_url=unmigrated_url, service_key="k"))


def test_requests_against_an_unmigrated_database_are_503_naming_the_command(unmigrated_url):
    with running_app(Config(database_url=unmigrated_url, service_key="k"), check_schema=False) as app:
        response = app.test_client().get("/api/v1/personas/internal/due", headers={"X-Service-Key": "k"})
        assert response.status_code == 503
        assert "python -m personas.migrate" in response.get_json()["message"]
        assert app.test_client().get("/ready").status_code == 503
        with psycopg.connect(unmigrated_url) as conn:
            assert conn.execute("SELECT to_regclass('personas.personas')").fetchone()[0] is None


def test_production_refuses_to_start_without_a_service_key():
    with pytest.raises(ConfigError, match="MANA_SERVICE_KEY"):
        Config.from_env({"DATABASE_URL": "postgresql://x@localhost/db", "APP_ENV": "production"})
    config = Config.from_env(
        {"DATABASE_URL": "postgresql://x@localhost/db", "APP_ENV": "production", "MANA_SERVICE_KEY": "secret"}
    )
    assert config.production and config.service_key == "secret"


def test_production_starts_with_only_a_key_list_and_refuses_an_empty_one():
    env = {"DATABASE_URL": "postgresql://x@localhost/db", "APP_ENV": "production"}
    assert Config.from_env({**env, "MANA_SERVICE_KEYS": "new,old"}).accepted_service_keys == ("new", "old")
    with pytest.raises(ConfigError, match="MANA_SERVICE_KEYS"):
        Config.from_env({**env, "MANA_SERVICE_KEYS": " , ", "MANA_SERVICE_KEY": ""})


def test_configuration_errors_name_the_variable():
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        Config.from_env({})
    with pytest.raises(ConfigError, match="MAX_BODY_BYTES"):
        Config.from_env({"DATABASE_URL": "postgresql://x@h/db", "MAX_BODY_BYTES": "lots"})


def test_defaults_match_the_contract():
    config = Config.from_env({"DATABASE_URL": "postgresql://x@h/db"})
    assert config.port == 3060
    assert config.mana_auth_url == "http://localhost:3001"
    assert config.jwt_audience == "mana"
    assert config.persona_email_domain == "mana.test"
    assert config.max_body_bytes == 4 * 1024 * 1024
    assert config.action_retention_days == 90
    assert "secret" not in repr(
        Config(database_url="x", service_key="secret", extra_service_keys=("secret",))
    )


def test_the_workers_metrics_directory_is_read_with_the_rest_of_the_configuration():
    """gunicorn.conf.py sets it before the app is built; without it /metrics is one process's."""
    env = {"DATABASE_URL": "postgresql://x@h/db"}
    assert Config.from_env(env).metrics_dir == ""
    given = Config.from_env({**env, "PROMETHEUS_MULTIPROC_DIR": " /run/metrics "})
    assert given.metrics_dir == "/run/metrics"


def test_the_row_key_migration_rolls_back_with_repeated_ids_and_applies_again(server_url):
    """Since 0016 two rows may share an id string (`fc-a` + `b-c`, `fc-a-b` + `c`): rolling
    back keeps both (the second renamed), and the migrations apply again."""
    url = create_database(server_url, "personas_row_keys_rollback")
    apply(url)
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO personas.personas (user_id, email, archetype, system_prompt, module_mix)"
            " VALUES ('p1', 'p1@mana.test', 'a', 'a prompt of some length', '{}')"
        )
        for tick, module in (("fc-a", "b-c"), ("fc-a-b", "c")):
            conn.execute(
                "INSERT INTO personas.persona_feedback (persona_id, id, tick_id, module, rating)"
                " VALUES ('p1', 'fc-a-b-c', %s, %s, 4)",
                (tick, module),
            )
            conn.execute(
                "INSERT INTO personas.persona_actions"
                " (persona_id, id, tick_id, tool_name, result, call_index)"
                " VALUES ('p1', 'fc-a-0-x', %s, 'x', 'ok', 0)",
                (tick,),
            )
    roll_back_from(url, "0016_row_keys")
    with psycopg.connect(url) as conn:
        ids = "SELECT id FROM personas.{} ORDER BY id"
        assert [r[0] for r in conn.execute(ids.format("persona_feedback"))] == ["fc-a-b-c", "fc-a-b-c~2"]
        assert [r[0] for r in conn.execute(ids.format("persona_actions"))] == ["fc-a-0-x", "fc-a-0-x~2"]
    assert apply(url) == [m for m in migration_ids() if m >= "0016"]
