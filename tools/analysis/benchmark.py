"""Time whole detectors/segmentors or their backbones from configs, on CPU
or CUDA, interleaved in one run so their ratios hold on a noisy machine.

Reports median and quartiles of N runs, images/s, latency and achieved
FLOP/s; writes CSV or JSON (--out) and a PNG plot (--plot). Weights are
random: speed does not need them. Configs of installed packages work too,
e.g. mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py."""
import argparse

from mmfasternet.analysis.benchmark import (BenchmarkSpec, format_results,
                                            plot_results, run_benchmark,
                                            write_results)
from mmfasternet.engine.errors import run_cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='+', metavar='CONFIG')
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='input size (default 800 1280 detection, '
                        '512 512 segmentation)')
    parser.add_argument('--dtype', choices=['fp32', 'fp16', 'bf16'],
                        nargs='+', default=['fp32'],
                        help='one or more: each is timed as its own entry')
    parser.add_argument('--channels-last', action='store_true',
                        help='channels-last memory format for every entry')
    parser.add_argument('--layouts', nargs='+', choices=['nchw',
                                                         'channels_last'],
                        help='time each entry in each of these layouts')
    parser.add_argument('--deploy', action='store_true',
                        help='also time the inference form (switch_to_deploy)'
                        ' of backbones that have one')
    parser.add_argument('--backbone-only', action='store_true')
    parser.add_argument('--repeat', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--out', help='results file, .csv or .json')
    parser.add_argument('--plot', help='PNG of latency vs FLOPs and FLOP/s')
    args = parser.parse_args()
    layouts = args.layouts or (['channels_last'] if args.channels_last
                               else ['nchw'])
    specs = []
    for config in args.configs:
        forms = [False, True] if args.deploy and 'fasternet' in \
            config.lower() else [False]
        specs += [BenchmarkSpec(config, args.backbone_only, deploy, dtype,
                                layout == 'channels_last')
                  for dtype in args.dtype for layout in layouts
                  for deploy in forms]
    results = run_benchmark(specs, args.device, args.batch,
                            tuple(args.shape) if args.shape else None,
                            args.repeat, args.warmup)
    print(format_results(results))
    if args.out:
        write_results(results, args.out)
    if args.plot:
        plot_results(results, args.plot)


if __name__ == '__main__':
    run_cli(main)
