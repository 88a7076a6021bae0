"""Time whole detectors/segmentors (or their backbones) from configs in named
inference forms, on CPU or CUDA, interleaved in one run so their ratios hold
on a noisy machine.

Forms: {train|deploy}[_cl]_{fp32|bf16|fp16}[_compile][_fastroi], e.g.
train_fp32 (training form, fp32 eager), deploy_fp32 (BatchNorm folded),
train_cl_fp32 (channels-last), deploy_cl_bf16 (both, bf16 autocast). A model
without a FasterNet backbone has nothing to fold: its deploy forms run as
its train forms (timed once). Weights are random: speed does not need them.
Configs of installed packages work too: mmdet::mask_rcnn/....py
--backends onnxruntime openvino adds the exported model in each runtime
(see docs/deployment.md), timed in the same interleaved rounds, in each of
--precisions (default fp32, asked of the runtime and read back from it).

--out X.csv writes X.csv, X.txt (the printed tables with the command, date,
machine and load) and, with --parts, X_parts.csv."""
import argparse
import sys
from typing import List

from mmengine.config import DictAction

from mmfasternet.analysis.benchmark import (BenchmarkSpec, config_label,
                                            format_parts, format_results,
                                            plot_results, run_benchmark,
                                            write_results)
from mmfasternet.analysis.forms import FORM_GRAMMAR, parse_form
from mmfasternet.analysis.machine import command_line, describe, load, now
from mmfasternet.apis import run_cli
from mmfasternet.deploy.precision import check_precision
from mmfasternet.errors import InputError

# Flags of earlier versions and what replaced them.
REPLACED = {
    '--dtype': '--forms (e.g. train_fp32 train_cl_bf16)',
    '--layouts': '--forms (e.g. train_fp32 train_cl_fp32)',
    '--channels-last': '--forms (e.g. train_cl_fp32)',
    '--deploy': '--forms (e.g. train_fp32 deploy_fp32)',
}


def parse_args(argv=None) -> argparse.Namespace:
    argv = sys.argv[1:] if argv is None else argv
    for flag, replacement in REPLACED.items():
        if flag in argv:
            raise InputError(f'{flag} is gone: name each form with '
                             f'{replacement}.')
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('configs', nargs='+', metavar='CONFIG')
    parser.add_argument('--forms', nargs='+', default=['train_fp32'],
                        metavar='FORM', help=f'forms to time: {FORM_GRAMMAR}'
                        ' (default train_fp32)')
    parser.add_argument('--backends', nargs='+', default=['pytorch'],
                        choices=['pytorch', 'onnxruntime', 'openvino'],
                        help='pytorch times --forms; a runtime times the '
                        'config\'s model exported to ONNX (BatchNorm '
                        'folded, fp32, checked against PyTorch) with the '
                        'same threads, once per config')
    parser.add_argument('--precisions', nargs='+', default=['fp32'],
                        choices=['fp32', 'bf16', 'int8'],
                        help='what each runtime is asked to compute in '
                        '(default fp32; bf16: OpenVINO on a CPU with bf16 '
                        'instructions; int8: the export quantized, '
                        'calibrated on the benchmark input, for speed '
                        'only); the precision each compiled is read back '
                        'and written in its row')
    parser.add_argument('--export-dir', help='keep the exported .onnx files '
                        'here (default: a temporary folder)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='input size (default 800 1280 detection, '
                        '512 512 segmentation)')
    parser.add_argument('--threads', type=int,
                        help='torch intra-op threads (default: torch\'s)')
    parser.add_argument('--backbone-only', action='store_true')
    parser.add_argument('--parts', action='store_true',
                        help='also time the parts of each eager whole model '
                        '(backbone, neck, RPN, RoI extraction, heads)')
    parser.add_argument('--detections', type=int, metavar='N',
                        help='detectors keep N boxes per image whatever the '
                        'score, as a trained model does on a busy image '
                        '(random weights score under the threshold, so the '
                        'mask head would do no work)')
    parser.add_argument('--repeat', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of every config')
    parser.add_argument('--out', help='results file, .csv or .json')
    parser.add_argument('--plot', help='PNG of latency and GFLOP/s')
    return parser.parse_args(argv)


def build_specs(args: argparse.Namespace):
    """The entries to time, and a line for each runtime and precision this
    CPU cannot run (left out, not failed)."""
    forms = [parse_form(name) for name in args.forms]
    specs, left_out = [], []

    def runs_in(backend: str, precision: str, config: str) -> bool:
        try:
            check_precision(backend, 'fp32' if precision == 'int8'
                            else precision)
        except InputError as refusal:
            left_out.append(f'left out: {config_label(config)} '
                            f'{backend}_{precision}: {refusal}')
            return False
        return True

    for config in args.configs:
        for backend in args.backends:
            if backend == 'pytorch':
                specs += [BenchmarkSpec(config, form, args.backbone_only)
                          for form in forms]
            else:
                specs += [BenchmarkSpec(config, backbone_only=args.
                                        backbone_only, backend=backend,
                                        precision=precision)
                          for precision in args.precisions
                          if runs_in(backend, precision, config)]
    return specs, left_out


def main() -> None:
    args = parse_args()
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    specs, left_out = build_specs(args)
    header = [f'command: {command_line()}', f'started: {now()}',
              f'load before: {load()}'] + describe(args.device) + left_out
    print('\n'.join(header))

    def write(results, rounds: str) -> List[str]:
        footer = [f'{rounds}, finished: {now()}', f'load after: {load()}']
        tables = [format_results(results), format_parts(results)]
        report = '\n\n'.join(['\n'.join(header)] + [t for t in tables if t]
                             + ['\n'.join(footer)])
        written = write_results(results, args.out)
        text = args.out.rsplit('.', 1)[0] + '.txt'
        with open(text, 'w') as f:
            f.write(report + '\n')
        if args.plot:
            plot_results(results, args.plot)
        return written + [text]

    rounds = []

    def after_round(results) -> None:
        rounds.append(1)
        if args.out:  # a run stopped early keeps the rounds it finished
            write(results, f'rounds done: {len(rounds)} of {args.repeat}')

    try:
        results = run_benchmark(
            specs, args.device, args.batch,
            tuple(args.shape) if args.shape else None, args.repeat,
            args.warmup, parts=args.parts, detections=args.detections,
            cfg_options=args.cfg_options, export_dir=args.export_dir,
            after_round=after_round)
    except FileNotFoundError as error:
        raise InputError(str(error)) from None
    footer = [f'finished: {now()}', f'load after: {load()}']
    tables = [format_results(results), format_parts(results)]
    print('\n\n'.join([t for t in tables if t] + ['\n'.join(footer)]))
    if args.out:
        print('wrote ' + ', '.join(write(results, f'rounds done: '
                                         f'{len(rounds)} of {args.repeat}'
                                         )))
    elif args.plot:
        plot_results(results, args.plot)


if __name__ == '__main__':
    run_cli(main)
