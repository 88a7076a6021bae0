"""Detection configs: every variant builds; the paper's sizes; one step."""
import copy
from pathlib import Path

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmdet.utils import register_all_modules
from mmengine.config import Config
from training_checks import assert_training_steps_lower_the_loss

import mmfasternet  # noqa: F401

CONFIGS = Path(__file__).parents[1] / 'configs'
VARIANTS = ['t0', 't1', 't2', 's', 'm', 'l']
EMBED = dict(t0=40, t1=64, t2=96, s=128, m=144, l=192)
# Mask R-CNN parameters in the paper's COCO table (millions).
PAPER_PARAMS = dict(s=49.0, m=71.2, l=110.9)

register_all_modules(init_default_scope=False)


def load(name: str) -> Config:
    return Config.fromfile(str(CONFIGS / name))


def build(cfg: Config):
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('detector', ['maskrcnn', 'retinanet'])
@pytest.mark.parametrize('variant', VARIANTS)
def test_config_builds_with_the_variant_and_pretrained_path(
        detector, variant):
    cfg = load(f'{detector}_fasternet_{variant}_coco.py')
    backbone = cfg.model.backbone
    assert backbone.type == 'FasterNet' and backbone.arch == variant
    assert cfg.model.neck.in_channels == [
        EMBED[variant] * 2**i for i in range(4)]
    assert backbone.init_cfg.type == 'Pretrained'
    assert backbone.init_cfg.checkpoint.startswith('checkpoints/fasternet_'
                                                   f'{variant}-')
    model = build(cfg)
    assert type(model.backbone).__name__ == 'FasterNet'


@pytest.mark.parametrize('variant', ['s', 'm', 'l'])
def test_mask_rcnn_parameters_match_the_paper(variant):
    model = build(load(f'maskrcnn_fasternet_{variant}_coco.py'))
    last_block = model.backbone.stages[6].blocks[-1]
    assert last_block.drop_path.drop_prob == pytest.approx(
        {'s': .15, 'm': .2, 'l': .3}[variant])
    params = sum(p.numel() for p in model.parameters()) / 1e6
    assert params == pytest.approx(PAPER_PARAMS[variant], abs=0.1)


def test_pretrained_folder_comes_from_one_environment_variable(monkeypatch):
    monkeypatch.setenv('FASTERNET_PRETRAINED', '/weights')
    cfg = load('maskrcnn_fasternet_s_coco.py')
    assert cfg.model.backbone.init_cfg.checkpoint == (
        '/weights/fasternet_s-epoch.299-val_acc1.81.2840.pth')


@pytest.mark.parametrize('name', [
    'maskrcnn_fasternet_s_coco.py', 'retinanet_fasternet_s_coco.py',
    'maskrcnn_fasternet_s_ms-crop-3x_coco.py',
    'cascade-maskrcnn_fasternet_s_ms-crop-3x_coco.py',
    'rtmdet_fasternet_s_coco.py', 'rtmdet-ins_fasternet_s_coco.py'])
def test_coco_root_comes_from_one_environment_variable(name, monkeypatch):
    monkeypatch.setenv('COCO_ROOT', '/data/coco2017/')
    cfg = load(name)
    for split in ('train', 'val', 'test'):
        assert cfg[f'{split}_dataloader'].dataset.data_root == (
            '/data/coco2017/')
    for split in ('val', 'test'):
        assert cfg[f'{split}_evaluator'].ann_file == (
            '/data/coco2017/annotations/instances_val2017.json')


def total_loss(model, data, seed: int = 1) -> torch.Tensor:
    torch.manual_seed(seed)  # the same proposal sampling for each call
    total, _ = model.parse_losses(model(**data, mode='loss'))
    return total


def random_t0(name: str):
    """The T0 config ``name`` built with seeded random weights."""
    torch.manual_seed(0)
    cfg = load(name)
    cfg.model.backbone.init_cfg = None
    return cfg


T0_DETECTORS = ['maskrcnn_fasternet_t0_coco.py',
                'retinanet_fasternet_t0_coco.py']


@pytest.mark.parametrize('name', T0_DETECTORS)
@pytest.mark.slow
def test_training_steps_lower_the_loss_of_a_batch(name):
    model = build(random_t0(name))
    model.init_weights()
    packed = demo_mm_inputs(2, [[3, 64, 96], [3, 64, 96]],
                            num_items=[3, 2], num_classes=80,
                            with_mask='mask' in name)
    assert_training_steps_lower_the_loss(
        model, model.data_preprocessor(packed, True), total_loss)


@pytest.mark.parametrize('name', T0_DETECTORS)
@pytest.mark.slow
def test_predictions_have_the_image_size_and_follow_the_input(name):
    cfg = random_t0(name)
    # Keep every box, so that predictions exist before any training.
    if 'mask' in name:
        cfg.model.test_cfg.rcnn.score_thr = 0.
    else:
        cfg.model.test_cfg.score_thr = 0.
    model = build(cfg).eval()
    packed = demo_mm_inputs(2, [[3, 128, 160], [3, 128, 160]],
                            num_items=[3, 2], num_classes=80,
                            with_mask='mask' in name)
    data = model.data_preprocessor(packed, False)
    with torch.no_grad():
        results = model(data['inputs'], copy.deepcopy(data['data_samples']),
                        mode='predict')
        flipped = model(data['inputs'].flip(-1),
                        copy.deepcopy(data['data_samples']), mode='predict')
    assert len(results) == 2
    for result, other in zip(results, flipped):
        boxes = result.pred_instances.bboxes
        assert boxes.shape[0] > 0 and boxes.shape[1] == 4
        assert (boxes[:, 2] <= 160).all() and (boxes[:, 3] <= 128).all()
        if 'mask' in name:
            assert result.pred_instances.masks.shape[-2:] == (128, 160)
        assert not torch.allclose(result.pred_instances.scores[:5],
                                  other.pred_instances.scores[:5])
