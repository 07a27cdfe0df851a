"""`run(main)`: `absl.app.run` with one-line errors and quiet logs.

absl answers a `UsageError` with the whole `--help` text (some 90 lines)
before the one line that says what was wrong, and TensorFlow logs INFO
chatter (e.g. "Sharding callback duration" at every checkpoint save)
through absl, which `app.run` shows at INFO. `run` keeps each program's
output to its results, the project's own log lines and real warnings.

Importing this module does not import TensorFlow, so the order of imports
does not matter; each program still sets TF_CPP_MIN_LOG_LEVEL itself
before it imports TensorFlow (that one is read when TensorFlow loads).
"""

import importlib.util
import logging
import os
import sys

from absl import app, flags
from absl import logging as absl_logging

# Errors that mean "the command line asked for something impossible":
# absl's own, and the ValueErrors that configs raise naming the flag, the
# value and what was expected; `experiments.data.DatasetUnavailableError`
# (a data set that cannot be had here) too.
USAGE_ERRORS = (app.UsageError, ValueError)

# The help of every experiment's --restart (`experiments.rundir.claim`).
RESTART_HELP = (
    "Start anew in a --model_dir that holds another run, after moving it "
    "aside to MODEL_DIR.old-TIMESTAMP."
)


def run(main):
    """Runs `main` as `app.run` does, but a usage error prints one line
    (`<program>: error: <message>; see --help`) and exits 2; a training
    stopped by SIGINT or SIGTERM (`loops.Interrupted`, after saving a
    checkpoint) prints one line and exits 130 or 143; a multi-worker run
    that lost a worker (`loops.interrupt.PeerLost`) prints one line and
    exits 75; Ctrl-C elsewhere prints `interrupted` and exits 130; none
    with a traceback. --help exits 0 (absl's own exit status is 1)."""
    quiet_tensorflow_info()
    try:
        app.run(
            lambda argv: _usage_errors_in_one_line(main, argv),
            flags_parser=_parse_flags,
        )
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except SystemExit as e:
        # absl exits 1 after printing the help asked for; that is success.
        if e.code == 1 and HELP_FLAGS & set(sys.argv[1:]):
            sys.exit(0)
        raise


HELP_FLAGS = {"-h", "-?", "--help", "--helpshort", "--helpfull"}


def quiet_tensorflow_info():
    """Hides TensorFlow's INFO records (WARNING and above stay).

    TensorFlow logs both through its own Python logger and through absl's
    (functional_saver.py logs "Sharding callback duration: N microseconds"
    with absl at every checkpoint save). absl's INFO from everyone else,
    e.g. loops' "Resumed from ...", stays.
    """
    tf_logger = logging.getLogger("tensorflow")
    tf_logger.setLevel(logging.WARNING)
    # TensorFlow's logger has a handler of its own; passed on to absl's
    # root handler too, each of its warnings printed twice.
    tf_logger.propagate = False
    spec = importlib.util.find_spec("tensorflow")  # finds, does not import
    if spec is None or not spec.submodule_search_locations:
        return
    folders = tuple(
        os.path.join(folder, "") for folder in spec.submodule_search_locations
    )

    def not_tensorflow_info(record):
        return record.levelno >= logging.WARNING or not (
            record.pathname.startswith(folders)
        )

    absl_logging.get_absl_logger().addFilter(not_tensorflow_info)


def _parse_flags(argv):
    """absl's flag parsing, its errors (`--epochs=abc`) in the same one
    line and exit status as the program's own usage errors."""
    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        _usage_error(e)


def _usage_error(error):
    message = " ".join(str(error).split("\n")).strip().removesuffix(".")
    print(f"{_program()}: error: {message}; see --help", file=sys.stderr)
    sys.exit(2)


def _usage_errors_in_one_line(main, argv):
    try:
        return main(argv)
    except USAGE_ERRORS as e:
        _usage_error(e)
    except Exception as e:
        from experiments.data import DatasetUnavailableError  # TF is loaded
        from loops.interrupt import Interrupted, PeerLost

        if isinstance(e, DatasetUnavailableError):  # e.g. no download here
            _usage_error(e)
        if not isinstance(e, (Interrupted, PeerLost)):
            raise
        print(f"{_program()}: {e}", file=sys.stderr)
        sys.exit(e.exit_status)


def _program():
    """`experiments.anomaly` for `python -m experiments.anomaly`, else the
    script's file name, as argparse names a program."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    return spec.name if spec else os.path.basename(sys.argv[0])
