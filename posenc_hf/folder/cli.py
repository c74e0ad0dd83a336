"""What a command-line user sees when a command is given something wrong (a bad path, an unknown column,
another run's folder): the message alone and exit code 1. `POSENC_DEBUG=1` shows the traceback too.
Output piped into a reader that stops early (`| head`) ends quietly, and the log shows progress and
results, not a progress bar for every small step."""

import os
import sys

import datasets
import huggingface_hub
import transformers

# The package's checks raise these, each with a message naming the problem; a config value refused by
# transformers' `@strict` validation raises StrictDataclassError, naming the field and the value.
USER_ERRORS = (ValueError, OSError, huggingface_hub.errors.StrictDataclassError)


def debugging():
    return os.environ.get("POSENC_DEBUG", "").lower() not in ("", "0", "false")


def run_command(prog, main, argv=None):
    """`main(argv)`'s exit code; a user error prints `prog: error: message` to stderr and gives 1."""
    try:
        return main(argv)
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the final flush fails silently too
        return 0
    except USER_ERRORS as error:
        if debugging():
            raise
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1


def quiet_progress_bars():
    """Keep training's progress bar and download bars; drop transformers' bars for loading and saving
    weights ("Writing model shards" at every checkpoint) and datasets' bars for preparing the data
    (generate, map, filter, tokenize)."""
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    huggingface_hub.utils.enable_progress_bars()  # transformers' switch turned downloads' bars off too
