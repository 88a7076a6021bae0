#!/usr/bin/env bash
# Set up (scripts/install.sh, instant when done before) and run the tests.
# Extra arguments go to pytest, e.g. scripts/test.sh -k backbone. The tests
# run on every core (pytest-xdist, one torch thread per worker: the conftest
# sets it); add -n 0 to run them in this one process.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install.sh"
cd "$root"
exec "${VENV_DIR:-$root/.venv}/bin/python" -m pytest -n auto "$@"
