"""gunicorn settings: gunicorn reads ./gunicorn.conf.py by itself when started from here.

Runs in the gunicorn master before any worker exists: it gives prometheus_client a
fresh multiprocess directory, so /metrics sums every worker's figures, and forgets a
worker's live gauges when it exits.
"""

import os
import shutil
import tempfile
from pathlib import Path

_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _metrics_dir:
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    Path(_metrics_dir).mkdir(parents=True, exist_ok=True)
else:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="personas-metrics-")


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
