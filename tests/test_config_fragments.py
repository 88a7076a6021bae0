"""The configs carry what our tools used to add at run time (exact resume,
the resilient test loop), so mmdet's own tools keep them (the killed run
that mmdet's train.py resumes exactly is in test_tools_detection.py).
"""
import glob
from pathlib import Path

import mmdet
import pytest
from mmengine.config import Config
from test_tools_detection import CONFIG, REPO, tool

from mmfasternet.datasets import make_ade_dataset, make_coco_dataset

CONFIGS = sorted(
    p for p in glob.glob(str(REPO / 'configs' / '**' / '*.py'),
                         recursive=True) if '_base_' not in p)
STOCK_TRAIN = Path(mmdet.__file__).parent / '.mim' / 'tools' / 'train.py'


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: Path(p).name)
def test_every_config_declares_exact_resume_and_resilient_testing(path):
    cfg = Config.fromfile(path)
    assert 'mmfasternet.engine' in cfg.custom_imports['imports']
    assert [h['type'] for h in cfg.custom_hooks].count('RNGStateHook') == 1
    assert cfg.test_cfg['type'] == 'ResilientTestLoop'


@pytest.fixture(scope='module')
def coco(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp('data') / 'coco'
    return make_coco_dataset(str(root), num_train=8, num_val=2, size=256)


@pytest.mark.slow
def test_stock_mmdet_browse_dataset_draws_our_demo_data(coco, tmp_path):
    tool_path = STOCK_TRAIN.parent / 'analysis_tools' / 'browse_dataset.py'
    out = tmp_path / 'browse'
    tool(str(tool_path), CONFIG, '--not-show', '--output-dir', str(out),
         '--cfg-options', f'train_dataloader.dataset.data_root={coco}/')
    drawn = sorted(p.name for p in out.glob('*.png'))
    assert drawn == sorted(p.name for p in Path(coco, 'train2017').glob('*'))


@pytest.mark.slow
def test_stock_mmseg_browse_dataset_draws_our_demo_data(tmp_path):
    """mmseg's own tool passes a non-contiguous image to its visualizer,
    which OpenCV refuses (open-mmlab/mmsegmentation#3405); the configs'
    ContiguousSegLocalVisualizer draws it."""
    import mmseg
    ade = make_ade_dataset(str(tmp_path / 'ade'), num_train=3, num_val=1,
                           size=64)
    tool_path = (Path(mmseg.__file__).parent / '.mim' / 'tools' /
                 'analysis_tools' / 'browse_dataset.py')
    out = tmp_path / 'browse'
    tool(str(tool_path), 'configs/demo/fpn_fasternet_t0_synthetic.py',
         '--not-show', '--output-dir', str(out), '--cfg-options',
         f'train_dataloader.dataset.data_root={ade}')
    drawn = sorted(p.name for p in out.glob('*.jpg'))
    assert drawn == sorted(
        p.name for p in Path(ade, 'images', 'training').glob('*.jpg'))


def test_rng_state_hook_saves_and_restores_cuda_generators(monkeypatch):
    """Where CUDA is present (faked here: this machine has none), each GPU's
    generator is saved with the checkpoint and restored on resume."""
    import torch

    from mmfasternet.engine.hooks import RNGStateHook
    saved_states = [torch.tensor([1], dtype=torch.uint8),
                    torch.tensor([2], dtype=torch.uint8)]
    restored = []
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    monkeypatch.setattr(torch.cuda, 'get_rng_state_all', lambda: saved_states)
    monkeypatch.setattr(torch.cuda, 'set_rng_state_all', restored.append)
    checkpoint = {}
    RNGStateHook().before_save_checkpoint(None, checkpoint)
    assert checkpoint['torch_cuda_rng_states'] is saved_states
    cpu_state = torch.get_rng_state()
    torch.rand(3)  # the generator moves on after the save
    hook = RNGStateHook()
    hook.after_load_checkpoint(None, checkpoint)
    hook.before_train_iter(None, 0)
    assert restored == [saved_states]
    assert torch.equal(torch.get_rng_state(), cpu_state)
    hook.before_train_iter(None, 1)  # restored once, not at every step
    assert len(restored) == 1
