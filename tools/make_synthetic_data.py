"""Generate the small COCO- or ADE20K-layout data set used by the demos and
tests (seeded, so every machine gets the same files; an existing folder made
with the same settings is kept as it is)."""
import argparse

from mmfasternet.apis import run_cli
from mmfasternet.datasets import make_ade_dataset, make_coco_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('layout', choices=['coco', 'ade'])
    parser.add_argument('root', help='folder to create, e.g. '
                        'data/synthetic_coco')
    parser.add_argument('--train', type=int, default=600,
                        help='training images (default 600)')
    parser.add_argument('--val', type=int, default=100,
                        help='validation images (default 100)')
    parser.add_argument('--size', type=int, default=256,
                        help='image side in pixels (default 256)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    make = make_coco_dataset if args.layout == 'coco' else make_ade_dataset
    root = make(args.root, args.train, args.val, args.size, args.seed)
    print(f'{args.layout} data set ready in {root}')


if __name__ == '__main__':
    run_cli(main)
