"""Parameters and FLOPs of whole models and of their parts, counted by
mmengine's analysis (one fused multiply-add is one FLOP, as in the paper)."""
from typing import Dict, Optional, Tuple

import torch
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.config import Config

from ..models.builder import build_model
from .models import TensorForward, default_shape, dummy_batch

PARTS = ('backbone', 'neck', 'rpn_head', 'roi_head', 'bbox_head',
         'decode_head', 'auxiliary_head')


def model_complexity(cfg: Config,
                     shape: Optional[Tuple[int, int]] = None,
                     backbone_only: bool = False) -> Dict[str, dict]:
    """``{part: {'params': n, 'flops': n}}`` with a ``'model'`` total, for one
    image of ``shape`` (H, W; default per task)."""
    shape = shape or default_shape(cfg)
    return count_complexity(build_model(cfg),
                            cfg.get('default_scope', 'mmdet'), shape,
                            backbone_only)


def count_complexity(model: torch.nn.Module, scope: str,
                     shape: Tuple[int, int],
                     backbone_only: bool = False) -> Dict[str, dict]:
    """:func:`model_complexity` of a model already built (random input of
    ``shape``; the model's weights and form are left as they are)."""
    inputs, samples = dummy_batch(model, scope, 1, shape)
    if backbone_only:
        model, wrapper, prefix = model.backbone, model.backbone, ''
    else:
        wrapper, prefix = TensorForward(model, samples), 'model.'
    params = parameter_count(model)
    with torch.no_grad():
        flops = FlopAnalyzer(wrapper, inputs).unsupported_ops_warnings(
            False).uncalled_modules_warnings(False).by_module()
    result = {'model': dict(params=params[''], flops=flops[''])}
    if backbone_only:
        result['model']['part'] = 'backbone'
        return result
    for part in PARTS:
        if part in params:
            result[part] = dict(params=params[part],
                                flops=flops.get(prefix + part, 0))
    return result


def count_flops(module: torch.nn.Module, inputs: torch.Tensor) -> int:
    """FLOPs (multiply-adds) of one call ``module(inputs)``, by the same
    counter as :func:`count_complexity`."""
    with torch.no_grad():
        return FlopAnalyzer(module, inputs).unsupported_ops_warnings(
            False).uncalled_modules_warnings(False).total()


def format_complexity(result: Dict[str, dict]) -> str:
    lines = [f'{"part":<16}{"params":>12}{"GFLOPs":>12}']
    for part, values in result.items():
        lines.append(f'{part:<16}{values["params"] / 1e6:>11.2f}M'
                     f'{values["flops"] / 1e9:>12.2f}')
    return '\n'.join(lines)
