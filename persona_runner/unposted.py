"""What a tick could not post, and how an operator sends it later.

A tick's post that the API never accepted, although it was retried until the tick's
lease would lapse, is logged in full as one JSON line (`{"unposted": <when>, "reason",
"method", "path", "body"}`) on the `persona_runner.unposted` logger. `python -m
persona_runner replay FILE...` reads such lines out of any log (whatever a log
collector put before them) and sends each once more, in order, with the service key.
Every post is keyed (actions, ratings) or a repeatable state (tick reports), so sending
one twice writes nothing twice.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from apibase.client_errors import ExpectedError, StatusError
from persona_runner.config import RunnerConfig
from persona_runner.errors import Unposted
from persona_runner.internal_client import PREFIX, InternalClient

log = logging.getLogger("persona_runner.unposted")
MARK = '{"unposted":'


def log_unposted(exc: Unposted) -> None:
    record = {
        "unposted": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "reason": str(exc.cause),
        "method": exc.method,
        "path": exc.path,
        "body": exc.body,
    }
    log.error("%s", json.dumps(record, separators=(",", ":")))


def records(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The unposted records among `lines`, in order; other lines are skipped."""
    for line in lines:
        start = line.find(MARK)
        if start < 0:
            continue
        try:
            record = json.loads(line[start:])
        except ValueError:
            continue  # a line cut short by the log's own limit: nothing safe to send
        if isinstance(record, dict) and sendable(record):
            yield record


def sendable(record: dict[str, Any]) -> bool:
    """Only what a tick posts: the service key goes to no other route."""
    path = record.get("path")
    return record.get("method") in ("POST", "PUT", "DELETE") and str(path).startswith(PREFIX + "/")


def replay(config: RunnerConfig, paths: list[str], out: TextIO | None = None) -> int:
    """Send every unposted record of the files (`-`: stdin) once more; one line each and
    a summary. 0 when every one was accepted (or had nothing left to do), 1 when some
    failed, 2 when a file is missing."""
    out = out or sys.stdout
    missing = [path for path in paths if path != "-" and not Path(path).is_file()]
    if missing:
        print(f"replay: no such file: {', '.join(missing)}", file=out)
        return 2
    client = InternalClient(config)
    sent = failed = 0
    try:
        for record in read(paths):
            try:
                client.send(record["method"], record["path"], record.get("body"))
                outcome = "posted"
            except StatusError as exc:
                outcome = "nothing to do" if moot(record, exc) else f"failed: {exc.detail}"
            except ExpectedError as exc:
                outcome = f"failed: {exc}"
            failed += outcome.startswith("failed")
            sent += 1
            print(f"{record['method']} {record['path']}: {outcome}", file=out, flush=True)
    finally:
        client.close()
    print(f"replay: {sent} records, {sent - failed} done, {failed} failed", file=out)
    return 1 if failed else 0


def moot(record: dict[str, Any], exc: StatusError) -> bool:
    """A release answered 404: the lease already ended (the ratings end it, or it lapsed)."""
    return record["method"] == "DELETE" and exc.status == 404


def read(paths: list[str]) -> Iterator[dict[str, Any]]:
    for path in paths:
        if path == "-":
            yield from records(sys.stdin)
        else:
            with Path(path).open(encoding="utf-8", errors="replace") as lines:
                yield from records(lines)
