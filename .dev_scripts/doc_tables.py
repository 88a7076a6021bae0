"""Write the tables of the Markdown docs that come from files.

A page marks each generated table with two HTML comments:

    <!-- table: model-zoo -->
    ...
    <!-- end table -->

    <!-- table: results benchmarks/demo_maskrcnn_fasternet_t0.json
         metrics=coco/bbox_mAP,coco/segm_mAP -->
    ...
    <!-- end table -->

    <!-- table: benchmark benchmarks/maskrcnn_runtimes_cpu.csv
         baseline=mask-rcnn_r50_fpn_1x_coco:train_fp32 -->
    ...
    <!-- end table -->

``model-zoo`` lists every model of ``model-index.yml`` (read with mmengine's
own metafile reader, the one its inferencers use): config, parameters,
FLOPs, results and weights. ``results FILE`` shows a demo results file
written by ``tools/demo_report.py results``: the metrics of each run (all,
or those named by ``metrics=``), then the command, date, machine and the
time of each stage. ``benchmark FILE.csv`` shows a results file of
``tools/analysis/benchmark.py`` (one row per entry: median and quartiles,
achieved GFLOP/s, speed-up over the ``baseline`` row, MODEL:FORM, default the
first) with the command, date, CPU and load from the ``.txt`` the tool wrote
beside it. ``onnx-accuracy FILE.json`` shows the entries that
``tools/deployment/check_accuracy.py`` wrote: per config and runtime the
main metric in PyTorch and in the runtime, the difference in points, and
the per-image agreement. Paths are relative to the repository root. So a page
never holds a figure that its source file does not.

    python .dev_scripts/doc_tables.py README.md docs/*.md          # rewrite
    python .dev_scripts/doc_tables.py --check README.md docs/*.md  # 1: stale
"""
import argparse
import json
import os.path as osp
import re
import sys
from typing import List

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
BLOCK = re.compile(r'(<!-- table: (.*?)-->)\n.*?(<!-- end table -->)', re.S)


class TableError(Exception):
    """A marker or source file that cannot give a table."""


def model_zoo_table(index: str, page_dir: str) -> str:
    """Every model of ``index``, config links relative to ``page_dir``.

    Parameters and FLOPs are the metafile's (counted here); results and
    weights are the metafile's too, which holds only the paper's.
    """
    from mmengine.infer import BaseInferencer

    if not osp.isfile(index):
        raise TableError(f'model index {index} not found')
    index_dir = osp.dirname(osp.abspath(index))
    lines = [
        '| config | params (counted) | FLOPs (counted) | results (paper) '
        '| weights (official) |',
        '| --- | ---: | ---: | --- | --- |',
    ]
    for model in BaseInferencer._get_models_from_metafile(index_dir):
        meta = model.get('Metadata', {})
        link = osp.relpath(osp.join(index_dir, model['Config']), page_dir)
        results = ', '.join(
            f'{result["Dataset"]} {name} {value}'
            for result in model.get('Results', [])
            for name, value in result['Metrics'].items()) or '-'
        weights = f'[model]({model["Weights"]})' \
            if model.get('Weights') else '-'
        params, flops = meta.get('Parameters'), meta.get('FLOPs')
        lines.append(
            f'| [{model["Name"]}]({link}) '
            f'| {f"{params / 1e6:.2f}M" if params else "-"} '
            f'| {f"{flops / 1e9:.1f}G" if flops else "-"} '
            f'| {results} | {weights} |')
    return '\n'.join(lines)


def _number(value) -> str:
    """A metric as its tool printed it: mmdet's three decimals and mmseg's
    two survive; float32 noise (93.70999908447266) does not."""
    return str(round(value, 4)) if isinstance(value, float) else str(value)


def results_table(path: str, metrics: List[str]) -> str:
    """The metrics of every run of a demo results file, and how it ran."""
    if not osp.isfile(path):
        raise TableError(f'results file {path} not found')
    with open(path, encoding='utf-8') as f:
        results = json.load(f)
    runs = results['metrics']
    metrics = metrics or list(dict.fromkeys(
        key for run in runs.values() for key in run))
    lines = ['| run | ' + ' | '.join(metrics) + ' |',
             '| --- ' * (len(metrics) + 1) + '|']
    for name, values in runs.items():
        lines.append(f'| {name} | ' + ' | '.join(
            _number(values.get(key, '-')) for key in metrics) + ' |')
    machine = results.get('machine', {})
    stages = ', '.join(f'{stage} {seconds:.0f} s'
                       for stage, seconds in results['seconds'].items())
    total = sum(results['seconds'].values())
    lines += [
        '',
        f'Written by `{results["command"]}` on {results["date"]}: '
        f'{machine.get("cpu", "unknown CPU")}, {machine.get("threads")} '
        f'threads, torch {machine.get("torch")}'
        f'{", " + machine["gpu"] if machine.get("gpu") else ""}. '
        f'Time per stage: {stages} (total {total / 60:.1f} min).',
    ]
    return '\n'.join(lines)


def _entry(row: dict) -> str:
    """How the benchmark names an entry: its form, or its runtime."""
    if row['backend'] != 'pytorch':
        # Files written before the precision column come from AVX2-only
        # machines, where OpenVINO has no bf16 and compiles fp32.
        precision = row.get('precision') or 'fp32'
        return f'{row["backend"]} (exported, {precision})'
    if row['ran_as'] != row['form']:
        return f'{row["form"]} (runs as {row["ran_as"]})'
    return row['form']


def _run_header(text_path: str) -> dict:
    """command, started, load before/after and cpu lines of a benchmark's
    ``.txt``."""
    if not osp.isfile(text_path):
        raise TableError(f'{text_path} not found (the benchmark writes it '
                         f'beside its CSV)')
    fields = {}
    with open(text_path, encoding='utf-8') as f:
        for line in f:
            if line.startswith('rounds done') and ', finished: ' in line:
                line = 'finished: ' + line.split(', finished: ')[1]
            key, _, value = line.partition(': ')
            if key in ('command', 'started', 'finished', 'load before',
                       'load after', 'cpu', 'speed flags present'):
                fields.setdefault(key, value.strip())
    return fields


def benchmark_table(path: str, baseline: str = '') -> str:
    """The rows of a benchmark results CSV and how the run was made."""
    import csv
    if not osp.isfile(path):
        raise TableError(f'results file {path} not found')
    with open(path, encoding='utf-8', newline='') as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise TableError(f'{path} has no rows')
    base = rows[0]
    if baseline:
        model, _, form = baseline.partition(':')
        matches = [r for r in rows if r['model'] == model
                   and form in (r['form'], r['backend'])]
        if not matches:
            raise TableError(f'{path}: no row {baseline} (MODEL:FORM)')
        base = matches[0]
    base_ms = float(base['median_ms'])
    lines = [f'| model | form | GFLOPs | median ms | IQR ms | GFLOP/s | '
             f'x {base["model"]} {_entry(base)} |',
             '| --- ' * 7 + '|']
    for r in rows:
        name = r['model'] + (' (backbone)' if r['part'] == 'backbone'
                             else '')
        if r['error']:
            lines.append(f'| {name} | {_entry(r)} | '
                         f'{float(r["flops"]) / 1e9:.1f} | not timed: '
                         f'{r["error"]} | | | |')
            continue
        median = float(r['median_ms'])
        lines.append(
            f'| {name} | {_entry(r)} | {float(r["flops"]) / 1e9:.1f} | '
            f'{median:.1f} | {float(r["p25_ms"]):.0f}-'
            f'{float(r["p75_ms"]):.0f} | {float(r["achieved_gflops"]):.1f} | '
            f'{base_ms / median:.2f} |')
    header = _run_header(path.rsplit('.', 1)[0] + '.txt')
    lines += [
        '',
        f'Written by `{header.get("command", "?")}` '
        f'({header.get("started", "?")} to {header.get("finished", "?")}): '
        f'{header.get("cpu", "unknown CPU")}; speed flags: '
        f'{header.get("speed flags present", "?")}; '
        f'{rows[0]["threads"]} threads, batch {rows[0]["batch"]}; load '
        f'before: {header.get("load before", "?").split("load average: ")[-1]}'
        f', after: {header.get("load after", "?").split("load average: ")[-1]}'
        f'.',
    ]
    return '\n'.join(lines)


MAIN_METRICS = ('coco/bbox_mAP', 'coco/segm_mAP', 'mIoU')


def _agreement(per_image: dict) -> str:
    if 'pytorch_boxes' in per_image:
        return (f'{per_image["matched_iou_ge_0_99"]:.1%} of '
                f'{per_image["pytorch_boxes"]} boxes at IoU >= 0.99, max '
                f'score diff {per_image["max_score_diff"]:.1e}, unmatched '
                f'{per_image["unmatched_pytorch_boxes"]}/'
                f'{per_image["unmatched_backend_boxes"]}')
    return (f'pixels agreeing: min {per_image["min_pixel_agreement"]:.2%}, '
            f'mean {per_image["mean_pixel_agreement"]:.2%} '
            f'({per_image["images"]} images)')


def onnx_accuracy_table(path: str) -> str:
    """PyTorch vs each runtime, from check_accuracy.py's results file."""
    if not osp.isfile(path):
        raise TableError(f'results file {path} not found')
    with open(path, encoding='utf-8') as f:
        results = json.load(f)
    lines = ['| config | runtime | metric | PyTorch | runtime | difference '
             '(points) | per image |', '| --- ' * 7 + '|']
    notes = []
    for name, entry in results.items():
        for backend, result in entry['backends'].items():
            if 'precision' in result:  # as the runtime reported it
                backend = f'{backend} (ran {result["precision"]})'
            for metric in (m for m in MAIN_METRICS if m in entry['pytorch']):
                lines.append(
                    f'| {name} | {backend} | {metric} | '
                    f'{_number(entry["pytorch"][metric])} | '
                    f'{_number(result["metrics"][metric])} | '
                    f'{result["difference_points"][metric]:.2f} | '
                    f'{_agreement(result["per_image"])} |')
        machine = entry['machine']
        machine = machine[0] if isinstance(machine, list) else machine
        notes.append(f'- {name}: `{entry["command"]}` ({entry["date"]}, '
                     f'{machine}; ' + ', '.join(
                         f'{k} {v}' for k, v in entry['versions'].items()) +
                     ')')
    return '\n'.join(lines + [''] + notes)


def render(spec: str, page_dir: str) -> str:
    """The table that a marker's ``spec`` asks for."""
    kind, *args = spec.split()
    options = dict(arg.split('=', 1) for arg in args[1:])
    if kind == 'model-zoo':
        return model_zoo_table(osp.join(ROOT, 'model-index.yml'), page_dir)
    if kind == 'results' and args:
        metrics = [m for m in options.get('metrics', '').split(',') if m]
        return results_table(osp.join(ROOT, args[0]), metrics)
    if kind == 'onnx-accuracy' and args:
        return onnx_accuracy_table(osp.join(ROOT, args[0]))
    if kind == 'benchmark' and args:
        return benchmark_table(osp.join(ROOT, args[0]),
                               options.get('baseline', ''))
    raise TableError(f'unknown table "{spec}": use "model-zoo", '
                     f'"results FILE [metrics=A,B]", "benchmark FILE.csv '
                     f'[baseline=MODEL:FORM]" or "onnx-accuracy FILE.json"')


def with_tables(text: str, page_dir: str) -> str:
    """``text`` with every marked table written from its source."""
    return BLOCK.sub(
        lambda m: f'{m.group(1)}\n{render(m.group(2), page_dir)}\n'
        f'{m.group(3)}', text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('pages', nargs='+', help='Markdown files')
    parser.add_argument('--check', action='store_true',
                        help='change nothing; exit 1 if a table is stale')
    args = parser.parse_args()
    stale = []
    for page in args.pages:
        with open(page, encoding='utf-8') as f:
            text = f.read()
        try:
            new_text = with_tables(text, osp.dirname(osp.abspath(page)))
        except TableError as error:
            sys.exit(f'error: {page}: {error}')
        if new_text == text:
            continue
        if args.check:
            stale.append(page)
        else:
            with open(page, 'w', encoding='utf-8') as f:
                f.write(new_text)
            print(f'{page}: tables written')
    if stale:
        sys.exit(f'error: tables out of date with their files in '
                 f'{", ".join(stale)}; run python .dev_scripts/doc_tables.py '
                 f'{" ".join(stale)}')


if __name__ == '__main__':
    main()
