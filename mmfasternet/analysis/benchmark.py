"""Latency and achieved FLOP/s of whole models or backbones, CPU or CUDA.

Several models are timed in one run, interleaved (A, B, A, B, ...), so that
the noise of a shared machine falls on all of them alike and their ratios
hold. Achieved FLOP/s is FLOPs divided by latency, the paper's measure.
"""
import contextlib
import csv
import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from .complexity import model_complexity
from .models import build_model, default_shape, dummy_batch, load_any_config

DTYPES = {'fp32': torch.float32, 'fp16': torch.float16,
          'bf16': torch.bfloat16}


@dataclass
class BenchmarkSpec:
    """One model to time and how."""
    config: str
    backbone_only: bool = False
    deploy: bool = False
    dtype: str = 'fp32'
    channels_last: bool = False
    label: str = ''

    def name(self) -> str:
        if self.label:
            return self.label
        parts = [self.config.split('/')[-1].replace('.py', '')]
        parts += ['backbone'] if self.backbone_only else []
        parts += ['deploy'] if self.deploy else []
        parts += [self.dtype] + (['channels_last']
                                 if self.channels_last else [])
        return ' '.join(parts)


@dataclass
class BenchmarkResult:
    name: str
    config: str
    part: str
    device: str
    dtype: str
    deploy: bool
    channels_last: bool
    batch: int
    height: int
    width: int
    params: int
    flops: int  # per batch
    median_ms: float
    p25_ms: float
    p75_ms: float
    min_ms: float
    images_per_s: float
    achieved_gflops: float
    # Backbone runs: relative error of the outputs against the fp32
    # training form of the same config on the same input.
    rel_error_vs_fp32: Optional[float] = None
    times_ms: List[float] = field(repr=False, default_factory=list)


def _relative_error(outputs, reference) -> float:
    """Largest ||a - b|| / ||b|| over the feature maps of two backbone runs.
    """
    return max(((a.float() - b.float()).norm() / b.float().norm()).item()
               for a, b in zip(outputs, reference))


def _runner(spec: BenchmarkSpec, device: str, batch: int,
            shape: Tuple[int, int]) -> Tuple[Callable[[], object], dict]:
    """A no-argument callable that runs the model once, and its sizes."""
    cfg = load_any_config(spec.config)
    sizes = model_complexity(cfg, shape, spec.backbone_only)['model']
    model = build_model(cfg)
    scope = cfg.get('default_scope', 'mmdet')
    inputs, samples = dummy_batch(model, scope, batch, shape)
    if spec.deploy:
        if not hasattr(model.backbone, 'switch_to_deploy'):
            raise ValueError(f'--deploy: the backbone of {spec.config} has '
                             f'no inference form (switch_to_deploy).')
        model.backbone.switch_to_deploy()
    target = model.backbone if spec.backbone_only else model
    memory_format = torch.channels_last if spec.channels_last \
        else torch.contiguous_format
    target = target.to(device=device, memory_format=memory_format)
    inputs = inputs.to(device=device, memory_format=memory_format)
    dtype = DTYPES[spec.dtype]
    if dtype is torch.float16 and device == 'cpu':
        raise ValueError('--dtype fp16 needs CUDA; on a CPU use bf16.')
    autocast = torch.autocast(device_type=device.split(':')[0], dtype=dtype) \
        if dtype is not torch.float32 else contextlib.nullcontext()

    def run_once():
        with torch.no_grad(), autocast:
            if spec.backbone_only:
                return target(inputs)
            return target(inputs, samples, mode='predict')

    return run_once, dict(params=sizes['params'],
                          flops=sizes['flops'] * batch)


def _synchronize(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def run_benchmark(specs: Sequence[BenchmarkSpec],
                  device: str = 'cpu',
                  batch: int = 1,
                  shape: Optional[Tuple[int, int]] = None,
                  repeat: int = 10,
                  warmup: int = 2,
                  log: Callable[[str], None] = print) -> List[BenchmarkResult]:
    """Time every spec ``repeat`` times, interleaved, after ``warmup`` runs.
    """
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise ValueError('--device cuda: this machine has no CUDA device.')
    runners, sizes, shapes, errors = [], [], [], []
    references: Dict[str, object] = {}
    for spec in specs:
        cfg_shape = shape or default_shape(load_any_config(spec.config))
        torch.manual_seed(0)  # same weights and input for every form
        run_once, size = _runner(spec, device, batch, cfg_shape)
        runners.append(run_once)
        sizes.append(size)
        shapes.append(cfg_shape)
        for _ in range(warmup):
            outputs = run_once()
        error = None
        if spec.backbone_only:
            if spec.config not in references:
                torch.manual_seed(0)
                reference = _runner(
                    BenchmarkSpec(spec.config, backbone_only=True), device,
                    batch, cfg_shape)[0]()
                references[spec.config] = reference
            error = _relative_error(outputs, references[spec.config])
        errors.append(error)
        log(f'ready: {spec.name()}')
    times: Dict[int, List[float]] = {i: [] for i in range(len(specs))}
    for round_index in range(repeat):
        for i, run_once in enumerate(runners):
            _synchronize(device)
            start = time.perf_counter()
            run_once()
            _synchronize(device)
            times[i].append((time.perf_counter() - start) * 1e3)
        log(f'round {round_index + 1}/{repeat}: ' + ', '.join(
            f'{times[i][-1]:.0f} ms' for i in range(len(specs))))
    results = []
    for i, spec in enumerate(specs):
        ms = sorted(times[i])
        median = statistics.median(ms)
        quartiles = statistics.quantiles(ms, n=4) if len(ms) > 1 else [
            ms[0]] * 3
        results.append(BenchmarkResult(
            name=spec.name(), config=spec.config,
            part='backbone' if spec.backbone_only else 'model',
            device=device, dtype=spec.dtype, deploy=spec.deploy,
            channels_last=spec.channels_last, batch=batch,
            height=shapes[i][0], width=shapes[i][1],
            params=sizes[i]['params'], flops=sizes[i]['flops'],
            median_ms=median, p25_ms=quartiles[0], p75_ms=quartiles[2],
            min_ms=ms[0], images_per_s=batch * 1e3 / median,
            achieved_gflops=sizes[i]['flops'] / median / 1e6,
            rel_error_vs_fp32=errors[i], times_ms=times[i]))
    return results


def write_results(results: Sequence[BenchmarkResult], path: str) -> None:
    """CSV or JSON by the file's extension."""
    rows = [asdict(r) for r in results]
    if path.endswith('.json'):
        with open(path, 'w') as f:
            json.dump(rows, f, indent=1)
        return
    with open(path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            row['times_ms'] = ' '.join(f'{t:.2f}' for t in row['times_ms'])
            writer.writerow(row)


def format_results(results: Sequence[BenchmarkResult]) -> str:
    base = results[0].median_ms
    lines = [f'{"model":<58}{"GFLOPs":>8}{"median ms":>11}{"IQR ms":>14}'
             f'{"img/s":>8}{"GFLOP/s":>9}{"x first":>9}{"rel.err":>9}']
    for r in results:
        error = '' if r.rel_error_vs_fp32 is None \
            else f'{r.rel_error_vs_fp32:.1e}'
        lines.append(
            f'{r.name:<58}{r.flops / 1e9:>8.1f}{r.median_ms:>11.1f}'
            f'{f"{r.p25_ms:.0f}-{r.p75_ms:.0f}":>14}{r.images_per_s:>8.2f}'
            f'{r.achieved_gflops:>9.1f}{base / r.median_ms:>9.2f}{error:>9}')
    return '\n'.join(lines)


def plot_results(results: Sequence[BenchmarkResult], path: str) -> None:
    """Latency against FLOPs, and achieved GFLOP/s per model, as a PNG."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for r in results:
        colour = 'tab:red' if 'fasternet' in r.name.lower() else 'tab:blue'
        left.scatter(r.flops / 1e9, r.median_ms, color=colour)
        left.annotate(r.name, (r.flops / 1e9, r.median_ms), fontsize=6)
    left.set_xlabel('GFLOPs')
    left.set_ylabel('median latency (ms)')
    left.set_title(f'{results[0].device}, batch {results[0].batch}')
    names = [r.name for r in results]
    right.barh(names, [r.achieved_gflops for r in results],
               color=['tab:red' if 'fasternet' in n.lower() else 'tab:blue'
                      for n in names])
    right.set_xlabel('achieved GFLOP/s')
    right.tick_params(axis='y', labelsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
