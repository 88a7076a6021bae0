"""Checks that run before a Runner is built, so mistakes fail in a second.

Each check raises :class:`InputError` with a message that names the file or
option at fault and says what to do, instead of a traceback from deep inside
mmengine, mmdet or torch minutes into a run.
"""
import ast
import difflib
import inspect
import json
import os
import os.path as osp
import tempfile
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from mmengine.config import Config, ConfigDict
from mmengine.registry import Registry
from mmengine.runner import Runner

from ..errors import InputError
from ..models.builder import scope_registries

# Top-level config keys that mmengine's Runner or the tools read.
RUNNER_KEYS = set(inspect.signature(Runner.__init__).parameters) | {
    'custom_imports', 'auto_scale_lr', 'tta_model', 'tta_pipeline',
    'backend_args', 'data_root', 'dataset_type'
}


def _closest(word: str, options) -> str:
    match = difflib.get_close_matches(word, list(options), n=1)
    return f' (did you mean {match[0]!r}?)' if match else ''


def check_config_path(path: str) -> None:
    if not osp.isfile(path):
        raise InputError(
            f'config file not found: {path}. Pass the path of a config, '
            f'e.g. configs/maskrcnn_fasternet_s_coco.py.')


def _base_files(path: str, tree: ast.Module) -> List[str]:
    """The local ``_base_`` files a config names (package ones left out)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == '_base_'
                for t in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                return []
            names = [value] if isinstance(value, str) else list(value)
            return [osp.join(osp.dirname(path), name) for name in names
                    if isinstance(name, str) and '::' not in name]
    return []


def config_syntax_error(path: str, error: SyntaxError) -> InputError:
    """The error for a config that is not valid Python, naming the file
    (the config or one of its ``_base_`` files) and the line."""
    pending, seen = [path], set()
    while pending:
        current = pending.pop(0)
        if current in seen or not osp.isfile(current):
            continue
        seen.add(current)
        with open(current, encoding='utf-8') as f:
            source = f.read()
        try:
            tree = ast.parse(source, filename=current)
        except SyntaxError as found:
            line = (found.text or '').strip()
            shown = f': {line}' if line else ''
            return InputError(
                f'config {current}, line {found.lineno}: {found.msg}{shown}. '
                f'Fix the Python syntax of the config.')
        pending += _base_files(current, tree)
    return InputError(f'config {path}: {error}. Fix the Python syntax of the '
                      f'config.')


def _scope_registries(scope: Optional[str]) -> List[Registry]:
    try:
        registries = scope_registries(scope or 'mmengine')
    except ImportError:
        registries = scope_registries('mmengine')
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


# Images opened per split: enough to catch a wrong folder or a broken set,
# few enough that a 27k-image ADE20K or 118k-image COCO starts at once.
SAMPLE_SIZE = 16


def _sample(items: Sequence, size: int = SAMPLE_SIZE) -> list:
    """Up to ``size`` items spread evenly over ``items``, first and last in.
    """
    if len(items) <= size:
        return list(items)
    step = (len(items) - 1) / (size - 1)
    return [items[round(i * step)] for i in range(size)]


def _sampled(checked: int, listed: int) -> str:
    return (f'all {listed}' if checked == listed else
            f'a sample of {checked} of {listed}')


def _image_size(path: str) -> Tuple[int, int]:
    """(width, height) from the file's header."""
    from PIL import Image
    try:
        with Image.open(path) as image:
            return image.size
    except OSError as error:
        raise InputError(f'image {path} cannot be read ({error}). Replace '
                         f'or remove it.') from None


def _check_coco_annotations(option: str, ann_file: str,
                            image_dir: str) -> str:
    """Every listed image is in its folder (one directory listing per
    folder); a sample is opened and has the size the annotations give."""
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
    images = annotations['images']
    listings: Dict[str, set] = {}
    absent = []
    for image in images:
        folder, name = osp.split(osp.join(image_dir, image['file_name']))
        if folder not in listings:
            listings[folder] = set(os.listdir(folder)) if osp.isdir(
                folder) else set()
        if name not in listings[folder]:
            absent.append(image['file_name'])
    if absent:
        others = f' and {len(absent) - 1} more' if len(absent) > 1 else ''
        raise InputError(
            f'image {osp.join(image_dir, absent[0])}{others} listed in '
            f'{ann_file} is missing on disk. Complete the image folder '
            f'({option}.data_prefix) or use the matching annotation file.')
    sample = _sample(images)
    for image in sample:
        path = osp.join(image_dir, image['file_name'])
        size = _image_size(path)
        if 'width' in image and size != (image['width'], image['height']):
            raise InputError(
                f'image {path} is {size[0]}x{size[1]} but {ann_file} says '
                f'{image["width"]}x{image["height"]}: the images and the '
                f'annotation file do not belong together.')
    return (f'{option}: {len(images)} images listed in {ann_file}, all on '
            f'disk; {_sampled(len(sample), len(images))} opened')


def _files_with_suffix(folder: str, suffix: str) -> List[str]:
    """Paths under ``folder`` (nested folders too, as Cityscapes' cities)
    that end in ``suffix``, relative and without it, sorted."""
    stems = []
    for parent, _, names in os.walk(folder, followlinks=True):
        relative = osp.relpath(parent, folder)
        for name in names:
            if name.endswith(suffix):
                stem = name[:-len(suffix)]
                stems.append(stem if relative == '.' else
                             osp.join(relative, stem))
    return sorted(stems)


def _check_segmentation_pairs(option: str, image_dir: str, label_dir: str,
                              image_suffix: str, label_suffix: str) -> str:
    """Every image has its label (both folders listed once); the pairs of a
    sample are opened and have the same size."""
    stems = _files_with_suffix(image_dir, image_suffix)
    if not stems:
        raise InputError(
            f'no images ending in {image_suffix} under {image_dir} '
            f'({option}.data_prefix.img_path, {option}.img_suffix). Check '
            f'the data set layout.')
    labels = set(_files_with_suffix(label_dir, label_suffix))
    unlabelled = [stem for stem in stems if stem not in labels]
    if unlabelled:
        others = (f' (and {len(unlabelled) - 1} more images)'
                  if len(unlabelled) > 1 else '')
        raise InputError(
            f'label {osp.join(label_dir, unlabelled[0] + label_suffix)} for '
            f'image {osp.join(image_dir, unlabelled[0] + image_suffix)} is '
            f'missing{others} ({option}.data_prefix.seg_map_path, '
            f'{option}.seg_map_suffix).')
    sample = _sample(stems)
    for stem in sample:
        image_path = osp.join(image_dir, stem + image_suffix)
        label_path = osp.join(label_dir, stem + label_suffix)
        image, label = _image_size(image_path), _image_size(label_path)
        if image != label:
            raise InputError(
                f'label {label_path} is {label[0]}x{label[1]} but its image '
                f'{image_path} is {image[0]}x{image[1]}: each label PNG must '
                f'have the size of its image. Fix or remove the pair.')
    return (f'{option}: {len(stems)} image/label pairs under {image_dir}, '
            f'each image with its label; sizes compared on '
            f'{_sampled(len(sample), len(stems))}')


def _dataset_default(dataset: ConfigDict, name: str, scope: Optional[str],
                     fallback: str) -> str:
    """An argument of a dataset config, else its class's default (e.g.
    CityscapesDataset's ``_leftImg8bit.png``), else ``fallback``."""
    if name in dataset:
        return dataset[name]
    for module in (scope, 'mmseg'):
        try:
            registry = scope_registries(module).DATASETS
            parameter = inspect.signature(registry.get(
                dataset.get('type'))).parameters[name]
        except (ImportError, AttributeError, KeyError, TypeError,
                ValueError):
            continue
        if isinstance(parameter.default, str):
            return parameter.default
    return fallback


def check_datasets(cfg: Config, splits: Tuple[str, ...] = (
        'train_dataloader', 'val_dataloader', 'test_dataloader')
                   ) -> List[str]:
    """Data root, annotation files and images of the given splits exist.

    Folders and annotation lists are checked in full, image contents on a
    sample (:data:`SAMPLE_SIZE` per data set). Returns one line per data set
    that says what was checked.
    """
    report = []
    scope = cfg.get('default_scope')
    # The COCO configs (configs/_base_/*_coco.py) read their root from here.
    variable = (' or set COCO_ROOT=PATH/ (the COCO configs read it)'
                if scope == 'mmdet' else '')
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
                report.append(_check_coco_annotations(
                    option, ann_path, _join(root, prefix['img'])))
        elif 'img_path' in prefix and 'seg_map_path' in prefix:
            image_dir = _join(root, prefix['img_path'])
            label_dir = _join(root, prefix['seg_map_path'])
            for folder, key in ((image_dir, 'img_path'),
                                (label_dir, 'seg_map_path')):
                if not osp.isdir(folder):
                    raise InputError(
                        f'folder {folder} not found ({option}.data_prefix.'
                        f'{key}). Check the data set layout.')
            report.append(_check_segmentation_pairs(
                option, image_dir, label_dir,
                _dataset_default(dataset, 'img_suffix', scope, '.jpg'),
                _dataset_default(dataset, 'seg_map_suffix', scope, '.png')))
    return report


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
