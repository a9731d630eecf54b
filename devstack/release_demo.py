"""A product release in the local stack, part way: the personas tick a few rounds against
devmcp's first version, then devmcp "deploys" a new version in which one module fails, and
they tick a few rounds more, so the dashboard's "since the last release" panel shows that
module (and its tools) worse within a few minutes. Runs in a thread beside the stack."""

from __future__ import annotations

import threading
import time

import requests

from devstack.run_now import run_everyone_now

FIRST_VERSION = "1.0.0"
NEW_VERSION = "1.1.0"
# The module every catalog persona uses, so its ratings pass the rule's minimums quickly.
BROKEN_MODULE = "calendar"
# Rounds of every persona ticking on each side: enough ratings of the module on both.
ROUNDS = 3
ROUND_DEADLINE_S = 180
TIMEOUT_S = 10


class ReleaseDemo(threading.Thread):
    def __init__(self, api_url: str, mcp_url: str, token: str) -> None:
        super().__init__(name="release-demo", daemon=True)
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {token}"
        self.api_url, self.mcp_url, self.token = api_url, mcp_url, token

    def run(self) -> None:
        try:
            self.rounds(FIRST_VERSION, first_asked=True)
            self.deploy()
            self.rounds(NEW_VERSION, first_asked=False)
            print(
                f"release    done: open the dashboard's 'Since the last release' panel ({NEW_VERSION}"
                f" against {FIRST_VERSION}); {BROKEN_MODULE} stays broken until"
                f" curl -X DELETE {self.mcp_url}/dev/faults",
                flush=True,
            )
        except (requests.RequestException, TimeoutError) as exc:
            print(f"release    demo stopped: {exc}", flush=True)

    def deploy(self) -> None:
        post = requests.post
        post(
            f"{self.mcp_url}/dev/version", json={"version": NEW_VERSION}, timeout=TIMEOUT_S
        ).raise_for_status()
        fault = {"tool": f"{BROKEN_MODULE}.*", "errorRate": 1, "times": 100_000}
        post(f"{self.mcp_url}/dev/faults", json=fault, timeout=TIMEOUT_S).raise_for_status()
        print(
            f"release    devmcp now answers {NEW_VERSION}, with every {BROKEN_MODULE} tool failing",
            flush=True,
        )

    def rounds(self, version: str, first_asked: bool) -> None:
        """ROUNDS ticks of every persona against `version`. Each round is asked for only
        once the last one has ended: a run-now that arrives mid-tick is answered by that
        tick's end, so it would not make another."""
        personas = self.api.get(f"{self.api_url}/api/v1/personas/admin", timeout=TIMEOUT_S).json()["personas"]
        for number in range(1, ROUNDS + 1):
            if number > 1 or not first_asked:
                run_everyone_now(self.api_url, self.token)
            self.wait_for_ticks(version, number * len(personas))

    def wait_for_ticks(self, version: str, ticks: int) -> None:
        deadline = time.monotonic() + ROUND_DEADLINE_S
        while time.monotonic() < deadline:
            answer = self.api.get(
                f"{self.api_url}/api/v1/personas/admin/insights/releases", timeout=TIMEOUT_S
            )
            seen = {r["version"]: r["ticks"] for r in answer.json()["releases"]}
            if seen.get(version, 0) >= ticks:
                return
            time.sleep(2)  # polling the API, not waiting for a guess
        raise TimeoutError(f"fewer than {ticks} ticks on product {version} after {ROUND_DEADLINE_S} s")
