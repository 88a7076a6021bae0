"""Reproduce the paper's Table 1 here: FLOPs, latency and achieved FLOP/s of
Conv, GConv, DWConv and PConv 3x3 at 96x56x56 .. 768x7x7 (batch 1)."""
import argparse
import csv

from mmfasternet.analysis.operators import (benchmark_operators,
                                            format_operator_rows)
from mmfasternet.engine.errors import run_cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=50)
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--scale', type=float, default=1.,
                        help='scale the feature-map side (tiny runs)')
    parser.add_argument('--out', help='CSV file for the results')
    args = parser.parse_args()
    from mmfasternet.analysis.operators import STAGE_SHAPES
    shapes = [(c, max(1, round(h * args.scale)), max(1, round(w * args.scale)))
              for c, h, w in STAGE_SHAPES]
    rows = benchmark_operators(shapes, repeat=args.repeat, batch=args.batch)
    print(format_operator_rows(rows))
    if args.out:
        with open(args.out, 'w', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == '__main__':
    run_cli(main)
