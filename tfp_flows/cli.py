"""`tfp-flows`: train, evaluate, sample, score and export flow models from the command line.

Arguments are checked here before TensorFlow is imported (a mistake costs no start-up
time); the work is in `tfp_flows.commands`, one function per subcommand. A subcommand
is added with an `_add_<name>(commands)` parser function listed in `SUBCOMMANDS` and a
function `tfp_flows.commands.<name>(args)`.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys

from tfp_flows._messages import in_words

MODELS = ("glow", "realnvp", "nice", "jet", "waveglow")
COUPLINGS = ("affine", "additive", "spline")
DEQUANTIZATIONS = ("uniform", "variational")
# Kept in step with tfp_flows.models.PRESETS and tfp_flows.data.DATASETS by tests/test_cli.py
# (importing those here would load TensorFlow before the arguments are checked).
PRESETS = {
    "glow": ("cifar10", "imagenet32", "celeba64", "mnist", "tiny", "digits"),
    "realnvp": ("cifar10", "celeba64", "mnist", "tiny", "digits", "tabular", "tabular_tiny"),
    "nice": ("mnist", "tiny", "digits", "tabular", "tabular_tiny"),
    "jet": ("tiny", "digits", "imagenet64"),
    "waveglow": ("ljspeech", "small", "tiny"),
}
# Presets for unit tests (seconds to train, useless results): listed apart in --help.
TEST_PRESETS = ("tiny", "tabular_tiny")
DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10", "svhn_cropped", "celeb_a", "downsampled_imagenet_32", "downsampled_imagenet_64")
SAMPLE_SUFFIXES = (".png", ".csv", ".npy")
# Named datasets with class labels (tfp_flows.data: digits' digit, TFDS `label` features), for --conditional.
LABELLED_DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10", "svhn_cropped")
CONDITIONAL_MODELS = ("glow", "realnvp", "nice")
TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
DATA_SUFFIXES = (".npy", ".npz", ".parquet", ".pq") + TABLE_SUFFIXES  # files --data takes (parquet: refused with advice)

EPILOG = f"""\
models: glow (images), realnvp (images; vectors: the default for tables), nice (images, vectors), jet (images),
  waveglow (speech given mel spectrograms; trains on the embedded eSpeak corpus by default)
presets (for tests: {", ".join(TEST_PRESETS)}; waveglow: small and ljspeech are for 22050 Hz speech, tiny for 8 kHz):
{chr(10).join(f'  {m}: {", ".join(n for n in p if n not in TEST_PRESETS)}; for tests: {", ".join(n for n in p if n in TEST_PRESETS)}' for m, p in PRESETS.items())}
datasets: {', '.join(DATASETS)}
  (digits is embedded and offline; the rest come from tensorflow-datasets), any other TFDS name with an
  image feature, or --data PATH: a folder of images (PNG, JPEG, BMP, GIF; subfolders are classes), a
  .npy/.npz array (images [N,H,W,C] or vectors [N,D]) or a CSV table with a header (vectors)
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Help(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default (unless its help already explains it), and the epilog's lists as written."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default is None or action.default is False or action.default == argparse.SUPPRESS:
            return text
        return f"{text} (default: %(default)s)"


def _number(kind, minimum, strict=False, maximum=None, most=None):
    """A parser of numbers >= `minimum` (> with `strict`), below `maximum`, at most `most`; finite."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a{'n' if kind is int else ''} {kind.__name__}, got {text!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
        if (value < minimum or (strict and value == minimum) or (maximum is not None and value >= maximum)
                or (most is not None and value > most)):
            bound = f"{'>' if strict else '>='} {minimum}" + (f" and < {maximum}" if maximum is not None else "") + (
                f" and <= {most}" if most is not None else "")
            raise argparse.ArgumentTypeError(f"expected a number {bound}, got {text}")
        return value

    return parse


def _column_list(text):
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    return names


def _number_list(text):
    try:
        values = [float(value) for value in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not all(abs(v) < float("inf") for v in values):  # also refuses NaN
        raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
    return values


def _add_train(commands):
    train = commands.add_parser("train", help="train a model (resumes when rerun on the same --output)",
                                formatter_class=_Help, epilog=EPILOG)
    train.add_argument("--model", choices=MODELS, default=None,
                       help="flow model (default: realnvp for the embedded digits and for vectors, glow for other images; realnvp for vectors: affine couplings over standardised "
                            "vectors, the more expressive of the two vector flows)")
    train.add_argument("--preset", default=None,
                       help="architecture preset (default: the dataset's name when there is one, 'digits' for other "
                            "images, 'tabular' for vectors, 'small' for waveglow; tiny presets are for tests)")
    data = train.add_mutually_exclusive_group()
    data.add_argument("--dataset", default=None,
                      help="digits (embedded, offline) or a TFDS dataset name (default: digits; waveglow: the embedded speech)")
    data.add_argument("--data", default=None, metavar="PATH",
                      help="your own data: a folder of images, a .npy/.npz array or a .csv table")
    train.add_argument("--image-size", type=_number(int, 1), default=None, metavar="N",
                       help="centre-crop and resize images to N x N (folders of mixed sizes, TFDS datasets)")
    train.add_argument("--columns", type=_column_list, default=None, metavar="A,B,...",
                       help="numeric columns of a CSV to model (default: all columns but the context columns)")
    condition = train.add_mutually_exclusive_group()
    condition.add_argument("--conditional", action="store_true",
                           help="a class-conditional model p(x | label) of labelled data: digits, mnist, fashion_mnist, "
                                "cifar10, svhn_cropped, other TFDS datasets with a label, folders with one subfolder per "
                                "class, .npz (images or vectors) with labels (glow, realnvp, nice)")
    train.add_argument("--condition-couplings", action="store_true",
                       help="with --conditional: also feed the label to every coupling network (default: the class "
                            "prior only, as openai/glow's ycond; context models always condition their couplings)")
    train.add_argument("--weight-y", type=_number(float, 0.0), default=0.0, metavar="W",
                       help="with --conditional: weight of openai/glow's auxiliary classification loss on the latent")
    condition.add_argument("--context-columns", type=_column_list, default=None, metavar="C1,C2,...",
                           help="columns of a CSV (--data) to condition on: a vector model p(x | context) of the other "
                                "(or --columns) columns (realnvp, nice)")
    train.add_argument("--validation-fraction", type=_number(float, 0.0, maximum=1.0), default=0.1,
                       help="held-out validation fraction of --data without its own splits")
    train.add_argument("--test-fraction", type=_number(float, 0.0, maximum=1.0), default=0.1,
                       help="held-out test fraction of --data without its own splits")
    train.add_argument("--coupling", choices=COUPLINGS, default=None,
                       help="coupling transform (default: the preset's; glow: affine|additive|spline, realnvp: affine|spline, "
                            "nice: additive|spline, jet: affine)")
    train.add_argument("--dequantization", choices=DEQUANTIZATIONS, default=None,
                       help="uniform noise (default: the preset's) or a learned q(u|x) (Flow++), for image data")
    train.add_argument("--epochs", type=_number(int, 1), default=None,
                       help="epochs in all (a rerun trains the rest; default: 30 on the embedded digits, 10 for waveglow, else 100)")
    train.add_argument("--batch-size", type=_number(int, 1), default=None,
                       help="examples per step (default: 64 on the embedded digits, 8 for waveglow, else 128)")
    train.add_argument("--learning-rate", type=_number(float, 0.0, strict=True), default=None,
                       help="Adam learning rate (default: 1e-3; waveglow: its preset's)")
    train.add_argument("--warmup-steps", type=_number(int, 0), default=100, help="linear learning-rate warmup")
    train.add_argument("--schedule", choices=("constant", "cosine"), default="constant",
                       help="learning rate after the warmup: constant, or cosine decay to 0 over --epochs")
    train.add_argument("--ema-momentum", type=_number(float, 0.0, maximum=1.0), default=0.99,
                       help="momentum of the weight average used for validation, checkpoints and samples (0: none)")
    levels = train.add_mutually_exclusive_group()
    levels.add_argument("--n-bits", type=_number(int, 1, most=8), default=None, help="reduce 8-bit images to this many bits")
    levels.add_argument("--num-bins", type=_number(int, 2, most=256), default=None, metavar="N",
                        help="--data images hold N integer levels 0..N-1 (default: 256, 8-bit; 17 for arrays of the digits' 0..16)")
    train.add_argument("--flip", action="store_true", help="random horizontal flips")
    train.add_argument("--data-dir", default=None, help="TFDS data directory (pre-downloaded data)")
    train.add_argument("--samples", type=_number(int, 1), default=64, help="images in each epoch's sample grid")
    train.add_argument("--temperature", type=_number(float, 0.0), default=0.7, help="temperature of the sample grids")
    train.add_argument("--seed", type=_number(int, 0), default=0, help="seed of weights, shuffling and held-out splits")
    train.add_argument("--jit", action="store_true", help="compile the training step with XLA")
    train.add_argument("--output", default=None, help="run directory (default: runs/<model>-<dataset>)")
    return train


def _add_evaluate(commands):
    evaluate = commands.add_parser("evaluate", help="log-likelihood (nats) and bits/dim of a trained run on a split",
                                   formatter_class=_Help)
    evaluate.add_argument("--run", required=True, help="run directory written by train")
    evaluate.add_argument("--split", default="test", choices=("train", "validation", "test"), help="which split")
    evaluate.add_argument("--batch-size", type=_number(int, 1), default=256, help="examples per batch")


def _add_sample(commands):
    sample = commands.add_parser("sample", help="samples from a trained run: a PNG grid (images) or CSV rows (vectors)",
                                 formatter_class=_Help)
    sample.add_argument("--run", required=True, help="run directory written by train")
    sample.add_argument("--num", type=_number(int, 1), default=None,
                        help="number of samples (default: 64; class-conditional runs: 10 per class, one row per class; "
                             "with --context-file: 1 per context row)")
    condition = sample.add_mutually_exclusive_group()
    condition.add_argument("--label", type=_number(int, 0), default=None, metavar="K",
                           help="class-conditional runs: samples of class K only (default: every class, a row each)")
    condition.add_argument("--context", type=_number_list, default=None, metavar="V1,V2,...",
                           help="context-conditioned runs: the context values (one per context column) to sample at")
    condition.add_argument("--context-file", default=None, metavar="CSV",
                           help="context-conditioned runs: a CSV with the context columns; --num samples per row")
    sample.add_argument("--temperature", type=_number(float, 0.0), default=0.7, help="scales the base standard deviation")
    sample.add_argument("--seed", type=_number(int, 0), default=0, help="sampling seed")
    sample.add_argument("--out", default=None,
                        help="output file; its suffix picks the format: .png (image grid), .csv (vectors, with a header), "
                             ".npy (raw array) (default: RUN/samples.png or RUN/samples.csv)")


def _add_score(commands):
    score = commands.add_parser("score", help="one log-likelihood (and bits/dim) per example of new data, as CSV",
                                formatter_class=_Help)
    score.add_argument("--run", required=True, help="run directory written by train")
    score.add_argument("--data", required=True, metavar="PATH", help="a folder of images, a .npy/.npz or a .csv")
    score.add_argument("--out", default=None, help="CSV of scores (default: RUN/scores.csv)")
    score.add_argument("--batch-size", type=_number(int, 1), default=256, help="examples per batch")


def _add_export(commands):
    export = commands.add_parser("export", help="write a TF Serving SavedModel of a trained run", formatter_class=_Help)
    export.add_argument("--run", required=True, help="run directory written by train")
    export.add_argument("--export-dir", required=True, help="SavedModel base directory (writes EXPORT_DIR/VERSION)")
    export.add_argument("--version", type=_number(int, 1), default=1, help="version subdirectory")
    export.add_argument("--overwrite", action="store_true", help="replace an existing version")


def _add_vocode(commands):
    vocode = commands.add_parser("vocode", help="speech from a WAV's mel or a mel .npy with a trained WaveGlow",
                                 formatter_class=_Help)
    vocode.add_argument("--run", required=True, help="a WaveGlow run (tfp-flows train --model waveglow)")
    source = vocode.add_mutually_exclusive_group(required=True)
    source.add_argument("--wav", help="16-bit PCM WAV whose mel spectrogram is resynthesised")
    source.add_argument("--mel", help="a log-mel .npy [n_mels, frames] (NVIDIA / Tacotron 2 features)")
    vocode.add_argument("--out", required=True, help="output WAV (a PNG of both mels goes beside it)")
    vocode.add_argument("--png", default=None, help="mel comparison PNG (default: OUT with .png)")
    vocode.add_argument("--sigma", type=_number(float, 0.0), default=0.6, help="latent standard deviation")
    vocode.add_argument("--denoise", type=_number(float, 0.0), default=0.0, help="denoiser strength (NVIDIA: 0.1)")
    vocode.add_argument("--resample", action="store_true", help="resample a WAV at another rate (default: refuse it)")
    vocode.add_argument("--seed", type=_number(int, 0), default=0, help="sampling seed")


def _add_import_waveglow(commands):
    imported = commands.add_parser("import-waveglow", formatter_class=_Help,
                                   help="an NVIDIA WaveGlow checkpoint (.pt, read without PyTorch) as a run directory")
    imported.add_argument("checkpoint", help="NVIDIA/waveglow or DeepLearningExamples WaveGlow checkpoint")
    imported.add_argument("--output", default=None, help="new run directory (default: runs/waveglow-<checkpoint name>)")
    imported.add_argument("--dataset", default="speech",
                          help="speech data `evaluate` uses: speech (embedded), ljspeech or a folder of WAV files")


SUBCOMMANDS = (_add_train, _add_evaluate, _add_sample, _add_score, _add_export, _add_vocode, _add_import_waveglow)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tfp-flows", description="Train, evaluate, sample, score and export normalizing flows.",
                     formatter_class=_Help, epilog=EPILOG)
    commands = parser.add_subparsers(dest="command", parser_class=_Parser, required=True)
    for add in SUBCOMMANDS:
        add(commands)
    return parser


def check_conditioning(args) -> str | None:
    """Mistakes in the conditioning arguments that need no TensorFlow: the message, or None."""
    if args.command == "sample":
        context_file = getattr(args, "context_file", None)
        if context_file is not None:
            if not os.path.isfile(context_file):
                return f"--context-file {context_file}: no such file."
            if os.path.splitext(context_file)[1].lower() not in TABLE_SUFFIXES:
                return f"--context-file {context_file}: expected a CSV table with a header naming the context columns."
        return None
    if args.command != "train":
        return None
    if (args.condition_couplings or args.weight_y) and not args.conditional:
        return f"{'--condition-couplings' if args.condition_couplings else '--weight-y'} applies to class-conditional models: add --conditional."
    if not (args.conditional or args.context_columns):
        return None
    flag = "--conditional" if args.conditional else "--context-columns"
    model = args.model
    allowed = CONDITIONAL_MODELS if args.conditional else ("realnvp", "nice")
    if model is not None and model not in allowed:
        return f"{flag}: {model} has no conditional form; use --model {' or '.join(allowed)}."
    source = args.data if args.data is not None else (args.dataset or "digits")
    is_table = os.path.splitext(source)[1].lower() in TABLE_SUFFIXES
    if args.context_columns:
        if args.data is None:
            return (f"--context-columns applies to CSV tables (--data FILE.csv), not to the dataset {source!r}; "
                    "condition images on their labels with --conditional.")
        if not is_table:
            return (f"--context-columns applies to CSV tables, not to {source}; "
                    "condition images on their class labels with --conditional.")
        both = sorted(set(args.context_columns) & set(args.columns or ()))
        if both:
            return f"--context-columns and --columns both name {both[0]!r}; a column is modelled or a context, not both."
        return None
    if is_table:
        return f"--conditional: {source} is a table, which has no class labels; condition on columns with --context-columns."
    if args.data is None and source in DATASETS and source not in LABELLED_DATASETS:
        return (f"--conditional needs labelled data: {source} has no class labels (labelled datasets: "
                f"{', '.join(LABELLED_DATASETS)}; folders with one subfolder per class).")
    return None


def check_preset(args) -> str | None:
    """A `--preset` that no model (or not the `--model` given) has: the message, or None."""
    preset = getattr(args, "preset", None)
    if preset is None or (args.model and preset in PRESETS[args.model]) or (
            not args.model and any(preset in names for names in PRESETS.values())):
        return None
    if args.model:
        return f"--preset {preset}: {args.model} has no such preset; expected one of {', '.join(PRESETS[args.model])}."
    listed = "; ".join(f"{model}: {', '.join(names)}" for model, names in PRESETS.items())
    return f"--preset {preset}: no model has this preset; {listed}."


def check_levels(args) -> str | None:
    """`--num-bins` declares the levels of the user's own images (`--data`), nothing else: the message, or None."""
    if getattr(args, "num_bins", None) is None:
        return None
    if args.data is None:
        return (f"--num-bins applies to your own images (--data PATH); the dataset {args.dataset or 'digits'} has fixed levels "
                "(--n-bits reduces 8-bit TFDS images).")
    if os.path.splitext(args.data)[1].lower() in TABLE_SUFFIXES:
        return f"--num-bins applies to images; {args.data} is a table of continuous values."
    return None


def check_paths(args) -> str | None:
    """Mistakes in file arguments that need no TensorFlow: the message, or None."""
    output = getattr(args, "output", None)
    if output is not None and os.path.exists(output) and not os.path.isdir(output):
        return f"--output {output} is a file, not a run directory; name a new or existing run directory."
    data = getattr(args, "data", None)
    if data is not None and not os.path.exists(data):
        return f"--data {data}: no such file or folder."
    if data is not None and os.path.isfile(data) and os.path.splitext(data)[1].lower() not in DATA_SUFFIXES:
        return (f"--data {data}: unsupported file type {os.path.splitext(data)[1] or '(no suffix)'!r}; expected a folder "
                "(images, or .wav files for waveglow), a .npy/.npz array or a .csv table.")
    for flag, path in (("--data-dir", getattr(args, "data_dir", None)), ("--export-dir", getattr(args, "export_dir", None))):
        if path is not None and os.path.exists(path) and not os.path.isdir(path):
            return f"{flag} {path} is a file; expected a folder."
    for flag, path in (("--context-file", getattr(args, "context_file", None)), ("--wav", getattr(args, "wav", None)),
                       ("--mel", getattr(args, "mel", None))):
        if path is not None and os.path.isdir(path):
            return f"{flag} {path} is a folder; expected a file."
        if path is not None and flag != "--context-file" and not os.path.exists(path):
            return f"{flag} {path}: no such file."
    png = getattr(args, "png", None)
    if png is not None and (os.path.splitext(png)[1].lower() != ".png" or os.path.isdir(png)):
        return f"--png {png}: expected a .png file name."
    fractions = (getattr(args, "validation_fraction", 0.0) or 0.0) + (getattr(args, "test_fraction", 0.0) or 0.0)
    if fractions >= 1.0:
        return (f"--validation-fraction {args.validation_fraction} and --test-fraction {args.test_fraction} add up to "
                f"{fractions:g}; they must leave examples to train on (sum < 1).")
    out = getattr(args, "out", None)
    if out is not None:
        suffix = os.path.splitext(out)[1].lower()
        allowed = {"score": (".csv",), "vocode": (".wav",)}.get(args.command, SAMPLE_SUFFIXES)
        if suffix not in allowed:
            return (f"--out {out}: unsupported file type {suffix or '(no suffix)'!r}; expected "
                    f"{' or '.join(allowed)}" + (" (.png: image grid, .csv: vectors, .npy: raw array)." if args.command == "sample" else "."))
        if os.path.isdir(out):
            return f"--out {out} is a folder; name a file."
    return None


def check_run(args) -> str | None:
    """A `--run` that is no run directory (the message the commands give), found before TensorFlow starts."""
    run = getattr(args, "run", None)
    if run is None:
        return None
    if os.path.isfile(run):
        return f"--run {run} is a file; expected a run directory written by tfp-flows train."
    if not os.path.isdir(run):
        return f"run directory {os.path.abspath(run)} does not exist."
    if not os.path.exists(os.path.join(run, "config.json")):
        return f"no config.json in {os.path.abspath(run)}: is this a tfp-flows run directory?"
    return None


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
