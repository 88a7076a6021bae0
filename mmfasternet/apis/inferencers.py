"""mmdet's ``DetInferencer`` and mmseg's ``MMSegInferencer`` on this
project's configs, named by path or by a model name of ``model-index.yml``.

Names are read with mmengine's own metafile reader (the one its inferencers
use for mmdet's and mmseg's zoos); the config's ``default_scope`` picks the
inferencer. Weights come only from ``weights``: a name's official checkpoint
(``Weights`` in the metafile) is a URL to download by hand, never fetched.
"""
import os.path as osp
import warnings
from typing import Dict, Optional, Tuple

from mmengine.config import Config
from mmengine.infer import BaseInferencer

from ..errors import InputError
from ..models.builder import scope_registries

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# What mmengine and mmdet warn when an inferencer gets no checkpoint; the
# callers say it once in their own words.
RANDOM_WEIGHTS_WARNINGS = ('Checkpoint is not loaded',
                           'weights is None',
                           'dataset_meta or class names are not saved')


def metafile_models(root: str = REPO_ROOT) -> Dict[str, dict]:
    """``{lower-case name: Models entry}`` of ``root/model-index.yml``."""
    if not osp.isfile(osp.join(root, 'model-index.yml')):
        raise InputError(f'{root}/model-index.yml not found: model names '
                         f'work from a checkout of mmfasternet; pass a '
                         f'config path instead.')
    return {
        model['Name'].lower(): model
        for model in BaseInferencer._get_models_from_metafile(root)
    }


def resolve_model(config_or_name: str,
                  root: str = REPO_ROOT) -> Tuple[str, Optional[str]]:
    """(config path, official weights URL or None) of a path or a name."""
    if osp.isfile(config_or_name):
        return config_or_name, None
    if config_or_name.endswith('.py'):
        raise InputError(f'config file not found: {config_or_name}. Pass '
                         f'a config path or a model name of model-index.yml')
    models = metafile_models(root)
    entry = models.get(config_or_name.lower())
    if entry is None:
        raise InputError(
            f'{config_or_name!r} is neither a config file nor a model name '
            f'of {root}/model-index.yml; names are the config file names '
            f'without .py, e.g. {sorted(models)[0]!r}.')
    return osp.join(root, entry['Config']), entry.get('Weights')


def build_inferencer(config_or_name: str,
                     weights: Optional[str] = None,
                     device: Optional[str] = None) -> BaseInferencer:
    """``DetInferencer`` or ``MMSegInferencer`` for a config path or name.

    Without ``weights`` the model keeps random weights (no file is read,
    not even the config's ImageNet checkpoint); the inferencers' own
    warnings about it are silenced, so say it where the call is made.
    """
    import mmfasternet  # noqa: F401  registers FasterNet and our loops
    import mmfasternet.engine  # noqa: F401
    config, _ = resolve_model(config_or_name)
    cfg = Config.fromfile(config)
    if cfg.get('default_scope', 'mmdet') == 'mmseg':
        from mmseg.apis import MMSegInferencer as Inferencer

        import mmfasternet.visualization  # noqa: F401  its visualizer
    else:
        from mmdet.apis import DetInferencer as Inferencer
    if weights is not None and not osp.isfile(weights) and \
            '://' not in weights:
        raise InputError(f'weights file not found: {weights}')
    with warnings.catch_warnings():
        for message in RANDOM_WEIGHTS_WARNINGS:
            warnings.filterwarnings('ignore', message=f'.*{message}')
        inferencer = Inferencer(model=cfg, weights=weights, device=device)
    if weights is None:
        # Without a checkpoint the inferencers fall back to another data
        # set's classes (mmseg: Cityscapes); take the config's own.
        meta = _config_dataset_meta(cfg)
        if meta:
            inferencer.model.dataset_meta = meta
            inferencer.visualizer.dataset_meta = meta
    return inferencer


def _config_dataset_meta(cfg: Config) -> dict:
    """Classes and palette of the config's test data set (its class's
    ``METAINFO`` updated by the config's ``metainfo``)."""
    from mmengine.registry import DefaultScope
    dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    scope = cfg.get('default_scope', 'mmdet')
    registry = scope_registries(scope)
    with DefaultScope.overwrite_default_scope(scope):
        dataset_class = registry.DATASETS.get(dataset.get('type'))
    meta = dict(getattr(dataset_class, 'METAINFO', None) or {})
    meta.update(dataset.get('metainfo') or {})
    return meta
