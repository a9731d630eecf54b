#!/usr/bin/env bash
# Set up the virtualenv (first run) and run the whole local stack until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
# A throwaway PostgreSQL needs the server binaries (not needed when DATABASE_URL names a server).
[ -n "${DATABASE_URL:-}" ] || bash devstack/system-packages.sh postgresql || true
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
exec .venv/bin/python -m devstack "$@"
