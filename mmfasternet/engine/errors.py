"""How the command-line tools end on an error: one or two lines, not a
traceback, unless ``MMFASTERNET_TRACEBACK=1`` asks for it."""
import os
import sys
from typing import Callable

TRACEBACK_VARIABLE = 'MMFASTERNET_TRACEBACK'


def run_cli(main: Callable[[], object]) -> None:
    """Call ``main``; on an exception print its message and exit with 1.

    The full traceback stays available: set ``MMFASTERNET_TRACEBACK=1``.
    """
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:
        if os.environ.get(TRACEBACK_VARIABLE, '') not in ('', '0'):
            raise
        message = str(error).strip() or type(error).__name__
        print(f'error: {type(error).__name__}: {message}', file=sys.stderr)
        print(f'(set {TRACEBACK_VARIABLE}=1 to see the full traceback)',
              file=sys.stderr)
        sys.exit(1)
