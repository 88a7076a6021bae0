"""Segmentation configs, and the shared tools on generated ADE20K data."""
import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import cv2
import mmseg
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import register_all_modules
from training_checks import assert_training_steps_lower_the_loss

import mmfasternet  # noqa: F401
from mmfasternet.datasets import make_ade_dataset

REPO = Path(__file__).parents[1]
CONFIGS = REPO / 'configs'
DEMO = 'configs/demo/fpn_fasternet_t0_synthetic.py'
VARIANTS = ['t0', 't1', 't2', 's', 'm', 'l']
EMBED = dict(t0=40, t1=64, t2=96, s=128, m=144, l=192)
ALL = [f'{head}_fasternet_{v}_ade20k.py' for head in ('fpn', 'upernet')
       for v in VARIANTS] + ['fpn_fasternet_s_cityscapes.py']

register_all_modules(init_default_scope=False)


def load(name: str) -> Config:
    return Config.fromfile(str(CONFIGS / name))


@pytest.mark.parametrize('name', ALL)
def test_config_builds_with_recipe_and_tta(name):
    cfg = load(name)
    variant = name.split('_')[2]
    channels = [EMBED[variant] * 2**i for i in range(4)]
    model = cfg.model
    assert model.backbone.type == 'FasterNet' and model.backbone.arch == \
        variant
    assert model.backbone.init_cfg.checkpoint.startswith(
        f'checkpoints/fasternet_{variant}-')
    if name.startswith('upernet'):
        assert model.decode_head.in_channels == channels
        assert model.auxiliary_head.in_channels == channels[2]
    else:
        assert model.neck.in_channels == channels
    assert cfg.tta_model.type == 'SegTTAModel' and cfg.tta_pipeline
    built = MODELS.build(cfg.model)
    assert type(built.backbone).__name__ == 'FasterNet'


def small_model_and_batch(name: str):
    torch.manual_seed(0)
    cfg = load(name)
    cfg.model.backbone.init_cfg = None
    cfg.model.data_preprocessor.size = (64, 64)
    model = MODELS.build(cfg.model)
    model.init_weights()
    samples = []
    for _ in range(2):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 150, (1, 64, 64)))
        sample.set_metainfo(dict(img_shape=(64, 64), ori_shape=(64, 64),
                                 pad_shape=(64, 64)))
        samples.append(sample)
    data = dict(inputs=[torch.randint(0, 255, (3, 64, 64)).float()
                        for _ in range(2)], data_samples=samples)
    return model, data


def total_loss(model, data) -> torch.Tensor:
    losses = model(**model.data_preprocessor(data, True), mode='loss')
    return sum(v for k, v in losses.items() if 'loss' in k)


@pytest.mark.parametrize('name', ['fpn_fasternet_t0_ade20k.py',
                                  'upernet_fasternet_t0_ade20k.py'])
@pytest.mark.slow
def test_training_steps_lower_the_loss_of_a_batch(name):
    model, data = small_model_and_batch(name)
    assert_training_steps_lower_the_loss(model, data, total_loss)


@pytest.mark.parametrize('name', ['fpn_fasternet_t0_ade20k.py',
                                  'upernet_fasternet_t0_ade20k.py'])
def test_predictions_have_the_image_size_and_follow_the_input(name):
    model, data = small_model_and_batch(name)
    model.eval()
    flipped = dict(inputs=[i.flip(-1) for i in data['inputs']],
                   data_samples=copy.deepcopy(data['data_samples']))
    with torch.no_grad():
        results = model(**model.data_preprocessor(data, False),
                        mode='predict')
        others = model(**model.data_preprocessor(flipped, False),
                       mode='predict')
    assert [tuple(r.pred_sem_seg.data.shape) for r in results] == [
        (1, 64, 64)] * 2
    for result, other in zip(results, others):
        assert result.seg_logits.data.shape == (150, 64, 64)
        assert not torch.allclose(result.seg_logits.data,
                                  other.seg_logits.data)


def test_missing_pretrained_checkpoint_is_named_in_the_error(monkeypatch):
    monkeypatch.setenv('FASTERNET_PRETRAINED', '/nonexistent/weights')
    cfg = load('upernet_fasternet_m_ade20k.py')
    model = MODELS.build(cfg.model)
    with pytest.raises(FileNotFoundError, match='/nonexistent/weights/'
                       'fasternet_m-epoch.291-val_acc1.82.9620.pth'):
        model.init_weights()


@pytest.fixture(scope='module')
def ade(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp('data') / 'ade'
    return make_ade_dataset(str(root), num_train=8, num_val=3, size=256)


def small_run(root: str, max_iters: int) -> list:
    options = [f'train_cfg.max_iters={max_iters}',
               f'train_cfg.val_interval={max_iters}',
               f'default_hooks.checkpoint.interval={max_iters}',
               'default_hooks.logger.interval=1',
               'train_dataloader.batch_size=4']
    for split in ('train', 'val', 'test'):
        options += [f'{split}_dataloader.dataset.data_root={root}',
                    f'{split}_dataloader.num_workers=0',
                    f'{split}_dataloader.persistent_workers=False']
    return ['--cfg-options'] + options


def tool(*args) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, *args], cwd=REPO,
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_shared_tools_train_evaluate_and_tta_on_generated_ade(ade, tmp_path):
    work_dir = tmp_path / 'work'
    result = tool('tools/train.py', DEMO, '--work-dir', str(work_dir),
                  *small_run(ade, 30))
    records = [json.loads(line)
               for scalars in work_dir.glob('*/vis_data/scalars.json')
               for line in scalars.read_text().splitlines()]
    losses = [r['loss'] for r in records if 'loss' in r]
    assert len(losses) == 30 and sum(losses[-5:]) < sum(losses[:5])
    assert any('mIoU' in r for r in records)
    log = next(work_dir.glob('*/*.log')).read_text() + result.stdout
    assert 'per class results' in log
    for name in ('background', 'circle', 'square', 'triangle', 'star'):
        assert re.search(rf'\|\s+{name}\s+\|\s+[\d.]+', log), name

    out = tmp_path / 'tta_predictions'
    tool('tools/test.py', DEMO, str(work_dir / 'iter_30.pth'), '--tta',
         '--out', str(out), '--work-dir', str(tmp_path / 'test'),
         *small_run(ade, 30))
    predictions = sorted(out.glob('*.png'))
    assert len(predictions) == 3
    for path in predictions:
        assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape == (256, 256)


@pytest.mark.slow
def test_demo_config_trains_with_mmseg_own_train_tool(ade, tmp_path):
    mmseg_train = Path(mmseg.__file__).parent / '.mim/tools/train.py'
    work_dir = tmp_path / 'work'
    tool(str(mmseg_train), DEMO, '--work-dir', str(work_dir),
         *small_run(ade, 2))
    log = next(work_dir.glob('*/*.log')).read_text()
    mmseg_miou = float(re.search(r'Iter\(val\) \[3/3\].*mIoU: ([\d.]+)',
                                 log).group(1))
    # The same checkpoint scored by our tools/test.py: the same mIoU.
    tool('tools/test.py', DEMO, str(work_dir / 'iter_2.pth'), '--work-dir',
         str(tmp_path / 'test'), *small_run(ade, 2))
    [metrics] = [json.loads(p.read_text())
                 for p in (tmp_path / 'test').glob('*/*.json')]
    assert 0 <= mmseg_miou <= 100
    assert metrics['mIoU'] == pytest.approx(mmseg_miou, abs=0.01)
