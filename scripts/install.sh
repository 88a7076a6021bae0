#!/usr/bin/env bash
# Create the virtual environment and install the pinned stack, in order:
#   1. torch (pinned; TORCH_INDEX_URL picks a build, e.g. a CUDA one)
#   2. setuptools (<82: mmcv's setup.py and mmengine's mmdet::/mmseg::
#      config inheritance need pkg_resources) and ninja
#   3. mmcv built from source with its ops, against that torch
#   4. mmengine, mmdet, mmsegmentation and the rest of requirements/stack.txt
#   5. the test runner and mmfasternet itself (editable)
# Every step after the first uses requirements/stack.txt as a constraint, so no
# package can pull another torch. A second run with unchanged pins returns at
# once.
#
# Environment:
#   VENV_DIR             where the environment goes (default: .venv at the
#                        repository root)
#   PYTHON               interpreter that creates it (default: python3)
#   TORCH_INDEX_URL      package index for torch only (default: pip's own)
#   FORCE_CUDA, TORCH_CUDA_ARCH_LIST
#                        build mmcv's CUDA ops (set both; recent nvcc rejects
#                        architectures below 7.5)
#   MAX_JOBS             parallel compile jobs for mmcv (default: all cores)
#   STACK_ONLY=1         install the stack but not mmfasternet itself (for
#                        image layers built before the source is copied)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV_DIR:-$root/.venv}"
pins="$root/requirements/stack.txt"
tests="$root/requirements/tests.txt"

pin() {  # the line of requirements/stack.txt that names package $1
  local line
  line="$(grep -E "^$1([=<>!~ ]|$)" "$pins")" || {
    echo "install.sh: $1 is not pinned in $pins" >&2
    exit 1
  }
  echo "$line"
}

stamp="$venv/.mmfasternet-stack"
wanted="$(cat "$pins" "$tests" | sha256sum | cut -d' ' -f1)"
wanted="$wanted ${TORCH_INDEX_URL:-} ${FORCE_CUDA:-} ${TORCH_CUDA_ARCH_LIST:-}"
pip=("$venv/bin/python" -m pip install --disable-pip-version-check)

install_stack() {
  if [[ ! -x "$venv/bin/python" ]]; then
    "${PYTHON:-python3}" -m venv "$venv"
  fi
  local torch_index=()
  [[ -n "${TORCH_INDEX_URL:-}" ]] && torch_index=(--index-url "$TORCH_INDEX_URL")
  "${pip[@]}" "${torch_index[@]}" "$(pin torch)"
  "${pip[@]}" -c "$pins" "$(pin setuptools)" "$(pin ninja)" wheel

  MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
    "${pip[@]}" -c "$pins" --no-build-isolation "$(pin mmcv)"

  local rest=() line
  while read -r line; do
    rest+=("$line")
  done < <(grep -Ev '^(#|$|torch[=<>!~ ]|setuptools|ninja|mmcv[=<>!~ ])' "$pins")
  "${pip[@]}" -c "$pins" "${rest[@]}"
  "${pip[@]}" -c "$pins" -r "$tests"
  "$venv/bin/python" -c 'import mmdet, mmseg, mmcv.ops'
  echo "$wanted" > "$stamp"
}

if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]] &&
  "$venv/bin/python" -c 'import mmdet, mmseg, mmcv.ops' 2>/dev/null; then
  echo "install.sh: the pinned stack in $venv is up to date"
else
  install_stack
fi
[[ -n "${STACK_ONLY:-}" ]] && exit 0

# mmfasternet itself, editable, unless this checkout is already the one used.
if ! (cd / && "$venv/bin/python" -c "import mmfasternet, os, sys
sys.exit(os.path.dirname(os.path.dirname(mmfasternet.__file__)) != '$root')") \
  2>/dev/null; then
  "${pip[@]}" -c "$pins" --no-build-isolation --no-deps -e "$root"
fi
echo "install.sh: ready, activate with: source ${venv#"$root"/}/bin/activate"
