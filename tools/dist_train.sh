#!/usr/bin/env bash
# Train on N processes of this machine (or of several, with NNODES,
# NODE_RANK, MASTER_ADDR): tools/dist_train.sh CONFIG N [train.py flags]
# GPUs when there are some; without CUDA, N CPU processes with gloo.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 CONFIG NUM_PROCESSES [tools/train.py flags]" >&2
  exit 2
fi
config=$1
procs=$2
shift 2
exec "$(dirname "$0")/dist_launch.sh" train.py "$procs" "$config" "$@"
