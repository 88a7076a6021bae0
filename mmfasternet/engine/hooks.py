"""Hooks that make an interrupted run resume exactly where it stopped."""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the random number generators with each checkpoint; restore them
    on resume, just before the first iteration after it.

    mmengine restores weights, optimizer, schedulers and the data order, but
    not torch's generator, which Mask R-CNN's proposal sampling draws from;
    without it a resumed run drifts from one that ran straight through.
    numpy and python generators are restored as well, after mmengine has
    replayed the data pipeline of the iterations already done.
    """
    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._pending: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['rng_states'] = dict(
            torch=torch.get_rng_state(),
            numpy=np.random.get_state(),
            python=random.getstate())

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = checkpoint.get('rng_states')

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if self._pending is None:
            return
        torch.set_rng_state(self._pending['torch'])
        np.random.set_state(self._pending['numpy'])
        random.setstate(self._pending['python'])
        self._pending = None
