"""Class-conditional runs on digits: does a sample of class k look like a k? And the flow as a classifier.

For each run directory (trained with `tfp-flows train --conditional`), `--num` samples per
class at each temperature, quantised to the levels 0..16 (`model.to_levels`), are given to
the kernel-density classifier of real digits (`tfp_flows.training.sample_quality`): "on
label" is the share it assigns to the class the sample was drawn for (10% by chance),
"confident" the share on which its highest probability is above 0.9 (never on noise). Then the run's test bits/dim given the label
(uniform dequantization, mean of `--test-passes` draws), its marginal bits/dim without the
label (the mixture `p(x) = sum_k p(x | k) / K`, same draws) and the flow's own Bayes-rule
test accuracy (`model.classify`, bin centres, uniform class prior), next to the scorer's.

Run (after `tfp-flows train --model glow --conditional --output runs/glow-digits-conditional`):
  python benchmarks/conditional_digits.py --run runs/glow-digits-conditional [--json out.json]
"""
from __future__ import annotations

import argparse
import json

import math

import numpy as np
import tensorflow as tf

from tfp_flows import data
from tfp_flows.training import RunDir
from tfp_flows.training.images import class_grid_samples
from tfp_flows.training.sample_quality import DigitScorer, real_test_digits

import results_file  # benchmarks/results_file.py, beside this script


def score_run(path: str, scorer: DigitScorer, temperatures, num: int, passes: int, seed: int) -> list[dict]:
    import keras

    run = RunDir(path)
    config = run.read_json("config.json")
    if config.get("dataset") != "digits" or not config.get("num_classes"):
        raise SystemExit(f"{path}: not a class-conditional digits run (tfp-flows train --conditional).")
    model = run.load_model(run.best_or_last(), compile=False)
    images, labels = real_test_digits()
    keras.utils.set_random_seed(seed)
    test = data.load("digits", "test", batch_size=360, shuffle=False, with_labels=True)
    bits, marginal = [], []
    for _ in range(passes):
        for x, l in test:
            y = model.dequantize(x, noise=True)
            per_class = model.class_log_likelihoods(y, discrete=False)  # log p(y | k), [N, K]
            discrete = model.num_dims * math.log(model.num_bins)
            given = tf.gather(per_class, l, batch_dims=1)
            mixture = tf.reduce_logsumexp(per_class, axis=-1) - math.log(model.num_classes)
            bits.append(np.mean(-(given.numpy() - discrete) / (model.num_dims * math.log(2.0))))
            marginal.append(np.mean(-(mixture.numpy() - discrete) / (model.num_dims * math.log(2.0))))
    bits, marginal = float(np.mean(bits)), float(np.mean(marginal))
    accuracy = float(np.mean(np.asarray(model.classify(images)) == labels))
    rows = []
    for temperature in temperatures:
        samples, sample_labels = class_grid_samples(model, num, temperature, seed)
        levels = model.to_levels(samples).numpy()
        predicted = scorer.predict(levels)
        rows.append(dict(
            run=path, model=config["model"], temperature=temperature, test_bits_per_dim=bits, marginal_bits_per_dim=marginal,
            flow_accuracy=accuracy,
            on_label=float(np.mean(predicted == sample_labels)), confident=scorer.confident_fraction(levels),
            on_label_by_class=[float(np.mean(predicted[sample_labels == k] == k)) for k in range(10)],
        ))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", nargs="+", required=True, help="class-conditional digits run directories")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.7, 1.0])
    parser.add_argument("--num", type=int, default=100, help="samples per class")
    parser.add_argument("--test-passes", type=int, default=10, help="dequantization draws for test bits/dim")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the rows as JSON")
    parser.add_argument("--markdown", default=None, help="also write the table as a results file (benchmarks/results/)")
    args = parser.parse_args(argv)
    scorer = DigitScorer.fit()
    images, labels = real_test_digits()
    print(f"digit scorer on the real test digits: accuracy {scorer.accuracy(images, labels):.1%}")
    table = ["| run | temperature | test bits/dim given the label | marginal (no label) | flow's Bayes-rule accuracy "
             "| samples on label | confident |", "|---|---:|---:|---:|---:|---:|---:|"]
    rows = [row for path in args.run for row in score_run(path, scorer, args.temperatures, args.num, args.test_passes, args.seed)]
    for row in rows:
        table.append(f"| {row['model']} ({row['run']}) | {row['temperature']} | {row['test_bits_per_dim']:.3f} "
                     f"| {row['marginal_bits_per_dim']:.3f} | {row['flow_accuracy']:.1%} "
                     f"| {row['on_label']:.0%} | {row['confident']:.0%} |")
    print("\n".join(table))
    if args.markdown:
        results_file.write(args.markdown, table)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
