"""Detect or segment one picture with a FasterNet config (mmdet's and
mmseg's demo/image_demo.py, on their DetInferencer and MMSegInferencer).

    python demo/image_demo.py IMAGE CONFIG_OR_NAME [--weights CKPT]
        [--device cpu|cuda] [--out-dir DIR] [--pred-score-thr T]
        [--deploy] [--amp]

CONFIG_OR_NAME is a config path or a model name of model-index.yml (the
config file name without .py). Writes DIR/vis/IMAGE (the picture with the
predictions drawn) and DIR/preds/NAME.json (the predictions).
"""
import argparse
import json
import os
import os.path as osp

import torch

from mmfasternet.apis import run_cli
from mmfasternet.apis.inferencers import build_inferencer, resolve_model
from mmfasternet.errors import InputError
from mmfasternet.inference import inference_autocast, optimize_for_inference


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('image', help='picture file')
    parser.add_argument('model', help='config path or metafile model name')
    parser.add_argument('--weights', help='checkpoint; random without it')
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu',
        help='cpu or cuda (default: cuda when present)')
    parser.add_argument('--out-dir', default='outputs', help='output folder')
    parser.add_argument('--pred-score-thr', type=float, default=0.3,
                        help='draw detections scoring at least this')
    parser.add_argument('--deploy', action='store_true',
                        help='fold BatchNorm into the convs first')
    parser.add_argument('--amp', action='store_true',
                        help='bf16 autocast on CPU, fp16 on CUDA')
    return parser.parse_args(argv)


def save_segmentation_json(result: dict, image: str, out_dir: str,
                           classes) -> str:
    """mmseg writes a label PNG; the JSON holds the same labels."""
    labels = result['predictions']
    path = osp.join(out_dir, 'preds',
                    osp.splitext(osp.basename(image))[0] + '.json')
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(dict(classes=list(classes or []),
                       sem_seg=labels.tolist()), f)
    return path


def run_demo(args: argparse.Namespace):
    """Predict, write the outputs; returns the inferencer."""
    if not osp.isfile(args.image):
        raise InputError(f'image not found: {args.image}')
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        raise InputError('--device cuda: this machine has no CUDA; use '
                         '--device cpu.')
    config, official = resolve_model(args.model)
    if args.weights is None:
        where = f' (official checkpoint: {official})' if official else ''
        print(f'No --weights: the model has random weights, so the '
              f'predictions are meaningless{where}.')
    inferencer = build_inferencer(config, args.weights, args.device)
    if args.deploy:
        optimize_for_inference(inferencer.model, deploy=True)
    is_seg = type(inferencer).__name__ == 'MMSegInferencer'
    with torch.no_grad(), inference_autocast(args.device, args.amp):
        if is_seg:
            result = inferencer(args.image, out_dir=args.out_dir,
                                img_out_dir='vis', pred_out_dir='preds')
        else:
            result = inferencer(args.image, out_dir=args.out_dir,
                                no_save_pred=False,
                                pred_score_thr=args.pred_score_thr)
    if is_seg:
        save_segmentation_json(result, args.image, args.out_dir,
                               inferencer.model.dataset_meta.get('classes'))
    print(f'results in {args.out_dir}/vis and {args.out_dir}/preds')
    return inferencer


def main() -> None:
    run_demo(parse_args())


if __name__ == '__main__':
    run_cli(main)
