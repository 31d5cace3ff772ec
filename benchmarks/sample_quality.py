"""Sample quality of trained digits runs: how often a classifier of real digits is confident on samples.

The kernel-density classifier of the 1257 real training digits with a "none of them"
background (`tfp_flows.training.sample_quality.DigitScorer`) scores images by the fraction
on which its highest class probability is above 0.9 ("confident"). "rarest class" is the
share of the least frequent predicted digit (10% if balanced). The reference rows are the
360 real test digits (with the classifier's test accuracy), blends of two of them of
different classes (pixelwise means, rounded) and uniform noise; then, per run directory
and temperature, `--num` samples quantised to the data's levels 0..16 (`model.to_levels`),
next to the run's test bits/dim (uniform dequantization, mean of `--test-passes` draws)
from the checkpoint `tfp-flows evaluate` uses (best, else last).

Run (after `tfp-flows train` and `tfp-flows train --model realnvp`):
  python benchmarks/sample_quality.py --run runs/glow-digits runs/realnvp-digits [--json quality.json]
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np

from tfp_flows import data
from tfp_flows.training import RunDir
from tfp_flows.training.sample_quality import DigitScorer, blends, real_test_digits

import results_file  # benchmarks/results_file.py, beside this script


def test_bits_per_dim(model, passes: int, seed: int = 0) -> float:
    import keras

    keras.utils.set_random_seed(seed)
    test = data.load("digits", "test", batch_size=360, shuffle=False)
    return float(np.mean([np.mean(model.bits_per_dim(batch, noise=True)) for _ in range(passes) for batch in test]))


def score_run(path: str, scorer: DigitScorer, temperatures, num: int, passes: int, seed: int) -> list[dict]:
    run = RunDir(path)
    config = run.read_json("config.json")
    if config.get("dataset") != "digits":
        raise ValueError(f"{run.path}: expected a run on the embedded digits, got dataset {config.get('dataset')!r}.")
    checkpoint = run.best_or_last()
    model = run.load_model(checkpoint, compile=False)
    bpd = test_bits_per_dim(model, passes, seed)
    rows = []
    for temperature in temperatures:
        levels = model.to_levels(model.sample(num, temperature=temperature, seed=seed)).numpy()
        rows.append(dict(
            model=type(model).__name__, preset=config.get("preset"), run=os.path.basename(run.path), checkpoint=checkpoint,
            temperature=temperature, test_bits_per_dim=bpd, confident=scorer.confident_fraction(levels),
            classes=scorer.class_histogram(levels).tolist(), num_samples=num,
        ))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", nargs="*", default=[], help="run directories of digits models")
    parser.add_argument("--temperatures", nargs="+", type=float, default=[0.5, 0.7, 1.0])
    parser.add_argument("--num", type=int, default=500, help="samples per run and temperature")
    parser.add_argument("--test-passes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    parser.add_argument("--markdown", default=None, help="also write the table as a results file (benchmarks/results/sample_quality.md)")
    args = parser.parse_args(argv)

    scorer = DigitScorer.fit()
    images, labels = real_test_digits()
    mixtures = blends(images, labels, 1000, seed=args.seed)
    noise = np.random.default_rng(args.seed).integers(0, 17, size=(1000, 8, 8, 1))
    reference = [
        dict(images=f"real test digits ({len(images)})", accuracy=scorer.accuracy(images, labels),
             confident=scorer.confident_fraction(images), classes=scorer.class_histogram(images).tolist(), num_samples=len(images)),
        dict(images=f"blends of two test digits of different classes ({len(mixtures)})",
             confident=scorer.confident_fraction(mixtures), classes=scorer.class_histogram(mixtures).tolist(), num_samples=len(mixtures)),
        dict(images=f"uniform noise over the 17 levels ({len(noise)})", confident=scorer.confident_fraction(noise),
             classes=scorer.class_histogram(noise).tolist(), num_samples=len(noise)),
    ]
    rows = [row for path in args.run for row in score_run(path, scorer, args.temperatures, args.num, args.test_passes, args.seed)]

    print(f"classifier accuracy on the {len(labels)} real test digits: {reference[0]['accuracy']:.1%}")
    table = ["| images | temperature | test bits/dim | confident (p > 0.9) | rarest class |", "|---|---:|---:|---:|---:|"]
    for r in reference:
        table.append(f"| {r['images']} | - | - | {r['confident']:.0%} | {min(r['classes']) / r['num_samples']:.0%} |")
    for r in rows:
        table.append(f"| {r['model']} `{r['preset']}` ({r['run']}) | {r['temperature']} | {r['test_bits_per_dim']:.3f} | "
                     f"{r['confident']:.0%} | {min(r['classes']) / r['num_samples']:.0%} |")
    print("\n".join(table))
    if args.markdown:
        results_file.write(args.markdown, table)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(dict(reference=reference, runs=rows), handle, indent=2)
    return dict(reference=reference, runs=rows)


if __name__ == "__main__":
    main()
