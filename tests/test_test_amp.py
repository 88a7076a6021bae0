"""``tools/test.py --amp`` on a CPU: bf16 autocast through the whole test
loop of Mask R-CNN, RetinaNet and Semantic FPN on generated data, mmcv's
ops given float32 where they refuse bf16."""
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmfasternet.datasets import make_ade_dataset, make_coco_dataset
from mmfasternet.demo import latest_test_metrics, save_untrained_checkpoint

REPO = Path(__file__).parents[1]


@pytest.fixture(scope='module')
def coco(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp('data') / 'coco'
    return make_coco_dataset(str(root), num_train=1, num_val=3, size=256)


@pytest.fixture(scope='module')
def ade(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp('data') / 'ade'
    return make_ade_dataset(str(root), num_train=1, num_val=3, size=256)


def data_options(root: str, coco: bool) -> list:
    options = ['test_dataloader.num_workers=0',
               'test_dataloader.persistent_workers=False',
               f'test_dataloader.dataset.data_root={root}/']
    if coco:
        options.append(f'test_evaluator.ann_file={root}/annotations/'
                       f'instances_val2017.json')
    return options


def run_test(config: str, checkpoint: Path, work_dir: Path, options: list,
             *extra: str) -> dict:
    result = subprocess.run(
        [sys.executable, 'tools/test.py', config, str(checkpoint),
         '--work-dir', str(work_dir), *extra, '--cfg-options', *options],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return latest_test_metrics(str(work_dir))


@pytest.mark.parametrize('config,options', [
    ('configs/demo/maskrcnn_fasternet_t0_synthetic.py', []),
    # An untrained RetinaNet scores about 0.01 (its prior), below the
    # config's threshold: keep every box so there is something to compare.
    ('configs/demo/retinanet_fasternet_t0_synthetic.py',
     ['model.test_cfg.score_thr=0.0']),
])
@pytest.mark.slow
def test_amp_detection_runs_in_bf16_end_to_end(config, options, coco,
                                               tmp_path):
    checkpoint = tmp_path / 'untrained.pth'
    save_untrained_checkpoint(str(REPO / config), str(checkpoint))
    options = data_options(coco, coco=True) + options
    runs = {}
    for name, extra in (('fp32', []), ('amp', ['--amp'])):
        out = tmp_path / f'{name}.pkl'
        metrics = run_test(config, checkpoint, tmp_path / name, options,
                           '--out', str(out), *extra)
        assert 'coco/bbox_mAP' in metrics
        runs[name] = pickle.loads(out.read_bytes())
    assert len(runs['amp']) == len(runs['fp32']) == 3
    differs = False
    for amp, fp32 in zip(runs['amp'], runs['fp32']):
        amp, fp32 = amp['pred_instances'], fp32['pred_instances']
        assert amp['bboxes'].dtype is torch.float32
        assert amp['scores'].dtype is torch.float32
        if 'masks' in fp32:
            assert len(amp['masks']) == len(amp['scores'])
        # The same model: the best score per image agrees to bf16 precision,
        # but not bit for bit (autocast really ran).
        assert abs(amp['scores'].max() - fp32['scores'].max()) < 0.05
        differs |= not torch.equal(amp['scores'], fp32['scores'])
    assert differs


@pytest.mark.slow
def test_amp_segmentation_runs_in_bf16_end_to_end(ade, tmp_path):
    config = 'configs/demo/fpn_fasternet_t0_synthetic.py'
    checkpoint = tmp_path / 'untrained.pth'
    save_untrained_checkpoint(str(REPO / config), str(checkpoint))
    options = data_options(ade, coco=False)
    fp32 = run_test(config, checkpoint, tmp_path / 'fp32', options)
    amp = run_test(config, checkpoint, tmp_path / 'amp', options, '--amp')
    assert set(amp) == set(fp32) and 'mIoU' in amp
    assert abs(amp['aAcc'] - fp32['aAcc']) < 5.0


@pytest.mark.parametrize('flag', ['amp', 'compile'])
def test_amp_and_compile_are_refused_for_an_exported_model(flag):
    from mmengine.config import Config

    from mmfasternet.engine.fast_test import apply_fast_test_options
    from mmfasternet.errors import InputError
    cfg = Config(dict(model=dict(type='BackendModel', onnx_file='m.onnx',
                                 backend='openvino')))
    with pytest.raises(InputError, match=f'--{flag} is for PyTorch '
                       'checkpoints; m.onnx runs in openvino'):
        apply_fast_test_options(cfg, **{flag: True})
    assert 'custom_hooks' not in cfg  # nothing half-applied


def roi_layer_types(cfg) -> list:
    roi_head = cfg.model.roi_head
    return [roi_head[k].roi_layer.type for k in ('bbox_roi_extractor',
                                                 'mask_roi_extractor')]


def test_cpu_test_runs_roi_layers_as_fast_roi_align_unless_asked(
        monkeypatch):
    from mmengine.config import Config

    from mmfasternet.engine.fast_test import apply_fast_test_options
    config = str(REPO / 'configs/demo/maskrcnn_fasternet_t0_synthetic.py')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cfg = apply_fast_test_options(Config.fromfile(config))
    assert roi_layer_types(cfg) == ['FastRoIAlign', 'FastRoIAlign']
    kept = apply_fast_test_options(Config.fromfile(config),
                                   mmcv_roi_align=True)
    assert roi_layer_types(kept) == ['RoIAlign', 'RoIAlign']
    # With CUDA, mmcv's kernel stays.
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    on_gpu = apply_fast_test_options(Config.fromfile(config))
    assert roi_layer_types(on_gpu) == ['RoIAlign', 'RoIAlign']
