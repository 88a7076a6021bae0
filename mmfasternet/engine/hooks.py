"""Hooks that make an interrupted run resume exactly where it stopped."""
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save torch's random generator with each checkpoint; restore it on
    resume, just before the first iteration after it.

    mmengine restores weights, optimizer, schedulers and the data order, but
    not torch's generator, which Mask R-CNN's proposal sampling and drop
    path draw from; without it a resumed run drifts from one that ran
    straight through. numpy's and python's generators need nothing: on
    resume mmengine replays the data pipeline of the iterations already
    done, which draws them exactly as the first run did.
    """
    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._pending: Optional[torch.Tensor] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['torch_rng_state'] = torch.get_rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = checkpoint.get('torch_rng_state')

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if self._pending is None:
            return
        torch.set_rng_state(self._pending)
        self._pending = None
