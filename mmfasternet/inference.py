"""The fast inference forms of a whole detector or segmentor.

Four independent choices, so that their effects can be measured apart:

- ``deploy``: fold every BatchNorm that follows a conv into that conv in each
  FasterNet backbone of the model (:meth:`FasterNet.switch_to_deploy`). The
  decision comes from the model: a model without a FasterNet backbone is
  refused, whatever its config file is called.
- ``channels_last``: weights and activations of the whole model (any
  backbone, so peers get it too) in channels-last memory format.
- ``fuse_bn``: every BatchNorm that follows a conv anywhere in the model
  (other backbones, necks, heads) folded into it by mmcv's ``fuse_conv_bn``,
  so that a peer is compared in the form FasterNet's ``deploy`` gives it.
- ``compile``: ``torch.compile`` of the backbone and the neck, in place
  (``nn.Module.compile``, so state-dict keys do not change). The heads stay
  eager: mmcv's nms and RoIAlign break graphs.

Mixed precision is a fifth choice, applied around the call:
:func:`inference_autocast` gives bf16 on CPU and fp16 on CUDA.
"""
import contextlib
from typing import ContextManager, List

import torch
import torch.nn as nn

from .models import FasterNet


def fasternet_backbones(model: nn.Module) -> List[FasterNet]:
    """Every FasterNet module inside ``model`` (``model`` itself included).
    """
    return [m for m in model.modules() if isinstance(m, FasterNet)]


def _to_channels_last(module: nn.Module, args):
    """Forward pre-hook: the first tensor argument in channels-last."""
    if args and isinstance(args[0], torch.Tensor) and args[0].dim() == 4:
        return (args[0].contiguous(memory_format=torch.channels_last),
                ) + tuple(args[1:])
    return None


def compile_dense_parts(model: nn.Module, **compile_kwargs) -> List[str]:
    """Compile the backbone and the neck of ``model`` in place; returns the
    names of the compiled parts. Inductor's freezing (weights as constants,
    for inference under ``no_grad``) is switched on."""
    import torch._inductor.config as inductor_config
    inductor_config.freezing = True
    compiled = []
    for name in ('backbone', 'neck'):
        part = getattr(model, name, None)
        if isinstance(part, nn.Module):
            part.compile(**compile_kwargs)
            compiled.append(name)
    if not compiled:
        raise ValueError(f'compile: {type(model).__name__} has neither a '
                         f'backbone nor a neck to compile.')
    return compiled


def optimize_for_inference(model: nn.Module,
                           deploy: bool = False,
                           channels_last: bool = False,
                           compile: bool = False,
                           fuse_bn: bool = False) -> nn.Module:
    """Put ``model`` (a detector, a segmentor or a backbone) in eval mode and
    apply the chosen inference forms in place; returns ``model``.

    Args:
        deploy (bool): Fold BatchNorm in every FasterNet backbone. Raises
            ``ValueError`` when the model has none.
        channels_last (bool): Channels-last weights and inputs for the whole
            model (the backbone converts its input on entry).
        compile (bool): ``torch.compile`` the backbone and the neck.
        fuse_bn (bool): Fold every remaining conv + BatchNorm pair of the
            model (mmcv's ``fuse_conv_bn``), after ``deploy``.
    """
    model.eval()
    if deploy:
        backbones = fasternet_backbones(model)
        if not backbones:
            raise ValueError(
                f'deploy: {type(model).__name__} has no FasterNet backbone, '
                f'so there is nothing to fold.')
        for backbone in backbones:
            backbone.switch_to_deploy()
    if fuse_bn:
        from mmcv.cnn import fuse_conv_bn
        fuse_conv_bn(model)
    if channels_last:
        model.to(memory_format=torch.channels_last)
        entry = getattr(model, 'backbone', model)
        if isinstance(entry, FasterNet):
            entry.channels_last = True
        else:
            entry.register_forward_pre_hook(_to_channels_last)
    if compile:
        compile_dense_parts(model)
    return model


def inference_autocast(device: str = 'cpu',
                       enabled: bool = True) -> ContextManager:
    """Autocast for inference: bf16 on CPU (fp16 is slow there), fp16 on
    CUDA. A null context when ``enabled`` is False."""
    if not enabled:
        return contextlib.nullcontext()
    device_type = torch.device(device).type
    dtype = torch.float16 if device_type == 'cuda' else torch.bfloat16
    return torch.autocast(device_type=device_type, dtype=dtype)
