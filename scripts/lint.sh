#!/usr/bin/env bash
# Style checks, configured in setup.cfg ([flake8], [isort]) and pinned in
# requirements/tests.txt: flake8 (pycodestyle, pyflakes) and isort's import
# order over every Python file of the project. .ci/run calls it after the
# install; `isort mmfasternet tools tests ...` fixes the order in place.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${VENV_DIR:-$root/.venv}/bin"
cd "$root"
paths=(mmfasternet tools tests demo configs scripts .dev_scripts)
"$bin/flake8" "${paths[@]}"
"$bin/isort" --check-only --diff "${paths[@]}"
