"""The regression rule of GET /api/v1/personas/admin/insights, by evidence: rolling 7 days
against the 28 before, a one-sided rank test exact under ties (Holm across modules),
Cliff's δ at most -0.33, the sample minimums, and no single persona deciding it. Each
condition has data on both of its sides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.devauth_fixtures import mint_token
from tests.service.factories import add_persona, add_rating
from tests.support.auth import bearer

URL = "/api/v1/personas/admin/insights"
PERSONAS = ("p1", "p2", "p3", "p4", "p5")


@pytest.fixture
def admin(client, devauth):
    headers = bearer(mint_token(devauth, role="admin"))

    def modules(**params) -> dict[str, dict]:
        response = client.get(URL, query_string=params, headers=headers)
        assert response.status_code == 200, response.get_json()
        return {m["module"]: m for m in response.get_json()["modules"]}

    return modules


@pytest.fixture
def personas(db):
    for persona in PERSONAS:
        add_persona(db, persona)
    return PERSONAS


def rate(db, module: str, ratings: list[int], *, days_ago: tuple[float, float], by=PERSONAS) -> None:
    """`ratings` spread evenly between `days_ago` (newest, oldest), dealt to `by` in turn."""
    newest, oldest = days_ago
    now = datetime.now(UTC)
    step = (oldest - newest) / max(1, len(ratings) - 1)
    for i, value in enumerate(ratings):
        add_rating(db, by[i % len(by)], module, value, now - timedelta(days=newest + i * step))


def baseline(db, module: str, ratings: list[int], **kw) -> None:
    rate(db, module, ratings, days_ago=(8, 34), **kw)


def recent(db, module: str, ratings: list[int], **kw) -> None:
    rate(db, module, ratings, days_ago=(0.1, 6.5), **kw)


def test_a_clear_drop_is_flagged_with_its_evidence(admin, db, personas):
    baseline(db, "notes", [4, 5, 5, 4, 5] * 4)  # 20 ratings, mean 4.6
    recent(db, "notes", [2, 3, 2, 1, 3] * 2)  # 10 ratings by 5 personas, mean 2.2
    notes = admin()["notes"]
    assert notes["evidence"] == "enough"
    regression = notes["regression"]
    since = (datetime.now(UTC) - timedelta(days=7)).date().isoformat()
    assert regression["since"] == since
    assert (regression["baselineAvg"], regression["recentAvg"]) == (4.6, 2.2)
    assert (regression["baselineCount"], regression["recentCount"], regression["recentPersonas"]) == (
        20,
        10,
        5,
    )
    assert regression["effect"] == -1.0  # every recent rating below every baseline one
    assert 0 < regression["pValue"] < 0.001


def test_the_same_mixture_before_and_after_is_not_flagged(admin, db, personas):
    baseline(db, "notes", [1, 2, 3, 4, 5] * 4)
    recent(db, "notes", [5, 4, 3, 2, 1] * 2)
    notes = admin()["notes"]
    assert (notes["evidence"], notes["regression"]) == ("enough", None)


def test_one_personas_bad_week_is_not_flagged(admin, db, personas):
    baseline(db, "notes", [4, 5, 5, 4, 5] * 4)
    recent(db, "notes", [1] * 8, by=("p1",))  # all the drop comes from p1
    recent(db, "notes", [5, 4], by=("p2", "p3"))
    notes = admin()["notes"]
    assert (notes["evidence"], notes["regression"]) == ("enough", None)


def test_a_small_effect_is_not_flagged_however_certain(admin, db, personas):
    baseline(db, "notes", [4] * 48 + [5] * 72)  # 40 % fours
    recent(db, "notes", [4] * 36 + [5] * 24)  # 60 % fours: δ = -0.2, p well under 0.05
    notes = admin()["notes"]
    assert (notes["evidence"], notes["regression"]) == ("enough", None)


@pytest.mark.parametrize(
    ("recent_ratings", "recent_by", "baseline_ratings"),
    [
        pytest.param([1] * 7, PERSONAS, [5] * 20, id="7-recent-ratings"),
        pytest.param([1] * 10, ("p1", "p2"), [5] * 20, id="2-recent-personas"),
        pytest.param([1] * 10, PERSONAS, [5] * 14, id="14-baseline-ratings"),
    ],
)
def test_a_thin_sample_is_insufficient_and_never_flagged(
    admin, db, personas, recent_ratings, recent_by, baseline_ratings
):
    baseline(db, "notes", baseline_ratings)
    recent(db, "notes", recent_ratings, by=recent_by)
    notes = admin()["notes"]
    assert (notes["evidence"], notes["regression"]) == ("insufficient", None)


def test_the_minimums_themselves_are_enough(admin, db, personas):
    baseline(db, "notes", [5] * 15)
    recent(db, "notes", [1] * 8, by=("p1", "p2", "p3"))
    notes = admin()["notes"]
    assert notes["evidence"] == "enough"
    assert notes["regression"]["recentCount"] == 8


def test_ratings_older_than_35_days_are_not_the_baseline(admin, db, personas):
    rate(db, "notes", [5] * 20, days_ago=(36, 60))
    recent(db, "notes", [1] * 10)
    assert admin()["notes"]["evidence"] == "insufficient"


def test_holm_adjusts_across_the_modules_tested(admin, db, personas):
    # Alone, p is about 0.02 (flagged); with three other modules tested, Holm multiplies
    # it by up to 4 and it no longer clears 0.05.
    baseline(db, "notes", [3, 4, 5, 4, 4] * 3)
    recent(db, "notes", [3, 3, 4, 2, 3, 4, 3, 2])
    assert admin()["notes"]["regression"]["pValue"] <= 0.05
    for other in ("todo", "calendar", "files"):
        baseline(db, other, [1, 2, 3, 4, 5] * 3)
        recent(db, other, [1, 2, 3, 4, 5, 1, 3, 5])
    modules = admin()
    assert modules["notes"]["regression"] is None
    assert all(m["evidence"] == "enough" for m in modules.values())


def test_a_flagged_module_sorts_first_and_the_archetype_filter_applies_to_the_rule(admin, db, personas):
    baseline(db, "notes", [5] * 20)
    recent(db, "notes", [1] * 10)
    baseline(db, "todo", [1] * 20)
    recent(db, "todo", [1] * 10)
    assert list(admin()) == ["notes", "todo"]
    assert admin(archetype="someone-else") == {}
    assert admin(archetype="solo-dev")["notes"]["regression"] is not None


def test_a_flagged_module_is_listed_even_when_the_weeks_shown_hold_none_of_its_ratings(admin, db, personas):
    # weeks=1 shows this calendar week only; ratings of 6 days ago may fall before it.
    baseline(db, "notes", [5] * 20)
    rate(db, "notes", [1] * 10, days_ago=(6.6, 6.9))
    notes = admin(weeks=1)["notes"]
    assert notes["regression"] is not None
