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
exec "${PYTHON:-python}" -m torch.distributed.run \
  --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
  --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
  --nproc_per_node="$procs" \
  "$(dirname "$0")/train.py" "$config" --launcher pytorch "$@"
