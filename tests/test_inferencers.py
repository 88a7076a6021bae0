"""mmdet's DetInferencer and mmseg's MMSegInferencer on every config, by path
and by metafile name; demo/image_demo.py on a generated picture and on a
photograph (matplotlib's grace_hopper.jpg)."""
import glob
import json
import runpy
from pathlib import Path

import cv2
import matplotlib
import pytest
import torch
from mmengine.config import Config

from mmfasternet.apis.inferencers import (build_inferencer, metafile_models,
                                          resolve_model)
from mmfasternet.datasets import make_ade_dataset, make_coco_dataset
from mmfasternet.errors import InputError
from mmfasternet.models import FasterNet

REPO = Path(__file__).parents[1]
CONFIGS = sorted(glob.glob(str(REPO / 'configs' / '*.py')) +
                 glob.glob(str(REPO / 'configs' / 'demo' / '*.py')))
ZOO = {entry['Config']: entry for entry in metafile_models().values()}
PHOTO = Path(matplotlib.get_data_path()) / 'sample_data' / 'grace_hopper.jpg'
DEMO = runpy.run_path(str(REPO / 'demo' / 'image_demo.py'))
# One config per family predicts; every config builds (below).
FAMILIES = ['maskrcnn_fasternet_t0_coco',
            'configs/retinanet_fasternet_t0_coco.py',
            'cascade-maskrcnn_fasternet_t2_ms-crop-3x_coco',
            'maskrcnn_fasternet_t2_ms-crop-3x_coco',
            'rtmdet_fasternet_t0_coco',
            'configs/rtmdet-ins_fasternet_t0_coco.py',
            'fpn_fasternet_t0_ade20k',
            'configs/upernet_fasternet_t0_ade20k.py']


@pytest.fixture(scope='module')
def pictures(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp('data')
    coco = make_coco_dataset(str(root / 'coco'), num_train=1, num_val=1,
                             size=128)
    ade = make_ade_dataset(str(root / 'ade'), num_train=1, num_val=1,
                           size=128)
    return dict(
        coco=next(Path(coco, 'val2017').glob('*')),
        ade=next(Path(ade, 'images', 'validation').glob('*.jpg')),
        photo=PHOTO)


@pytest.mark.parametrize('config', CONFIGS,
                         ids=lambda p: str(Path(p).relative_to(REPO)))
@pytest.mark.slow
def test_every_config_builds_in_its_inferencer(config):
    """One build a config: its inferencer, and (for the model zoo's
    configs) the parameter count that the metafile lists."""
    inferencer = build_inferencer(config, device='cpu')
    scope = Config.fromfile(config).default_scope
    assert type(inferencer).__name__ == dict(
        mmdet='DetInferencer', mmseg='MMSegInferencer')[scope]
    assert isinstance(inferencer.model.backbone, FasterNet)
    relative = str(Path(config).relative_to(REPO))
    if relative in ZOO:
        listed = ZOO[relative]['Metadata']['Parameters']
        counted = sum(p.numel() for p in inferencer.model.parameters())
        assert abs(listed - counted) < 0.005e6, (listed, counted)


def test_every_metafile_name_names_its_config_and_builds():
    models = metafile_models()
    for name, entry in models.items():
        config, weights = resolve_model(name)
        assert Path(config) == REPO / entry['Config']
        assert weights == entry.get('Weights')
    inferencer = build_inferencer('RetinaNet_FasterNet_T1_COCO')
    assert inferencer.model.backbone.embed_dim == 64


def test_unknown_model_name_is_refused_with_the_names_to_use():
    with pytest.raises(InputError, match=r"'maskrcnn_fasternet_x'.*neither"
                       r".*model-index\.yml.*e\.g\. "
                       r"'cascade-maskrcnn_fasternet_l_ms-crop-3x_coco'"):
        resolve_model('maskrcnn_fasternet_x')


def demo(*argv):
    return DEMO['run_demo'](DEMO['parse_args']([str(a) for a in argv]))


@pytest.mark.parametrize('picture', ['coco', 'ade', 'photo'])
@pytest.mark.parametrize('model', FAMILIES)
@pytest.mark.slow
def test_image_demo_writes_picture_and_predictions(model, picture, pictures,
                                                   tmp_path, capsys):
    if picture == 'ade' and 'coco' in model or \
            picture == 'coco' and 'ade20k' in model:
        pytest.skip('one generated set per task')
    image = pictures[picture]
    demo(image, model, '--out-dir', tmp_path, '--device', 'cpu')
    assert capsys.readouterr().out.count('random weights') == 1
    height, width = cv2.imread(str(image)).shape[:2]
    drawn = cv2.imread(str(tmp_path / 'vis' / image.name))
    assert drawn is not None and drawn.shape[:2] == (height, width)
    preds = json.loads((tmp_path / 'preds' / f'{image.stem}.json')
                       .read_text())
    if 'ade20k' in model:
        assert len(preds['sem_seg']) == height
        assert len(preds['sem_seg'][0]) == width
        assert len(preds['classes']) == 150
    else:  # random weights score below the heads' thresholds: see below
        assert len(preds['bboxes']) == len(preds['scores']) == len(
            preds['labels'])


def test_image_demo_draws_and_writes_the_detections_of_given_weights(
        pictures, tmp_path, capsys):
    model = 'configs/demo/maskrcnn_fasternet_t0_synthetic.py'
    state = build_inferencer(model, device='cpu').model.state_dict()
    state['roi_head.bbox_head.fc_cls.bias'][:] = -10.
    state['roi_head.bbox_head.fc_cls.bias'][2] = 10.  # every box: class 2
    weights = tmp_path / 'weights.pth'
    torch.save(dict(state_dict=state), weights)
    image = pictures['coco']
    demo(image, model, '--weights', weights, '--out-dir', tmp_path,
         '--device', 'cpu', '--pred-score-thr', '0.5')
    assert 'random weights' not in capsys.readouterr().out
    preds = json.loads((tmp_path / 'preds' / f'{image.stem}.json')
                       .read_text())
    assert len(preds['bboxes']) == len(preds['masks']) > 0
    assert set(preds['labels']) == {2} and min(preds['scores']) > 0.99
    drawn = cv2.imread(str(tmp_path / 'vis' / image.name))
    assert (drawn != cv2.imread(str(image))).any()  # boxes drawn


def test_image_demo_deploy_folds_and_predicts_the_same(pictures, tmp_path):
    model = 'configs/demo/fpn_fasternet_t0_synthetic.py'
    inferencer = build_inferencer(model, device='cpu')
    weights = tmp_path / 'weights.pth'
    torch.save(dict(state_dict=inferencer.model.state_dict()), weights)
    image = pictures['ade']
    runs = dict(plain=[], deploy=['--deploy'], amp=['--amp'])
    models = {
        run: demo(image, model, '--weights', weights, '--out-dir',
                  tmp_path / run, '--device', 'cpu', *flags)
        for run, flags in runs.items()}
    assert models['deploy'].model.backbone.deploy
    assert not models['plain'].model.backbone.deploy
    labels = {run: json.loads((tmp_path / run / 'preds' /
                               f'{image.stem}.json').read_text())['sem_seg']
              for run in runs}
    pixels = len(labels['plain']) * len(labels['plain'][0])
    for run, min_share in (('deploy', 0.99), ('amp', 0.5)):
        same = sum(a == b for row_a, row_b in zip(labels['plain'],
                                                  labels[run])
                   for a, b in zip(row_a, row_b))
        assert same >= min_share * pixels, run
