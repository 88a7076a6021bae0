"""Score a checkpoint and its ONNX export on the config's test set and
compare: metrics (points) and per-image predictions; results to a JSON file.

Each runtime scores the fp32 export in each of --precisions (bf16 where the
runtime and CPU have it; a refusal is recorded, not scored) and, with
--int8, the file of tools/deployment/quantize.py; every entry records the
precision its runtime reported.

Example (the trained Mask R-CNN demo):
  python tools/deployment/check_accuracy.py \
    configs/demo/maskrcnn_fasternet_t0_synthetic.py \
    work_dirs/demo_maskrcnn_fasternet_t0/iter_800.pth maskrcnn_t0.onnx \
    --precisions fp32 bf16 --int8 maskrcnn_t0_int8.onnx \
    --results benchmarks/precision_accuracy_cpu.json
"""
import argparse
import datetime
import json
import os
import os.path as osp

from mmfasternet.analysis.machine import command_line, describe
from mmfasternet.apis import evaluate, run_cli
from mmfasternet.deploy.accuracy import compare_predictions, metric_differences
from mmfasternet.deploy.precision import check_precision
from mmfasternet.errors import InputError


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', help='PyTorch .pth')
    parser.add_argument('onnx', help='the same model exported to .onnx')
    parser.add_argument('--backends', nargs='+',
                        choices=['onnxruntime', 'openvino'],
                        default=['onnxruntime', 'openvino'])
    parser.add_argument('--precisions', nargs='+', default=['fp32'],
                        choices=['fp32', 'bf16'],
                        help='precisions to score the fp32 export in')
    parser.add_argument('--int8', metavar='ONNX',
                        help='also score this int8 file of '
                        'tools/deployment/quantize.py')
    parser.add_argument('--results', default='benchmarks/onnx_accuracy.json',
                        help='JSON file to add this entry to')
    parser.add_argument('--work-dir', default='work_dirs/onnx_accuracy')
    return parser.parse_args()


def versions() -> dict:
    import onnxruntime
    import openvino
    import torch
    return dict(torch=torch.__version__, onnxruntime=onnxruntime.__version__,
                openvino=openvino.__version__)


def main() -> None:
    args = parse_args()
    name = osp.splitext(osp.basename(args.config))[0]
    work_dir = osp.join(args.work_dir, name)
    reference = evaluate(args.config, args.checkpoint,
                         osp.join(work_dir, 'pytorch'))
    entry = dict(
        config=args.config, checkpoint=args.checkpoint, onnx=args.onnx,
        command=command_line(),
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec='seconds'),
        machine=describe('cpu'), versions=versions(),
        pytorch=reference['metrics'], backends={}, refused={})
    runs = [(backend, args.onnx, precision) for backend in args.backends
            for precision in args.precisions]
    if args.int8:
        runs += [(backend, args.int8, None) for backend in args.backends]
    for backend, onnx_file, precision in runs:
        key = f'{backend}_{precision or "int8"}'
        try:
            check_precision(backend, precision)
        except InputError as refusal:
            entry['refused'][key] = str(refusal)
            continue
        result = evaluate(args.config, onnx_file, osp.join(work_dir, key),
                          backend=backend, precision=precision)
        entry['backends'][key] = dict(
            file=onnx_file, precision=result['precision'],
            metrics=result['metrics'],
            difference_points=metric_differences(reference['metrics'],
                                                 result['metrics']),
            per_image=compare_predictions(reference['predictions'],
                                          result['predictions']))
    results = {}
    if osp.isfile(args.results):
        with open(args.results) as f:
            results = json.load(f)
    results[name] = entry
    os.makedirs(osp.dirname(args.results) or '.', exist_ok=True)
    with open(args.results, 'w') as f:
        json.dump(results, f, indent=1)
        f.write('\n')
    print(json.dumps(entry, indent=1))


if __name__ == '__main__':
    run_cli(main)
