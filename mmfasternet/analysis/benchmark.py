"""Latency and achieved FLOP/s of whole models (or their backbones) in named
inference forms, on CPU or CUDA, and where the time goes inside them.

Every entry (a config in a form, see :mod:`.forms`) is built with the same
random weights (BatchNorm statistics settled on noise, see
:mod:`.random_weights`), exported from them for a runtime, and timed in one
run, interleaved (A, B, C, A, B, C, ...), so that the noise of a shared
machine falls on all of them alike and their ratios hold. Achieved FLOP/s
is FLOPs divided by latency, the paper's measure. FLOPs are counted once per
config, on the training form in fp32.
"""
import copy
import csv
import json
import os
import re
import statistics
import tempfile
import time
import traceback
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config

from ..errors import InputError
from ..models.builder import build_model
from ..ops import use_fast_roi_align
from .complexity import count_complexity
from .forms import Form, check_form_device, keep_detections, resolve_form
from .models import default_shape, dummy_batch, load_any_config
from .parts import OTHER, PartTimer, cuda_synchronizer
from .random_weights import settle_batchnorm

BACKENDS = ('pytorch', 'onnxruntime', 'openvino')


def config_label(config: str) -> str:
    """``configs/maskrcnn_fasternet_s_coco.py`` -> its file name stem."""
    return config.replace('::', '/').split('/')[-1].replace('.py', '')


@dataclass
class BenchmarkSpec:
    """One entry to time: a config, the form it runs in, where it runs."""
    config: str
    form: Form = field(default_factory=Form)
    backbone_only: bool = False
    backend: str = 'pytorch'
    # Asked of a runtime (backend != 'pytorch'): fp32, bf16, or int8 (the
    # export quantized, its float part in fp32).
    precision: str = 'fp32'

    def float_precision(self) -> str:
        """What the runtime is asked for the float part of the graph."""
        return 'fp32' if self.precision == 'int8' else self.precision

    def runtime_label(self) -> str:
        return f'{self.backend}_{self.precision}'

    def name(self) -> str:
        form = self.form.name if self.backend == 'pytorch' \
            else self.runtime_label()
        part = ' backbone' if self.backbone_only else ''
        return f'{config_label(self.config)}{part} {form}'


@dataclass
class BenchmarkResult:
    model: str
    config: str
    form: str  # as asked
    ran_as: str  # what the model allows (see forms.resolve_form)
    backend: str
    # The arithmetic: the form's dtype in PyTorch; in a runtime, what the
    # runtime reports it compiled (OpenVINO may differ from what was asked).
    precision: str
    part: str
    device: str
    threads: int
    batch: int
    height: int
    width: int
    params: int
    flops: int  # per batch, training form
    median_ms: float = float('nan')
    p25_ms: float = float('nan')
    p75_ms: float = float('nan')
    min_ms: float = float('nan')
    images_per_s: float = float('nan')
    achieved_gflops: float = float('nan')
    # Largest relative error of the backbone (+ neck) features against the
    # training form in fp32 of the same config on the same input.
    rel_error_vs_fp32: Optional[float] = None
    error: str = ''  # why the entry was not timed (e.g. compile failed)
    times_ms: List[float] = field(repr=False, default_factory=list)
    parts_ms: Dict[str, float] = field(repr=False, default_factory=dict)


@dataclass
class _Entry:
    spec: BenchmarkSpec
    ran_as: str
    precision: str
    run_once: Optional[Callable[[], object]] = None
    model: Optional[torch.nn.Module] = None
    rel_error: Optional[float] = None
    error: str = ''
    timer: Optional[PartTimer] = None
    parts: List[Dict[str, float]] = field(default_factory=list)


@dataclass
class _Reference:
    cfg: Config
    scope: str
    shape: Tuple[int, int]
    params: int
    flops: int
    inputs: torch.Tensor
    samples: list
    features: Dict[bool, Sequence[torch.Tensor]]
    state_dict: Dict[str, torch.Tensor]


def _relative_error(outputs, reference) -> float:
    """Largest ||a - b|| / ||b|| over two lists of feature maps."""
    return max(((a.float() - b.float()).norm() / b.float().norm()).item()
               for a, b in zip(outputs, reference))


def _features(model, inputs, backbone_only: bool):
    out = model.backbone(inputs) if backbone_only else model.extract_feat(
        inputs)
    return [t.detach().float().contiguous() for t in out]


def _short_error(error: Exception) -> str:
    """One line naming the op that failed where the message names one."""
    text = str(error)
    ops = re.findall(r'(?:aten|mmcv|torchvision|prims)(?:\.|::)\w+', text)
    first = next((line.strip() for line in text.splitlines()
                  if line.strip()), '')
    op = f' [op: {ops[0]}]' if ops else ''
    return f'{type(error).__name__}{op}: {first}'[:300]


def _reference(config: str, batch: int, shape: Optional[Tuple[int, int]],
               cfg_options: Optional[dict],
               detections: Optional[int], device: str,
               kinds: Sequence[bool]) -> _Reference:
    """The config as every form of it is built, its sizes, one input batch
    and the training-form fp32 features of each kind asked for (backbone
    alone: True, backbone and neck: False)."""
    cfg = load_any_config(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if detections is not None:
        keep_detections(cfg.model, detections)
    scope = cfg.get('default_scope', 'mmdet')
    shape = shape or default_shape(cfg)
    torch.manual_seed(0)
    model = settle_batchnorm(build_model(cfg), shape)
    state_dict = {k: v.clone() for k, v in model.state_dict().items()}
    sizes = count_complexity(model, scope, shape)
    if any(kinds):
        # Counted alone: the trace of the whole model drops backbone
        # outputs that the neck never reads (RetinaNet's FPN starts at
        # level 1, so stage 0's output norm is left out), but a backbone
        # timed alone computes them.
        sizes['backbone'] = count_complexity(model, scope, shape,
                                             backbone_only=True)['model']
    torch.manual_seed(1)
    inputs, samples = dummy_batch(model, scope, batch, shape)
    model.to(device)
    inputs = inputs.to(device)
    with torch.no_grad():
        features = {only: _features(model, inputs, only)
                    for only in set(kinds)}
    return _Reference(cfg, scope, shape,
                      params={k: sizes[k]['params'] for k in sizes},
                      flops={k: sizes[k]['flops'] for k in sizes},
                      inputs=inputs, samples=samples, features=features,
                      state_dict=state_dict)


def _prepare(spec: BenchmarkSpec, ref: _Reference, device: str,
             seen: set, log: Callable[[str], None],
             export_dir: Optional[str] = None) -> Optional[_Entry]:
    """Build one entry's model in its form; None when the model runs this
    form exactly as an entry already prepared (nothing new to time)."""
    from mmfasternet.inference import (inference_autocast,
                                       optimize_for_inference)
    if spec.backend != 'pytorch':
        return _prepare_backend(spec, ref, device, export_dir, log)
    form = spec.form
    cfg = copy.deepcopy(ref.cfg)
    if form.fast_roi and not use_fast_roi_align(cfg.model):
        form = replace(form, fast_roi=False)  # no RoIAlign to replace
    model = build_model(cfg)
    model.load_state_dict(ref.state_dict)  # the same weights for every form
    model.to(device)
    form = resolve_form(form, model)
    key = (spec.config, spec.backbone_only, form)
    if key in seen:
        log(f'skip: {spec.name()} runs as {form.name}, already timed')
        return None
    seen.add(key)
    entry = _Entry(spec, form.name, precision=form.dtype)
    optimize_for_inference(model, deploy=form.deploy,
                           channels_last=form.channels_last,
                           compile=form.compile, fuse_bn=form.fuse)
    autocast = inference_autocast(device, enabled=form.dtype != 'fp32')
    target = model.backbone if spec.backbone_only else model

    def run_once():
        with torch.no_grad(), autocast:
            if spec.backbone_only:
                return target(ref.inputs)
            return target(ref.inputs, ref.samples, mode='predict')

    try:  # the first call compiles, where the form asks for it
        with torch.no_grad(), autocast:
            features = _features(model, ref.inputs, spec.backbone_only)
    except Exception as error:  # noqa: BLE001  reported in the results
        if not form.compile:
            raise
        entry.error = 'compile failed: ' + _short_error(error)
        log(f'{spec.name()}: {entry.error}')
        return entry
    entry.rel_error = _relative_error(
        features, ref.features[spec.backbone_only])
    entry.run_once, entry.model = run_once, model
    return entry


def _prepare_backend(spec: BenchmarkSpec, ref: _Reference, device: str,
                     export_dir: str, log: Callable[[str], None]) -> _Entry:
    """Export the config's model (the weights of its PyTorch forms, BatchNorm
    folded) with ``tools/deployment/pytorch2onnx.py``'s
    code, which checks the file and compares ONNX Runtime with PyTorch,
    and time it in the runtime with as many threads as torch uses. A whole
    model runs behind :class:`~mmfasternet.deploy.BackendModel`, so its
    time includes what the graph leaves outside (mask pasting), as
    PyTorch's ``predict`` does."""
    from mmfasternet.deploy.backends import Session, build_backend_model
    from mmfasternet.deploy.convert import pytorch2onnx
    from mmfasternet.deploy.export import ExportError
    part = 'backbone' if spec.backbone_only else 'model'
    entry = _Entry(spec, spec.runtime_label(), precision=spec.precision)
    out = os.path.join(export_dir, f'{config_label(spec.config)}_{part}_'
                       f'{ref.shape[0]}x{ref.shape[1]}.onnx')
    if not os.path.isfile(out):  # one export serves both runtimes
        weights = out[:-len('.onnx')] + '.pth'
        torch.save({'state_dict': ref.state_dict}, weights)
        try:
            pytorch2onnx(ref.cfg, weights, out, shape=ref.shape, part=part,
                         config_name=spec.config)
        except ExportError as error:
            for path in (out, weights):  # written, then failed its check
                if os.path.isfile(path):
                    os.remove(path)
            entry.error = f'export failed: {error}'
            log(f'{spec.name()}: {entry.error}')
            return entry
    if spec.precision == 'int8':
        out = _quantized(out, ref, log)
    threads = torch.get_num_threads()
    if spec.backbone_only:
        session = Session(out, spec.backend, threads, spec.float_precision())
        entry.run_once = lambda: session.run(ref.inputs)
        entry.precision = session.precision
        entry.ran_as = f'{spec.backend}_{entry.precision}'
        return entry
    model = build_backend_model(ref.cfg, out, spec.backend, threads,
                                spec.float_precision())
    entry.precision = model.precision
    entry.ran_as = f'{spec.backend}_{entry.precision}'

    def run_once():
        return model(ref.inputs, ref.samples, mode='predict')

    entry.run_once, entry.model = run_once, model
    return entry


def _quantized(fp32_file: str, ref: _Reference,
               log: Callable[[str], None]) -> str:
    """The int8 form of ``fp32_file`` (made once, beside it), calibrated on
    the benchmark's own input: right for timing, not for accuracy, which
    ``tools/deployment/quantize.py`` calibrates on training images."""
    from mmfasternet.deploy.quantize import quantize_file
    out = fp32_file[:-len('.onnx')] + '_int8.onnx'
    if not os.path.isfile(out):
        images = [image[None].numpy() for image in ref.inputs.cpu()]
        quantize_file(fp32_file, out, images, split='benchmark input')
        log(f'quantized {fp32_file} to {out}')
    return out


def _attach_parts(stack: ExitStack, entries: Sequence[_Entry],
                  device: str) -> None:
    """Per-part timers on every eager whole model (compiled parts are left
    alone: a hook inside a compiled graph would break it)."""
    for entry in entries:
        if entry.run_once is None or entry.spec.backbone_only or \
                entry.spec.form.compile or entry.spec.backend != 'pytorch':
            continue
        entry.timer = PartTimer(cuda_synchronizer(device))
        stack.enter_context(entry.timer.attach(entry.model))


def _synchronize(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def run_benchmark(specs: Sequence[BenchmarkSpec],
                  device: str = 'cpu',
                  batch: int = 1,
                  shape: Optional[Tuple[int, int]] = None,
                  repeat: int = 10,
                  warmup: int = 2,
                  parts: bool = False,
                  detections: Optional[int] = None,
                  cfg_options: Optional[dict] = None,
                  export_dir: Optional[str] = None,
                  log: Callable[[str], None] = print,
                  after_round: Optional[Callable[[List[BenchmarkResult]],
                                                 None]] = None
                  ) -> List[BenchmarkResult]:
    """Time every spec ``repeat`` times, interleaved, after ``warmup`` runs
    each; with ``parts``, also the time of each part of every eager whole
    model in the same runs. ``after_round`` gets the results so far after
    every round (a long run stopped early keeps what it measured). Entries
    of a runtime (``spec.backend``) export their model into ``export_dir``
    (default: a temporary folder, removed at the end). An entry
    whose run fails is reported in its row (traceback logged) and left out
    of the later rounds; the others go on."""
    runtimes = sorted({s.backend for s in specs} - {'pytorch'})
    if runtimes and not device.startswith('cpu'):
        raise InputError(f'--backends {" ".join(runtimes)}: the runtimes are '
                         f'timed on the CPU; leave --device out.')
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise InputError('--device cuda: this machine has no CUDA device; '
                         'leave --device out to run on the CPU.')
    if repeat < 1 or warmup < 0 or batch < 1:
        raise InputError('--repeat and --batch need at least 1, --warmup at '
                         'least 0.')
    for spec in specs:  # before any model is built
        check_form_device(spec.form, device)
        if spec.backend != 'pytorch':
            from mmfasternet.deploy.precision import check_precision
            check_precision(spec.backend, spec.float_precision())
    with ExitStack() as stack:
        if export_dir is None and runtimes:
            export_dir = stack.enter_context(tempfile.TemporaryDirectory())
        elif export_dir:
            os.makedirs(export_dir, exist_ok=True)
        return _run(specs, device, batch, shape, repeat, warmup, parts,
                    detections, cfg_options, export_dir, log, after_round)


def _run(specs, device, batch, shape, repeat, warmup, parts, detections,
         cfg_options, export_dir, log, after_round) -> List[BenchmarkResult]:
    references: Dict[str, _Reference] = {}
    entries: List[_Entry] = []
    seen: set = set()
    for spec in specs:
        if spec.config not in references:
            references[spec.config] = _reference(
                spec.config, batch, shape, cfg_options, detections, device,
                [s.backbone_only for s in specs if s.config == spec.config])
        entry = _prepare(spec, references[spec.config], device, seen, log,
                         export_dir)
        if entry is None:
            continue
        for _ in range(warmup if entry.run_once else 0):
            entry.run_once()
        entries.append(entry)
        log(f'ready: {spec.name()}')
    timed = [e for e in entries if e.run_once is not None]
    times: Dict[int, List[float]] = {id(e): [] for e in timed}
    with ExitStack() as stack:
        if parts:
            _attach_parts(stack, timed, device)
        for round_index in range(repeat):
            for entry in timed:
                if entry.error:
                    continue
                _synchronize(device)
                start = time.perf_counter()
                try:
                    entry.run_once()
                except Exception as error:  # noqa: BLE001  in the results
                    entry.error = 'run failed: ' + _short_error(error)
                    log(f'{entry.spec.name()}: {entry.error}\n' +
                        traceback.format_exc())
                    if entry.timer:
                        entry.timer.take(0.)
                    continue
                _synchronize(device)
                total = (time.perf_counter() - start) * 1e3
                times[id(entry)].append(total)
                if entry.timer:
                    entry.parts.append(entry.timer.take(total))
            log(f'round {round_index + 1}/{repeat}: ' + ', '.join(
                f'{times[id(e)][-1]:.0f} ms' if times[id(e)] else 'failed'
                for e in timed))
            if after_round:
                after_round([_result(e, references[e.spec.config], device,
                                     batch, times.get(id(e), []))
                             for e in entries])
    return [_result(e, references[e.spec.config], device, batch,
                    times.get(id(e), [])) for e in entries]


def _median_parts(runs: List[Dict[str, float]]) -> Dict[str, float]:
    names = list(dict.fromkeys(n for run in runs for n in run))
    return {n: statistics.median(run.get(n, 0.) for run in runs)
            for n in names}


def _result(entry: _Entry, ref: _Reference, device: str, batch: int,
            ms: List[float]) -> BenchmarkResult:
    part = 'backbone' if entry.spec.backbone_only else 'model'
    result = BenchmarkResult(
        model=config_label(entry.spec.config), config=entry.spec.config,
        form=entry.spec.form.name if entry.spec.backend == 'pytorch'
        else entry.spec.runtime_label(), ran_as=entry.ran_as,
        backend=entry.spec.backend, precision=entry.precision, part=part,
        device=device,
        threads=torch.get_num_threads(), batch=batch, height=ref.shape[0],
        width=ref.shape[1], params=ref.params[part],
        flops=ref.flops[part] * batch, rel_error_vs_fp32=entry.rel_error,
        error=entry.error, times_ms=ms, parts_ms=_median_parts(entry.parts))
    if ms:
        median = statistics.median(ms)
        quartiles = statistics.quantiles(ms, n=4) if len(ms) > 1 else [
            ms[0]] * 3
        result.median_ms, result.p25_ms = median, quartiles[0]
        result.p75_ms, result.min_ms = quartiles[2], min(ms)
        result.images_per_s = batch * 1e3 / median
        result.achieved_gflops = result.flops / median / 1e6
    return result


def _train_fp32_median(results: Sequence[BenchmarkResult],
                       r: BenchmarkResult) -> Optional[float]:
    """The same model's training form in fp32 eager, if it was timed."""
    return next((o.median_ms for o in results if o.config == r.config
                 and o.part == r.part and o.backend == 'pytorch'
                 and o.ran_as == 'train_fp32' and not o.error), None)


def format_results(results: Sequence[BenchmarkResult]) -> str:
    """The results table; ``x first`` is the speed-up over the first row,
    ``x train`` over the same model's ``train_fp32`` row."""
    base = results[0].median_ms
    lines = [f'{"model":<44}{"form":<32}{"GFLOPs":>8}{"median ms":>11}'
             f'{"IQR ms":>13}{"img/s":>7}{"GFLOP/s":>9}{"x first":>8}'
             f'{"x train":>8}{"rel.err":>9}']
    for r in results:
        form = r.form if r.ran_as == r.form else f'{r.form}={r.ran_as}'
        name = r.model + (' (backbone)' if r.part == 'backbone' else '')
        if r.error:
            lines.append(f'{name:<44}{form:<32}{r.flops / 1e9:>8.1f}  '
                         f'not timed: {r.error}')
            continue
        train = _train_fp32_median(results, r)
        vs_train = f'{train / r.median_ms:.2f}' if train else ''
        error = '' if r.rel_error_vs_fp32 is None \
            else f'{r.rel_error_vs_fp32:.1e}'
        lines.append(
            f'{name:<44}{form:<32}{r.flops / 1e9:>8.1f}{r.median_ms:>11.1f}'
            f'{f"{r.p25_ms:.0f}-{r.p75_ms:.0f}":>13}{r.images_per_s:>7.2f}'
            f'{r.achieved_gflops:>9.1f}{base / r.median_ms:>8.2f}'
            f'{vs_train:>8}{error:>9}')
    return '\n'.join(lines)


def format_parts(results: Sequence[BenchmarkResult]) -> str:
    """Median milliseconds per part, one column per timed entry."""
    timed = [r for r in results if r.parts_ms]
    if not timed:
        return ''
    names = list(dict.fromkeys(
        n for r in timed for n in r.parts_ms if n != OTHER)) + [OTHER]
    heads = [f'{r.model} {r.ran_as}' for r in timed]
    width = max(22, *(len(h) + 2 for h in heads))
    lines = [f'{"part (median ms, share)":<24}' +
             ''.join(f'{h:>{width}}' for h in heads)]
    for name in names + ['total (median run)']:
        cells = []
        for r in timed:
            value = r.median_ms if name.startswith('total') else \
                r.parts_ms.get(name, 0.)
            cells.append(f'{value:.1f} ({100 * value / r.median_ms:.0f}%)')
        lines.append(f'{name:<24}' + ''.join(f'{c:>{width}}' for c in cells))
    lines.append('(a part\'s median over the runs; "other" is what no part '
                 'covers: data samples, glue; parts need not add up to the '
                 'median run exactly)')
    return '\n'.join(lines)


def write_results(results: Sequence[BenchmarkResult], path: str) -> List[str]:
    """CSV or JSON by the file's extension; with CSV, the part times go to
    ``<stem>_parts.csv``. Returns the paths written."""
    rows = [asdict(r) for r in results]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if path.endswith('.json'):
        with open(path, 'w') as f:
            json.dump(rows, f, indent=1)
        return [path]
    written = [path]
    with open(path, 'w', newline='') as f:
        writer = csv.DictWriter(
            f, fieldnames=[k for k in rows[0] if k != 'parts_ms'])
        writer.writeheader()
        for row in rows:
            row.pop('parts_ms')
            row['times_ms'] = ' '.join(f'{t:.2f}' for t in row['times_ms'])
            writer.writerow(row)
    if any(r.parts_ms for r in results):
        parts_path = path[:-len('.csv')] + '_parts.csv' \
            if path.endswith('.csv') else path + '_parts.csv'
        with open(parts_path, 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(['model', 'form', 'ran_as', 'part', 'median_ms',
                             'share_of_median_run'])
            for r in results:
                for name, value in r.parts_ms.items():
                    writer.writerow([r.model, r.form, r.ran_as, name,
                                     f'{value:.2f}',
                                     f'{value / r.median_ms:.4f}'])
        written.append(parts_path)
    return written


def read_results(path: str) -> List[BenchmarkResult]:
    """The results of a CSV that :func:`write_results` wrote (part times
    are not read back)."""
    from dataclasses import fields
    types = {f.name: f.type for f in fields(BenchmarkResult)}
    results = []
    with open(path, newline='') as f:
        for row in csv.DictReader(f):
            values = {}
            for name, text in row.items():
                kind = types.get(name)
                if name == 'times_ms':
                    values[name] = [float(t) for t in text.split()]
                elif kind in (int, 'int'):
                    values[name] = int(text)
                elif kind in (float, 'float'):
                    values[name] = float(text)
                elif name == 'rel_error_vs_fp32':
                    values[name] = float(text) if text else None
                elif kind is not None:
                    values[name] = text
            results.append(BenchmarkResult(**values))
    return results


def plot_results(results: Sequence[BenchmarkResult], path: str) -> None:
    """Median latency per entry (quartiles as error bars) and achieved
    GFLOP/s, as a PNG; FasterNet models in red, others in blue."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    timed = [r for r in results if not r.error]
    names = [f'{r.model} {r.ran_as}' for r in timed]
    colours = ['tab:red' if 'fasternet' in r.model.lower() else 'tab:blue'
               for r in timed]
    height = max(3., 0.32 * len(timed) + 1.2)
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, height),
                                      sharey=True)
    positions = list(range(len(timed)))[::-1]
    left.barh(positions, [r.median_ms for r in timed], color=colours,
              xerr=[[r.median_ms - r.p25_ms for r in timed],
                    [r.p75_ms - r.median_ms for r in timed]])
    left.set_yticks(positions, names, fontsize=7)
    left.set_xlabel('median latency (ms), quartiles as bars')
    first = timed[0]
    left.set_title(f'{first.device}, {first.threads} threads, batch '
                   f'{first.batch}, {first.height}x{first.width}')
    right.barh(positions, [r.achieved_gflops for r in timed], color=colours)
    right.set_xlabel('achieved GFLOP/s (training-form FLOPs / latency)')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_latency_against_params(results: Sequence[BenchmarkResult],
                                path: str) -> None:
    """Median latency against parameter count, one panel per form or
    runtime that ran (``ran_as``, the peers' ``train_*`` twins of a
    ``deploy_*`` form drawn with it), FasterNet in red, peers in blue, each
    point named."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    timed = [r for r in results if not r.error]
    panels: Dict[str, List[BenchmarkResult]] = {}
    for result in timed:
        panels.setdefault(result.form, []).append(result)
    columns = min(4, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns,
                                                     3.6 * rows),
                             squeeze=False)
    for axis, (form, entries) in zip(axes.flat, panels.items()):
        for r in entries:
            fasternet = 'fasternet' in r.model.lower()
            axis.scatter(r.params / 1e6, r.median_ms,
                         color='tab:red' if fasternet else 'tab:blue')
            axis.annotate(r.model.split('_8xb')[0].replace(
                '_coco', ''), (r.params / 1e6, r.median_ms), fontsize=6,
                xytext=(3, 3), textcoords='offset points')
        axis.set_title(form, fontsize=9)
        axis.set_xlabel('parameters (M)')
        axis.set_ylabel('median latency (ms)')
    for axis in list(axes.flat)[len(panels):]:
        axis.set_visible(False)
    first = timed[0]
    fig.suptitle(f'{first.device}, {first.threads} threads, batch '
                 f'{first.batch}, {first.height}x{first.width}; FasterNet '
                 f'red, peers blue', fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
