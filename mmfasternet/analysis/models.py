"""Build any detector or segmentor config with random weights and dummy
inputs, for counting and timing (speed does not need trained weights)."""
import logging
import os.path as osp
from contextlib import contextmanager
from typing import Iterator, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.utils import get_installed_path


def load_any_config(path: str) -> Config:
    """A config from a path, or from a package as ``mmdet::x/y.py``."""
    if '::' in path:
        package, relative = path.split('::', 1)
        path = osp.join(get_installed_path(package), '.mim', 'configs',
                        relative)
    if not osp.isfile(path):
        raise FileNotFoundError(f'config not found: {path}')
    return Config.fromfile(path)


def _drop_pretrained(model_cfg) -> None:
    """No checkpoint is read (or downloaded): weights stay random."""
    model_cfg.pop('pretrained', None)
    backbone = model_cfg.get('backbone', {})
    if backbone.get('type') == 'FasterNet':
        backbone.pop('init_cfg', None)  # keep its default random init
    else:
        backbone['init_cfg'] = None


@contextmanager
def quiet_init_log() -> Iterator[None]:
    """mmengine logs every parameter's initialiser at INFO (hundreds of
    lines per model); an analysis tool prints its result, not that."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def build_model(cfg: Config) -> torch.nn.Module:
    """The config's model in eval mode, random weights, no downloads."""
    import mmfasternet  # noqa: F401  registers FasterNet
    scope = cfg.get('default_scope', 'mmdet')
    model_cfg = cfg.model.copy()
    _drop_pretrained(model_cfg)
    with DefaultScope.overwrite_default_scope(scope):
        registry = __import__(f'{scope}.registry', fromlist=['MODELS'])
        __import__(f'{scope}.utils', fromlist=['register_all_modules']
                   ).register_all_modules(init_default_scope=False)
        model = registry.MODELS.build(model_cfg)
    if hasattr(model, 'init_weights'):
        with quiet_init_log():
            model.init_weights()
    return model.eval()


def default_shape(cfg: Config) -> Tuple[int, int]:
    """One test image (H, W): the fixed size the test pipeline pads every
    image to where it has one (RTMDet: 640x640), else mmdet's 1280x800 for
    detection and 512x512 for segmentation."""
    pipeline = cfg.get('test_dataloader', {}).get('dataset', {}).get(
        'pipeline', [])
    for step in pipeline:
        if step.get('type') == 'Pad' and step.get('size'):
            width, height = step['size']  # mmcv's (w, h)
            return height, width
    return (512, 512) if cfg.get('default_scope') == 'mmseg' else (800, 1280)


def dummy_batch(model: torch.nn.Module, scope: str, batch: int,
                shape: Tuple[int, int]):
    """(inputs tensor, data samples) as the data preprocessor would give."""
    height, width = shape
    meta = dict(img_shape=shape, ori_shape=shape, pad_shape=shape,
                batch_input_shape=shape, scale_factor=(1., 1.))
    if scope == 'mmseg':
        from mmseg.structures import SegDataSample
        samples = [SegDataSample(metainfo=meta) for _ in range(batch)]
    else:
        from mmdet.structures import DetDataSample
        samples = [DetDataSample(metainfo=meta) for _ in range(batch)]
    inputs = torch.randn(batch, 3, height, width)
    return inputs, samples


class TensorForward(torch.nn.Module):
    """``model(inputs)`` as the whole network's forward in tensor mode (no
    post-processing), which the complexity counter needs."""

    def __init__(self, model: torch.nn.Module, data_samples) -> None:
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, inputs: torch.Tensor):
        return self.model(inputs, self.data_samples, mode='tensor')
