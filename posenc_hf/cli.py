"""What a command-line user sees when a command is given something wrong (a bad path, an unknown column,
another run's folder): the message alone and exit code 1. `POSENC_DEBUG=1` shows the traceback too."""

import os
import sys

USER_ERRORS = (ValueError, OSError)  # the package's checks raise these, each with a message naming the problem


def debugging():
    return os.environ.get("POSENC_DEBUG", "").lower() not in ("", "0", "false")


def run_command(prog, main, argv=None):
    """`main(argv)`'s exit code; a user error prints `prog: error: message` to stderr and gives 1."""
    try:
        return main(argv)
    except USER_ERRORS as error:
        if debugging():
            raise
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1
