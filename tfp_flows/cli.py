"""`tfp-flows`: train, evaluate, sample, score and export flow models from the command line.

Arguments are parsed (`tfp_flows.cli_parser`) and checked (`tfp_flows.cli_checks`) before TensorFlow is
imported (a mistake costs no start-up time); the work is in `tfp_flows.commands`, one function per
subcommand. A subcommand is added with an `_add_<name>(commands)` parser function listed in
`tfp_flows.cli_parser.SUBCOMMANDS` and a function `tfp_flows.commands.<name>(args)`.
"""
from __future__ import annotations

import contextlib
import os
import sys

from tfp_flows._messages import in_words
# The parser, the lists of choices and the checks keep their `tfp_flows.cli.<name>` spelling (tests, docs/hooks.py).
from tfp_flows.cli_checks import (
    CONDITIONAL_MODELS, COUPLINGS, DATA_SUFFIXES, DATASETS, DEQUANTIZATIONS, LABELLED_DATASETS, MODELS, PRESETS,
    SAMPLE_SUFFIXES, TABLE_SUFFIXES, TEST_PRESETS, check_conditioning, check_levels, check_paths, check_preset, check_run,
)
from tfp_flows.cli_parser import EPILOG, SUBCOMMANDS, build_parser


@contextlib.contextmanager
def _native_stderr_silenced():
    """Sends file descriptor 2 to /dev/null while TensorFlow initialises (Python exceptions still show)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_physical_devices()  # device discovery logs happen here, once
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = check_paths(args) or check_preset(args) or check_levels(args) or check_conditioning(args) or check_run(args)
    if problem:
        print(f"tfp-flows: error: {problem}", file=sys.stderr)
        return 2
    with _native_stderr_silenced():  # TensorFlow's C++ start-up chatter is not for our users
        from tfp_flows import commands  # imports TensorFlow: only after the arguments are known good

    handler = getattr(commands, args.command.replace("-", "_"))
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("tfp-flows: interrupted; rerun the same command to resume.", file=sys.stderr)
        return 130
    except commands.USER_ERRORS as error:
        print(f"tfp-flows: error: {in_words(error)}", file=sys.stderr)  # TensorFlow's errors without its internals
        return 2


if __name__ == "__main__":
    sys.exit(main())

