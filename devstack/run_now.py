"""Ask every persona to run at once, as an operator would from the admin API: in the local
stack, the next runner claim ticks them all again (e.g. to see a failing module's alert).

`python -m devstack.run_now --api http://127.0.0.1:3060 --jwt <admin token>`
"""

from __future__ import annotations

import argparse
import sys

import requests


def run_everyone_now(api_url: str, token: str) -> int:
    """Every persona made due now; how many there are."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    personas = session.get(f"{api_url}/api/v1/personas/admin", timeout=10).json()["personas"]
    for persona in personas:
        session.post(
            f"{api_url}/api/v1/personas/admin/{persona['userId']}/run-now", timeout=10
        ).raise_for_status()
    return len(personas)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.run_now", description=__doc__)
    parser.add_argument("--api", default="http://127.0.0.1:3060", help="the personas API")
    parser.add_argument("--jwt", required=True, help="an admin token (the local stack prints one)")
    args = parser.parse_args()
    try:
        print(f"{run_everyone_now(args.api, args.jwt)} personas asked to run at once")
    except requests.RequestException as exc:
        print(f"run_now: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
