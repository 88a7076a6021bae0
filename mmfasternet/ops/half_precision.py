"""float32 fallbacks for the mmcv ops that refuse half precision.

Under ``torch.autocast`` (bf16 on CPU, fp16 on CUDA) a detector's heads
hand bf16/fp16 boxes and features to mmcv's compiled ops, which reject them
(the CPU nms reads ``float*`` only; the CPU RoIAlign dispatches float,
double and half but not bf16) or crash on mixed dtypes (half features with
float32 RoIs). ``install_half_precision_fallbacks()`` makes exactly these
ops take float32 at that one place and leaves the rest of the graph alone.

What it changes in the process (once; calling it again does nothing):

* ``mmcv.ops.nms.NMSop.forward`` (behind ``mmcv.ops.nms``,
  ``batched_nms`` and every caller that imported them),
  ``mmcv.ops.nms.SoftNMSop.forward`` (``soft_nms``) and
  ``mmcv.ops.roi_align.RoIAlignFunction.forward`` / ``backward`` (behind
  ``RoIAlign`` and ``roi_align``) are replaced by wrappers. A call whose
  floating tensor arguments are all free of bf16/fp16 goes straight to the
  original function (one dtype check per argument). Otherwise the floating
  tensors are cast to float32, the original runs, and floating outputs
  (and RoIAlign's input gradient) are cast back to the dtype of the first
  tensor argument, so callers see the dtype they passed in.

The RoIAlign wrapper also makes a channels-last input contiguous before
mmcv's kernel reads it as NCHW memory (it would otherwise return wrong
values silently, e.g. behind a channels-last backbone).

No installed file is edited; the originals stay reachable as
``<wrapper>.__wrapped__``.

Predictions made under autocast still carry half-precision boxes and
scores (the heads' linear layers run in bf16/fp16), which numpy and so
mmdet's evaluators cannot read: :func:`register_float32_predictions` adds a
forward hook to one model that casts them to float32 (nothing global).
"""
import functools
from typing import Callable, Optional

import torch
from mmengine.structures import BaseDataElement

HALF_DTYPES = (torch.float16, torch.bfloat16)


def _needs_float32(args) -> bool:
    return any(
        isinstance(arg, torch.Tensor) and arg.dtype in HALF_DTYPES
        for arg in args)


def _first_dtype(args) -> Optional[torch.dtype]:
    for arg in args:
        if isinstance(arg, torch.Tensor):
            return arg.dtype
    return None


def _to(value, dtype: torch.dtype):
    """Floating tensors in ``value`` (a tensor or a tuple) to ``dtype``."""
    if isinstance(value, torch.Tensor):
        return value.to(dtype) if value.is_floating_point() else value
    if isinstance(value, tuple):
        return tuple(_to(item, dtype) for item in value)
    return value


def _float32_forward(forward: Callable) -> Callable:
    """An autograd ``Function.forward`` that runs ``forward`` in float32
    when any argument is bf16/fp16 and casts its outputs back."""

    @functools.wraps(forward)
    def wrapper(ctx, *args, **kwargs):
        if not _needs_float32(args):
            return forward(ctx, *args, **kwargs)
        dtype = _first_dtype(args)
        ctx.float32_fallback_dtype = dtype
        args = tuple(_to(arg, torch.float32) for arg in args)
        return _to(forward(ctx, *args, **kwargs), dtype)

    return wrapper


def _float32_backward(backward: Callable) -> Callable:
    """The matching ``backward``: float32 incoming gradients, outgoing ones
    back in the forward's input dtype."""

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        dtype = getattr(ctx, 'float32_fallback_dtype', None)
        if dtype is None:
            return backward(ctx, *grads)
        grads = tuple(_to(grad, torch.float32) for grad in grads)
        return _to(backward(ctx, *grads), dtype)

    return wrapper


def _nchw_input_forward(forward: Callable) -> Callable:
    """mmcv's RoIAlign kernels index the features as contiguous NCHW
    memory: a channels-last input (what a channels-last backbone and neck
    give) would be read in the wrong order and give wrong values without
    an error. Make the input contiguous first (a no-op when it is)."""

    @functools.wraps(forward)
    def wrapper(ctx, input, *args, **kwargs):
        return forward(ctx, input.contiguous(), *args, **kwargs)

    return wrapper


def _wrap(cls, name: str, make: Callable) -> bool:
    """Replace the static method ``cls.name`` by ``make(original)`` unless
    done already; True when it changed something."""
    original = cls.__dict__[name]
    function = original.__func__ if isinstance(original,
                                               staticmethod) else original
    if getattr(function, 'is_float32_fallback', False):
        return False
    wrapper = make(function)
    wrapper.is_float32_fallback = True
    setattr(cls, name, staticmethod(wrapper))
    return True


def install_half_precision_fallbacks() -> None:
    """Make mmcv's nms, soft_nms and RoIAlign accept bf16/fp16 inputs (see
    the module docstring). Idempotent."""
    from mmcv.ops.nms import NMSop, SoftNMSop
    from mmcv.ops.roi_align import RoIAlignFunction

    _wrap(NMSop, 'forward', _float32_forward)
    _wrap(SoftNMSop, 'forward', _float32_forward)
    _wrap(RoIAlignFunction, 'forward',
          lambda forward: _float32_forward(_nchw_input_forward(forward)))
    _wrap(RoIAlignFunction, 'backward', _float32_backward)


def predictions_to_float32(outputs):
    """Cast the half-precision tensors of every ``pred_*`` field (and
    ``seg_logits``) of each data sample in ``outputs`` to float32, in place;
    returns ``outputs``. Anything else passes through untouched."""
    if not isinstance(outputs, (list, tuple)):
        return outputs
    for sample in outputs:
        if not isinstance(sample, BaseDataElement):
            continue
        for name in sample.keys():
            field = getattr(sample, name)
            if not (name.startswith('pred_') or name == 'seg_logits') or (
                    not isinstance(field, BaseDataElement)):
                continue
            for key, value in list(field.items()):
                if isinstance(value,
                              torch.Tensor) and value.dtype in HALF_DTYPES:
                    setattr(field, key, value.float())
    return outputs


def register_float32_predictions(model: torch.nn.Module):
    """Make ``model(..., mode='predict')`` return float32 boxes, scores and
    logits under autocast (see :func:`predictions_to_float32`); returns the
    hook's handle (``handle.remove()`` undoes it)."""
    return model.register_forward_hook(
        lambda module, args, outputs: predictions_to_float32(outputs))
