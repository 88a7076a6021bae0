"""Operators for fast inference: a vectorised RoIAlign and float32
fallbacks that let mmcv's ops run under bf16/fp16 autocast."""
from .half_precision import (install_half_precision_fallbacks,
                             predictions_to_float32,
                             register_float32_predictions)
from .roi_align import FastRoIAlign, fast_roi_align


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
    'register_float32_predictions'
]
