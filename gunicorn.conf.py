"""gunicorn settings: gunicorn reads ./gunicorn.conf.py by itself when started from here.

Runs in the gunicorn master before any worker exists: it gives prometheus_client a
multiprocess directory, so /metrics sums every worker's figures, and forgets a worker's
live gauges when it exits. A directory named by PROMETHEUS_MULTIPROC_DIR is emptied at
start and left in place; without one, a fresh temporary directory is made here and
removed when the master exits.
"""

import os
import shutil
import tempfile
from pathlib import Path

METRICS_DIR_PREFIX = "personas-metrics-"

_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _metrics_dir:
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    Path(_metrics_dir).mkdir(parents=True, exist_ok=True)
else:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix=METRICS_DIR_PREFIX)


def _made_here(path: Path) -> bool:
    # Told by its name and place, not by a variable of this module: gunicorn reads this
    # file again on SIGHUP, and then finds the directory it made in the environment.
    return path.parent == Path(tempfile.gettempdir()) and path.name.startswith(METRICS_DIR_PREFIX)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker):
    # Close the database pool while the worker can still wait on its threads (they are
    # greenlets on the web worker, which cannot be waited for once the worker is torn down).
    database = getattr(getattr(worker, "wsgi", None), "extensions", {}).get("database")
    if database is not None:
        database.close()


def on_exit(server):
    metrics_dir = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR", ""))
    if _made_here(metrics_dir):
        shutil.rmtree(metrics_dir, ignore_errors=True)
