#!/usr/bin/env bash
# Make a wheelhouse: one folder with a wheel for every package of the pinned
# stack (requirements/stack.txt and requirements/tests.txt, with everything
# they depend on), mmcv's wheel built against the pinned torch included. With
# it, `WHEELHOUSE=DIR scripts/install.sh` installs with no package index and
# no compiler: for air-gapped clusters and for docker/Dockerfile.cpu
# (--build-arg WHEELHOUSE=docker/wheelhouse).
#
#   bash docker/make_wheelhouse.sh [DIR]     (default DIR: docker/wheelhouse)
#
# Run it where scripts/install.sh has installed the stack (VENV_DIR, default
# .venv): mmcv is built with that environment's torch (pip reuses the wheel
# it built at install time, from its cache) and the wheels match that
# environment's Python and platform. The target machine needs the same Python
# minor version and a glibc at least as new. TORCH_INDEX_URL picks the torch
# build, as for scripts/install.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV_DIR:-$root/.venv}"
dir="${1:-$root/docker/wheelhouse}"
pins="$root/requirements/stack.txt"

[[ -x "$venv/bin/python" ]] ||
  { echo "make_wheelhouse.sh: no environment at $venv: run scripts/install.sh first" >&2; exit 1; }
mkdir -p "$dir"
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
torch="$(grep -E '^torch[=<>!~ ]' "$pins")"
torch_index=()
[[ -n "${TORCH_INDEX_URL:-}" ]] && torch_index=(--index-url "$TORCH_INDEX_URL")

"${pip[@]}" download --no-deps -d "$dir" "${torch_index[@]}" "$torch"
# Everything else, with its dependencies, as wheels (sdists are built here;
# mmcv against the environment's torch, hence no build isolation). torch is
# taken from $dir so the resolver does not fetch another build of it.
MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" "${pip[@]}" wheel \
  --wheel-dir "$dir" --find-links "$dir" --no-build-isolation -c "$pins" \
  -r "$pins" -r "$root/requirements/tests.txt" wheel
ls "$dir" | grep -c '\.whl$' | xargs echo "make_wheelhouse.sh: wheels in $dir:"
du -sh "$dir"
