"""Train a detector (mmdet config) or a segmentor (mmseg config).

Flags and their meaning follow mmdet's and mmseg's tools/train.py; the
config's default_scope picks the library. Additions: inputs are checked
before anything is built, CPU-only machines can train with torchrun
(--launcher pytorch, gloo), --amp says at once that it needs a GPU, resume
is exact, and a work dir that holds checkpoints is never overwritten without
--overwrite.
"""
import argparse

from mmfasternet.apis import run_cli
from mmfasternet.apis.cli import add_runner_arguments, parse_runner_arguments
from mmfasternet.apis.runner import prepare_training, run_training


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp', action='store_true',
        help='fp16 mixed precision with dynamic loss scaling (needs a GPU)')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the LR by the actual total batch over the config\'s '
        'auto_scale_lr.base_batch_size')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint, or without a path from the '
        'latest one in the work dir')
    parser.add_argument(
        '--overwrite', action='store_true',
        help='start over in a work dir that already holds checkpoints')
    add_runner_arguments(parser)
    return parse_runner_arguments(parser)


def main() -> None:
    args = parse_args()
    cfg = prepare_training(
        args.config, work_dir=args.work_dir, resume=args.resume,
        amp=args.amp, auto_scale_lr=args.auto_scale_lr,
        cfg_options=args.cfg_options, launcher=args.launcher,
        overwrite=args.overwrite)
    run_training(cfg)


if __name__ == '__main__':
    run_cli(main)
