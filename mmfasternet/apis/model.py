"""A model from a config file and a checkpoint, as mmdet's
``init_detector`` and mmseg's ``init_model`` give it (any scope here)."""
from typing import Optional

import torch.nn as nn

from ..models.builder import build_model
from .runner import load_config


def init_model(config: str,
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> nn.Module:
    """The model of ``config`` (a path), in eval mode on ``device``, with
    ``checkpoint`` loaded strictly (None: random weights, nothing read).
    The config is checked first (:func:`load_config`); the model keeps it
    as ``model.cfg``."""
    cfg = load_config(config, cfg_options)
    model = build_model(cfg, checkpoint)
    model.cfg = cfg
    return model.to(device)
