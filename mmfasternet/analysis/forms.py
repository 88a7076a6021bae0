"""Named inference forms for the benchmark: which of the independent
choices of :mod:`mmfasternet.inference` a timed entry makes.

A form name is tokens joined by ``_`` in this order::

    {train|deploy}[_cl]_{fp32|bf16|fp16}[_compile][_fastroi][_fuse]

- ``train``: the training form in eval mode; ``deploy``: BatchNorm folded
  into the convs of every FasterNet backbone (decided from the built model;
  a model without one runs its ``train`` form under the same name's other
  choices, see :func:`resolve_form`).
- ``cl``: channels-last weights and activations for the whole model.
- ``fp32``; ``bf16`` (CPU) or ``fp16`` (CUDA): autocast for inference.
- ``compile``: ``torch.compile`` of the backbone and the neck.
- ``fastroi``: every ``RoIAlign`` of the config replaced by the vectorised
  ``FastRoIAlign`` of :mod:`mmfasternet.ops` (same arguments).
- ``fuse``: every BatchNorm left after a conv, in any backbone, neck or head,
  folded into that conv by mmcv's ``fuse_conv_bn``: peers (CSPNeXt, ResNet)
  and FasterNet models' necks and heads get what ``deploy`` gives FasterNet.

Examples: ``train_fp32`` (what a user runs today), ``deploy_fp32``
(folding alone), ``train_cl_fp32`` (layout alone), ``deploy_cl_fp32``
(both), ``deploy_cl_bf16_compile_fastroi`` (everything but ``fuse``),
``deploy_cl_bf16_fuse`` (every BatchNorm folded, for FasterNet and its peers
alike).
"""
from dataclasses import dataclass, replace
from typing import Optional

import torch.nn as nn

from ..errors import InputError

FORM_GRAMMAR = ('{train|deploy}[_cl]_{fp32|bf16|fp16}[_compile][_fastroi]'
                '[_fuse]')
DTYPES = ('fp32', 'bf16', 'fp16')
AUTOCAST_DEVICE = {'bf16': 'cpu', 'fp16': 'cuda'}


@dataclass(frozen=True)
class Form:
    """One combination of the inference choices."""
    deploy: bool = False
    channels_last: bool = False
    dtype: str = 'fp32'
    compile: bool = False
    fast_roi: bool = False
    fuse: bool = False

    @property
    def name(self) -> str:
        tokens = ['deploy' if self.deploy else 'train']
        tokens += ['cl'] if self.channels_last else []
        tokens += [self.dtype]
        tokens += ['compile'] if self.compile else []
        tokens += ['fastroi'] if self.fast_roi else []
        tokens += ['fuse'] if self.fuse else []
        return '_'.join(tokens)


def parse_form(name: str) -> Form:
    """The :class:`Form` that ``name`` spells; :class:`InputError` naming
    the grammar when it spells none."""
    tokens = name.split('_')
    error = InputError(f'--forms: {name!r} is not a form name; write '
                       f'{FORM_GRAMMAR}, e.g. train_fp32 or deploy_cl_bf16.')
    if len(tokens) < 2 or tokens[0] not in ('train', 'deploy'):
        raise error
    rest = tokens[1:]
    channels_last = rest[0] == 'cl'
    rest = rest[1:] if channels_last else rest
    if not rest or rest[0] not in DTYPES:
        raise error
    dtype, flags = rest[0], rest[1:]
    known = ['compile', 'fastroi', 'fuse']
    if any(f not in known for f in flags) or flags != sorted(
            set(flags), key=known.index):
        raise error
    return Form(tokens[0] == 'deploy', channels_last, dtype,
                'compile' in flags, 'fastroi' in flags, 'fuse' in flags)


def check_form_device(form: Form, device: str) -> None:
    """bf16 autocast is the CPU's, fp16 the CUDA device's (as
    :func:`mmfasternet.inference.inference_autocast` chooses)."""
    wanted = AUTOCAST_DEVICE.get(form.dtype)
    if wanted and not device.startswith(wanted):
        other = 'bf16' if form.dtype == 'fp16' else 'fp16'
        raise InputError(f'--forms {form.name}: {form.dtype} autocast is for '
                         f'{wanted.upper()}; on --device {device} use '
                         f'{form.name.replace(form.dtype, other)}.')


def has_fasternet_backbone(model: nn.Module) -> bool:
    """Whether the built model holds a FasterNet (something to fold)."""
    from mmfasternet.inference import fasternet_backbones
    return bool(fasternet_backbones(model))


def resolve_form(form: Form, model: nn.Module) -> Form:
    """The form the model really runs: a model without a FasterNet backbone
    has nothing to fold, so its deploy forms are its train forms."""
    if form.deploy and not has_fasternet_backbone(model):
        return replace(form, deploy=False)
    return form


def keep_detections(model_cfg, count: Optional[int]) -> None:
    """Make the detection heads keep ``count`` boxes per image whatever
    their scores (score threshold 0), as a trained model does on a busy
    image; random weights otherwise give scores under the threshold and the
    mask head would do no work. None, or a model without detection heads
    (a segmentor), leaves the config as it is."""
    test_cfg = model_cfg.get('test_cfg')
    if count is None or not test_cfg or 'decode_head' in model_cfg:
        return
    final = test_cfg.get('rcnn', test_cfg)
    final['score_thr'] = 0.
    final['max_per_img'] = count
