#!/usr/bin/env bash
# The main job, offline: set up (scripts/install.sh), generate the shapes
# data set, train a FasterNet-T0 Mask R-CNN from scratch on it, evaluate it
# (bbox and segm mAP from pycocotools) in fp32, and the untrained model as
# the baseline (scripts/demo_stages.sh; DEMO_FORMS=all adds --amp, the
# folded deploy form and folded + channels-last + --amp). Metrics and the
# time of each stage go to RESULTS (default
# benchmarks/demo_maskrcnn_fasternet_t0.json);
# pictures of predictions beside ground truth and the loss curve go to the
# work dir. A second run resumes or reuses what the first one finished.
# DEMO_CONFIG picks another demo detector on the same data, e.g.
#   DEMO_CONFIG=configs/demo/retinanet_fasternet_t0_synthetic.py bash scripts/demo.sh
#   DEMO_CONFIG=configs/demo/rtmdet_fasternet_t0_synthetic.py bash scripts/demo.sh
#   DEMO_CONFIG=configs/demo/rtmdet-ins_fasternet_t0_synthetic.py bash scripts/demo.sh
# (work dir and results file are named after it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install.sh"
cd "$root"
source scripts/demo_stages.sh
config="${DEMO_CONFIG:-configs/demo/maskrcnn_fasternet_t0_synthetic.py}"
name="demo_$(basename "$config" _synthetic.py)"
work="${WORK_DIR:-work_dirs/$name}"

stage data "${VENV_DIR:-$root/.venv}/bin/python" \
  tools/make_synthetic_data.py coco data/synthetic_coco
train_and_evaluate "${VENV_DIR:-$root/.venv}/bin/python" "$config" "$work" \
  "${RESULTS:-benchmarks/$name.json}" pictures \
  "${DEMO_FORMS:+DEMO_FORMS=$DEMO_FORMS }${RESULTS:+RESULTS=$RESULTS }${DEMO_CONFIG:+DEMO_CONFIG=$DEMO_CONFIG }bash scripts/demo.sh"
echo "Pictures: $work/test_trained/*/pictures, loss curve: $work/loss_curve.png"
