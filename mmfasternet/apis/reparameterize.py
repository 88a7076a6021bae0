"""Fold a trained detector's or segmentor's FasterNet backbone into its
inference form and save it as a checkpoint that loads strictly into the same
config built with ``model.backbone.deploy=True``."""
import os.path as osp
from typing import Optional

from mmengine.config import Config
from mmengine.runner.checkpoint import _load_checkpoint, save_checkpoint

from ..checkpoint import check_checkpoint_file, strip_wrapper_prefix
from ..errors import InputError
from ..inference import fasternet_backbones
from ..models.backbones.fasternet import is_fused_state_dict
from ..models.builder import build_model


def _state_dict(checkpoint: dict) -> dict:
    state_dict = checkpoint.get('state_dict', checkpoint)
    return strip_wrapper_prefix(state_dict)


def reparameterize_checkpoint(cfg: Config, config_path: str,
                              checkpoint_path: str, out_path: str,
                              log: Optional[callable] = print) -> dict:
    """Load ``checkpoint_path`` into the model of ``cfg``, fold every
    FasterNet backbone and save the result to ``out_path`` (mmengine's
    format: ``meta`` and ``state_dict``; optimizer and scheduler states are
    dropped, as they belong to the unfolded parameters).

    Raises :class:`InputError` naming the file when the checkpoint is already
    folded, does not fit the config, or the model has no FasterNet.
    """
    check_checkpoint_file(checkpoint_path, 'CHECKPOINT')
    if osp.abspath(out_path) == osp.abspath(checkpoint_path):
        raise InputError(f'OUT {out_path} is the input checkpoint; write the '
                         f'folded model to another file.')
    model = build_model(cfg, backbone_deploy=False, init_weights=False)
    if not fasternet_backbones(model):
        raise InputError(f'{config_path}: the model has no FasterNet '
                         f'backbone, so there is nothing to fold.')
    checkpoint = _load_checkpoint(checkpoint_path, map_location='cpu')
    state_dict = _state_dict(checkpoint)
    backbone_keys = {k[len('backbone.'):]: v for k, v in state_dict.items()
                     if k.startswith('backbone.')}
    if is_fused_state_dict(backbone_keys):
        raise InputError(f'{checkpoint_path} is already folded (deploy '
                         f'form); evaluate it with --cfg-options '
                         f'model.backbone.deploy=True.')
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    mismatched = sorted(k for k in set(own) & set(state_dict)
                        if own[k].shape != state_dict[k].shape)
    if missing or unexpected or mismatched:
        raise InputError(
            f'{checkpoint_path} does not fit {config_path}: '
            f'{len(missing)} missing, {len(unexpected)} unexpected, '
            f'{len(mismatched)} mismatched tensors (e.g. '
            f'{(mismatched + missing + unexpected)[:3]}). Check the '
            f'config (variant) and the checkpoint.')
    model.load_state_dict(state_dict, strict=True)
    for backbone in fasternet_backbones(model):
        backbone.switch_to_deploy()
    meta = dict(checkpoint.get('meta') or {})
    meta['fasternet_deploy'] = True
    meta['reparameterized_from'] = checkpoint_path
    folded = dict(meta=meta, state_dict=model.state_dict())
    save_checkpoint(folded, out_path)
    if log:
        log(f'folded {len(state_dict)} tensors of {checkpoint_path} into '
            f'{len(folded["state_dict"])}: {out_path}. Evaluate with '
            f'--cfg-options model.backbone.deploy=True.')
    return folded
