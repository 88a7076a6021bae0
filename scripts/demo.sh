#!/usr/bin/env bash
# The main job, offline: set up (scripts/install.sh), generate the shapes
# data set, train a FasterNet-T0 Mask R-CNN from scratch on it, evaluate it
# (bbox and segm mAP from pycocotools), and evaluate the untrained model as
# the baseline. Pictures of predictions beside ground truth and the loss
# curve go to the work dir. About 12 minutes on 2 CPU cores.
# A second run resumes or reuses what the first one finished.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install.sh"
cd "$root"
py="${VENV_DIR:-$root/.venv}/bin/python"
config=configs/demo/maskrcnn_fasternet_t0_synthetic.py
work="${WORK_DIR:-work_dirs/demo_maskrcnn_fasternet_t0}"

"$py" tools/make_synthetic_data.py coco data/synthetic_coco
"$py" tools/train.py "$config" --work-dir "$work" --resume
trained="$(cat "$work/last_checkpoint")"
"$py" tools/test.py "$config" "$trained" --work-dir "$work/test_trained" \
  --show-dir pictures 2>&1 | tee "$work/test_trained.log"
"$py" tools/demo_report.py untrained "$config" "$work/untrained.pth"
"$py" tools/test.py "$config" "$work/untrained.pth" \
  --work-dir "$work/test_untrained" 2>&1 | tee "$work/test_untrained.log"
"$py" tools/demo_report.py loss-curve "$work" "$work/loss_curve.png"

echo
echo "Trained   ($trained):"
grep -h -o 'coco/bbox_mAP: [0-9.]*\|coco/segm_mAP: [0-9.]*' \
  "$work/test_trained.log" | tr '\n' ' '
echo
echo "Untrained (initial weights):"
grep -h -o 'coco/bbox_mAP: [0-9.]*\|coco/segm_mAP: [0-9.]*' \
  "$work/test_untrained.log" | tr '\n' ' '
echo
echo "Pictures: $work/test_trained/*/pictures, loss curve: $work/loss_curve.png"
