#!/usr/bin/env bash
# The checks that need an NVIDIA GPU, from a fresh checkout, in three stages
# sized to take under 10 minutes each on a 16-core machine once the build is
# done (not yet timed on a GPU; the environment persists between stages):
#
#   scripts/gpu_check.sh --stage build   CUDA stack via scripts/install.sh,
#                                        mmcv's ops for this machine's GPUs
#   scripts/gpu_check.sh --stage test    CUDA tests: RNG state in exact
#                                        resume, --amp (fp16) training and
#                                        inference on generated data, DDP
#                                        over NCCL on every GPU
#   scripts/gpu_check.sh --stage bench   whole Mask R-CNN FasterNet-S/M/L vs
#                                        ResNet-50/101 and their backbones,
#                                        fp32 and fp16, plus mmdet's own
#                                        benchmark.py on the flagship config;
#                                        results in benchmarks/*_<gpu>.*
#
# --dry-run prints the commands of the stage without running them (the GPU
# is still detected). Environment: VENV_DIR (default .venv-cuda, apart from
# the CPU .venv: pip would keep a CPU torch of the same version), MAX_JOBS,
# CUDA_HOME (a CUDA toolkit matching torch's CUDA; see docker/README.md),
# WORK (default work_dirs/gpu_check).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

usage="usage: scripts/gpu_check.sh --stage build|test|bench [--dry-run]"
die() {
  echo "gpu_check.sh: $*" >&2
  exit "${2:-1}"
}

stage="" dry=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --stage) [[ $# -ge 2 ]] || die "--stage needs a value; $usage" 2
             stage="$2"; shift 2 ;;
    --stage=*) stage="${1#--stage=}"; shift ;;
    --dry-run) dry=1; shift ;;
    -h|--help) echo "$usage"; exit 0 ;;
    *) die "unknown argument '$1'; $usage" 2 ;;
  esac
done
case "$stage" in
  build|test|bench) ;;
  "") die "no stage given; $usage" 2 ;;
  *) die "unknown stage '$stage': choose build, test or bench" 2 ;;
esac

# The GPUs, from the driver: one "name, compute capability" line each.
gpus="$(nvidia-smi --query-gpu=name,compute_cap --format=csv,noheader \
  2>/dev/null || true)"
[[ -n "$gpus" ]] ||
  die "no NVIDIA GPU found (nvidia-smi lists none): run this on a machine with one; the CPU checks are scripts/test.sh"
ngpus="$(grep -c . <<<"$gpus")"
arch="$(cut -d, -f2 <<<"$gpus" | tr -d ' ' | sort -u | paste -sd';')"
name="$(head -n1 <<<"$gpus" | cut -d, -f1)"
slug="$(tr 'A-Z' 'a-z' <<<"$name" | tr -cs 'a-z0-9' '_' | sed 's/^_//;s/_$//')"
echo "gpu_check.sh: $ngpus x $name (compute capability $arch), stage $stage"

venv="${VENV_DIR:-$root/.venv-cuda}"
py="$venv/bin/python"
work="${WORK:-work_dirs/gpu_check}"
data="$work/synthetic_coco"
demo=configs/demo/maskrcnn_fasternet_t0_synthetic.py
# The demo config on the small generated set in $data, for a few iterations.
data_options=(
  "train_dataloader.dataset.data_root=$data/"
  "val_dataloader.dataset.data_root=$data/"
  "test_dataloader.dataset.data_root=$data/"
  "val_evaluator.ann_file=$data/annotations/instances_val2017.json"
  "test_evaluator.ann_file=$data/annotations/instances_val2017.json")
iters=20
short=("train_cfg.max_iters=$iters" "train_cfg.val_interval=$iters"
       "default_hooks.checkpoint.interval=$iters")

run() {
  echo "+ $*"
  [[ -n "$dry" ]] || "$@"
}

build() {
  # nvcc from the machine's toolkit, else from PyPI (requirements/cuda.txt).
  local toolkit=()
  [[ -n "${CUDA_HOME:-}" ]] || command -v nvcc >/dev/null ||
    toolkit=(CUDA_FROM_PYPI=1)
  run env VENV_DIR="$venv" FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$arch" \
    MAX_JOBS="${MAX_JOBS:-$(nproc)}" "${toolkit[@]}" bash scripts/install.sh
  # The compiled ops must run on the GPU, not only import.
  run "$py" -c "import torch
from mmcv.ops import nms, roi_align
assert torch.cuda.is_available(), 'torch sees no GPU'
boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10.]], device='cuda')
kept = nms(boxes, torch.tensor([0.9, 0.8], device='cuda'), 0.5)[1]
assert kept.tolist() == [0], kept
feats = torch.rand(1, 4, 16, 16, device='cuda')
rois = torch.tensor([[0, 0, 0, 8, 8.]], device='cuda')
assert roi_align(feats, rois, (2, 2)).is_cuda
print('mmcv CUDA ops run on', torch.cuda.get_device_name())"
}

test_stage() {
  # The suite's CUDA cases (they skip without a GPU): RNG state in exact
  # resume runs its model on the GPU, --amp trains with fp16 loss scaling.
  run "$py" -m pytest -q tests/test_resume_and_eval_safety.py \
    tests/test_tools_detection.py -k "resume or amp"
  run "$py" tools/make_synthetic_data.py coco "$data" --train 64 --val 16
  run "$py" tools/train.py "$demo" --amp --work-dir "$work/amp" \
    --cfg-options "${data_options[@]}" "${short[@]}"
  run "$py" tools/test.py "$demo" "$work/amp/iter_$iters.pth" --amp \
    --work-dir "$work/amp_test" --cfg-options "${data_options[@]}"
  # DDP: one process per GPU, NCCL (tools/dist_launch.sh picks it on CUDA).
  run env PYTHON="$py" bash tools/dist_train.sh "$demo" "$ngpus" \
    --work-dir "$work/ddp" --cfg-options "${data_options[@]}" "${short[@]}"
}

bench() {
  local models=(configs/maskrcnn_fasternet_{s,m,l}_coco.py
                mmdet::mask_rcnn/mask-rcnn_r{50,101}_fpn_1x_coco.py)
  run "$py" tools/analysis/benchmark.py "${models[@]}" --device cuda \
    --forms train_fp32 train_fp16 --detections 100 \
    --out "benchmarks/maskrcnn_800x1280_$slug.csv"
  run "$py" tools/analysis/benchmark.py "${models[@]}" --device cuda \
    --backbone-only --forms train_fp32 train_fp16 deploy_fp32 deploy_fp16 \
    --out "benchmarks/backbone_800x1280_$slug.csv"
  # mmdet's own FPS tool, on the flagship config with the generated data.
  local mmdet_tools=MMDET/.mim/tools  # placeholder for a dry run
  [[ -n "$dry" ]] || mmdet_tools="$("$py" -c 'import mmdet, os
print(os.path.join(os.path.dirname(mmdet.__file__), ".mim", "tools"))')"
  [[ -n "$dry" || -d "$data" ]] ||
    run "$py" tools/make_synthetic_data.py coco "$data" --train 64 --val 16
  local out="benchmarks/mmdet_benchmark_maskrcnn_fasternet_s_$slug.txt"
  echo "(output also in $out)"
  run "$py" -m torch.distributed.run --nproc_per_node=1 \
    "$mmdet_tools/analysis_tools/benchmark.py" \
    configs/maskrcnn_fasternet_s_coco.py --task inference --launcher pytorch \
    --cfg-options "${data_options[@]}" 2>&1 | if [[ -n "$dry" ]]; then cat
    else tee "$out"; fi
}

case "$stage" in
  build) build ;;
  test) test_stage ;;
  bench) bench ;;
esac
echo "gpu_check.sh: stage $stage done"
