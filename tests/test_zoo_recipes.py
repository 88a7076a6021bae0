"""The configs users compare backbones on are mmdet's own, with the backbone
swapped: Mask R-CNN and Cascade Mask R-CNN on ConvNeXt's 3x multi-scale-crop
recipe, RTMDet and RTMDet-Ins. Each resolved config equals its mmdet base key
by key but for the keys allowed below, each with the reason it differs, so a
silent drift from mmdet's recipe fails here."""
import math
import os.path as osp
from pathlib import Path
from typing import Dict, List

import pytest
import torch
from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmengine.utils import get_installed_path

from mmfasternet.analysis.models import default_shape
from mmfasternet.models import build_model

CONFIGS = Path(__file__).parents[1] / 'configs'
PEERS = Path(__file__).parents[1] / 'benchmarks' / 'configs'
MMDET_CONFIGS = Path(get_installed_path('mmdet')) / '.mim' / 'configs'
EMBED = dict(t0=40, t1=64, t2=96, s=128, m=144, l=192)
TWO_STAGE = {
    'maskrcnn':
    'convnext/mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py',
    'cascade-maskrcnn': 'convnext/cascade-mask-rcnn_convnext-t-p4-w7_fpn_'
    '4conv1fc-giou_amp-ms-crop-3x_coco.py',
}
# The RTMDet size each variant takes: the one whose CSPNeXt backbone it
# matches in parameters and FLOPs at 640x640 (docs/detection.md).
RTMDET_SIZE = dict(t0='tiny', t1='s', t2='m', s='l')


def recipes() -> Dict[str, str]:
    """Each new config and the mmdet config it must equal."""
    pairs = {}
    for family, base in TWO_STAGE.items():
        for variant in ('t2', 's', 'm', 'l'):
            pairs[f'{family}_fasternet_{variant}_ms-crop-3x_coco.py'] = base
    for family in ('rtmdet', 'rtmdet-ins'):
        for variant, size in RTMDET_SIZE.items():
            pairs[f'{family}_fasternet_{variant}_coco.py'] = (
                f'rtmdet/{family}_{size}_8xb32-300e_coco.py')
    return pairs


RECIPES = recipes()

# Differences every recipe has.
ALLOWED = {
    # FasterNet in place of ConvNeXt / CSPNeXt; test_backbone_and_neck_*
    # checks what it is.
    'model.backbone': 'the backbone swap',
    'model.neck.in_channels': "FasterNet's widths (e, 2e, 4e, 8e)",
    # mmpretrain (ConvNeXt's registry) is not needed; mmfasternet registers
    # FasterNet, RNGStateHook and ResilientTestLoop.
    'custom_imports': 'mmfasternet and its engine',
    'test_cfg.type': 'ResilientTestLoop: a failing image is named, results '
                     'so far kept (configs/_base_/fasternet_parts.py)',
}
# Named parts of our _base_ files, which only the configs themselves read;
# allowed where mmdet's config has no key of that name.
PARTS = ('fasternet_imports', 'fasternet_seg_imports', 'fasternet_hooks',
         'resilient_test_cfg',
         'adamw_optim_wrapper', 'ms_crop_3x_optim_wrapper', 'pretrained_dir',
         'fasternet_checkpoints', 'rgb_data_preprocessor')
ALLOWED_TWO_STAGE = {
    # mmdet's LearningRateDecayOptimizerConstructor: layer-wise lr decay
    # keyed to ConvNeXt's module names; it raises NotImplementedError for
    # other backbones (test below). The default constructor with the same
    # AdamW (optim_wrapper.optimizer is NOT allowed to differ) and no decay
    # on norms and biases, which mmdet's constructor also had.
    'optim_wrapper.constructor': 'default constructor',
    'optim_wrapper.paramwise_cfg': 'no layer-wise decay; no weight decay on '
                                   'norms and biases, as before',
    # fp16 is tools/train.py --amp (AmpOptimWrapper, dynamic loss scale, as
    # mmdet's config has it), so that the config runs on CPUs too.
    'optim_wrapper.type': 'OptimWrapper; --amp gives AmpOptimWrapper',
}
ALLOWED_RTMDET = {
    # FasterNet's ImageNet weights take RGB normalised with ImageNet's mean
    # and std; CSPNeXt's take BGR (mmdet's ConvNeXt RTMDet changes the same).
    'model.data_preprocessor.mean': 'RGB order',
    'model.data_preprocessor.std': 'RGB order',
    'model.data_preprocessor.bgr_to_rgb': 'RGB input',
}


@pytest.fixture(autouse=True)
def default_folders(monkeypatch):
    """The configs' defaults, which equal mmdet's data/coco/."""
    monkeypatch.delenv('COCO_ROOT', raising=False)
    monkeypatch.delenv('FASTERNET_PRETRAINED', raising=False)


def load(name: str) -> Config:
    return Config.fromfile(str(CONFIGS / name))


def load_mmdet(name: str) -> Config:
    """mmdet's config as mmdet ships it (its ConvNeXt configs import
    mmpretrain, which this stack does not need)."""
    return Config.fromfile(str(MMDET_CONFIGS / name),
                           import_custom_modules=False)


def flatten(node, prefix: str = '') -> Dict[str, object]:
    """Dotted paths to leaves; dicts inside lists by index (hooks, pipeline
    steps, cascade stages). mmengine tags every dict that a ``mmdet::``
    base brought with ``_scope_='mmdet'`` (the config's default scope
    anyway); the tags are left out."""
    leaves = {}
    if isinstance(node, dict):
        for key, value in node.items():
            if key == '_scope_' and value == 'mmdet':
                continue
            leaves.update(flatten(value, f'{prefix}.{key}' if prefix
                                  else key))
    elif isinstance(node, (list, tuple)) and node and all(
            isinstance(item, dict) for item in node):
        for index, item in enumerate(node):
            leaves.update(flatten(item, f'{prefix}[{index}]'))
    else:
        leaves[prefix] = node
    return leaves


def differences(ours: Config, base: Config) -> List[str]:
    """Paths whose values differ (or that one side lacks)."""
    mine, theirs = flatten(ours.to_dict()), flatten(base.to_dict())
    absent = object()
    return sorted(path for path in mine.keys() | theirs.keys()
                  if mine.get(path, absent) != theirs.get(path, absent))


def allowed(name: str, base: Config) -> Dict[str, str]:
    """Paths (and everything under them) that ``name`` may change."""
    rules = dict(ALLOWED)
    rules.update(ALLOWED_RTMDET if name.startswith('rtmdet')
                 else ALLOWED_TWO_STAGE)
    # RNGStateHook (exact resume) after mmdet's own hooks, kept in order.
    rules[f'custom_hooks[{len(base.get("custom_hooks", []))}]'] = (
        'RNGStateHook appended')
    rules.update({part: 'named part of our _base_ files'
                  for part in PARTS if part not in base})
    return rules


def unexplained(name: str, ours: Config, base: Config) -> List[str]:
    rules = allowed(name, base)
    return [path for path in differences(ours, base)
            if not any(path == rule or path.startswith((f'{rule}.',
                                                        f'{rule}['))
                       for rule in rules)]


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_config_is_its_mmdet_recipe_but_for_the_allowed_keys(name):
    base = load_mmdet(RECIPES[name])
    assert unexplained(name, load(name), base) == []


def test_a_drift_from_the_recipe_is_caught():
    name = 'cascade-maskrcnn_fasternet_s_ms-crop-3x_coco.py'
    base = load_mmdet(RECIPES[name])
    ours = load(name)
    ours.optim_wrapper.optimizer.lr = 1e-4
    ours.train_pipeline[2].prob = 0.4
    ours.custom_hooks.insert(0, dict(type='EMAHook'))
    assert unexplained(name, ours, base) == [
        'custom_hooks[1].type', 'optim_wrapper.optimizer.lr',
        'train_pipeline[2].prob']


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_backbone_and_neck_are_fasternets_of_the_variant(name):
    cfg = load(name)
    variant = name.split('_')[2]
    backbone, embed = cfg.model.backbone, EMBED[variant]
    assert backbone.type == 'FasterNet' and backbone.arch == variant
    assert backbone.init_cfg == dict(
        type='Pretrained',
        checkpoint=cfg.fasternet_checkpoints[variant])
    # Stochastic depth as in the 1x config of the variant (the paper's).
    one_x = load(f'maskrcnn_fasternet_{variant}_coco.py').model.backbone
    assert backbone.get('drop_path_rate') == one_x.get('drop_path_rate')
    if name.startswith('rtmdet'):
        assert tuple(backbone.out_indices) == (1, 2, 3)
        assert cfg.model.neck.in_channels == [2 * embed, 4 * embed,
                                              8 * embed]
    else:
        assert tuple(backbone.out_indices) == (0, 1, 2, 3)
        assert cfg.model.neck.in_channels == [embed * 2**i for i in range(4)]


@pytest.mark.parametrize('name', [
    'maskrcnn_fasternet_t2_ms-crop-3x_coco.py',
    'cascade-maskrcnn_fasternet_t2_ms-crop-3x_coco.py',
    'rtmdet_fasternet_t0_coco.py', 'rtmdet-ins_fasternet_t0_coco.py'])
def test_one_model_per_family_builds_and_its_neck_takes_the_backbone(name):
    cfg = load(name)
    model = build_model(cfg)
    assert type(model.backbone).__name__ == 'FasterNet'
    assert model.backbone.embed_dim == EMBED[name.split('_')[2]]
    assert tuple(model.backbone.out_indices) == tuple(
        cfg.model.backbone.out_indices)
    assert list(model.neck.in_channels) == cfg.model.neck.in_channels
    with torch.no_grad():
        features = model.backbone(torch.rand(1, 3, 64, 64))
        assert [f.shape[1] for f in features] == cfg.model.neck.in_channels
        model.neck(features)


def test_convnext_layer_decay_constructor_refuses_fasternet():
    """Why the two-stage recipes' optimizer constructor is replaced."""
    import mmdet.engine  # noqa: F401  registers mmdet's constructors
    name = 'maskrcnn_fasternet_t2_ms-crop-3x_coco.py'
    mmdet_wrapper = load_mmdet(RECIPES[name]).optim_wrapper
    # In mmdet's scope, whatever scope an earlier runner left current.
    with DefaultScope.overwrite_default_scope('mmdet'):
        constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
            type=mmdet_wrapper.constructor,
            optim_wrapper_cfg=dict(type='OptimWrapper',
                                   optimizer=mmdet_wrapper.optimizer),
            paramwise_cfg=mmdet_wrapper.paramwise_cfg))
    with pytest.raises(NotImplementedError):
        constructor(build_model(load(name)))


def test_two_stage_adamw_keeps_the_recipe_without_decay_on_1d_weights():
    """mmdet's constructor put every 1-D parameter (norms, biases) in a
    group without weight decay; the default one with norm_decay_mult and
    bias_decay_mult 0 does the same on the FasterNet detector."""
    name = 'maskrcnn_fasternet_t2_ms-crop-3x_coco.py'
    cfg = load(name)
    model = build_model(cfg)
    optimizer = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    recipe = load_mmdet(RECIPES[name]).optim_wrapper.optimizer
    assert type(optimizer).__name__ == 'AdamW'
    decay = {}
    for group in optimizer.param_groups:
        assert group['lr'] == recipe.lr
        assert group['betas'] == recipe.betas
        for param in group['params']:
            decay[id(param)] = group['weight_decay']
    for name, param in model.named_parameters():
        expected = 0. if param.ndim == 1 else recipe.weight_decay
        assert decay[id(param)] == expected, name


@pytest.mark.slow
def test_each_variant_pairs_with_the_cspnext_closest_in_parameters():
    """RTMDet sizes: CSPNeXt backbone parameters against FasterNet's."""
    def backbone_params(cfg: Config) -> int:
        return sum(p.numel() for p in build_model(cfg).backbone.parameters())

    cspnext = {size: backbone_params(load_mmdet(
        f'rtmdet/rtmdet_{size}_8xb32-300e_coco.py'))
        for size in RTMDET_SIZE.values()}
    for variant, size in RTMDET_SIZE.items():
        ours = backbone_params(load(f'rtmdet_fasternet_{variant}_coco.py'))
        closest = min(cspnext,
                      key=lambda s: abs(math.log(ours / cspnext[s])))
        assert closest == size, (variant, ours, cspnext)


@pytest.mark.parametrize('name, shape', [
    ('rtmdet_fasternet_t0_coco.py', (640, 640)),
    ('rtmdet-ins_fasternet_s_coco.py', (640, 640)),
    ('maskrcnn_fasternet_t2_ms-crop-3x_coco.py', (800, 1280))])
def test_complexity_is_counted_at_the_size_the_detector_tests_at(
        name, shape):
    """RTMDet pads every test image to 640x640, where its sizes are
    compared; the others keep mmdet's 1280x800."""
    assert default_shape(load(name)) == shape


def test_recipes_cover_every_new_config():
    new = sorted(
        osp.basename(p) for pattern in ('*ms-crop-3x_coco.py', 'rtmdet*.py')
        for p in CONFIGS.glob(pattern))
    assert new == sorted(RECIPES) and len(new) == 16


@pytest.mark.parametrize('peer', ['cascade-maskrcnn_r50_ms-crop-3x_coco.py',
                                  'cascade-maskrcnn_convnext-t_ms-crop-3x_'
                                  'coco.py'])
def test_cascade_benchmark_peers_differ_only_in_the_backbone(peer):
    fasternet = load('cascade-maskrcnn_fasternet_s_ms-crop-3x_coco.py')
    ours = Config.fromfile(str(PEERS / peer), import_custom_modules=False)
    assert {path.split('.')[path.startswith('model.')]
            for path in differences(ours, fasternet)} <= {
        'backbone', 'neck', 'custom_imports'}
    assert [p for p in differences(ours, fasternet)
            if p.startswith('model.neck')] == ['model.neck.in_channels']


def test_the_convnext_peer_is_mmdets_convnext_t_cascade_backbone():
    """The same backbone and neck widths as mmdet's ConvNeXt-T cascade (the
    recipe's own backbone), with random weights."""
    peer = Config.fromfile(
        str(PEERS / 'cascade-maskrcnn_convnext-t_ms-crop-3x_coco.py'),
        import_custom_modules=False)
    mmdet = load_mmdet(TWO_STAGE['cascade-maskrcnn'])
    ours, theirs = (flatten(cfg.model.backbone.to_dict())
                    for cfg in (peer, mmdet))
    assert ours.pop('init_cfg') is None and theirs.pop('init_cfg.type') == (
        'Pretrained')
    assert ours == {k: v for k, v in theirs.items()
                    if not k.startswith('init_cfg')}
    assert peer.model.neck.in_channels == mmdet.model.neck.in_channels
    assert 'mmpretrain.models' in peer.custom_imports.imports
