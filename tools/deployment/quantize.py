"""INT8 post-training quantization of a detector or segmentor, for ONNX
Runtime and OpenVINO.

CHECKPOINT is an fp32 .onnx written by tools/deployment/pytorch2onnx.py, or
a .pth, which is first exported (--dynamic or --shape, as pytorch2onnx.py)
to OUT_fp32.onnx beside OUT. Convolutions and matrix products get int8
kernels (weights per channel, activations calibrated); box decoding, NMS,
RoIAlign and the scores they rank stay float (docs/deployment.md says why).
Calibration reads --calib-images images of the config's training split
through its test pipeline. Score the result with
tools/test.py CONFIG OUT --backend onnxruntime|openvino.
"""
import argparse
import json

from mmengine.config import DictAction

from mmfasternet.apis import run_cli
from mmfasternet.apis.runner import load_config
from mmfasternet.deploy.convert import export_shape, pytorch2onnx
from mmfasternet.deploy.quantize import (DEFAULT_CALIBRATION_IMAGES,
                                         quantize_onnx)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='fp32 .onnx export, or a .pth '
                        'to export first')
    parser.add_argument('--out', required=True, help='output int8 .onnx')
    parser.add_argument('--calib-images', type=int,
                        default=DEFAULT_CALIBRATION_IMAGES, metavar='N',
                        help='training images to calibrate on (default '
                        f'{DEFAULT_CALIBRATION_IMAGES})')
    parser.add_argument('--exclude', nargs='+', default=[], metavar='NODE',
                        help='convolutions or matrix products (ONNX node '
                        'names) to keep in float as well')
    parser.add_argument('--shape', type=int, nargs=2, default=None,
                        metavar=('H', 'W'), help='.pth only: as '
                        'pytorch2onnx.py (default: the size every test '
                        'image fits, else dynamic)')
    parser.add_argument('--dynamic', action='store_true',
                        help='.pth only: dynamic height and width')
    parser.add_argument('--report', help='also write the report to this '
                        '.json')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. '
                        'train_dataloader.dataset.data_root=...')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    fp32_file = args.checkpoint
    if not fp32_file.endswith('.onnx'):
        fp32_file = args.out.rsplit('.', 1)[0] + '_fp32.onnx'
        shape, dynamic = export_shape(cfg, args.shape, args.dynamic)
        pytorch2onnx(cfg, args.checkpoint, fp32_file, shape=shape,
                     dynamic=dynamic, config_name=args.config)
        print(f'exported {args.checkpoint} to {fp32_file}')
    report = quantize_onnx(cfg, fp32_file, args.out, args.calib_images,
                           args.exclude)
    report = dict(config=args.config, checkpoint=args.checkpoint, **report)
    if args.report:
        with open(args.report, 'w') as f:
            json.dump(report, f, indent=1)
            f.write('\n')
    print(f'{args.out}: {report["file_bytes"] / 2**20:.1f} MiB (fp32 '
          f'{report["fp32_file_bytes"] / 2**20:.1f} MiB); '
          f'{report["quantized_nodes"]} nodes int8, '
          f'{report["float_nodes"]} float; calibrated on '
          f'{args.calib_images} training images')


if __name__ == '__main__':
    run_cli(main)
