"""Retention: `python -m personas.prune`, run as the Procfile's `prune` process runs it."""

from __future__ import annotations

import re
import time

import pytest

from devstack.postgres import create_database, free_port
from personas.prune import parse_args
from tests.service.factories import add_action, add_persona, add_rating, add_tick, add_transcript, count_rows
from tests.support.commands import run_module
from tests.support.retention import action_ids, days_ago, prune


def arrange_history(db) -> None:
    """Actions on both sides of a 90-day window, and ratings far older than it."""
    add_persona(db, "p1")
    add_persona(db, "p2")
    add_action(db, "p1", days_ago(400), action_id="ancient")
    add_action(db, "p1", days_ago(90.01), action_id="just-expired")
    add_action(db, "p2", days_ago(91), action_id="expired")
    add_action(db, "p1", days_ago(89.99), action_id="just-inside")
    add_action(db, "p2", days_ago(1), action_id="recent")
    add_rating(db, "p1", "todo", 3, days_ago(400), feedback_id="old-rating")


def test_prune_removes_exactly_the_actions_past_the_window(db, database_url):
    arrange_history(db)
    run = prune(database_url)
    assert run.returncode == 0, run.stderr
    assert action_ids(db) == {"just-inside", "recent"}
    assert count_rows(db, "persona_feedback") == 1
    assert run.stdout.splitlines() == [run.stdout.strip()]
    assert "removed 3 persona_actions rows older than 90 days" in run.stdout


def test_prune_reads_the_window_from_the_environment_or_the_flag(db, database_url):
    arrange_history(db)
    assert prune(database_url, retention_days="365").returncode == 0
    assert action_ids(db) == {"just-expired", "expired", "just-inside", "recent"}
    run = prune(database_url, "--days", "2", retention_days="365")
    assert run.returncode == 0, run.stderr
    assert action_ids(db) == {"recent"}
    assert "removed 3" in run.stdout


def test_a_dry_run_counts_and_deletes_nothing(db, database_url):
    arrange_history(db)
    run = prune(database_url, "--dry-run")
    assert run.returncode == 0, run.stderr
    assert "would remove 3 persona_actions rows" in run.stdout
    assert count_rows(db, "persona_actions") == 5


def test_small_batches_still_remove_everything_with_a_short_report(db, database_url):
    add_persona(db, "p1")
    for i in range(23):
        add_action(db, "p1", days_ago(100 + i), action_id=f"old-{i}")
    add_action(db, "p1", days_ago(1), action_id="recent")
    run = prune(database_url, "--batch-size", "2")
    assert run.returncode == 0, run.stderr
    assert action_ids(db) == {"recent"}
    assert len(run.stdout.splitlines()) == 1
    assert "removed 23" in run.stdout


def test_nothing_to_prune_is_a_success(db, database_url):
    add_persona(db, "p1")
    add_action(db, "p1", days_ago(1), action_id="recent")
    run = prune(database_url)
    assert run.returncode == 0, run.stderr
    assert "removed 0" in run.stdout


def test_an_unreachable_database_is_a_clear_failure_not_a_traceback():
    run = prune(f"postgresql://nobody@127.0.0.1:{free_port()}/personas")
    assert run.returncode != 0
    assert "prune: the database is unreachable" in run.stderr
    assert "Traceback" not in run.stderr


def test_an_unmigrated_database_names_the_migrate_command(server_url):
    run = prune(create_database(server_url, "personas_prune_unmigrated"))
    assert run.returncode != 0
    assert "python -m personas.migrate" in run.stderr
    assert "Traceback" not in run.stderr


def test_bad_settings_are_refused_before_touching_the_database(database_url):
    for args, env_days in ((["--batch-size", "0"], None), (["--days", "x"], None), ([], "0")):
        run = prune(database_url, *args, retention_days=env_days)
        assert run.returncode == 2, (args, run.stderr)
        assert "Traceback" not in run.stderr
    missing = run_module("personas.prune", env={})
    assert missing.returncode == 2
    assert "DATABASE_URL" in missing.stderr


def arrange_transcripts(db) -> None:
    """Ticks with transcripts on both sides of a 30-day window."""
    add_persona(db, "p1")
    for tick, age in (("old", 45), ("just-expired", 30.01), ("just-inside", 29.99), ("recent", 1)):
        add_tick(db, "p1", tick, started_at=days_ago(age))
        add_transcript(db, "p1", tick, [{"kind": "model", "text": tick}], created_at=days_ago(age))


def transcript_ticks(db) -> set[str]:
    return {row[0] for row in db.execute("SELECT tick_id FROM personas.persona_transcripts")}


def test_prune_removes_transcripts_past_their_window_and_keeps_the_ticks(db, database_url):
    arrange_transcripts(db)
    run = prune(database_url, "--batch-size", "1")
    assert run.returncode == 0, run.stderr
    assert transcript_ticks(db) == {"just-inside", "recent"}
    assert db.execute("SELECT count(*) FROM personas.persona_ticks").fetchone()[0] == 4
    assert run.stdout.splitlines() == [run.stdout.strip()]
    assert "removed 2 transcripts older than 30 days" in run.stdout


def test_the_transcript_window_comes_from_the_environment_or_the_flag(db, database_url):
    arrange_transcripts(db)
    dry = prune(database_url, "--dry-run", TRANSCRIPT_RETENTION_DAYS="2")
    assert "would remove 3 transcripts older than 2 days" in dry.stdout
    assert len(transcript_ticks(db)) == 4
    assert prune(database_url, TRANSCRIPT_RETENTION_DAYS="40").returncode == 0
    assert transcript_ticks(db) == {"just-expired", "just-inside", "recent"}
    assert prune(database_url, "--transcript-days", "2", TRANSCRIPT_RETENTION_DAYS="40").returncode == 0
    assert transcript_ticks(db) == {"recent"}


def paced_run(db, database_url, ratio: str) -> tuple[float, float, float]:
    """A prune of 20 one-row batches at `ratio`: (its wall time seen from here, and the
    seconds it says it spent deleting and pausing)."""
    add_persona(db, "p1")
    for i in range(20):
        add_action(db, "p1", days_ago(100 + i), action_id=f"old-{i}")
    start = time.monotonic()
    run = prune(database_url, "--batch-size", "1", "--pause-ratio", ratio)
    wall = time.monotonic() - start
    assert run.returncode == 0, run.stderr
    assert "removed 20" in run.stdout
    assert f"(--pause-ratio {ratio})" in run.stdout
    took = re.search(r"deleting took ([0-9.]+) s, pausing ([0-9.]+) s", run.stdout)
    return wall, float(took[1]), float(took[2])


def test_each_batch_is_followed_by_a_pause_ratio_times_as_long(db, database_url):
    wall, deleting, pausing = paced_run(db, database_url, "20")
    # Lower bounds only (the summary rounds to a millisecond): a busy machine makes the
    # run longer, never shorter, so these fail only when the pauses were not taken.
    assert deleting > 0
    rounded = deleting - 0.0005
    assert pausing >= 20 * rounded
    assert wall >= 21 * rounded


def test_a_pause_ratio_of_zero_does_not_pause(db, database_url):
    _, deleting, pausing = paced_run(db, database_url, "0")
    assert deleting > 0
    assert pausing == 0


def test_a_bad_pause_ratio_is_refused_naming_the_option(database_url, capsys):
    run = prune(database_url, "--pause-ratio", "-1")
    assert run.returncode == 2, run.stderr
    assert "--pause-ratio" in run.stderr and "Traceback" not in run.stderr
    # The other values through the same parser, without a process each.
    for raw in ("x", "nan", "inf", "101"):
        with pytest.raises(SystemExit) as refused:
            parse_args(["--pause-ratio", raw])
        assert refused.value.code == 2, raw
        assert "--pause-ratio" in capsys.readouterr().err
