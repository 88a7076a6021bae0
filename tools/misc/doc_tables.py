"""Write the tables of the Markdown docs that come from files.

A page marks each generated table with two HTML comments:

    <!-- table: model-zoo -->
    ...
    <!-- end table -->

    <!-- table: results benchmarks/demo_maskrcnn_fasternet_t0.json
         metrics=coco/bbox_mAP,coco/segm_mAP -->
    ...
    <!-- end table -->

``model-zoo`` lists every model of ``model-index.yml`` (read with mmengine's
own metafile reader, the one its inferencers use): config, parameters,
FLOPs, results and weights. ``results FILE`` shows a demo results file
written by ``tools/demo_report.py results``: the metrics of each run (all,
or those named by ``metrics=``), then the command, date, machine and the
time of each stage. Paths are relative to the repository root. So a page
never holds a figure that its source file does not.

    python tools/misc/doc_tables.py README.md docs/*.md           # rewrite
    python tools/misc/doc_tables.py --check README.md docs/*.md   # 1 if stale
"""
import argparse
import json
import os.path as osp
import re
import sys
from typing import List

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
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


def render(spec: str, page_dir: str) -> str:
    """The table that a marker's ``spec`` asks for."""
    kind, *args = spec.split()
    if kind == 'model-zoo':
        return model_zoo_table(osp.join(ROOT, 'model-index.yml'), page_dir)
    if kind == 'results' and args:
        options = dict(arg.split('=', 1) for arg in args[1:])
        metrics = [m for m in options.get('metrics', '').split(',') if m]
        return results_table(osp.join(ROOT, args[0]), metrics)
    raise TableError(f'unknown table "{spec}": use "model-zoo" or '
                     f'"results FILE [metrics=A,B]"')


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
                 f'{", ".join(stale)}; run python tools/misc/doc_tables.py '
                 f'{" ".join(stale)}')


if __name__ == '__main__':
    main()
