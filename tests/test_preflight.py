"""Pre-flight checks: each user mistake gets a message naming its cause."""
import json

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from mmfasternet.datasets import make_ade_dataset, make_coco_dataset
from mmfasternet.engine.preflight import (InputError, check_cfg_options,
                                          check_config_path, check_datasets,
                                          check_work_dir)


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
    cfg = det_cfg.copy()
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
def test_valid_cfg_options_pass(det_cfg, options):
    check_cfg_options(det_cfg, options)


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


def test_valid_coco_set_passes(det_cfg, coco_root):
    check_datasets(coco_cfg(det_cfg, coco_root))


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
