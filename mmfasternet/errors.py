"""The errors whose message is the whole story: the project raises them for
user input and for checkpoints that cannot be used, naming the file or
option at fault and the fix. The command-line tools print such a message in
one line instead of a traceback (:func:`mmfasternet.apis.cli.run_cli`);
everything else keeps its traceback."""


class InputError(Exception):
    """A mistake in the user's input: the message says what and how to fix."""


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be used; the message names the file."""


USER_ERRORS = (InputError, CheckpointError)
