#!/usr/bin/env bash
# Train on a Slurm cluster, one task per GPU, as mmdet's slurm_train.sh:
#   tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py flags]
# Environment: GPUS (total, default 8), GPUS_PER_NODE (8), CPUS_PER_TASK (5),
# SRUN_ARGS (extra srun arguments).
set -euo pipefail
if [[ $# -lt 4 ]]; then
  echo "usage: $0 PARTITION JOB_NAME CONFIG WORK_DIR [tools/train.py flags]" >&2
  exit 2
fi
partition=$1
job_name=$2
config=$3
work_dir=$4
shift 4
gpus=${GPUS:-8}
gpus_per_node=${GPUS_PER_NODE:-8}
read -r -a srun_args <<< "${SRUN_ARGS:-}"
exec srun -p "$partition" --job-name="$job_name" \
  --gres=gpu:"$gpus_per_node" --ntasks="$gpus" \
  --ntasks-per-node="$gpus_per_node" --cpus-per-task="${CPUS_PER_TASK:-5}" \
  --kill-on-bad-exit=1 "${srun_args[@]}" \
  "${PYTHON:-python}" -u "$(dirname "$0")/train.py" "$config" \
  --work-dir="$work_dir" --launcher=slurm "$@"
