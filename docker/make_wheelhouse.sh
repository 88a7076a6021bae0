#!/usr/bin/env bash
# Make a wheelhouse: one folder with a wheel for every package installed by
# scripts/install.sh (the pinned stack of requirements/stack.txt and
# requirements/tests.txt with everything they depend on, at the versions
# installed), mmcv's wheel built against the pinned torch included. With
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

[[ -x "$venv/bin/python" ]] ||
  { echo "make_wheelhouse.sh: no environment at $venv: run scripts/install.sh first" >&2; exit 1; }
mkdir -p "$dir"
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
torch_index=()
[[ -n "${TORCH_INDEX_URL:-}" ]] &&
  torch_index=(--extra-index-url "$TORCH_INDEX_URL")

# Exactly the versions installed there (pip freeze), each as a wheel, with no
# dependency resolution: PyPI's wheels are downloaded, sdists built (mmcv
# against the environment's torch, hence no build isolation; pip reuses the
# wheel it built at install time). TORCH_INDEX_URL is searched for torch's
# local build (e.g. 2.13.0+cpu) besides pip's own index.
frozen="$dir/requirements-frozen.txt"
"${pip[@]}" freeze --all --exclude-editable | grep -v '^pip==' >"$frozen"
MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" "${pip[@]}" wheel \
  --no-deps --no-build-isolation --wheel-dir "$dir" "${torch_index[@]}" \
  -r "$frozen"
ls "$dir" | grep -c '\.whl$' | xargs echo "make_wheelhouse.sh: wheels in $dir:"
du -sh "$dir"
