"""get_flops, the model benchmark and the operator benchmark, tiny sizes."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

from mmfasternet.analysis.complexity import model_complexity
from mmfasternet.analysis.models import build_model, load_any_config
from mmfasternet.analysis.operators import benchmark_operators, operators

REPO = Path(__file__).parents[1]


def tool(*args) -> str:
    result = subprocess.run([sys.executable, *args], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.parametrize('config', [
    'configs/retinanet_fasternet_t0_coco.py',
    'configs/fpn_fasternet_t0_ade20k.py'
])
def test_get_flops_parameters_match_the_built_model(config):
    out = tool('tools/analysis/get_flops.py', config, '--shape', '128', '128')
    model = build_model(Config.fromfile(str(REPO / config)))
    params = sum(p.numel() for p in model.parameters())
    total = next(line for line in out.splitlines()
                 if line.startswith('model'))
    assert float(total.split()[1].rstrip('M')) == pytest.approx(
        params / 1e6, abs=0.005)
    assert 'backbone' in out and 'neck' in out


def test_parts_add_up_and_backbone_only_agrees():
    cfg = Config.fromfile(str(REPO / 'configs/fpn_fasternet_t0_ade20k.py'))
    whole = model_complexity(cfg, (64, 64))
    alone = model_complexity(cfg, (64, 64), backbone_only=True)['model']
    assert whole['backbone'] == {k: alone[k] for k in ('params', 'flops')}
    parts = [v for k, v in whole.items() if k != 'model']
    assert sum(p['params'] for p in parts) == whole['model']['params']
    assert sum(p['flops'] for p in parts) <= whole['model']['flops']
    assert whole['backbone']['flops'] > 0


def test_mmdet_configs_load_by_package_name():
    cfg = load_any_config('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py')
    assert cfg.model.backbone.type == 'ResNet'


def test_benchmark_writes_well_formed_results_and_plot(tmp_path):
    out, plot = tmp_path / 'results.json', tmp_path / 'plot.png'
    tool('tools/analysis/benchmark.py', 'configs/fpn_fasternet_t0_ade20k.py',
         '--shape', '64', '64', '--repeat', '2', '--warmup', '1',
         '--backbone-only', '--deploy', '--dtype', 'fp32', 'bf16',
         '--out', str(out), '--plot', str(plot))
    rows = json.loads(out.read_text())
    assert [(r['deploy'], r['dtype']) for r in rows] == [
        (False, 'fp32'), (True, 'fp32'), (False, 'bf16'), (True, 'bf16')]
    for row in rows:
        assert len(row['times_ms']) == 2 and row['median_ms'] > 0
        assert row['achieved_gflops'] == pytest.approx(
            row['flops'] / row['median_ms'] / 1e6)
        assert row['part'] == 'backbone' and row['height'] == 64
    assert plot.read_bytes()[:4] == b'\x89PNG'


def test_benchmark_whole_detector_to_csv(tmp_path):
    out = tmp_path / 'results.csv'
    stdout = tool('tools/analysis/benchmark.py',
                  'configs/retinanet_fasternet_t0_coco.py', '--shape', '64',
                  '64', '--repeat', '2', '--warmup', '1', '--out', str(out))
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 1 and rows[0]['part'] == 'model'
    assert float(rows[0]['images_per_s']) > 0
    assert 'retinanet_fasternet_t0_coco' in stdout


def test_operator_flops_follow_the_paper_and_benchmark_runs():
    ops = operators(64)
    flops = {name: per_pixel for name, (_, per_pixel) in ops.items()}
    assert flops['Conv 3x3'] == 9 * 64 * 64
    assert flops['PConv 3x3 (r=1/4)'] * 16 == flops['Conv 3x3']
    assert flops['DWConv 3x3'] == 9 * 64
    rows = benchmark_operators([(16, 8, 8)], repeat=2, warmup=1)
    assert len(rows) == 4
    assert all(r['median_ms'] > 0 and r['achieved_gflops'] > 0 for r in rows)
