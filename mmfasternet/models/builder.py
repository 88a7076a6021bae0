"""Building a config's model: the one place that does it, for the tools,
the deployment and analysis code and the tests."""
import copy
import importlib
import logging
from contextlib import contextmanager
from types import ModuleType
from typing import Iterator, Optional

import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import DefaultScope

from ..checkpoint import check_checkpoint_file


def scope_registries(scope: str) -> ModuleType:
    """The registry module of an OpenMMLab library (``mmdet.registry``,
    ``mmseg.registry``, ``mmengine.registry``) by its scope name."""
    return importlib.import_module(f'{scope}.registry')


@contextmanager
def quiet_init_log() -> Iterator[None]:
    """mmengine logs every parameter's initialiser at INFO (hundreds of
    lines per model); a tool prints its result, not that."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _without_pretrained_weights(model_cfg: dict) -> dict:
    """No pretrained checkpoint is read (or downloaded): FasterNet keeps its
    own random initialisation, other backbones their modules' defaults."""
    model_cfg = copy.deepcopy(model_cfg)
    model_cfg.pop('pretrained', None)
    backbone = model_cfg.get('backbone')
    if isinstance(backbone, dict):
        init_cfg = backbone.get('init_cfg')
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            if backbone.get('type') == 'FasterNet':
                backbone.pop('init_cfg')
            else:
                backbone['init_cfg'] = None
    return model_cfg


def build_model(cfg: Config,
                checkpoint: Optional[str] = None,
                backbone_deploy: Optional[bool] = None,
                init_weights: bool = True) -> nn.Module:
    """The config's model in eval mode, built in the config's scope.

    Args:
        cfg: an mmdet or mmseg config.
        checkpoint: a ``.pth`` loaded strictly; None: random weights (the
            model's own initialisation; pretrained ones are never read).
        backbone_deploy: set a FasterNet backbone's ``deploy`` (True: the
            folded inference form, False: the training form); None keeps the
            config's.
        init_weights: run the model's initialisation when no checkpoint is
            given (False: PyTorch's defaults, for weights loaded later).
    """
    model_cfg = _without_pretrained_weights(cfg.model)
    backbone = model_cfg.get('backbone')
    if backbone_deploy is not None and isinstance(backbone, dict) and \
            backbone.get('type') == 'FasterNet':
        backbone['deploy'] = backbone_deploy
    scope = cfg.get('default_scope') or 'mmdet'
    with DefaultScope.overwrite_default_scope(scope):
        model = scope_registries(scope).MODELS.build(model_cfg)
    if checkpoint is not None:
        from mmengine.runner import load_checkpoint
        check_checkpoint_file(checkpoint, 'CHECKPOINT')
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True,
                        logger='silent')
    elif init_weights and hasattr(model, 'init_weights'):
        with quiet_init_log():
            model.init_weights()
    return model.eval()
