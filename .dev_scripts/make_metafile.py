"""Write configs/metafile.yml (and model-index.yml) from the configs.

Parameters and FLOPs are counted here, by mmengine's counter on each
config's model (the numbers tools/analysis/get_flops.py prints: detection at
1280x800, RTMDet at the 640x640 its test pipeline pads to, segmentation at
512x512, one image). Epochs are the config's. Results and weights are the
paper's and the official release's, for the configs that reproduce them
(Mask R-CNN S/M/L, JierunChen/FasterNet v1.0); nothing else is claimed.

    python .dev_scripts/make_metafile.py     # every configs/*.py

The model-zoo tables of README.md and docs/model_zoo.md are then written
from the metafile by ``python .dev_scripts/doc_tables.py README.md docs/*.md``.
"""
import argparse
import glob
import json
import os
import os.path as osp
from typing import Dict, Optional

import yaml

RELEASE = 'https://github.com/JierunChen/FasterNet/releases/download/v1.0/'
# COCO val2017, official detection/README.MD (JierunChen/FasterNet).
PAPER_RESULTS = {
    'maskrcnn_fasternet_s_coco': dict(
        box=39.9, mask=36.9,
        weights='mask_rcnn_fasternet_s_fpn_1x_coco_20221111_063419.pth'),
    'maskrcnn_fasternet_m_coco': dict(
        box=43.0, mask=39.1,
        weights='mask_rcnn_fasternet_m_fpn_1x_coco_20221107_124408.pth'),
    'maskrcnn_fasternet_l_coco': dict(
        box=44.0, mask=39.9,
        weights='mask_rcnn_fasternet_l_fpn_1x_coco_20221107_004433.pth'),
}
COLLECTION = dict(
    Name='FasterNet',
    Metadata=dict(Architecture=['FasterNet', 'Partial Convolution']),
    Paper=dict(
        URL='https://arxiv.org/abs/2303.03667',
        Title="Run, Don't Walk: Chasing Higher FLOPS for Faster Neural "
        'Networks'),
    README='docs/model_zoo.md',
    Code=dict(URL='https://github.com/JierunChen/FasterNet', Version='v1.0'))
TASKS = {
    'maskrcnn': ('COCO', ['Object Detection', 'Instance Segmentation']),
    'cascade-maskrcnn': ('COCO',
                         ['Object Detection', 'Instance Segmentation']),
    'retinanet': ('COCO', ['Object Detection']),
    'rtmdet': ('COCO', ['Object Detection']),
    'rtmdet-ins': ('COCO', ['Object Detection', 'Instance Segmentation']),
    'fpn': (None, ['Semantic Segmentation']),
    'upernet': ('ADE20K', ['Semantic Segmentation']),
}


def config_epochs(path: str) -> Optional[int]:
    """The training epochs of a config; None for iteration-based ones."""
    from mmfasternet.analysis.models import load_any_config
    return load_any_config(path).train_cfg.get('max_epochs')


def model_entry(config: str, complexity: Optional[dict],
                epochs: Optional[int] = None) -> dict:
    """One ``Models`` entry; ``complexity`` is get_flops' whole-model row,
    ``epochs`` the config's (None: iteration-based)."""
    name = osp.splitext(osp.basename(config))[0]
    family = name.split('_')[0]
    dataset, tasks = TASKS[family]
    if dataset is None:
        dataset = 'Cityscapes' if name.endswith('cityscapes') else 'ADE20K'
    metadata = {'Training Data': dataset}
    if complexity is not None:
        if complexity['flops'] is not None:
            metadata['FLOPs'] = int(complexity['flops'])
        metadata['Parameters'] = int(complexity['params'])
    if epochs:
        metadata['Epochs'] = epochs
    entry = {'Name': name, 'In Collection': 'FasterNet', 'Config': config,
             'Metadata': metadata}
    paper = PAPER_RESULTS.get(name)
    if paper:
        metadata['Training Resources'] = '8 GPUs'
        entry['Results'] = [
            dict(Task='Object Detection', Dataset='COCO',
                 Metrics={'box AP': paper['box']}),
            dict(Task='Instance Segmentation', Dataset='COCO',
                 Metrics={'mask AP': paper['mask']})]
        entry['Weights'] = RELEASE + paper['weights']
    return entry


def count(config: str, flops: bool = True) -> Dict[str, int]:
    from mmfasternet.analysis.complexity import model_complexity
    from mmfasternet.analysis.models import load_any_config
    from mmfasternet.models import build_model
    cfg = load_any_config(config)
    if flops:
        counts = model_complexity(cfg)['model']
        return dict(params=int(counts['params']), flops=int(counts['flops']))
    params = sum(p.numel() for p in build_model(cfg).parameters())
    return dict(params=int(params), flops=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--root', default='.', help='repository root')
    parser.add_argument('--params-only', action='store_true',
                        help='count parameters only; FLOPs come from the '
                        'cache where it has them and are left out elsewhere')
    parser.add_argument('--cache', default='work_dirs/metafile_counts.json',
                        help='counts kept between runs (per config)')
    parser.add_argument('--cached-only', action='store_true',
                        help='count nothing: write what the cache holds')
    parser.add_argument('--only', nargs='+', metavar='CONFIG',
                        help='count these configs (into the cache) and '
                        'write nothing else')
    args = parser.parse_args()
    configs = sorted(
        osp.relpath(p, args.root)
        for p in glob.glob(osp.join(args.root, 'configs', '*.py')))
    if args.only:
        configs = [osp.relpath(p, args.root) for p in args.only]
    cache = {}
    if osp.isfile(args.cache):
        with open(args.cache) as f:
            cache = json.load(f)
    models = []
    for config in configs:
        counts = cache.get(config)
        missing = counts is None or (counts['flops'] is None
                                     and not args.params_only)
        if missing and not args.cached_only:
            print(f'counting {config}', flush=True)
            counts = count(osp.join(args.root, config),
                           flops=not args.params_only)
            cache[config] = counts
            os.makedirs(osp.dirname(osp.abspath(args.cache)), exist_ok=True)
            with open(args.cache, 'w') as f:
                json.dump(cache, f, indent=1)
        models.append(model_entry(
            config, counts, config_epochs(osp.join(args.root, config))))
    if args.only:
        return
    header = ('# Written by .dev_scripts/make_metafile.py; FLOPs and '
              'Parameters\n# counted by mmengine (tools/analysis/get_flops.py'
              ': 1280x800 detection,\n# 640x640 RTMDet, 512x512 segmentation)'
              '. Results and Weights: the paper /\n# official release.\n')
    with open(osp.join(args.root, 'configs', 'metafile.yml'), 'w') as f:
        f.write(header)
        yaml.safe_dump(dict(Collections=[COLLECTION], Models=models), f,
                       sort_keys=False, width=79)
    with open(osp.join(args.root, 'model-index.yml'), 'w') as f:
        yaml.safe_dump(dict(Import=['configs/metafile.yml']), f)


if __name__ == '__main__':
    main()
