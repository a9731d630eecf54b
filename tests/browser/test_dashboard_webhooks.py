"""The dashboard's webhooks panel in headless Chromium, against a real service allowed to
send to a loopback receiver: the webhooks, the test button and its outcome, the deliveries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from devstack.processes import Process
from tests.alerts_fixtures import ALERTS_ENV
from tests.browser import test_dashboard as dashboard
from tests.browser.test_dashboard import WAIT, open_dashboard, wait_for
from tests.devauth_fixtures import mint_token
from tests.support.auth import bearer
from tests.support.processes import running_web
from tests.support.receiver import Answer

# The dashboard tests' Chromium (one per module) and their skip when it is missing.
browser = dashboard.browser
pytestmark = dashboard.pytestmark


@pytest.fixture(scope="module")
def alerts_api(service_env: dict[str, str]) -> Iterator[Process]:
    """The service under gunicorn, allowed to send to loopback receivers; once per module."""
    with running_web("web-alerts", {**service_env, **ALERTS_ENV}, workers=1) as proc:
        yield proc


@pytest.fixture
def token(devauth, alerts_db) -> str:
    return mint_token(devauth, role="admin")


def register(alerts_api, token: str, url: str, **body) -> dict:
    answer = requests.post(
        f"{alerts_api.url}/api/v1/personas/admin/webhooks",
        json={"url": url, **body},
        headers=bearer(token),
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_the_test_button_shows_its_outcome_and_the_deliveries(browser, alerts_api, token, receiver):
    hook = register(alerts_api, token, receiver.url, description="<b>ops</b> channel")
    receiver.expect(hook["secret"], Answer(200), Answer(500))
    open_dashboard(browser, alerts_api, f"#token={token}")
    row = wait_for(browser, f'#webhooks-table tr[data-webhook-id="{hook["id"]}"]')
    assert receiver.url in row.text and "active" in row.text
    assert "<b>ops</b> channel" in row.text  # markup from an operator is shown as text
    status = row.find_element(By.CSS_SELECTOR, ".test-status")
    row.find_element(By.CSS_SELECTOR, ".send-test").click()
    WebDriverWait(browser, WAIT).until(lambda _: status.text == "Test delivered (200).")
    assert wait_for(browser, "#deliveries-table tbody tr").text.split()[-5:-3] == ["delivered", "1"]
    row.find_element(By.CSS_SELECTOR, ".send-test").click()
    WebDriverWait(browser, WAIT).until(lambda _: status.text.startswith("Test not delivered yet"))
    assert "answered 500" in status.text
    WebDriverWait(browser, WAIT).until(
        lambda _: len(browser.find_elements(By.CSS_SELECTOR, "#deliveries-table tbody tr")) == 2
    )
    newest = browser.find_elements(By.CSS_SELECTOR, "#deliveries-table tbody tr")[0].text
    assert "pending" in newest and "500" in newest
    assert [r.verified for r in receiver.received] == [True, True]


def test_a_webhook_disabled_by_a_410_says_so_and_offers_no_test(browser, alerts_api, token, receiver):
    hook = register(alerts_api, token, receiver.url)
    receiver.expect(hook["secret"], Answer(410))
    sent = requests.post(
        f"{alerts_api.url}/api/v1/personas/admin/webhooks/{hook['id']}/test",
        headers=bearer(token),
        timeout=10,
    )
    assert sent.json()["delivery"]["status"] == "failed"
    open_dashboard(browser, alerts_api, f"#token={token}")
    row = wait_for(browser, f'#webhooks-table tr[data-webhook-id="{hook["id"]}"]')
    assert "disabled (410)" in row.text
    assert not row.find_element(By.CSS_SELECTOR, ".send-test").is_enabled()


def test_no_webhook_says_alerts_go_nowhere(browser, alerts_api, token):
    open_dashboard(browser, alerts_api, f"#token={token}")
    assert wait_for(browser, "#webhooks-empty").text == "No webhook registered: alerts go nowhere."
