"""Pre-flight checks: each user mistake gets a message naming its cause."""
import copy
import json

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from mmfasternet.apis.runner import load_config, prepare_training
from mmfasternet.datasets import make_ade_dataset, make_coco_dataset
from mmfasternet.engine.preflight import (check_cfg_options, check_config_path,
                                          check_datasets, check_work_dir)
from mmfasternet.errors import InputError


@pytest.fixture(scope='module')
def det_cfg(tmp_path_factory):
    folder = tmp_path_factory.mktemp('cfg')
    path = folder / 'det.py'
    path.write_text(
        "_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'\n"
        "custom_imports = dict(imports=['mmfasternet'])\n"
        "model = dict(backbone=dict(_delete_=True, type='FasterNet', "
        "arch='t0'))\n")
    return Config.fromfile(str(path))


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('data') / 'coco'
    return make_coco_dataset(str(root), num_train=4, num_val=2, size=48)


def coco_cfg(det_cfg, root):
    # A deep copy: the tests change the datasets of what they get back.
    cfg = copy.deepcopy(det_cfg)
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[split].dataset.data_root = root + '/'
    return cfg


def test_missing_config_is_named(tmp_path):
    with pytest.raises(InputError, match='config file not found: .*nope.py'):
        check_config_path(str(tmp_path / 'nope.py'))


@pytest.mark.parametrize('options', [
    {'model.backbone.arch': 's'},
    {'model.backbone.with_cp': True},  # an argument the config leaves out
    {'train_cfg.max_epochs': 1},
    {'optim_wrapper.optimizer.lr': 0.01},
    {'load_from': 'x.pth'},
    {'randomness.deterministic': True},  # a Runner setting left at default
    {'env_cfg.dist_cfg.timeout': 60},  # a new key in a dict without type
])
def test_valid_cfg_options_pass_and_the_same_key_misspelt_is_caught(
        det_cfg, options):
    check_cfg_options(det_cfg, options)
    # The check did look at this key: one letter more in its first part.
    [(key, value)] = options.items()
    first, _, rest = key.partition('.')
    misspelt = '.'.join(filter(None, [first + first[-1], rest]))
    with pytest.raises(InputError, match=f'--cfg-options {misspelt}'):
        check_cfg_options(det_cfg, {misspelt: value})


@pytest.mark.parametrize('options,message', [
    ({'model.backbone.with_cpp': True}, "no argument 'with_cpp'.*'with_cp'"),
    ({'train_cfg.max_epoch': 1}, "no argument 'max_epoch'.*'max_epochs'"),
    ({'modle.backbone.arch': 's'}, "no key 'modle'.*'model'"),
    ({'model.bakbone.arch': 's'}, "model has no key 'bakbone'.*'backbone'"),
    ({'env_cfg.cudnn_benchmarks': True},
     "env_cfg has no key 'cudnn_benchmarks'.*'cudnn_benchmark'"),
])
def test_cfg_option_typos_are_caught_with_a_suggestion(
        det_cfg, options, message):
    with pytest.raises(InputError, match=message):
        check_cfg_options(det_cfg, options)


def test_valid_coco_set_passes_and_the_report_says_what_was_checked(
        det_cfg, coco_root):
    report = check_datasets(coco_cfg(det_cfg, coco_root))
    assert len(report) == 3
    assert report[0].startswith('train_dataloader.dataset: 4 images listed')
    assert 'all on disk; all 4 opened' in report[0]
    assert 'val_dataloader.dataset: 2 images' in report[1]


def test_large_sets_are_listed_in_full_but_opened_on_a_sample(
        det_cfg, tmp_path, monkeypatch):
    root = make_coco_dataset(str(tmp_path / 'coco'), num_train=40,
                             num_val=1, size=16)
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, 'open',
                        lambda path, *a: opened.append(path) or real_open(
                            path, *a))
    cfg = coco_cfg(det_cfg, root)
    report = check_datasets(cfg, splits=('train_dataloader', ))
    assert report == [
        f'train_dataloader.dataset: 40 images listed in {root}/annotations/'
        f'instances_train2017.json, all on disk; a sample of 16 of 40 opened']
    assert len(opened) == 16 and len(set(opened)) == 16
    # Every image is still looked for: remove one outside the sample.
    names = sorted(p.name for p in (tmp_path / 'coco/train2017').iterdir())
    unsampled = next(n for n in names
                     if not any(o.endswith(n) for o in opened))
    (tmp_path / 'coco/train2017' / unsampled).unlink()
    with pytest.raises(InputError, match=rf'{unsampled} listed in .*missing'):
        check_datasets(cfg, splits=('train_dataloader', ))


def test_image_of_another_size_than_annotated_is_named(det_cfg, tmp_path):
    root = make_coco_dataset(str(tmp_path / 'coco'), num_train=2, num_val=1,
                             size=32)
    image = next((tmp_path / 'coco/train2017').iterdir())
    cv2.imwrite(str(image), np.zeros((20, 32, 3), np.uint8))
    with pytest.raises(InputError, match=rf'{image.name} is 32x20 but .*'
                       r'instances_train2017\.json says 32x32'):
        check_datasets(coco_cfg(det_cfg, root), splits=('train_dataloader', ))


def test_missing_data_root_names_option_and_demo(det_cfg, tmp_path):
    cfg = coco_cfg(det_cfg, str(tmp_path / 'absent'))
    with pytest.raises(InputError, match=r'absent/ does not exist \('
                       r'train_dataloader\.dataset\.data_root\).*demo'):
        check_datasets(cfg)


def test_missing_annotation_file_is_named(det_cfg, tmp_path, coco_root):
    cfg = coco_cfg(det_cfg, coco_root)
    cfg.val_dataloader.dataset.ann_file = 'annotations/missing.json'
    with pytest.raises(InputError, match=r'missing\.json not found'):
        check_datasets(cfg)


@pytest.mark.parametrize('content,message', [
    ('{"images": [', 'not valid JSON'),
    ('{"images": []}', "no 'annotations'"),
])
def test_broken_annotation_json_is_reported(det_cfg, tmp_path, coco_root,
                                            content, message):
    broken = tmp_path / 'broken.json'
    broken.write_text(content)
    cfg = coco_cfg(det_cfg, coco_root)
    cfg.train_dataloader.dataset.ann_file = str(broken)
    with pytest.raises(InputError, match=f'broken.json.*{message}'):
        check_datasets(cfg)


def test_missing_images_are_named_with_count(det_cfg, tmp_path, coco_root):
    annotations = json.load(
        open(f'{coco_root}/annotations/instances_train2017.json'))
    for i, name in enumerate(['gone1.png', 'gone2.png', 'gone3.png']):
        annotations['images'].append(
            dict(id=900 + i, file_name=name, height=48, width=48))
    ann_file = tmp_path / 'with_missing.json'
    ann_file.write_text(json.dumps(annotations))
    cfg = coco_cfg(det_cfg, coco_root)
    cfg.train_dataloader.dataset.ann_file = str(ann_file)
    with pytest.raises(InputError, match=r'gone1\.png and 2 more .*missing'):
        check_datasets(cfg)


def test_ade_label_of_wrong_size_is_named(tmp_path):
    root = make_ade_dataset(str(tmp_path / 'ade'), num_train=3, num_val=1,
                            size=48)
    label = f'{root}/annotations/training/ADE_training_00000001.png'
    cv2.imwrite(label, np.ones((40, 48), np.uint8))
    cfg = Config(dict(train_dataloader=dict(dataset=dict(
        type='ADE20KDataset', data_root=root,
        data_prefix=dict(img_path='images/training',
                         seg_map_path='annotations/training')))))
    with pytest.raises(InputError,
                       match=r'ADE_training_00000001\.png is 48x40 but'):
        check_datasets(cfg)


def test_work_dir_with_checkpoints_is_not_overwritten(tmp_path):
    (tmp_path / 'iter_100.pth').write_bytes(b'weights')
    with pytest.raises(InputError, match='--resume.*--work-dir.*--overwrite'):
        check_work_dir(str(tmp_path), resume=False, overwrite=False)
    check_work_dir(str(tmp_path), resume=True, overwrite=False)
    assert (tmp_path / 'iter_100.pth').read_bytes() == b'weights'


def test_work_dir_under_a_file_is_named(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('')
    with pytest.raises(InputError, match=r'cannot write to work dir .*file'):
        check_work_dir(str(blocker / 'run'), resume=False, overwrite=False)


def cityscapes(root, cities=('aachen', 'bremen'), size=(32, 16)) -> Config:
    """Cityscapes' layout: one folder per city, its file name suffixes."""
    for city in cities:
        for frame in range(2):
            stem = f'{city}_{frame:06d}_000019'
            for folder, suffix, channels in (
                    ('leftImg8bit', '_leftImg8bit.png', 3),
                    ('gtFine', '_gtFine_labelTrainIds.png', 1)):
                path = root / folder / 'train' / city / (stem + suffix)
                path.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(path), np.zeros(
                    (size[1], size[0], channels), np.uint8))
    return Config(dict(default_scope='mmseg', train_dataloader=dict(
        dataset=dict(type='CityscapesDataset', data_root=str(root),
                     data_prefix=dict(img_path='leftImg8bit/train',
                                      seg_map_path='gtFine/train')))))


def test_cityscapes_city_folders_and_suffixes_are_checked(tmp_path):
    cfg = cityscapes(tmp_path)
    assert check_datasets(cfg) == [
        f'train_dataloader.dataset: 4 image/label pairs under {tmp_path}/'
        f'leftImg8bit/train, each image with its label; sizes compared on '
        f'all 4']
    label = (tmp_path / 'gtFine/train/bremen/'
             'bremen_000001_000019_gtFine_labelTrainIds.png')
    label.unlink()
    with pytest.raises(InputError, match=r'label .*bremen/bremen_000001_'
                       r'000019_gtFine_labelTrainIds\.png for image .*'
                       r'leftImg8bit/train/bremen/.* is missing'):
        check_datasets(cfg)
    cv2.imwrite(str(label), np.zeros((8, 8), np.uint8))
    with pytest.raises(InputError, match=r'labelTrainIds\.png is 8x8 but'):
        check_datasets(cfg)


def test_image_folder_without_images_of_the_suffix_is_named(tmp_path):
    cfg = cityscapes(tmp_path)
    cfg.train_dataloader.dataset.img_suffix = '.jpg'
    with pytest.raises(InputError, match=r'no images ending in \.jpg under '
                       r'.*leftImg8bit/train .*img_suffix'):
        check_datasets(cfg)


def test_data_checks_run_on_rank_0_only(tmp_path, monkeypatch):
    config = 'configs/demo/maskrcnn_fasternet_t0_synthetic.py'
    options = {f'{split}_dataloader.dataset.data_root': f'{tmp_path}/none/'
               for split in ('train', 'val', 'test')}
    monkeypatch.setenv('RANK', '1')
    cfg = prepare_training(config, work_dir=str(tmp_path / 'work'),
                           cfg_options=options)
    assert cfg.train_dataloader.dataset.data_root == f'{tmp_path}/none/'
    monkeypatch.setenv('RANK', '0')
    with pytest.raises(InputError, match='none/ does not exist'):
        prepare_training(config, work_dir=str(tmp_path / 'work'),
                         cfg_options=options)


@pytest.mark.parametrize('broken', ['top', 'base'])
def test_config_syntax_error_names_the_file_and_line(tmp_path, broken):
    bad = "model = dict(\n    type='FasterNet',\n"
    good = "model = dict(type='FasterNet')\n"
    (tmp_path / 'base.py').write_text(bad if broken == 'base' else good)
    (tmp_path / 'top.py').write_text(
        "_base_ = './base.py'\n" + (bad if broken == 'top' else 'x = 1\n'))
    line = 2 if broken == 'top' else 1
    with pytest.raises(InputError, match=rf'config .*{broken}\.py, line '
                       rf"{line}: '\(' was never closed"):
        load_config(str(tmp_path / 'top.py'))
