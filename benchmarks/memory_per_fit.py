"""Memory growth per `fit` when one process trains model after model (sweeps, notebooks, suites).

TFP's bijector cache keeps each finished trace of a flow alive; models release those graphs
whenever they trace (`tfp_flows.bijectors.release_finished_graphs`). This trains a tiny Glow
`--rounds` times (a new model each time, one epoch on 256 digits, then `log_prob` and `sample`)
and prints the process's resident memory after each round, with the release on and, with
`--no-release`, off (TFP's behaviour).

    python benchmarks/memory_per_fit.py [--rounds 8] [--no-release]
"""
from __future__ import annotations

import argparse
import gc


def resident_mb() -> float:
    with open("/proc/self/statm") as handle:
        import os

        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(argv=None) -> list[float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--no-release", action="store_true", help="keep TFP's behaviour: finished traces stay alive")
    args = parser.parse_args(argv)

    import numpy as np
    from sklearn.datasets import load_digits

    from tfp_flows import models
    from tfp_flows.models import _model_support

    if args.no_release:
        _model_support.release_finished_graphs = lambda: 0
    x = load_digits().images[:256, :, :, None].astype(np.float32)
    sizes = []
    for round_ in range(args.rounds):
        model = models.Glow.from_preset("tiny", seed=round_)
        model.compile()
        model.fit(x, epochs=1, batch_size=64, verbose=0)
        model.log_prob(x[:8])
        model.sample(4)
        del model
        gc.collect()
        sizes.append(resident_mb())
        print(f"round {round_ + 1}: {sizes[-1]:.0f} MB", flush=True)
    growth = (sizes[-1] - sizes[1]) / max(1, len(sizes) - 2)
    print(f"growth per fit after the first two: {growth:.1f} MB ({'TFP behaviour' if args.no_release else 'with release'})")
    return sizes


if __name__ == "__main__":
    main()
