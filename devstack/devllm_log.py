"""devllm's record of what one API key sent (`GET /dev/requests`), for the tests and the
benchmark that check what a driver put in its prompts."""

from __future__ import annotations

import requests


def requests_sent(base_url: str, api_key: str, timeout: float = 10) -> list[dict]:
    """The Messages requests sent to devllm at `base_url` with `api_key`, oldest first."""
    answer = requests.get(f"{base_url}/dev/requests", headers={"x-api-key": api_key}, timeout=timeout)
    answer.raise_for_status()
    return answer.json()["requests"]
