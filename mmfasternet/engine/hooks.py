"""Hooks that make an interrupted run resume exactly where it stopped."""
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save torch's random generators with each checkpoint; restore them on
    resume, just before the first iteration after it.

    mmengine restores weights, optimizer, schedulers and the data order, but
    not torch's generators, which Mask R-CNN's proposal sampling and drop
    path draw from; without them a resumed run drifts from one that ran
    straight through. The CPU generator is always saved; when CUDA is
    present, the generator of every visible GPU too (``torch.cuda``'s draw
    from those on GPU tensors). numpy's and python's generators need
    nothing: on resume mmengine replays the data pipeline of the iterations
    already done, which draws them exactly as the first run did.
    """
    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._pending: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['torch_rng_state'] = torch.get_rng_state()
        if torch.cuda.is_available():
            checkpoint['torch_cuda_rng_states'] = \
                torch.cuda.get_rng_state_all()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'torch_rng_state' in checkpoint:
            self._pending = dict(
                cpu=checkpoint['torch_rng_state'],
                cuda=checkpoint.get('torch_cuda_rng_states'))

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if self._pending is None:
            return
        torch.set_rng_state(self._pending['cpu'])
        cuda_states = self._pending['cuda']
        if cuda_states is not None and torch.cuda.is_available():
            if len(cuda_states) != torch.cuda.device_count():
                runner.logger.warning(
                    f'RNGStateHook: the checkpoint holds the generators of '
                    f'{len(cuda_states)} GPUs, this process sees '
                    f'{torch.cuda.device_count()}; CUDA generators are not '
                    f'restored, so the resumed run is not bitwise exact.')
            else:
                torch.cuda.set_rng_state_all(cuda_states)
        self._pending = None
