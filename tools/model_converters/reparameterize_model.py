"""Fold the FasterNet backbone of a trained detector or segmentor into its
inference form (mmpretrain's tool name and arguments).

The saved checkpoint loads strictly into the same config built with
``--cfg-options model.backbone.deploy=True`` and gives the same predictions:

    python tools/model_converters/reparameterize_model.py CONFIG CKPT OUT
    python tools/test.py CONFIG OUT --cfg-options model.backbone.deploy=True
"""
import argparse

from mmfasternet.apis import run_cli
from mmfasternet.apis.reparameterize import reparameterize_checkpoint
from mmfasternet.apis.runner import load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config of the trained model')
    parser.add_argument('checkpoint', help='checkpoint in training form')
    parser.add_argument('target', help='where to save the folded checkpoint')
    args = parser.parse_args()
    cfg = load_config(args.config)
    reparameterize_checkpoint(cfg, args.config, args.checkpoint, args.target)


if __name__ == '__main__':
    run_cli(main)
