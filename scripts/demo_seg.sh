#!/usr/bin/env bash
# Segmentation demo, offline: set up (scripts/install.sh), generate the
# ADE20K-layout shapes set, train a FasterNet-T0 Semantic FPN from scratch on
# it, evaluate it (mIoU and per-class IoU) in fp32, and the untrained model
# as the baseline (scripts/demo_stages.sh; DEMO_FORMS=all adds --amp, the
# folded deploy form and folded + channels-last + --amp). Metrics and stage
# times go to RESULTS (default benchmarks/demo_fpn_fasternet_t0.json);
# pictures of predictions beside labels go to the work dir. A second run
# reuses what the first finished.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install.sh"
cd "$root"
source scripts/demo_stages.sh
work="${WORK_DIR:-work_dirs/demo_fpn_fasternet_t0}"

stage data "${VENV_DIR:-$root/.venv}/bin/python" \
  tools/make_synthetic_data.py ade data/synthetic_ade --train 400 --val 50
train_and_evaluate "${VENV_DIR:-$root/.venv}/bin/python" \
  configs/demo/fpn_fasternet_t0_synthetic.py "$work" \
  "${RESULTS:-benchmarks/demo_fpn_fasternet_t0.json}" "$work/pictures" \
  "${DEMO_FORMS:+DEMO_FORMS=$DEMO_FORMS }${RESULTS:+RESULTS=$RESULTS }bash scripts/demo_seg.sh"
echo "Pictures: $work/pictures, loss curve: $work/loss_curve.png"
