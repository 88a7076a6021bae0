"""What the command-line tools share: the runner flags of mmdet's and
mmseg's tools, and how a tool ends on a mistake in its input (one or two
lines that name the cause, not a traceback; a bug, in this project or below
it, keeps its full traceback, so reports are useful)."""
import argparse
import os
import sys
from typing import Callable

from mmengine.config import DictAction

from ..errors import USER_ERRORS

TRACEBACK_VARIABLE = 'MMFASTERNET_TRACEBACK'


def run_cli(main: Callable[[], object]) -> None:
    """Call ``main``; on a user error print its message and exit with 1.

    ``MMFASTERNET_TRACEBACK=1`` shows the traceback of user errors too.
    """
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
    except USER_ERRORS as error:
        if os.environ.get(TRACEBACK_VARIABLE, '') not in ('', '0'):
            raise
        message = str(error).strip() or type(error).__name__
        print(f'error: {message}', file=sys.stderr)
        print(f'(set {TRACEBACK_VARIABLE}=1 to see the full traceback)',
              file=sys.stderr)
        sys.exit(1)


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
