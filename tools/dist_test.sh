#!/usr/bin/env bash
# Evaluate on N processes: tools/dist_test.sh CONFIG CHECKPOINT N [test.py flags]
# GPUs when there are some; without CUDA, N CPU processes with gloo.
set -euo pipefail
if [[ $# -lt 3 ]]; then
  echo "usage: $0 CONFIG CHECKPOINT NUM_PROCESSES [tools/test.py flags]" >&2
  exit 2
fi
config=$1
checkpoint=$2
procs=$3
shift 3
exec "$(dirname "$0")/dist_launch.sh" test.py "$procs" "$config" \
  "$checkpoint" "$@"
