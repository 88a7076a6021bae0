"""Reproduce the paper's Table 1 here: FLOPs, latency and achieved FLOP/s of
Conv, GConv, DWConv and the shipped PartialConv3x3 (training and deploy
paths) at 96x56x56 .. 768x7x7, in fp32 and bf16 autocast; then dense 3x3
and 1x1 convs in ONNX Runtime and OpenVINO in fp32, bf16 and int8 (the
practical peak of each precision that exported models are held against).

--out X.csv writes X.csv, X_runtimes.csv and X.txt (the printed tables with
the command, date, machine and load)."""
import argparse
import csv
import os

from mmfasternet.analysis.machine import command_line, describe, load, now
from mmfasternet.analysis.operators import (STAGE_SHAPES, benchmark_operators,
                                            format_operator_rows)
from mmfasternet.analysis.runtime_convs import (RUNTIMES,
                                                benchmark_runtime_convs,
                                                format_runtime_rows)
from mmfasternet.apis import run_cli
from mmfasternet.errors import InputError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--repeat', type=int, default=50)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--channels-last', action='store_true',
                        help='inputs and weights in channels-last format')
    parser.add_argument('--threads', type=int,
                        help='torch intra-op threads (default: torch\'s)')
    parser.add_argument('--scale', type=float, default=1.,
                        help='scale the feature-map side (tiny runs)')
    parser.add_argument('--runtimes', nargs='*', default=list(RUNTIMES),
                        choices=RUNTIMES, help='runtimes of the dense-conv '
                        'rows (none: PyTorch rows only)')
    parser.add_argument('--work-dir', default='work_dirs/operators',
                        help='where the single-conv ONNX files go')
    parser.add_argument('--out', help='CSV file for the results')
    args = parser.parse_args()
    if args.repeat < 1 or args.warmup < 0 or args.batch < 1:
        raise InputError('--repeat and --batch need at least 1, --warmup at '
                         'least 0.')
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    header = [f'command: {command_line()}', f'started: {now()}',
              f'load before: {load()}'] + describe('cpu')
    shapes = [(c, max(1, round(h * args.scale)), max(1, round(w * args.scale)))
              for c, h, w in STAGE_SHAPES]
    rows = benchmark_operators(shapes, repeat=args.repeat, batch=args.batch,
                               warmup=args.warmup,
                               channels_last=args.channels_last)
    table = format_operator_rows(rows)
    runtime_rows = []
    if args.runtimes:
        os.makedirs(args.work_dir, exist_ok=True)
        runtime_rows, left_out = benchmark_runtime_convs(
            shapes, args.work_dir, args.runtimes, repeat=args.repeat,
            warmup=args.warmup, threads=args.threads)
        table += '\n\n' + format_runtime_rows(runtime_rows, left_out)
    footer = [f'finished: {now()}', f'load after: {load()}']
    print('\n'.join(header + ['', table, ''] + footer))
    if args.out:
        with open(args.out, 'w', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        stem = args.out.rsplit('.', 1)[0]
        if runtime_rows:
            with open(stem + '_runtimes.csv', 'w', newline='') as f:
                writer = csv.DictWriter(f, fieldnames=list(runtime_rows[0]))
                writer.writeheader()
                writer.writerows(runtime_rows)
        with open(stem + '.txt', 'w') as f:
            f.write('\n'.join(header + ['', table, ''] + footer) + '\n')


if __name__ == '__main__':
    run_cli(main)
