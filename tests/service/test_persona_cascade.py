"""A persona's rows go with it: no delete, however it races with posts, leaves an orphan.

The race runs against the service under gunicorn: threads post actions and ratings as
fast as they can to the personas about to be deleted, while other threads delete them
through the admin API; then no action, rating or rollup row may be left without its
persona.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import psycopg
import pytest
import requests

from personas.migrate import apply
from tests.conftest import SERVICE_KEY
from tests.devauth_fixtures import mint_token
from tests.service.factories import PERSONA_CHILD_TABLES, add_action, add_persona, add_rating, orphan_counts
from tests.service.migrating import migrated_before
from tests.support.auth import bearer

INTERNAL = "/api/v1/personas/internal"
ADMIN = "/api/v1/personas/admin"
PERSONAS = 40
POSTERS = 8
DELETERS = 2
CASCADE = "0008_persona_cascade"
TICK_COST = 0.01


class Fleet:
    """The personas of the race, deleted in order; posters aim at the next few to go."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        self.deleted = 0
        self.lock = threading.Lock()

    def next_to_delete(self) -> str | None:
        with self.lock:
            if self.deleted == len(self.ids):
                return None
            self.deleted += 1
            return self.ids[self.deleted - 1]

    def target(self, rng: random.Random) -> str:
        start = min(self.deleted, len(self.ids) - 1)
        return self.ids[rng.randrange(start, min(start + 3, len(self.ids)))]


def post_until_done(base_url: str, fleet: Fleet, worker: int, done: threading.Event) -> tuple[int, int]:
    """Start a tick, post its actions, end it, post a rating, again and again; each answer is
    200, or 404 once the persona is gone. (Posts answered 200, ticks ended at TICK_COST.)"""
    rng = random.Random(worker)
    session = requests.Session()
    session.headers["X-Service-Key"] = SERVICE_KEY
    posted = ended = 0
    for n in itertools.count():
        if done.is_set():
            return posted, ended
        pid = fleet.target(rng)
        tick = f"w{worker}-t{n}"
        actions = {"actions": [{"tickId": tick, "toolName": f"tool-{i}", "result": "ok"} for i in range(20)]}
        ratings = {"feedback": [{"tickId": tick, "module": "todo", "rating": 3}]}
        start = {"runnerId": f"w{worker}", "state": "running"}
        end = {"runnerId": f"w{worker}", "state": "ok", "costUsd": TICK_COST}
        for method, route, body in (
            ("put", f"ticks/{tick}", start),
            ("post", "actions", actions),
            ("put", f"ticks/{tick}", end),
            ("post", "feedback", ratings),
        ):
            url = f"{base_url}{INTERNAL}/{pid}/{route}"
            response = session.request(method, url, json=body, timeout=30)
            assert response.status_code in (200, 404), response.text
            posted += response.status_code == 200
            ended += response.status_code == 200 and body is end
    return posted, ended


def delete_until_done(base_url: str, fleet: Fleet, token: str) -> None:
    session = requests.Session()
    session.headers.update(bearer(token))
    while (pid := fleet.next_to_delete()) is not None:
        time.sleep(0.02)  # let the posters reach this persona
        for _attempt in range(100):
            response = session.delete(f"{base_url}{ADMIN}/{pid}", timeout=30)
            if response.status_code != 503:  # 503: the mana-auth bulkhead shed it; try again
                break
            time.sleep(0.05)
        assert response.status_code == 200, response.text


def test_deletes_racing_with_posts_leave_no_orphan_rows(live_api, devauth, db):
    fleet = Fleet([add_persona(db, f"race-{i:02d}") for i in range(PERSONAS)])
    token = mint_token(devauth)
    done = threading.Event()
    with ThreadPoolExecutor(max_workers=POSTERS + DELETERS) as pool:
        posters = [pool.submit(post_until_done, live_api.url, fleet, w, done) for w in range(POSTERS)]
        deleters = [pool.submit(delete_until_done, live_api.url, fleet, token) for _ in range(DELETERS)]
        try:
            for deleter in deleters:
                deleter.result()
        finally:
            done.set()
        posted, ended = map(sum, zip(*(p.result() for p in posters), strict=True))
    assert posted > 0, "the posters never reached a persona: no race was run"
    assert db.execute("SELECT count(*) FROM personas.personas").fetchone()[0] == 0
    assert orphan_counts(db) == dict.fromkeys(PERSONA_CHILD_TABLES, 0)
    # Today's spend is a record of what was spent: it stays when the personas go.
    spent = db.execute("SELECT coalesce(sum(spent_usd), 0) FROM personas.tick_runs_daily").fetchone()[0]
    assert float(spent) == pytest.approx(ended * TICK_COST)


def test_the_migration_removes_the_orphans_a_live_database_already_has(server_url):
    """0008 applies on a database where earlier deletes left orphans behind."""
    url = migrated_before(server_url, f"personas_orphans_{os.getpid()}", CASCADE)
    with psycopg.connect(url, autocommit=True) as conn:
        for pid in ("kept", "gone"):
            add_persona(conn, pid)
            add_action(conn, pid, datetime.now(UTC), action_id=f"{pid}-a")
            add_rating(conn, pid, "todo", 3, datetime.now(UTC), feedback_id=f"{pid}-f")
        # What a delete racing with a post left before: the persona row alone is gone.
        conn.execute("DELETE FROM personas.personas WHERE user_id = 'gone'")
        before = orphan_counts(conn)
        apply(url)
        assert before == {"persona_actions": 1, "persona_feedback": 1, "persona_activity": 1}
        assert orphan_counts(conn) == dict.fromkeys(PERSONA_CHILD_TABLES, 0)
        kept = conn.execute("SELECT persona_id, total FROM personas.persona_activity").fetchall()
        assert kept == [("kept", 1)]
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            add_action(conn, "gone", datetime.now(UTC), action_id="gone-b")
