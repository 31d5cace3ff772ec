"""`tfp-flows`: train, evaluate, sample and export flow models from the command line."""
from __future__ import annotations

import argparse
import contextlib
import os
import sys

MODELS = ("glow", "realnvp", "nice")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(kind, minimum, strict=False, name="value"):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"expected a number {'>' if strict else '>='} {minimum}, got {text}")
        return value

    return parse


def _fraction(text):
    value = _number(float, 0.0)(text)
    if value >= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tfp-flows", description="Train, evaluate, sample and export normalizing flows.")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser, required=True)

    train = commands.add_parser("train", help="train a model (resumes when rerun on the same --output)")
    train.add_argument("--model", choices=MODELS, default="realnvp")
    train.add_argument("--preset", default=None, help="architecture preset (default: 'digits' on digits, else the dataset's name)")
    train.add_argument("--dataset", default="digits", help="digits (embedded, offline) or a TFDS dataset")
    train.add_argument("--epochs", type=_number(int, 1), default=30)
    train.add_argument("--batch-size", type=_number(int, 1), default=64)
    train.add_argument("--learning-rate", type=_number(float, 0.0, strict=True), default=1e-3)
    train.add_argument("--warmup-steps", type=_number(int, 0), default=100, help="linear learning-rate warmup")
    train.add_argument("--schedule", choices=("constant", "cosine"), default="constant",
                       help="learning rate after the warmup: cosine decay to 0 over --epochs, or constant")
    train.add_argument("--ema-momentum", type=_fraction, default=0.99,
                       help="momentum of the weight average used for validation, checkpoints and samples (0: none)")
    train.add_argument("--n-bits", type=_number(int, 1), default=None, help="reduce TFDS images to this many bits")
    train.add_argument("--flip", action="store_true", help="random horizontal flips")
    train.add_argument("--data-dir", default=None, help="TFDS data directory (pre-downloaded data)")
    train.add_argument("--samples", type=_number(int, 1), default=64, help="images in each epoch's sample grid")
    train.add_argument("--temperature", type=_number(float, 0.0), default=0.7, help="temperature of the sample grids")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--jit", action="store_true", help="compile the training step with XLA")
    train.add_argument("--output", default=None, help="run directory (default: runs/<model>-<dataset>)")

    evaluate = commands.add_parser("evaluate", help="bits/dim of a trained run on a split")
    evaluate.add_argument("--run", required=True)
    evaluate.add_argument("--split", default="test", choices=("train", "validation", "test"))
    evaluate.add_argument("--batch-size", type=_number(int, 1), default=256)

    sample = commands.add_parser("sample", help="a PNG grid of samples from a trained run")
    sample.add_argument("--run", required=True)
    sample.add_argument("--num", type=_number(int, 1), default=64)
    sample.add_argument("--temperature", type=_number(float, 0.0), default=0.7)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", default=None, help="PNG path (default: RUN/samples.png)")

    export = commands.add_parser("export", help="write a TF Serving SavedModel of a trained run")
    export.add_argument("--run", required=True)
    export.add_argument("--export-dir", required=True)
    export.add_argument("--version", type=_number(int, 1), default=1)
    export.add_argument("--overwrite", action="store_true")
    return parser


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
    args = build_parser().parse_args(argv)
    with _native_stderr_silenced():  # TensorFlow's C++ start-up chatter is not for our users
        from tfp_flows import commands  # imports TensorFlow: only after the arguments are known good

    handlers = dict(train=commands.train, evaluate=commands.evaluate, sample=commands.sample, export=commands.export)
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        print("tfp-flows: interrupted; rerun the same command to resume.", file=sys.stderr)
        return 130
    except commands.USER_ERRORS as error:
        print(f"tfp-flows: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
