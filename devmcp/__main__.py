"""`python -m devmcp`: the stand-in under uvicorn, one process (its sessions live in it)."""

from __future__ import annotations

import sys

import uvicorn

from apibase.env import config_or_exit
from devmcp import create_app
from devmcp.config import DevMcpConfig


def main() -> int:
    config = config_or_exit("devmcp", DevMcpConfig.from_env)
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
