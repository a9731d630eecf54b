"""`python -m devmcp`: the stand-in under uvicorn, one process (its sessions live in it)."""

from __future__ import annotations

import sys

import uvicorn

from devmcp import create_app
from devmcp.config import ConfigError, DevMcpConfig


def main() -> int:
    try:
        config = DevMcpConfig.from_env()
    except ConfigError as exc:
        print(f"devmcp: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
