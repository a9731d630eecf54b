"""The runner's MCP client as the MCP conformance suite's client under test:
`python -m tests.support.conformance_client <server URL>`, the scenario named by
`MCP_CONFORMANCE_SCENARIO`. It opens a session with the runner's own code
(`persona_runner.product`), lists the tools and makes the scenario's call; it exits 0
when the call answered without error."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from persona_runner.product import open_session

TIMEOUT = 10.0
# The call each scenario's test server waits for; a scenario not named here only initialises.
CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "tools_call": ("add_numbers", {"a": 2, "b": 3}),
    "sse-retry": ("test_reconnection", {}),
}


async def run(url: str, scenario: str) -> int:
    async with open_session(url, {}, TIMEOUT) as product:
        tools = [tool.name for tool in await product.tools()]
        print(f"{scenario}: tools {tools}")
        if scenario not in CALLS:
            return 0
        name, arguments = CALLS[scenario]
        answer = await product.call(name, arguments)
        print(f"{scenario}: {name} -> {'error' if answer.is_error else 'ok'}: {answer.text}")
        return 1 if answer.is_error else 0


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m tests.support.conformance_client <server URL>", file=sys.stderr)
        return 2
    return asyncio.run(run(argv[1], os.environ.get("MCP_CONFORMANCE_SCENARIO", "")))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
