"""Export a detector or segmentor (or its backbone) to ONNX, checked.

The graph takes one preprocessed, padded image (1, 3, H, W) and includes the
post-processing (NMS, RoIAlign, mask probabilities; segmentation logits at
the input size) in standard ONNX operators. The file is checked with
onnx.checker and its ONNX Runtime outputs compared with PyTorch's before the
tool reports success. Evaluate it with tools/test.py CONFIG FILE.onnx.
"""
import argparse
import json

from mmfasternet.apis import run_cli
from mmfasternet.apis.runner import load_config
from mmfasternet.deploy.convert import (DEFAULT_OPSET, export_shape,
                                        pytorch2onnx)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help="checkpoint (.pth), or 'none' "
                        'for the initial weights (structure checks only)')
    parser.add_argument('--out', required=True, help='output .onnx file')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='fix the input height and width (multiples of '
                        '32). Default: the size every image of the test '
                        'pipeline fits (e.g. 256 256 for a square resize, '
                        '640 640 for a fixed pad), else a dynamic input')
    parser.add_argument('--dynamic', action='store_true',
                        help='dynamic input height and width (with '
                        '--shape, that is only the size traced and '
                        'compared)')
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET,
                        help=f'ONNX opset (default {DEFAULT_OPSET})')
    parser.add_argument('--part', choices=['model', 'backbone'],
                        default='model', help='whole model (default) or '
                        'the backbone alone')
    parser.add_argument('--image', help='image traced and compared '
                        '(scaled to --shape); default: seeded noise')
    parser.add_argument('--report', help='also write the report (sizes, '
                        'operator counts, differences) to this .json')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config)
    checkpoint = None if args.checkpoint == 'none' else args.checkpoint
    shape, dynamic = export_shape(cfg, args.shape, args.dynamic)
    report = pytorch2onnx(cfg, checkpoint, args.out, shape=shape,
                          dynamic=dynamic, opset=args.opset,
                          part=args.part, config_name=args.config,
                          image_file=args.image)
    report = dict(config=args.config, checkpoint=args.checkpoint, **report)
    if args.report:
        with open(args.report, 'w') as f:
            json.dump(report, f, indent=1)
            f.write('\n')
    diffs = dict(report['max_abs_diff'])
    ties = diffs.pop('tied_boxes', 0)
    text = ', '.join(f'{k} {v:.2g}' for k, v in diffs.items())
    tied = f' ({ties} boxes tied in score, kept the other way)' \
        if ties else ''
    print(f'{args.out}: {report["file_bytes"] / 2**20:.1f} MiB, '
          f'{report["bytes_per_parameter"]:.2f} bytes per parameter, '
          f'opset {args.opset}; onnx.checker passed; ONNX Runtime vs PyTorch '
          f'max |diff|: {text}{tied}')


if __name__ == '__main__':
    run_cli(main)
