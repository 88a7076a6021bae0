"""Refuse, before evaluation starts, a checkpoint that does not fit the model.

mmengine loads ``load_from`` non-strictly and only logs the tensors that do
not fit; evaluation then fails in the first forward pass (or, worse, scores
a half-initialised model). This hook checks the checkpoint when the Runner
loads it, with mmengine's own loading walk, and stops with the count and
examples of the tensors that do not fit, naming the checkpoint and config.
"""
from typing import Dict, List

from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.registry import HOOKS
from torch import nn

from ..checkpoint import strip_wrapper_prefix
from ..errors import CheckpointError

EXAMPLES = 3


def checkpoint_mismatches(model: nn.Module,
                          state_dict: dict) -> Dict[str, List[str]]:
    """The tensors of ``state_dict`` that would not load into ``model``.

    Walks the model as :func:`mmengine.runner.checkpoint.load_state_dict`
    does (``module.`` prefixes dropped, wrappers and test-time-augmentation
    models unwrapped, each module's own ``_load_from_state_dict``). It
    copies the tensors that fit, as mmengine's load does right after.
    Returns ``missing`` and ``unexpected`` keys and ``shape`` messages.
    """
    missing: List[str] = []
    unexpected: List[str] = []
    errors: List[str] = []
    metadata = getattr(state_dict, '_metadata', None)
    state_dict = strip_wrapper_prefix(state_dict)

    def load(module: nn.Module, prefix: str = '') -> None:
        if is_model_wrapper(module) or isinstance(module, BaseTTAModel):
            module = module.module
        local_metadata = {} if metadata is None else metadata.get(
            prefix[:-1], {})
        module._load_from_state_dict(state_dict, prefix, local_metadata, True,
                                     missing, unexpected, errors)
        for name, child in module._modules.items():
            if child is not None:
                load(child, prefix + name + '.')

    load(model)
    return dict(
        missing=[k for k in missing if 'num_batches_tracked' not in k],
        unexpected=unexpected,
        shape=[e.strip() for e in errors])


def describe_mismatches(mismatches: Dict[str, List[str]], checkpoint: str,
                        config: str) -> str:
    count = sum(len(v) for v in mismatches.values())
    examples = []
    for kind, label in (('shape', 'size mismatch'),
                        ('missing', 'missing from the checkpoint'),
                        ('unexpected', 'not in the model')):
        items = mismatches[kind]
        if items:
            shown = '; '.join(items[:EXAMPLES])
            more = f' (+{len(items) - EXAMPLES} more)' \
                if len(items) > EXAMPLES else ''
            examples.append(f'{len(items)} {label}: {shown}{more}')
    return (f'checkpoint {checkpoint} does not fit the model of config '
            f'{config}: {count} tensors do not match. '
            f'{". ".join(examples)}. Pass the checkpoint trained with this '
            f'config (and the same --cfg-options), or the config it was '
            f'trained with.')


@HOOKS.register_module()
class CheckpointFitHook(Hook):
    """Stop before evaluation when ``load_from`` does not fit the model."""
    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state_dict = checkpoint.get('state_dict', checkpoint)
        mismatches = checkpoint_mismatches(runner.model, state_dict)
        if any(mismatches.values()):
            config = getattr(runner.cfg, 'filename', None) or 'in use'
            checkpoint_file = runner.cfg.get('load_from') or getattr(
                runner, '_load_from', None)
            raise CheckpointError(describe_mismatches(
                mismatches, checkpoint_file, config))
