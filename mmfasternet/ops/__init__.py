"""Operators for fast inference: a vectorised RoIAlign and float32
fallbacks that let mmcv's ops run under bf16/fp16 autocast."""
from typing import Iterator

from .half_precision import (install_half_precision_fallbacks,
                             predictions_to_float32,
                             register_float32_predictions)
from .roi_align import FastRoIAlign, fast_roi_align


def _roi_layers(cfg) -> Iterator[dict]:
    """Every ``roi_layer`` dict anywhere inside a model config."""
    if isinstance(cfg, dict):
        for key, value in cfg.items():
            if key == 'roi_layer' and isinstance(value, dict):
                yield value
            else:
                yield from _roi_layers(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            yield from _roi_layers(value)


def use_fast_roi_align(model_cfg) -> int:
    """Switch every ``RoIAlign`` roi_layer of a model config to
    ``FastRoIAlign`` in place; returns how many were switched."""
    layers = [layer for layer in _roi_layers(model_cfg)
              if layer.get('type') == 'RoIAlign']
    for layer in layers:
        layer['type'] = 'FastRoIAlign'
    return len(layers)


def register_fast_roi_align() -> None:
    """Make ``dict(type='FastRoIAlign', ...)`` buildable where configs name
    RoI layers.

    mmdet's ``BaseRoIExtractor.build_roi_layers`` looks a string ``type`` up
    as an attribute of ``mmcv.ops`` (not in a registry), so this adds the
    name ``FastRoIAlign`` to the ``mmcv.ops`` namespace (nothing of mmcv's
    is replaced) and registers the class in mmengine's root ``MODELS`` for
    any other builder. Idempotent.
    """
    import mmcv.ops
    from mmengine.registry import MODELS

    if getattr(mmcv.ops, 'FastRoIAlign', None) is not FastRoIAlign:
        setattr(mmcv.ops, 'FastRoIAlign', FastRoIAlign)
    if 'FastRoIAlign' not in MODELS.module_dict:
        MODELS.register_module(module=FastRoIAlign)


__all__ = [
    'FastRoIAlign', 'fast_roi_align', 'install_half_precision_fallbacks',
    'predictions_to_float32', 'register_fast_roi_align',
    'register_float32_predictions', 'use_fast_roi_align'
]
