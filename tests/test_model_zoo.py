"""model-index.yml and configs/metafile.yml, read by mmengine's own metafile
reader (the one mmdet's and mmseg's inferencers use). The listed parameters
are checked against each config's built model in test_inferencers.py (one
build a config)."""
import glob
import os.path as osp
from pathlib import Path

from mmengine.config import Config
from mmengine.infer import BaseInferencer

from mmfasternet.analysis.complexity import model_complexity

REPO = Path(__file__).parents[1]
MODELS = list(BaseInferencer._get_models_from_metafile(str(REPO)))
BY_CONFIG = {m['Config']: m for m in MODELS}
RELEASE = 'https://github.com/JierunChen/FasterNet/releases/download/v1.0/'


def test_every_config_is_listed_once_and_every_listed_config_exists():
    configs = sorted(
        osp.relpath(p, REPO) for p in glob.glob(str(REPO / 'configs/*.py')))
    assert sorted(m['Config'] for m in MODELS) == configs
    names = [m['Name'] for m in MODELS]
    assert len(set(names)) == len(names)
    for model in MODELS:
        assert (REPO / model['Config']).is_file()
        assert model['In Collection'] == 'FasterNet'
        assert Path(model['Config']).stem == model['Name']


def test_flops_are_those_get_flops_counts():
    config = 'configs/fpn_fasternet_t0_ade20k.py'  # the cheapest to count
    counted = model_complexity(Config.fromfile(str(REPO / config)))['model']
    assert BY_CONFIG[config]['Metadata']['FLOPs'] == counted['flops']


def test_every_config_has_its_counted_flops():
    missing = [c for c, m in BY_CONFIG.items()
               if not m['Metadata'].get('FLOPs', 0) > 0]
    assert not missing, f'FLOPs not counted: {missing}'


def test_results_only_the_papers_with_the_official_checkpoints():
    paper = {'s': (39.9, 36.9, '20221111_063419'),
             'm': (43.0, 39.1, '20221107_124408'),
             'l': (44.0, 39.9, '20221107_004433')}
    with_results = {m['Config'] for m in MODELS if 'Results' in m}
    assert with_results == {
        f'configs/maskrcnn_fasternet_{v}_coco.py' for v in paper}
    for variant, (box, mask, stamp) in paper.items():
        model = BY_CONFIG[f'configs/maskrcnn_fasternet_{variant}_coco.py']
        metrics = {k: v for r in model['Results']
                   for k, v in r['Metrics'].items()}
        assert metrics == {'box AP': box, 'mask AP': mask}
        assert model['Weights'] == (
            f'{RELEASE}mask_rcnn_fasternet_{variant}_fpn_1x_coco_{stamp}.pth')
    assert all('Weights' not in m for m in MODELS if 'Results' not in m)
