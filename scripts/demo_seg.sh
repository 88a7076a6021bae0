#!/usr/bin/env bash
# Segmentation demo, offline: set up (scripts/install.sh), generate the
# ADE20K-layout shapes set, train a FasterNet-T0 Semantic FPN from scratch on
# it, evaluate it (mIoU and per-class IoU), and evaluate the untrained model
# as the baseline. Pictures of predictions beside labels go to the work dir.
# A few minutes on 2 CPU cores; a second run reuses what the first finished.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install.sh"
cd "$root"
py="${VENV_DIR:-$root/.venv}/bin/python"
config=configs/demo/fpn_fasternet_t0_synthetic.py
work="${WORK_DIR:-work_dirs/demo_fpn_fasternet_t0}"

"$py" tools/make_synthetic_data.py ade data/synthetic_ade --train 400 --val 50
"$py" tools/train.py "$config" --work-dir "$work" --resume
trained="$(cat "$work/last_checkpoint")"
"$py" tools/test.py "$config" "$trained" --work-dir "$work/test_trained" \
  --show-dir "$work/pictures" 2>&1 | tee "$work/test_trained.log"
"$py" tools/demo_report.py untrained "$config" "$work/untrained.pth"
"$py" tools/test.py "$config" "$work/untrained.pth" \
  --work-dir "$work/test_untrained" 2>&1 | tee "$work/test_untrained.log"
"$py" tools/demo_report.py loss-curve "$work" "$work/loss_curve.png"

echo
echo "Trained   ($trained): $(grep -h -o 'mIoU: [0-9.]*' \
  "$work/test_trained.log" | tail -1)"
echo "Untrained (initial weights): $(grep -h -o 'mIoU: [0-9.]*' \
  "$work/test_untrained.log" | tail -1)"
echo "Pictures: $work/pictures, loss curve: $work/loss_curve.png"
