"""Fold the FasterNet backbone of a trained detector or segmentor into its
inference form (mmpretrain's tool name and arguments).

The saved checkpoint loads strictly into the same config built with
``--cfg-options model.backbone.deploy=True`` and gives the same predictions:

    python tools/model_converters/reparameterize_model.py CONFIG CKPT OUT
    python tools/test.py CONFIG OUT --cfg-options model.backbone.deploy=True
"""
import warnings

# setuptools' notice, raised by imports of the stack below: not for users.
warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)

import argparse  # noqa: E402

from mmfasternet.engine.errors import run_cli  # noqa: E402
from mmfasternet.engine.reparameterize import (  # noqa: E402
    reparameterize_checkpoint)
from mmfasternet.engine.runner import load_config  # noqa: E402


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
