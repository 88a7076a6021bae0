"""Command-line pieces that tools/train.py and tools/test.py share."""
import argparse
import logging
import os

from mmengine.config import DictAction


def add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    """``--cfg-options``, ``--launcher`` and ``--local-rank``, as mmdet's
    and mmseg's tools define them."""
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value (keys are checked)')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_runner_arguments(
        parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse; make the ``--local-rank`` of older launchers visible as
    ``LOCAL_RANK``, where torchrun puts it."""
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def quiet_model_logs() -> None:
    """Send mmengine's per-parameter initialisation report nowhere.

    Analysis tools build models outside a Runner; mmengine then logs one
    line per parameter to the console (hundreds of lines before a 7-line
    table). Warnings and errors still show.
    """
    from mmengine.logging import MMLogger
    MMLogger.get_instance('mmfasternet_tool', log_level=logging.WARNING)
