"""A throwaway PgBouncer in transaction pooling, in front of a PostgreSQL server.

Development and tests only: it proves the service works behind the pooler most
managed PostgreSQL offers. It uses Debian's `pgbouncer` (`apt-get install pgbouncer`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from devstack.postgres import free_port

# Debian installs it under sbin, which a non-root PATH often lacks.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])


class PgBouncerUnavailable(RuntimeError):
    """No pgbouncer binary on this machine."""


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer", path=SEARCH_PATH)


class LocalPgBouncer:
    """PgBouncer on a free loopback port, pooling transactions to the server of `server_url`.

    Clients connect without a password (trust); PgBouncer logs in to the server as the
    URL's user. As root it runs as `postgres`, since PgBouncer refuses to run as root.
    """

    def __init__(self, server_url: str, pool_size: int = 20, port: int | None = None) -> None:
        binary = pgbouncer_binary()
        if binary is None:
            raise PgBouncerUnavailable("no pgbouncer binary (Debian/Ubuntu: `apt-get install pgbouncer`)")
        self.binary = binary
        self.server = conninfo_to_dict(server_url)
        self.user = self.server.get("user") or "postgres"
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="personas-pgbouncer-"))
        self.logfile = self.root / "pgbouncer.log"
        self.as_root = os.geteuid() == 0
        self._write_config(pool_size)
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self.proc: subprocess.Popen | None = None

    def url_for(self, dbname: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def _write_config(self, pool_size: int) -> None:
        target = f"host={self.server.get('host') or '127.0.0.1'} port={self.server.get('port') or 5432}"
        if self.server.get("password"):
            target += f" password={self.server['password']}"
        (self.root / "users.txt").write_text(f'"{self.user}" ""\n')
        settings = {
            "listen_addr": "127.0.0.1",
            "listen_port": self.port,
            "unix_socket_dir": "",
            "auth_type": "trust",
            "auth_file": self.root / "users.txt",
            "pool_mode": "transaction",
            "default_pool_size": pool_size,
            "max_client_conn": 1000,
            "logfile": self.logfile,
            "pidfile": self.root / "pgbouncer.pid",
        }
        lines = ["[databases]", f"* = {target}", "", "[pgbouncer]"]
        lines += [f"{key} = {value}" for key, value in settings.items()]
        (self.root / "pgbouncer.ini").write_text("\n".join(lines) + "\n")

    def start(self, timeout: float = 15) -> None:
        cmd = [self.binary, str(self.root / "pgbouncer.ini")]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pgbouncer exited with {self.proc.returncode}; see {self.logfile}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"pgbouncer did not listen on port {self.port}")

    def destroy(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)
