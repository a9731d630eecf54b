"""/dashboard in headless Chromium, against the real service (gunicorn) and the mana-auth
stand-in: what an operator sees with a good token, a bad one, none, and an empty database."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import ARTIFACTS
from tests.devauth_fixtures import mint_token
from tests.service.factories import add_action, add_persona, add_rating, add_tick, add_transcript
from tests.support.transcripts import EVENTS as SAM_4_EVENTS
from tests.support.transcripts import TRACE
from tests.support.weeks import week

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT = 10

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver)",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    """Headless Chromium from the machine, with a fresh profile; nothing is downloaded."""
    profile = tempfile.mkdtemp(prefix="dashboard-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1500",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(
        service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)), options=options
    )
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def fleet(db) -> dict[str, str]:
    """Three personas (two of them stale), a rating history where `notes` regressed in the
    last 7 days, friction notes, and a failed tool call for Sam."""
    now = datetime.now(UTC)
    add_persona(db, "sam", email="sam@mana.test", cadence="hourly", last_active=now - timedelta(hours=3))
    add_persona(
        db, "ada", email="ada@mana.test", archetype="researcher", last_active=now - timedelta(hours=2)
    )
    add_persona(db, "cleo", email="cleo@mana.test", archetype="ceo-busy", created_at=now - timedelta(days=3))
    # notes: rated 4 and 5 from 8 to 33 days ago, 2 in the last 7 days, by all three.
    for day in range(5):
        add_rating(db, "sam", "notes", 5, now - timedelta(days=8 + 5 * day))
        add_rating(db, "ada", "notes", 4, now - timedelta(days=9 + 5 * day))
        add_rating(db, "cleo", "notes", 5, now - timedelta(days=10 + 5 * day))
    for day in (1, 3, 5):
        add_rating(
            db, "sam", "notes", 2, now - timedelta(days=day), notes="Search lost my notes after the update."
        )
        add_rating(db, "ada", "notes", 2, now - timedelta(days=day, hours=2))
        add_rating(db, "cleo", "notes", 2, now - timedelta(days=day, hours=4))
    for ago in range(8):
        add_rating(db, "sam", "todo", 4, week(ago, 3))
        add_rating(db, "ada", "calendar", 3 + ago % 2, week(ago, 4))
    add_rating(db, "ada", "calendar", 1, week(0, 5), notes="Invite times shift by an hour.")
    for minutes in (50, 40, 30):
        add_action(db, "sam", now - timedelta(minutes=minutes), tool="todo.create")
    add_action(
        db, "sam", now - timedelta(minutes=20), tool="calendar.create", error="409 conflict: slot taken"
    )
    add_action(db, "ada", now - timedelta(minutes=10), tool="notes.search", latency_ms=2400)
    # Ticks: Ada's runs go well; Sam's last three failed, the newest at the actions step.
    for day in range(4, 0, -1):
        add_tick(
            db,
            "ada",
            f"ada-{day}",
            started_at=now - timedelta(days=day),
            input_tokens=9000,
            output_tokens=1200,
            cost_usd=0.045,
            driver="claude",
        )
    add_tick(db, "sam", "sam-1", started_at=now - timedelta(hours=9), cost_usd=0.03)
    add_tick(
        db, "sam", "sam-2", state="timeout", started_at=now - timedelta(hours=7), error="tick over 600 s"
    )
    add_tick(
        db, "sam", "sam-3", state="failed", started_at=now - timedelta(hours=5), error="model 529 overloaded"
    )
    add_tick(
        db,
        "sam",
        "sam-4",
        state="failed",
        step="actions",
        started_at=now - timedelta(hours=3),
        error="POST actions: 503 Service Unavailable",
        cost_usd=0.02,
    )
    add_tick(db, "ada", "ada-0", state="running", started_at=now - timedelta(minutes=5))
    return {"regression_since": (now - timedelta(days=7)).date().isoformat()}


def open_dashboard(browser, live_api, fragment: str = "") -> None:
    browser.get("about:blank")  # a real navigation, even if only the fragment differs
    browser.get(f"{live_api.url}/dashboard{fragment}")


def wait_for(browser, selector: str):
    return WebDriverWait(browser, WAIT).until(EC.visibility_of_element_located((By.CSS_SELECTOR, selector)))


def notice(browser) -> str:
    return wait_for(browser, "#notice").text


def screenshot(browser, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / name))


def test_the_page_shell_holds_no_data_and_a_strict_policy(live_api, fleet):
    response = requests.get(f"{live_api.url}/dashboard", timeout=10)
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert (
        "sam@mana.test" not in response.text
        and '<script src="/dashboard/static/dashboard.js"' in response.text
    )
    for asset in ("dashboard.js", "dashboard.css"):
        assert requests.get(f"{live_api.url}/dashboard/static/{asset}", timeout=10).status_code == 200


def test_an_operator_sees_personas_trends_regressions_and_friction(browser, live_api, devauth, fleet):
    open_dashboard(browser, live_api, f"#token={mint_token(devauth, role='admin')}")
    wait_for(browser, "#personas-table tbody tr")

    assert "token=" not in browser.current_url  # taken out of the address bar
    rows = browser.find_elements(By.CSS_SELECTOR, "#personas-table tbody tr")
    assert {row.find_element(By.CSS_SELECTOR, "td").text for row in rows} == {
        "sam@mana.test",
        "ada@mana.test",
        "cleo@mana.test",
    }
    stale = browser.find_elements(By.CSS_SELECTOR, "#personas-table tr.stale")
    assert sorted(row.get_attribute("data-user-id") for row in stale) == ["cleo", "sam"]
    assert all(row.text.count("stale") == 1 for row in stale)  # said in words, not only styled

    lines = browser.find_elements(By.CSS_SELECTOR, "#chart svg path[data-module]")
    assert sorted(line.get_attribute("data-module") for line in lines) == ["calendar", "notes", "todo"]
    regression = f"▼ regression since {fleet['regression_since']}"
    legend = browser.find_element(By.CSS_SELECTOR, "#legend li[data-module='notes']").text
    assert regression in legend
    assert "2.00 from 9 ratings by 3 personas, was 4.67 from 15; p < 0.001" in legend
    assert "notes: regression since" in browser.find_element(By.ID, "regressions").text

    friction = browser.find_element(By.ID, "friction").text
    assert "Search lost my notes after the update." in friction
    assert "Invite times shift by an hour." in friction

    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []  # no policy violation, no failed request, no script error
    browser.set_window_size(1400, 2200)  # the whole page, runs and tool health included
    try:
        wait_for(browser, "#tools-table tbody tr")
        screenshot(browser, "dashboard.png")
    finally:
        browser.set_window_size(1400, 1500)


def test_choosing_a_persona_shows_its_failed_actions_and_ratings(browser, live_api, devauth, fleet):
    open_dashboard(browser, live_api, f"#token={mint_token(devauth, role='admin')}")
    wait_for(browser, "#personas-table tbody tr[data-user-id='sam']").click()

    failed = wait_for(browser, "#detail table.actions tr.failed")
    assert "calendar.create" in failed.text and "409 conflict: slot taken" in failed.text
    assert "failed" in failed.text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#detail table.actions tbody tr")) == 4
    ratings = browser.find_element(By.CSS_SELECTOR, "#detail .ratings").text
    assert "Search lost my notes after the update." in ratings

    browser.find_element(By.ID, "run-now").click()
    status = browser.find_element(By.CSS_SELECTOR, "#detail .run-status")
    WebDriverWait(browser, WAIT).until(lambda _: status.text and "Asking" not in status.text)
    assert "Queued" in status.text or "not available" in status.text
    screenshot(browser, "dashboard-persona.png")


def test_an_operator_sees_runs_per_day_failing_personas_and_tool_health(browser, live_api, devauth, fleet):
    open_dashboard(browser, live_api, f"#token={mint_token(devauth, role='admin')}")
    wait_for(browser, "#runs-table tbody tr")
    days = browser.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr")
    today = datetime.now(UTC).date().isoformat()
    assert days[0].find_element(By.CSS_SELECTOR, "td").text == today  # newest first
    with_runs = [row.text for row in days if row.find_elements(By.CSS_SELECTOR, ".state-bar .seg")]
    assert len(with_runs) >= 2
    assert any("claude: 1 for $" in row for row in with_runs)  # each day's spend by driver
    bars = browser.find_elements(By.CSS_SELECTOR, "#runs-table .state-bar")
    labels = " | ".join(bar.get_attribute("aria-label") for bar in bars)
    assert "failed" in labels and "running" in labels

    failing = wait_for(browser, "#failing-table tbody tr")
    assert "sam@mana.test" in failing.text
    assert "actions" in failing.text and "POST actions: 503 Service Unavailable" in failing.text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#failing-table tbody tr")) == 1

    tools = browser.find_elements(By.CSS_SELECTOR, "#tools-table tbody tr")
    names = [row.find_element(By.CSS_SELECTOR, "td").text for row in tools]
    assert names[0] == "calendar.create"  # worst error rate first
    assert set(names) == {"calendar.create", "todo.create", "notes.search"}
    assert "100.0%" in tools[0].text
    notes = tools[names.index("notes.search")].text
    assert "ms" in notes and "notes" in notes

    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []
    panels = browser.find_element(By.ID, "runs-heading")
    browser.execute_script("arguments[0].scrollIntoView()", panels)
    screenshot(browser, "dashboard-runs.png")


def test_a_personas_view_shows_its_recent_ticks(browser, live_api, devauth, fleet):
    token = mint_token(devauth, role="admin")
    open_dashboard(browser, live_api, f"#token={token}")
    wait_for(browser, "#personas-table tbody tr[data-user-id='sam']").click()
    failed = wait_for(browser, "#detail table.ticks tr.failed")
    assert "actions" in failed.text and "POST actions: 503 Service Unavailable" in failed.text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#detail table.ticks tbody tr")) == 4
    screenshot(browser, "dashboard-persona-ticks.png")


def test_a_pairs_view_shows_what_each_partner_did_in_their_shared_space(
    browser, live_api, devauth, db, fleet
):
    now = datetime.now(UTC)
    add_tick(db, "ada", "ada-fam", started_at=now - timedelta(hours=1), space_id="space-fam")
    add_action(db, "ada", now - timedelta(minutes=50), tool="calendar.create", tick_id="ada-fam")
    add_tick(db, "cleo", "cleo-fam", started_at=now - timedelta(minutes=40), space_id="space-fam")
    add_action(
        db, "cleo", now - timedelta(minutes=30), tool="todo.list", error="todo.list: down", tick_id="cleo-fam"
    )
    add_tick(db, "cleo", "cleo-own", started_at=now - timedelta(minutes=20), space_id="space-cleo")
    open_dashboard(browser, live_api, f"#token={mint_token(devauth, role='admin')}")
    wait_for(browser, "#personas-table tbody tr[data-user-id='ada']").click()
    space = wait_for(browser, "#detail section.shared-space[data-space-id='space-fam']")
    partners = space.find_elements(By.CSS_SELECTOR, "li.space-partner")
    assert [p.get_attribute("data-user-id") for p in partners] == ["ada", "cleo"]
    assert "calendar.create" in partners[0].text and "1 calls, 0 failed" in partners[0].text
    assert "todo.list" in partners[1].text and "1 calls, 1 failed" in partners[1].text
    assert browser.find_elements(By.CSS_SELECTOR, "section.shared-space[data-space-id='space-cleo']") == []
    screenshot(browser, "dashboard-shared-space.png")


def test_personas_sort_by_actions_in_the_last_seven_days(browser, live_api, devauth, fleet):
    open_dashboard(browser, live_api, f"#token={mint_token(devauth, role='admin')}")
    wait_for(browser, "#personas-table tbody tr")
    browser.find_element(By.CSS_SELECTOR, "button[data-sort='actions7d']").click()
    first = browser.find_element(By.CSS_SELECTOR, "#personas-table tbody tr")
    assert first.get_attribute("data-user-id") == "sam"
    header = browser.find_element(By.CSS_SELECTOR, "th:has(button[data-sort='actions7d'])")
    assert header.get_attribute("aria-sort") == "descending"


def test_a_bad_token_is_rejected_in_words(browser, live_api, fleet):
    open_dashboard(browser, live_api, "#token=garbage")
    assert notice(browser) == "Your token was rejected (expired or not an admin token). Paste a new one."
    assert wait_for(browser, "#token-input")
    assert not browser.find_element(By.ID, "content").is_displayed()
    screenshot(browser, "dashboard-bad-token.png")


def test_a_user_token_is_rejected_in_words(browser, live_api, devauth, fleet):
    open_dashboard(browser, live_api, f"#token={mint_token(devauth, role='user')}")
    assert "Your token was rejected" in notice(browser)


def test_without_a_token_the_page_asks_for_one_and_the_paste_box_works(browser, live_api, devauth, fleet):
    browser.get(f"{live_api.url}/dashboard")
    browser.execute_script("sessionStorage.clear()")
    open_dashboard(browser, live_api)
    assert notice(browser).startswith("No admin token yet.")
    browser.find_element(By.ID, "token-input").send_keys(mint_token(devauth, role="admin"))
    browser.find_element(By.CSS_SELECTOR, "#token-form button[type=submit]").click()
    wait_for(browser, "#personas-table tbody tr")
    assert not browser.find_element(By.ID, "notice").is_displayed()


def test_an_empty_database_says_how_to_seed(browser, live_api, devauth, db):
    open_dashboard(browser, live_api, f"#token={mint_token(devauth, role='admin')}")
    assert wait_for(browser, "#personas-empty").text == "No personas yet — seed them with scripts/seed.py"
    assert "No ratings in these weeks." in browser.find_element(By.ID, "chart").text


# --- the tick view -----------------------------------------------------------------------


@pytest.fixture
def sam_4(db, fleet) -> None:
    """Sam's last failed tick, with its transcript, its trace id and its rating's note."""
    db.execute("UPDATE personas.persona_ticks SET trace_id = %s WHERE tick_id = 'sam-4'", (TRACE,))
    add_transcript(db, "sam", "sam-4", SAM_4_EVENTS)
    add_rating(
        db,
        "sam",
        "calendar",
        2,
        datetime.now(UTC),
        notes="It never said which slot clashed.",
        tick_id="sam-4",
    )


def tick_view(browser):
    return wait_for(browser, "#tick-view .tick-facts")


def assert_sam_4_shown(browser) -> None:
    view = tick_view(browser)
    facts = {
        dt.text: dd.text
        for dt, dd in zip(
            view.find_elements(By.CSS_SELECTOR, "dt"), view.find_elements(By.CSS_SELECTOR, "dd"), strict=True
        )
    }
    assert facts["State"] == "failed" and facts["Step"] == "actions"
    assert facts["Error"] == "POST actions: 503 Service Unavailable"
    assert facts["Trace id"] == TRACE and facts["Cost"] == "$0.02"
    assert facts["Tokens"].startswith("0 in / 0 out")
    events = browser.find_elements(By.CSS_SELECTOR, "#tick-view ol.events > li")
    assert [e.get_attribute("class") for e in events] == [
        "event event-model",
        "event event-call",
        "event event-call call-error",
        "event event-ratings",
        "event event-error",
    ]
    assert "First I list my todos, then I book the dentist." in events[0].text
    assert "todo.list" in events[1].text and "84 ms" in events[1].text and '"limit": 20' in events[1].text
    # The failed call says so in words, not only in colour.
    assert "✖ error" in events[2].text and "409 conflict: slot taken" in events[2].text
    assert "calendar 2/5" in events[3].text and "It never said which slot clashed." in events[3].text
    assert "Stopped" in events[4].text and "at step actions" in events[4].text


def test_the_tick_view_opens_from_a_personas_ticks(browser, live_api, devauth, sam_4):
    open_dashboard(browser, live_api, f"#token={mint_token(devauth, role='admin')}")
    wait_for(browser, "#personas-table tbody tr[data-user-id='sam']").click()
    wait_for(browser, "#detail table.ticks button.open-tick[data-tick-id='sam-4']").click()
    assert_sam_4_shown(browser)
    screenshot(browser, "dashboard-tick-view.png")


def test_the_tick_view_opens_from_the_failing_personas_and_a_friction_note(browser, live_api, devauth, sam_4):
    open_dashboard(browser, live_api, f"#token={mint_token(devauth, role='admin')}")
    wait_for(browser, "#failing-table button.open-tick[data-tick-id='sam-4']").click()
    assert_sam_4_shown(browser)
    browser.find_element(By.ID, "close-tick").click()
    note = wait_for(browser, "#friction button.open-tick[data-tick-id='sam-4']")
    assert note.get_attribute("data-persona-id") == "sam"
    note.click()
    assert_sam_4_shown(browser)


def test_the_tick_view_opens_from_its_fragment(browser, live_api, devauth, sam_4):
    open_dashboard(browser, live_api, f"#token={mint_token(devauth, role='admin')}&tick=sam/sam-4")
    assert_sam_4_shown(browser)
    assert "token=" not in browser.current_url


def test_a_malformed_tick_fragment_still_shows_the_dashboard(browser, live_api, devauth, sam_4):
    open_dashboard(browser, live_api, f"#token={mint_token(devauth, role='admin')}&tick=%E0/sam-4")
    assert wait_for(browser, "#personas-table tbody tr[data-user-id='sam']")
    assert not browser.find_element(By.ID, "tick-view").is_displayed()


def test_a_tick_without_a_transcript_shows_its_audited_calls(browser, live_api, devauth, db, fleet):
    now = datetime.now(UTC)
    add_tick(db, "ada", "ada-bare", started_at=now - timedelta(minutes=30))
    add_action(
        db, "ada", now - timedelta(minutes=29), tool="notes.create", error="500 boom", tick_id="ada-bare"
    )
    open_dashboard(browser, live_api, f"#token={mint_token(devauth, role='admin')}&tick=ada/ada-bare")
    tick_view(browser)
    body = browser.find_element(By.ID, "tick-body").text
    assert "No transcript for this tick" in body
    assert "notes.create" in body and "✖ error" in body and "500 boom" in body
    assert "none reported" in body  # no trace id


MARKUP = [
    '<script>window.__pwned = "script"</script>',
    '<img src="x" onerror="window.__pwned = \'img\'">',
    "<a href=\"javascript:window.__pwned = 'link'\">click me</a>",
]


def test_markup_in_a_transcript_is_shown_as_text_and_nothing_runs(browser, live_api, devauth, db, fleet):
    markup = " ".join(MARKUP)
    add_tick(db, "ada", "ada-markup", state="failed", error=markup)
    add_transcript(
        db,
        "ada",
        "ada-markup",
        [
            {"kind": "model", "text": markup},
            {
                "kind": "call",
                "tool": MARKUP[1],
                "arguments": {"title": MARKUP[0], MARKUP[2]: [MARKUP[1]]},
                "result": "error",
                "output": markup,
                "latencyMs": 5,
            },
            {"kind": "ratings", "ratings": [{"module": MARKUP[2], "rating": 1, "notes": markup}]},
            {"kind": "error", "step": MARKUP[0], "message": markup},
        ],
    )
    browser.get_log("browser")  # what earlier tests left in the log is theirs
    open_dashboard(browser, live_api, f"#token={mint_token(devauth, role='admin')}&tick=ada/ada-markup")
    tick_view(browser)
    view = browser.find_element(By.ID, "tick-view")
    text = view.text
    for snippet in MARKUP:
        assert snippet in text
    for selector in ("script", "img", "a", "[onerror]", "[href]"):
        assert view.find_elements(By.CSS_SELECTOR, selector) == [], selector
    for link in view.find_elements(By.CSS_SELECTOR, "*"):
        assert not (link.get_attribute("href") or "").startswith("javascript:")
    assert browser.execute_script("return window.__pwned === undefined")
    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []


# --- product releases ---------------------------------------------------------------------


def version_tick(db, persona: str, tick: str, version: str, started_at: datetime) -> str:
    add_tick(db, persona, tick, started_at=started_at)
    db.execute(
        "UPDATE personas.persona_ticks SET product_name = 'mana', product_version = %s WHERE tick_id = %s",
        (version, tick),
    )
    return tick


@pytest.fixture
def releases(db) -> None:
    """Three personas on product 1.0 three weeks ago and 1.1 in the last days: `search`
    rated 5 then 1, `todo.create` failing on 1.1, `files` rated too seldom to judge."""
    now = datetime.now(UTC)
    for persona in ("rel-a", "rel-b", "rel-c"):
        add_persona(db, persona)
        for i in range(5):
            at = now - timedelta(days=20, hours=i)
            tick = version_tick(db, persona, f"{persona}-old-{i}", "1.0", at)
            add_rating(db, persona, "search", 5, at, tick_id=tick)
            for call in range(2):
                add_action(db, persona, at, tool="todo.create", tick_id=tick, action_id=f"{tick}-{call}")
        for i in range(3):
            at = now - timedelta(days=2, hours=i)
            tick = version_tick(db, persona, f"{persona}-new-{i}", "1.1", at)
            add_rating(db, persona, "search", 1, at, tick_id=tick)
            for call in range(4):
                add_action(
                    db,
                    persona,
                    at,
                    tool="todo.create",
                    error="boom",
                    tick_id=tick,
                    action_id=f"{tick}-{call}",
                )
    add_rating(db, "rel-a", "files", 4, now - timedelta(days=2))


def test_the_release_panel_and_chart_show_what_got_worse_with_the_new_version(
    browser, live_api, devauth, releases
):
    browser.get_log("browser")  # what earlier tests left in the log is theirs
    open_dashboard(browser, live_api, f"#token={mint_token(devauth, role='admin')}")
    search = wait_for(browser, "#release-panel tr.verdict-worse[data-module='search']")
    assert "worse" in search.text and "1.00 from 9, was 5.00 from 15; p < 0.001" in search.text
    tool = browser.find_element(By.CSS_SELECTOR, "#release-panel tr[data-tool='todo.create']")
    assert "worse" in tool.text and "errors 100% of 36, was 0% of 30" in tool.text
    summary = browser.find_element(By.CSS_SELECTOR, "#release-panel .release-summary").text
    assert summary == "1.1 against 1.0: 2 things got worse."
    first_rows = browser.find_elements(By.CSS_SELECTOR, "#release-panel tbody tr")
    assert first_rows[0].get_attribute("data-module") == "search"  # worse first

    marks = browser.find_elements(By.CSS_SELECTOR, "#chart svg .release-mark")
    assert {mark.get_attribute("data-version") for mark in marks} == {"1.0", "1.1"}
    files = browser.find_element(By.CSS_SELECTOR, "#legend li[data-module='files']").text
    assert "too little data to judge" in files
    line = browser.find_element(By.CSS_SELECTOR, "#chart svg path[data-module='files']")
    assert line.get_attribute("stroke-dasharray")
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    screenshot(browser, "dashboard-releases.png")


# --- the personas table: paged and searched ------------------------------------------------


def shown_ids(browser) -> list[str]:
    # Read in one script: the table is redrawn whole while a page loads.
    return browser.execute_script(
        "return [...document.querySelectorAll('#personas-table tbody tr')].map((r) => r.dataset.userId)"
    )


def wait_until(browser, condition) -> None:
    WebDriverWait(browser, WAIT).until(lambda driver: condition())


def test_the_personas_table_reads_one_page_at_a_time_and_searches(browser, live_api, devauth, db, fleet):
    old = datetime.now(UTC) - timedelta(days=10)
    for i in range(52):
        add_persona(db, f"bulk-{i:02}", created_at=old - timedelta(minutes=i))
    open_dashboard(browser, live_api, f"#token={mint_token(devauth, role='admin')}")
    wait_for(browser, "#personas-table tbody tr")
    first = shown_ids(browser)
    assert len(first) == 50 and {"sam", "ada", "cleo"} <= set(first)
    assert browser.find_element(By.ID, "personas-prev").get_attribute("disabled")

    browser.find_element(By.ID, "personas-next").click()
    wait_until(browser, lambda: shown_ids(browser) == [f"bulk-{i:02}" for i in range(47, 52)])
    assert browser.find_element(By.ID, "personas-page").text == "Page 2"
    assert browser.find_element(By.ID, "personas-next").get_attribute("disabled")
    browser.find_element(By.ID, "personas-prev").click()
    wait_until(browser, lambda: sorted(shown_ids(browser)) == sorted(first))

    browser.find_element(By.ID, "persona-email").send_keys("SAM")
    browser.find_element(By.CSS_SELECTOR, "#persona-search button[type=submit]").click()
    wait_until(browser, lambda: shown_ids(browser) == ["sam"])
    browser.find_element(By.ID, "persona-email").clear()
    browser.find_element(By.ID, "persona-failing").click()  # Sam's last three ticks failed
    wait_until(browser, lambda: shown_ids(browser) == ["sam"])
    browser.find_element(By.ID, "persona-failing").click()
    browser.find_element(By.CSS_SELECTOR, "#persona-cadence option[value='weekdays']").click()
    wait_for(browser, "#personas-empty")
    assert browser.find_element(By.ID, "personas-empty").text == "No persona matches this search."
    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []
