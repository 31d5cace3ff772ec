"""What `tfp-flows` arguments may be, checked before TensorFlow is imported (a mistake costs no start-up time).

The choices and file types the parser (`tfp_flows.cli_parser`) offers, its `type=` parsers of numbers and
lists, and the `check_*` functions that look at several arguments (or the file system) once they are
parsed: each returns the message of the mistake it finds, or None. Only the standard library is imported.
"""
from __future__ import annotations

import argparse
import os

MODELS = ("glow", "realnvp", "nice", "jet", "waveglow")
COUPLINGS = ("affine", "additive", "spline")
DEQUANTIZATIONS = ("uniform", "variational")
# Kept in step with tfp_flows.models.PRESETS and tfp_flows.data.DATASETS by tests/test_cli_own_data.py
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


def number(kind, minimum, strict=False, maximum=None, most=None):
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


def column_list(text):
    """Comma-separated column names (`--columns A,B`), stripped; none empty."""
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    return names


def number_list(text):
    """Comma-separated finite numbers (`--context 0.5,1`) as floats."""
    try:
        values = [float(value) for value in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not all(abs(v) < float("inf") for v in values):  # also refuses NaN
        raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
    return values


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
