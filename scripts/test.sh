#!/usr/bin/env bash
# Set up the virtualenv (first run) and run the whole test suite. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
# The real counterparts the stand-ins are tested against (npm; skipped with a message without it).
lock=tests/counterparts/package-lock.json stamp=tests/counterparts/node_modules/.installed-from-lock
if command -v npm >/dev/null && ! cmp -s "$lock" "$stamp"; then
  if npm ci --prefix tests/counterparts --no-audit --no-fund --loglevel=error; then cp "$lock" "$stamp"
  else echo "test.sh: npm ci failed; the counterpart tests will be skipped"; fi
fi
# Three workers (pytest-xdist), each with its own PostgreSQL and processes: much of a test's
# time is spent waiting on real processes. TEST_WORKERS=0 runs everything in one process.
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-3}" "$@"
