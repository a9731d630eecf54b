"""The local stack's first finished tick, printed as a link to its view in the dashboard
(what a newcomer wants to read first: the calls, the persona's words, the ratings)."""

from __future__ import annotations

import time

import requests

POLL_SECONDS = 3.0


def tick_view_url(api_url: str, token: str, persona_id: str, tick_id: str) -> str:
    return f"{api_url}/dashboard#token={token}&tick={persona_id}/{tick_id}"


def first_finished_tick(api_url: str, token: str) -> tuple[str, str] | None:
    """(persona id, tick id) of a finished tick, from the admin API; None while there is none."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    with session:
        personas = session.get(f"{api_url}/api/v1/personas/admin", timeout=10).json()["personas"]
        for persona in personas:
            detail = session.get(f"{api_url}/api/v1/personas/admin/{persona['userId']}", timeout=10).json()
            for tick in detail.get("recentTicks", []):
                if tick.get("finishedAt"):
                    return persona["userId"], tick["tickId"]
    return None


class FirstTickLink:
    """Looks for the first finished tick every POLL_SECONDS until it prints its link once."""

    def __init__(self, api_url: str, token: str) -> None:
        self.api_url = api_url
        self.token = token
        self.next_look = 0.0
        self.printed = False

    def poll(self) -> None:
        if self.printed or time.monotonic() < self.next_look:
            return
        self.next_look = time.monotonic() + POLL_SECONDS
        try:
            found = first_finished_tick(self.api_url, self.token)
        except (requests.RequestException, ValueError, KeyError):
            return  # the API busy or restarting: look again later
        if found:
            print(f"\nfirst tick       {tick_view_url(self.api_url, self.token, *found)}", flush=True)
            self.printed = True
