"""Configs by path or package name, and the dummy inputs that counting and
timing feed a model (speed does not need trained weights)."""
import os.path as osp
from typing import Tuple

import torch
from mmengine.config import Config
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
