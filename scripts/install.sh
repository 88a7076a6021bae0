#!/usr/bin/env bash
# Create the virtual environment and install the pinned stack, in order:
#   1. torch (pinned; TORCH_INDEX_URL picks a build, e.g. a CUDA one)
#   2. setuptools (<82: mmcv's setup.py and mmengine's mmdet::/mmseg::
#      config inheritance need pkg_resources) and ninja
#   3. mmcv built from source with its ops, against that torch
#   4. mmengine, mmdet, mmsegmentation and the rest of requirements/stack.txt
#   5. the test runner and mmfasternet itself (editable)
# Every step after the first uses requirements/stack.txt as a constraint, so no
# package can pull another torch. Before any of it, the system prerequisites
# are checked (a missing one stops the script with one line naming it and the
# Debian/Ubuntu package that provides it); after it, every pinned package must
# import (scripts/check_stack.py). A second run with unchanged pins and an
# unchanged script returns at once.
#
# Usage: scripts/install.sh [--check-prerequisites]
#   --check-prerequisites  only check what the system must provide, then stop
#
# Environment:
#   VENV_DIR             where the environment goes (default: .venv at the
#                        repository root)
#   PYTHON               interpreter that creates it (default: python3)
#   TORCH_INDEX_URL      package index for torch only (default: pip's own)
#   WHEELHOUSE           a folder of wheels for the whole pinned stack, mmcv's
#                        built wheel included: install from it alone, with no
#                        package index and no compiler (docker/make_wheelhouse.sh
#                        makes one)
#   FORCE_CUDA, TORCH_CUDA_ARCH_LIST
#                        build mmcv's CUDA ops (set both; recent nvcc rejects
#                        architectures below 7.5); CUDA_HOME names the toolkit
#                        when nvcc is not on PATH
#   CUDA_FROM_PYPI=1     with FORCE_CUDA=1 on a machine without a CUDA
#                        toolkit: nvcc, the CUDA headers and CCCL come from
#                        PyPI's NVIDIA wheels (requirements/cuda.txt, the
#                        versions torch's wheel requires) into the environment
#   MAX_JOBS             parallel compile jobs for mmcv (default: all cores)
#   STACK_ONLY=1         install the stack but not mmfasternet itself (for
#                        image layers built before the source is copied)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV_DIR:-$root/.venv}"
python="${PYTHON:-python3}"
pins="$root/requirements/stack.txt"
tests="$root/requirements/tests.txt"

die() {
  echo "install.sh: $*" >&2
  exit 1
}

pin() {  # the line of requirements/stack.txt that names package $1
  local line
  line="$(grep -E "^$1([=<>!~ ]|$)" "$pins")" ||
    die "$1 is not pinned in $pins"
  echo "$line"
}

missing() {  # what, then the Debian/Ubuntu package that provides it
  die "missing prerequisite: $1 (Debian/Ubuntu: sudo apt install $2)"
}

check_prerequisites() {
  # Everything the system must provide, checked before any pip step.
  command -v "$python" >/dev/null || missing "$python (Python 3.10 or newer)" python3
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
    die "$python is $("$python" -V 2>&1); torch $(pin torch | cut -d= -f3) needs Python 3.10 or newer: set PYTHON to one (3.11 was tried)"
  if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -c 'import ensurepip, venv' 2>/dev/null ||
      missing "the venv module of $python" python3-venv
  fi
  if [[ -n "${WHEELHOUSE:-}" ]]; then
    [[ -d "$WHEELHOUSE" ]] ||
      die "WHEELHOUSE=$WHEELHOUSE is not a folder: make one with docker/make_wheelhouse.sh, or unset WHEELHOUSE to install from the package index"
    return 0  # nothing is compiled: mmcv's wheel is in the wheelhouse
  fi
  command -v "${CXX:-c++}" >/dev/null ||
    missing "a C++ compiler (${CXX:-c++}) to build mmcv's ops" build-essential
  "$python" -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' ||
    missing "the Python headers (Python.h) of $python to build mmcv's ops" python3-dev
  if [[ -n "${FORCE_CUDA:-}" && -z "${CUDA_FROM_PYPI:-}" ]]; then
    [[ -x "${CUDA_HOME:-/nonexistent}/bin/nvcc" ]] || command -v nvcc >/dev/null ||
      die "missing prerequisite: nvcc for FORCE_CUDA=1: set CUDA_HOME to a CUDA toolkit that matches torch's CUDA, or CUDA_FROM_PYPI=1 to take it from PyPI"
  fi
}

if [[ "${1:-}" == --check-prerequisites ]]; then
  check_prerequisites
  echo "install.sh: prerequisites present"
  exit 0
elif [[ $# -gt 0 ]]; then
  die "unknown argument $1; usage: scripts/install.sh [--check-prerequisites]"
fi

# The stamp covers the pins, this script (a changed step re-runs) and the
# choices that change what gets built.
stamp="$venv/.mmfasternet-stack"
wanted="$(cat "$pins" "$tests" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)"
wanted="$wanted ${TORCH_INDEX_URL:-} ${FORCE_CUDA:-} ${TORCH_CUDA_ARCH_LIST:-}"
wanted="$wanted ${CUDA_FROM_PYPI:-}"
pip=("$venv/bin/python" -m pip install --disable-pip-version-check)
if [[ -n "${WHEELHOUSE:-}" && -d "$WHEELHOUSE" ]]; then
  pip+=(--no-index --find-links "$(cd "$WHEELHOUSE" && pwd)")
fi

pypi_cuda_home() {
  # PyPI's NVIDIA wheels hold the toolkit in site-packages/nvidia/cuNN (bin,
  # include, lib, nvvm). torch's extension builder links with CUDA_HOME/lib64
  # and -lcudart, which that tree lacks (lib/, and libcudart.so.NN only): a
  # folder of links fills both gaps without touching the installed files.
  local tree home="$venv/cuda" lib
  tree="$(ls -d "$venv"/lib/python3*/site-packages/nvidia/cu[0-9]* | head -n1)"
  rm -rf "$home"
  mkdir -p "$home/lib64"
  ln -s "$tree/bin" "$tree/include" "$tree/nvvm" "$home/"
  ln -s "$tree"/lib/* "$home/lib64/"
  for lib in "$home"/lib64/libcudart.so.*; do
    ln -sf "$(basename "$lib")" "$home/lib64/libcudart.so"
  done
  echo "$home"
}

install_stack() {
  check_prerequisites
  if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv"
  fi
  local torch_index=()
  [[ -n "${TORCH_INDEX_URL:-}" && -z "${WHEELHOUSE:-}" ]] &&
    torch_index=(--index-url "$TORCH_INDEX_URL")
  "${pip[@]}" "${torch_index[@]}" "$(pin torch)"
  "${pip[@]}" -c "$pins" "$(pin setuptools)" "$(pin ninja)" wheel

  if [[ -n "${FORCE_CUDA:-}" && -n "${CUDA_FROM_PYPI:-}" ]]; then
    "${pip[@]}" -c "$pins" -r "$root/requirements/cuda.txt"
    CUDA_HOME="$(pypi_cuda_home)"
    export CUDA_HOME
  fi
  MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
    "${pip[@]}" -c "$pins" --no-build-isolation "$(pin mmcv)"

  local rest=() line
  while read -r line; do
    rest+=("$line")
  done < <(grep -Ev '^(#|$|torch[=<>!~ ]|setuptools|ninja|mmcv[=<>!~ ])' "$pins")
  "${pip[@]}" -c "$pins" "${rest[@]}"
  "${pip[@]}" -c "$pins" -r "$tests"
  (cd / && "$venv/bin/python" "$root/scripts/check_stack.py" "$pins" "$tests")
  echo "$wanted" > "$stamp"
}

if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]] &&
  "$venv/bin/python" -c 'import mmdet, mmseg, mmcv.ops' 2>/dev/null; then
  echo "install.sh: the pinned stack in $venv is up to date"
else
  install_stack
fi
[[ -n "${STACK_ONLY:-}" ]] && exit 0

# mmfasternet itself, editable, unless this checkout is already the one used;
# then it must import from outside the checkout as this checkout's package,
# also from a folder that holds another directory named mmfasternet (the
# images' `/`, which holds the checkout /mmfasternet). setuptools' default
# editable finder comes after the current folder on sys.path, so there such a
# directory wins as an empty namespace package; compat mode puts the checkout
# itself on sys.path (a .pth entry, as `setup.py develop` did for mmdet), so
# the real package wins (pypa/setuptools#3557).
here() {
  local dir
  dir="$(mktemp -d)"
  mkdir "$dir/mmfasternet"
  (cd "$dir" && "$venv/bin/python" -c "import mmfasternet, os, sys
sys.exit(os.path.dirname(os.path.dirname(mmfasternet.__file__ or '')) != '$root')")
  local status=$?
  rm -rf "$dir"
  return "$status"
}
if ! here 2>/dev/null; then
  "${pip[@]}" -c "$pins" --no-build-isolation --no-deps \
    --config-settings editable_mode=compat -e "$root"
  here || die "mmfasternet does not import from outside $root after its install"
fi
echo "install.sh: ready, activate with: source ${venv#"$root"/}/bin/activate"
