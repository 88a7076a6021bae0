"""Checks that run before a Runner is built, so mistakes fail in a second.

Each check raises :class:`InputError` with a message that names the file or
option at fault and says what to do, instead of a traceback from deep inside
mmengine, mmdet or torch minutes into a run.
"""
import difflib
import inspect
import json
import os
import os.path as osp
import tempfile
from typing import Iterator, List, Optional, Tuple

from mmengine.config import Config, ConfigDict
from mmengine.registry import Registry

# Top-level config keys that mmengine's Runner or the tools read.
RUNNER_KEYS = set(inspect.signature(
    __import__('mmengine.runner', fromlist=['Runner']).Runner.__init__
).parameters) | {'custom_imports', 'auto_scale_lr', 'tta_model',
                 'tta_pipeline', 'backend_args', 'data_root', 'dataset_type'}


class InputError(Exception):
    """A mistake in the user's input: the message says what and how to fix."""


def _closest(word: str, options) -> str:
    match = difflib.get_close_matches(word, list(options), n=1)
    return f' (did you mean {match[0]!r}?)' if match else ''


def check_config_path(path: str) -> None:
    if not osp.isfile(path):
        raise InputError(
            f'config file not found: {path}. Pass the path of a config, '
            f'e.g. configs/maskrcnn_fasternet_s_coco.py.')


def _scope_registries(scope: Optional[str]) -> List[Registry]:
    module = f'{scope}.registry' if scope else 'mmengine.registry'
    try:
        registries = __import__(module, fromlist=['MODELS'])
    except ImportError:
        registries = __import__('mmengine.registry', fromlist=['MODELS'])
    return [r for r in vars(registries).values() if isinstance(r, Registry)]


def _accepted_arguments(type_name, scope: Optional[str]) -> Optional[set]:
    """Arguments of the class a config dict builds; None if unknown or **kw.
    """
    if not isinstance(type_name, str):
        target = type_name
    else:
        target = None
        for registry in _scope_registries(scope):
            target = registry.get(type_name)
            if target is not None:
                break
    if target is None:
        return None
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return None
    return set(signature.parameters)


def check_cfg_options(cfg: Config, options: Optional[dict]) -> None:
    """Catch typos in ``--cfg-options`` keys before they silently add keys.

    Every key on the path must exist in the config, except the last, which
    may also be a new argument of the class that its dict builds, or, in a
    dict without a type, any key that is not a near miss of one it has.
    """
    if not options:
        return
    scope = cfg.get('default_scope')
    tree = cfg.to_dict()
    for dotted in options:
        parts = dotted.split('.')
        node = tree
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            where = '.'.join(parts[:depth]) or 'the config'
            if isinstance(node, (list, tuple)) and part.isdigit():
                if int(part) >= len(node):
                    raise InputError(
                        f'--cfg-options {dotted}: {where} has only '
                        f'{len(node)} entries.')
                node = node[int(part)]
                continue
            if not isinstance(node, dict):
                raise InputError(
                    f'--cfg-options {dotted}: {where} is not a dict, it '
                    f'cannot have the key {part!r}.')
            if part in node:
                node = node[part]
                continue
            if depth == 0 and part in RUNNER_KEYS:
                break  # a Runner setting the config leaves at its default
            if last and 'type' in node:
                accepted = _accepted_arguments(node['type'], scope)
                if accepted is None or part in accepted:
                    break
                raise InputError(
                    f'--cfg-options {dotted}: {node["type"]} has no argument '
                    f'{part!r}{_closest(part, accepted)}. Check the key.')
            if last:
                # A dict without a type takes any key: refuse only a likely
                # typo of a key it has.
                near = difflib.get_close_matches(part, list(node), n=1,
                                                 cutoff=0.8)
                if not near:
                    break
                raise InputError(
                    f'--cfg-options {dotted}: {where} has no key {part!r} '
                    f'(did you mean {near[0]!r}?). Check the key.')
            raise InputError(
                f'--cfg-options {dotted}: {where} has no key {part!r}'
                f'{_closest(part, list(node))}. Check the key.')


def _datasets(cfg: Config) -> Iterator[Tuple[str, ConfigDict]]:
    """(option path, dataset config) of every split, wrappers unwrapped."""
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(split)
        if not loader or 'dataset' not in loader:
            continue
        stack = [(f'{split}.dataset', loader['dataset'])]
        while stack:
            path, dataset = stack.pop()
            if 'dataset' in dataset:
                stack.append((f'{path}.dataset', dataset['dataset']))
            elif 'datasets' in dataset:
                stack.extend((f'{path}.datasets.{i}', d)
                             for i, d in enumerate(dataset['datasets']))
            else:
                yield path, dataset


def _join(root: str, path: str) -> str:
    return path if osp.isabs(path) or not root else osp.join(root, path)


def _check_coco_annotations(option: str, ann_file: str,
                            image_dir: str) -> None:
    try:
        with open(ann_file) as f:
            annotations = json.load(f)
    except json.JSONDecodeError as error:
        raise InputError(
            f'annotation file {ann_file} ({option}.ann_file) is not valid '
            f'JSON: {error}. Regenerate or re-download it.') from None
    missing_keys = [k for k in ('images', 'annotations')
                    if k not in annotations]
    if missing_keys:
        raise InputError(
            f'annotation file {ann_file} ({option}.ann_file) has no '
            f'{" or ".join(repr(k) for k in missing_keys)}: it is not a COCO '
            f'instances file.')
    absent = [image['file_name'] for image in annotations['images']
              if not osp.isfile(osp.join(image_dir, image['file_name']))]
    if absent:
        others = f' and {len(absent) - 1} more' if len(absent) > 1 else ''
        raise InputError(
            f'image {osp.join(image_dir, absent[0])}{others} listed in '
            f'{ann_file} is missing on disk. Complete the image folder '
            f'({option}.data_prefix) or use the matching annotation file.')


def _check_segmentation_pairs(option: str, image_dir: str, label_dir: str,
                              image_suffix: str, label_suffix: str) -> None:
    from PIL import Image
    for name in sorted(os.listdir(image_dir)):
        if not name.endswith(image_suffix):
            continue
        stem = name[:-len(image_suffix)]
        label_path = osp.join(label_dir, stem + label_suffix)
        if not osp.isfile(label_path):
            raise InputError(
                f'label {label_path} for image {osp.join(image_dir, name)} '
                f'is missing ({option}.data_prefix.seg_map_path).')
        with Image.open(osp.join(image_dir, name)) as image, \
                Image.open(label_path) as label:
            if image.size != label.size:
                raise InputError(
                    f'label {label_path} is {label.size[0]}x{label.size[1]} '
                    f'but its image {osp.join(image_dir, name)} is '
                    f'{image.size[0]}x{image.size[1]}: each label PNG must '
                    f'have the size of its image. Fix or remove the pair.')


def check_datasets(cfg: Config, splits: Tuple[str, ...] = (
        'train_dataloader', 'val_dataloader', 'test_dataloader')) -> None:
    """Data root, annotation files and images of the given splits exist."""
    # The COCO configs (configs/_base_/*_coco.py) read their root from here.
    variable = (' or set COCO_ROOT=PATH/ (the COCO configs read it)'
                if cfg.get('default_scope') == 'mmdet' else '')
    for option, dataset in _datasets(cfg):
        if option.split('.')[0] not in splits:
            continue
        root = dataset.get('data_root') or ''
        if root and '://' not in root and not osp.isdir(root):
            raise InputError(
                f'dataset root {root} does not exist ({option}.data_root). '
                f'Put the data set there as the README describes, pass '
                f'--cfg-options {option}.data_root=PATH{variable}, or run '
                f'the offline demo: bash scripts/demo.sh')
        prefix = dataset.get('data_prefix') or {}
        ann_file = dataset.get('ann_file')
        if ann_file:
            ann_path = _join(root, ann_file)
            if not osp.isfile(ann_path):
                raise InputError(
                    f'annotation file {ann_path} not found '
                    f'({option}.ann_file). Check the data set layout or pass '
                    f'--cfg-options {option}.ann_file=PATH.')
            if ann_path.endswith('.json') and 'img' in prefix:
                _check_coco_annotations(option, ann_path,
                                        _join(root, prefix['img']))
        elif 'img_path' in prefix and 'seg_map_path' in prefix:
            image_dir = _join(root, prefix['img_path'])
            label_dir = _join(root, prefix['seg_map_path'])
            for folder, key in ((image_dir, 'img_path'),
                                (label_dir, 'seg_map_path')):
                if not osp.isdir(folder):
                    raise InputError(
                        f'folder {folder} not found ({option}.data_prefix.'
                        f'{key}). Check the data set layout.')
            _check_segmentation_pairs(
                option, image_dir, label_dir,
                dataset.get('img_suffix', '.jpg'),
                dataset.get('seg_map_suffix', '.png'))


def check_checkpoint_file(path: Optional[str], option: str) -> None:
    if path and '://' not in path and not osp.isfile(path):
        raise InputError(
            f'checkpoint not found: {path} ({option}). Pass the path of an '
            f'existing checkpoint.')


def check_work_dir(work_dir: str, resume: bool, overwrite: bool) -> None:
    """The work dir can be written, and holds no checkpoints to overwrite."""
    try:
        os.makedirs(work_dir, exist_ok=True)
        with tempfile.TemporaryFile(dir=work_dir):
            pass
    except OSError as error:
        raise InputError(
            f'cannot write to work dir {work_dir} ({error.strerror}). Pass '
            f'--work-dir with a folder you can write.') from None
    if resume or overwrite:
        return
    previous = sorted(name for name in os.listdir(work_dir)
                      if name.endswith('.pth') or name == 'last_checkpoint')
    if previous:
        raise InputError(
            f'work dir {work_dir} already holds checkpoints ({previous[0]}'
            f'{", ..." if len(previous) > 1 else ""}) that this run would '
            f'overwrite. Continue it with --resume, pass a new --work-dir, or '
            f'pass --overwrite to start over in the same folder.')
