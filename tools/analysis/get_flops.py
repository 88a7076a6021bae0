"""Parameters and FLOPs of a detection or segmentation config, whole model and
backbone, neck and heads separately (mmengine's counter; one multiply-add is
one FLOP). Default input: 1280x800 for detection, 512x512 for segmentation,
or the fixed size the test pipeline pads to (RTMDet: 640x640).
Configs of installed packages work too: mmdet::mask_rcnn/....py"""
import argparse
import sys

from mmfasternet.analysis.complexity import format_complexity, model_complexity
from mmfasternet.analysis.models import default_shape, load_any_config
from mmfasternet.apis import run_cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='input height and width')
    parser.add_argument('--backbone-only', action='store_true',
                        help='count the backbone alone')
    args = parser.parse_args()
    cfg = load_any_config(args.config)
    shape = tuple(args.shape) if args.shape else default_shape(cfg)
    print(f'building the model of {args.config} and counting at '
          f'{shape[0]}x{shape[1]}...', file=sys.stderr)
    result = model_complexity(cfg, shape, args.backbone_only)
    print(f'{args.config}, input {shape[0]}x{shape[1]} (HxW):')
    print(format_complexity(result))


if __name__ == '__main__':
    run_cli(main)
