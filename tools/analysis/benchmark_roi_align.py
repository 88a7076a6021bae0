"""Time mmcv's RoIAlign against FastRoIAlign on a Mask R-CNN's real shape.

mmdet's SingleRoIExtractor (4 FPN levels of an 800x1280 image, 256
channels) with each RoI layer: the bbox head's call (1,000 proposals, 7x7)
and the mask head's (100 RoIs, 14x14), fp32 and bf16 features. --out X
writes X.csv and X.txt (the table under the command, machine, date and
load)."""
import argparse

from mmfasternet.analysis.machine import command_line, describe, load, now
from mmfasternet.analysis.roi_align import run, write
from mmfasternet.apis import run_cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default='benchmarks/roi_align',
                        help='results path without extension')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--min-run-time', type=float, default=3.0,
                        help='seconds per measurement')
    args = parser.parse_args()
    header = [f'command: {command_line()}', f'started: {now()}',
              f'load before: {load()}'] + describe('cpu')
    rows = run(args.threads, args.min_run_time)
    print(write(rows, args.out, header))


if __name__ == '__main__':
    run_cli(main)
