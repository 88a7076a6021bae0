"""Test (evaluate) a detector or segmentor checkpoint.

Flags and their meaning follow mmdet's and mmseg's tools/test.py (--out is a
.pkl of predictions for detection, a folder of prediction PNGs for
segmentation); the config's default_scope picks the library. If an image
makes evaluation fail, the error names it and the results of the images
before it are kept in the work dir.
"""
import argparse

from mmfasternet.apis import run_cli
from mmfasternet.apis.cli import add_runner_arguments, parse_runner_arguments
from mmfasternet.apis.runner import prepare_testing, run_testing
from mmfasternet.engine.fast_test import apply_fast_test_options


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save metrics and logs')
    parser.add_argument(
        '--out', help='detection: .pkl file of predictions; segmentation: '
        'folder for prediction PNGs')
    parser.add_argument('--show', action='store_true',
                        help='show predictions in a window')
    parser.add_argument('--show-dir',
                        help='save pictures of predictions to this folder')
    parser.add_argument('--tta', action='store_true',
                        help='test-time augmentation (tta_model, '
                        'tta_pipeline of the config)')
    parser.add_argument('--amp', action='store_true',
                        help='inference under autocast: bf16 on CPU, fp16 '
                        'on CUDA')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the backbone and neck')
    parser.add_argument('--mmcv-roi-align', action='store_true',
                        help='keep mmcv\'s RoIAlign on a CPU (by default '
                        'RoI layers run as FastRoIAlign there: the same '
                        'values on every core)')
    parser.add_argument('--backend', choices=['onnxruntime', 'openvino'],
                        help='run an exported .onnx CHECKPOINT in this '
                        'runtime (default for .onnx: onnxruntime)')
    parser.add_argument('--precision', choices=['fp32', 'bf16'],
                        help='arithmetic of an exported model (default '
                        'fp32; bf16 needs --backend openvino and a CPU '
                        'with bf16 instructions); the precision the runtime '
                        'compiled is logged')
    add_runner_arguments(parser)
    return parse_runner_arguments(parser)


def main() -> None:
    args = parse_args()
    cfg = prepare_testing(
        args.config, args.checkpoint, work_dir=args.work_dir, out=args.out,
        show=args.show, show_dir=args.show_dir, tta=args.tta,
        cfg_options=args.cfg_options, launcher=args.launcher,
        backend=args.backend, precision=args.precision)
    apply_fast_test_options(cfg, amp=args.amp, compile=args.compile,
                            mmcv_roi_align=args.mmcv_roi_align)
    run_testing(cfg)


if __name__ == '__main__':
    run_cli(main)
