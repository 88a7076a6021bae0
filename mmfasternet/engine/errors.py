"""How the command-line tools end on a mistake in their input: one or two
lines that name the cause, not a traceback. Everything else (a bug, in this
project or below it) keeps its full traceback, so reports are useful."""
import os
import sys
from typing import Callable

from ..checkpoint import CheckpointError
from .preflight import InputError

TRACEBACK_VARIABLE = 'MMFASTERNET_TRACEBACK'

# The errors whose message is the whole story: the project raises them for
# user input and for checkpoints that cannot be used, naming file and fix.
USER_ERRORS = (InputError, CheckpointError)


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
