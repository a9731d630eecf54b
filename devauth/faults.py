"""Faults on purpose: a test registers one through /dev/faults, and the next matching
call stalls and/or fails, so the callers' handling of a broken mana-auth can be proven."""

from __future__ import annotations

import time

from flask import Flask, request

from devauth.db import get_db, queries
from devauth.errors import InjectedFault


def inject_fault() -> None:
    """Consume one matching fault, if any: sleep its delay, then answer its status."""
    if request.path == "/dev" or request.path.startswith("/dev/"):
        return  # the controls themselves never fail, or a test could not clear a fault
    if "\x00" in request.path:
        return  # no fault can name such a path (and PostgreSQL could not compare it)
    with get_db().connection() as conn:
        fault = queries.faults.consume_fault(conn, path=request.path, method=request.method)
    # The connection is back in the pool before the stall, so a stall holds only a thread.
    if fault is None:
        return
    if fault["delay_ms"]:
        time.sleep(fault["delay_ms"] / 1000)
    if fault["status"] is not None:
        raise InjectedFault(fault["status"])


def init_app(app: Flask) -> None:
    app.before_request(inject_fault)
