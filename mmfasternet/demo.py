"""Pieces of the offline demo that are not training or testing themselves:
an untrained checkpoint to evaluate as the baseline, and the loss curve."""
import glob
import json
import os.path as osp
from typing import Dict, List

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope, MODELS
from mmengine.runner import set_random_seed


def save_untrained_checkpoint(config: str, path: str, seed: int = 0) -> str:
    """Build the config's model with its initial weights and save them, so
    that ``tools/test.py`` can measure what a model that has not learned
    scores."""
    cfg = Config.fromfile(config)
    set_random_seed(seed)
    scope = cfg.get('default_scope', 'mmengine')
    with DefaultScope.overwrite_default_scope(scope):
        __import__(f'{scope}.registry')
        model = MODELS.build(cfg.model)
    model.init_weights()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


def read_losses(work_dir: str) -> Dict[str, List[float]]:
    """Training losses per logged iteration from mmengine's scalars.json
    files in ``work_dir`` (every run folder, in time order)."""
    curves: Dict[str, List[float]] = {'iter': []}
    for scalars in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                             'scalars.json'))):
        with open(scalars) as f:
            for line in f:
                record = json.loads(line)
                if 'loss' not in record:
                    continue
                curves['iter'].append(record['iter'])
                for key, value in record.items():
                    if key.startswith('loss'):
                        curves.setdefault(key, []).append(value)
    return curves


def plot_loss_curve(work_dir: str, out_file: str) -> str:
    """Save a PNG of the training losses logged in ``work_dir``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    curves = read_losses(work_dir)
    if not curves['iter']:
        raise FileNotFoundError(f'no training losses logged under {work_dir}')
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, values in curves.items():
        if key != 'iter' and len(values) == len(curves['iter']):
            ax.plot(curves['iter'], values, label=key,
                    linewidth=2.5 if key == 'loss' else 1)
    ax.set_xlabel('iteration')
    ax.set_ylabel('loss')
    ax.set_yscale('log')
    ax.legend(fontsize=8)
    ax.grid(alpha=.3)
    fig.tight_layout()
    fig.savefig(out_file, dpi=100)
    plt.close(fig)
    return out_file
