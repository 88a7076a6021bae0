"""Time whole detectors/segmentors (or their backbones) from configs in named
inference forms, on CPU or CUDA, interleaved in one run so their ratios hold
on a noisy machine.

Forms: {train|deploy}[_cl]_{fp32|bf16|fp16}[_compile][_fastroi][_fuse],
e.g. train_fp32 (training form, fp32 eager), deploy_fp32 (FasterNet's
BatchNorm folded), train_cl_fp32 (channels-last), deploy_cl_bf16 (both, bf16
autocast), deploy_cl_bf16_fuse (every BatchNorm of the model folded, peers'
too). A model without a FasterNet backbone has no deploy form: its deploy
forms run as its train forms (timed once). Weights are random (speed does
not need them), the same for every form and export of a config, with each
BatchNorm's statistics set from a batch of 16 noise images so that features
keep a trained model's scale (mmfasternet/analysis/random_weights.py).
Configs of installed packages work too: mmdet::mask_rcnn/....py
--backends onnxruntime openvino adds the exported model in each runtime
(see docs/deployment.md), timed in the same interleaved rounds, in each of
--precisions (default fp32, asked of the runtime and read back from it).

--out X.csv writes X.csv, X.txt (the printed tables with the command, date,
machine and load) and, with --parts, X_parts.csv."""
import argparse

from mmengine.config import DictAction

from mmfasternet.analysis.forms import FORM_GRAMMAR
from mmfasternet.apis import run_cli
from mmfasternet.apis.benchmark import benchmark, benchmark_specs


def parse_args(argv=None) -> argparse.Namespace:
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
                        'and the .pth weights each was exported from here '
                        '(default: a temporary folder)')
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


def main() -> None:
    args = parse_args()
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    specs, left_out = benchmark_specs(args.configs, args.forms, args.backends,
                                      args.precisions, args.backbone_only)
    benchmark(specs, left_out, args.device, args.batch,
              tuple(args.shape) if args.shape else None, args.repeat,
              args.warmup, parts=args.parts, detections=args.detections,
              cfg_options=args.cfg_options, export_dir=args.export_dir,
              out=args.out, plot=args.plot)


if __name__ == '__main__':
    run_cli(main)
