"""Read FasterNet weights saved by timm or the Hugging Face hub.

timm (>= 1.0.16, ``timm/models/fasternet.py``) nests each merging layer in
the stage after it and names the classifier differently from the official
code, whose layout :class:`FasterNet` keeps:

=================================  =================================
timm                               official / mmfasternet
=================================  =================================
``stages.0.blocks.*``              ``stages.0.blocks.*``
``stages.{i}.downsample.*``        ``stages.{2i-1}.*`` (i = 1, 2, 3)
``stages.{i}.blocks.*``            ``stages.{2i}.blocks.*``
``conv_head.*``                    ``avgpool_pre_head.1.*``
``classifier.*``                   ``head.*``
=================================  =================================

``patch_embed.*`` and the names inside a block are the same in both. The hub
stores ``model.safetensors``; timm's own saves are ``.pth``/``.bin`` files.
"""
import os.path as osp
import re
from typing import Dict

import torch
from mmengine.runner.checkpoint import _load_checkpoint

_STAGE = re.compile(r'^stages\.(\d+)\.(downsample|blocks)\.')
_HEAD = {'conv_head.': 'avgpool_pre_head.1.', 'classifier.': 'head.'}


def is_timm_state_dict(state_dict: Dict[str, torch.Tensor]) -> bool:
    """True for timm's key layout (merging layers under ``downsample``)."""
    return any('.downsample.' in key or key.startswith('conv_head.')
               for key in state_dict)


def timm_to_official(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """timm's FasterNet keys renamed to the official ones (table above);
    any other state dict is returned unchanged."""
    if not is_timm_state_dict(state_dict):
        return state_dict
    renamed = {}
    for key, value in state_dict.items():
        match = _STAGE.match(key)
        if match:
            stage, part = int(match.group(1)), match.group(2)
            index = 2 * stage - 1 if part == 'downsample' else 2 * stage
            new_prefix = f'stages.{index}.' + ('' if part == 'downsample'
                                               else 'blocks.')
            key = new_prefix + key[match.end():]
        else:
            for old, new in _HEAD.items():
                if key.startswith(old):
                    key = new + key[len(old):]
                    break
        renamed[key] = value
    return renamed


def load_weights_file(filename: str) -> dict:
    """A checkpoint as a dict: ``.safetensors`` through the safetensors
    package, anything else (``.pth``, ``.bin``, URLs) through mmengine."""
    if osp.splitext(filename)[1] == '.safetensors':
        from safetensors.torch import load_file
        return load_file(filename, device='cpu')
    return _load_checkpoint(filename, map_location='cpu')
