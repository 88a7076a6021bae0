"""Pieces of the offline demo that are not training or testing themselves:
an untrained checkpoint to evaluate as the baseline, and the loss curve."""
import glob
import json
import os.path as osp
from typing import Dict, List

import torch
from mmengine.config import Config
from mmengine.runner import set_random_seed

from .analysis.machine import machine_info
from .models import build_model


def save_untrained_checkpoint(config: str, path: str, seed: int = 0) -> str:
    """Build the config's model with its initial weights and save them, so
    that ``tools/test.py`` can measure what a model that has not learned
    scores."""
    set_random_seed(seed)
    model = build_model(Config.fromfile(config))
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


def latest_test_metrics(work_dir: str) -> Dict[str, float]:
    """The metrics of the last ``tools/test.py`` run with this work dir
    (mmengine's ``<work_dir>/<timestamp>/<timestamp>.json``)."""
    logs = sorted(glob.glob(osp.join(work_dir, '*', '*.json')))
    if not logs:
        raise FileNotFoundError(f'no test results (*/*.json) in {work_dir}')
    with open(logs[-1]) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    return {k: v for k, v in lines[-1].items()
            if isinstance(v, (int, float)) and k not in ('step', 'time',
                                                         'data_time')}


def write_demo_results(out_file: str, config: str, runs: Dict[str, str],
                       seconds: Dict[str, float], command: str) -> dict:
    """Collect the metrics of each named test run (name -> its work dir)
    into one JSON file with the time of each stage and the machine."""
    import datetime
    results = dict(
        command=command, config=config,
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec='seconds'),
        machine=machine_info(),
        seconds=seconds,
        metrics={name: latest_test_metrics(work_dir)
                 for name, work_dir in runs.items()})
    with open(out_file, 'w') as f:
        json.dump(results, f, indent=1)
    return results
