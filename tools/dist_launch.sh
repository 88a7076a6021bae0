#!/usr/bin/env bash
# The torchrun call that dist_train.sh and dist_test.sh share:
#   tools/dist_launch.sh SCRIPT NUM_PROCESSES [SCRIPT arguments]
# Environment: NNODES, NODE_RANK, MASTER_ADDR, PORT, PYTHON.
# GPUs when there are some; without CUDA, N CPU processes with gloo.
set -euo pipefail
script=$1
procs=$2
shift 2
exec "${PYTHON:-python}" -m torch.distributed.run \
  --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
  --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
  --nproc_per_node="$procs" \
  "$(dirname "$0")/$script" "$@" --launcher pytorch
