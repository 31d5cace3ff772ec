"""The `tfp-flows` argument parser, built without TensorFlow (`docs/hooks.py` renders the CLI reference from it).

A subcommand's options are an `_add_<name>(commands)` function listed in `SUBCOMMANDS`; `--help` shows each
option's default and the epilog's lists of models, presets and datasets.
"""
from __future__ import annotations

import argparse

from tfp_flows.cli_checks import (
    COUPLINGS, DATASETS, DEQUANTIZATIONS, MODELS, PRESETS, TEST_PRESETS, column_list, number, number_list,
)

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
    train.add_argument("--image-size", type=number(int, 1), default=None, metavar="N",
                       help="centre-crop and resize images to N x N (folders of mixed sizes, TFDS datasets)")
    train.add_argument("--columns", type=column_list, default=None, metavar="A,B,...",
                       help="numeric columns of a CSV to model (default: all columns but the context columns)")
    condition = train.add_mutually_exclusive_group()
    condition.add_argument("--conditional", action="store_true",
                           help="a class-conditional model p(x | label) of labelled data: digits, mnist, fashion_mnist, "
                                "cifar10, svhn_cropped, other TFDS datasets with a label, folders with one subfolder per "
                                "class, .npz (images or vectors) with labels (glow, realnvp, nice)")
    train.add_argument("--condition-couplings", action="store_true",
                       help="with --conditional: also feed the label to every coupling network (default: the class "
                            "prior only, as openai/glow's ycond; context models always condition their couplings)")
    train.add_argument("--weight-y", type=number(float, 0.0), default=0.0, metavar="W",
                       help="with --conditional: weight of openai/glow's auxiliary classification loss on the latent")
    condition.add_argument("--context-columns", type=column_list, default=None, metavar="C1,C2,...",
                           help="columns of a CSV (--data) to condition on: a vector model p(x | context) of the other "
                                "(or --columns) columns (realnvp, nice)")
    train.add_argument("--validation-fraction", type=number(float, 0.0, maximum=1.0), default=0.1,
                       help="held-out validation fraction of --data without its own splits")
    train.add_argument("--test-fraction", type=number(float, 0.0, maximum=1.0), default=0.1,
                       help="held-out test fraction of --data without its own splits")
    train.add_argument("--coupling", choices=COUPLINGS, default=None,
                       help="coupling transform (default: the preset's; glow: affine|additive|spline, realnvp: affine|spline, "
                            "nice: additive|spline, jet: affine)")
    train.add_argument("--dequantization", choices=DEQUANTIZATIONS, default=None,
                       help="uniform noise (default: the preset's) or a learned q(u|x) (Flow++), for image data")
    train.add_argument("--epochs", type=number(int, 1), default=None,
                       help="epochs in all (a rerun trains the rest; default: 30 on the embedded digits, 10 for waveglow, else 100)")
    train.add_argument("--batch-size", type=number(int, 1), default=None,
                       help="examples per step (default: 64 on the embedded digits, 8 for waveglow, else 128)")
    train.add_argument("--learning-rate", type=number(float, 0.0, strict=True), default=None,
                       help="Adam learning rate (default: 1e-3; waveglow: its preset's)")
    train.add_argument("--warmup-steps", type=number(int, 0), default=100, help="linear learning-rate warmup")
    train.add_argument("--schedule", choices=("constant", "cosine"), default="constant",
                       help="learning rate after the warmup: constant, or cosine decay to 0 over --epochs")
    train.add_argument("--ema-momentum", type=number(float, 0.0, maximum=1.0), default=0.99,
                       help="momentum of the weight average used for validation, checkpoints and samples (0: none)")
    levels = train.add_mutually_exclusive_group()
    levels.add_argument("--n-bits", type=number(int, 1, most=8), default=None, help="reduce 8-bit images to this many bits")
    levels.add_argument("--num-bins", type=number(int, 2, most=256), default=None, metavar="N",
                        help="--data images hold N integer levels 0..N-1 (default: 256, 8-bit; 17 for arrays of the digits' 0..16)")
    train.add_argument("--flip", action="store_true", help="random horizontal flips")
    train.add_argument("--data-dir", default=None, help="TFDS data directory (pre-downloaded data)")
    train.add_argument("--samples", type=number(int, 1), default=64, help="images in each epoch's sample grid")
    train.add_argument("--temperature", type=number(float, 0.0), default=0.7, help="temperature of the sample grids")
    train.add_argument("--seed", type=number(int, 0), default=0, help="seed of weights, shuffling and held-out splits")
    train.add_argument("--jit", action="store_true", help="compile the training step with XLA")
    train.add_argument("--output", default=None, help="run directory (default: runs/<model>-<dataset>)")
    return train


def _add_evaluate(commands):
    evaluate = commands.add_parser("evaluate", help="log-likelihood (nats) and bits/dim of a trained run on a split",
                                   formatter_class=_Help)
    evaluate.add_argument("--run", required=True, help="run directory written by train")
    evaluate.add_argument("--split", default="test", choices=("train", "validation", "test"), help="which split")
    evaluate.add_argument("--batch-size", type=number(int, 1), default=256, help="examples per batch")


def _add_sample(commands):
    sample = commands.add_parser("sample", help="samples from a trained run: a PNG grid (images) or CSV rows (vectors)",
                                 formatter_class=_Help)
    sample.add_argument("--run", required=True, help="run directory written by train")
    sample.add_argument("--num", type=number(int, 1), default=None,
                        help="number of samples (default: 64; class-conditional runs: 10 per class, one row per class; "
                             "with --context-file: 1 per context row)")
    condition = sample.add_mutually_exclusive_group()
    condition.add_argument("--label", type=number(int, 0), default=None, metavar="K",
                           help="class-conditional runs: samples of class K only (default: every class, a row each)")
    condition.add_argument("--context", type=number_list, default=None, metavar="V1,V2,...",
                           help="context-conditioned runs: the context values (one per context column) to sample at")
    condition.add_argument("--context-file", default=None, metavar="CSV",
                           help="context-conditioned runs: a CSV with the context columns; --num samples per row")
    sample.add_argument("--temperature", type=number(float, 0.0), default=0.7, help="scales the base standard deviation")
    sample.add_argument("--seed", type=number(int, 0), default=0, help="sampling seed")
    sample.add_argument("--out", default=None,
                        help="output file; its suffix picks the format: .png (image grid), .csv (vectors, with a header), "
                             ".npy (raw array) (default: RUN/samples.png or RUN/samples.csv)")


def _add_score(commands):
    score = commands.add_parser("score", help="one log-likelihood (and bits/dim) per example of new data, as CSV",
                                formatter_class=_Help)
    score.add_argument("--run", required=True, help="run directory written by train")
    score.add_argument("--data", required=True, metavar="PATH", help="a folder of images, a .npy/.npz or a .csv")
    score.add_argument("--out", default=None, help="CSV of scores (default: RUN/scores.csv)")
    score.add_argument("--batch-size", type=number(int, 1), default=256, help="examples per batch")


def _add_export(commands):
    export = commands.add_parser("export", help="write a TF Serving SavedModel of a trained run", formatter_class=_Help)
    export.add_argument("--run", required=True, help="run directory written by train")
    export.add_argument("--export-dir", required=True, help="SavedModel base directory (writes EXPORT_DIR/VERSION)")
    export.add_argument("--version", type=number(int, 1), default=1, help="version subdirectory")
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
    vocode.add_argument("--sigma", type=number(float, 0.0), default=0.6, help="latent standard deviation")
    vocode.add_argument("--denoise", type=number(float, 0.0), default=0.0, help="denoiser strength (NVIDIA: 0.1)")
    vocode.add_argument("--resample", action="store_true", help="resample a WAV at another rate (default: refuse it)")
    vocode.add_argument("--seed", type=number(int, 0), default=0, help="sampling seed")


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

