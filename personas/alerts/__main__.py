"""`python -m personas.alerts` (the Procfile's `alerts`): look for alert conditions every
ALERT_CHECK_SECONDS and deliver the messages due, until SIGTERM or SIGINT. Several may run:
deliveries are row-locked while sent, and one process at a time looks for conditions."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time

import psycopg

from apibase.env import config_or_exit
from config import Config
from personas.alerts.conditions import look_for_conditions
from personas.alerts.delivery import deliver_one
from personas.db import connect_kwargs
from personas.logs import configure_logging

log = logging.getLogger("personas.alerts")
# After the database went away, wait this long before connecting again.
RECONNECT_SECONDS = 2.0


def serve(config: Config, stop: threading.Event) -> None:
    """Check and deliver on one connection until `stop`; a lost connection is made anew."""
    next_check = 0.0
    while not stop.is_set():
        try:
            with psycopg.connect(
                config.database_url, autocommit=True, **connect_kwargs(config, "personas-alerts")
            ) as conn:
                while not stop.is_set():
                    if time.monotonic() >= next_check:
                        queued = look_for_conditions(conn, config)
                        if queued:
                            log.info("alerts: %d new messages queued", queued)
                        next_check = time.monotonic() + config.alert_check_seconds
                    # Everything due now, one delivery at a time, then a short wait.
                    while not stop.is_set() and deliver_one(conn, config):
                        pass
                    stop.wait(config.alert_poll_seconds)
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            log.warning("alerts: the database is unreachable, retrying: %s", reason)
            stop.wait(RECONNECT_SECONDS)


def main() -> int:
    configure_logging()
    config = config_or_exit("alerts", Config.from_env)
    stop = threading.Event()
    # A send in flight finishes (at most the send timeout) before the process exits.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info("alerts: started (conditions every %gs)", config.alert_check_seconds)
    try:
        serve(config, stop)
    except psycopg.errors.UndefinedTable:
        print("alerts: the schema is not migrated; run `python -m personas.migrate` first", file=sys.stderr)
        return 1
    log.info("alerts: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
