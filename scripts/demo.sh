#!/usr/bin/env bash
# The main job: set up (scripts/install.sh), then a FasterNet backbone smoke
# run on every variant. (The detection demo replaces this.)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install.sh"
cd "$root"
"${VENV_DIR:-$root/.venv}/bin/python" - <<'PY'
import torch
from mmfasternet import FasterNet
for arch in FasterNet.arch_settings:
    model = FasterNet(arch=arch).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 224, 224))
    params = sum(p.numel() for p in model.parameters())
    print(f'FasterNet-{arch}: {params:,} parameters, outputs',
          [tuple(o.shape[1:]) for o in outs])
PY
