"""Tables: our RealNVP (affine and spline couplings) against zuko's NSF, same rows, batches and budget.

Each library trains with the defaults a user types, in its own process, on the same standardised
splits (`table_data.py`: scikit-learn's digits, breast cancer, wine and a 63-column table of
photograph patches built as BSDS300 is) and the same sequence of training batches (batch 256):

* ours: `models.RealNVP.from_preset("tabular", event_shape=(D,))` (`coupling="spline"` for the
  spline row), `model.compile(optimizer=keras.optimizers.Adam(1e-3))`, `model.fit(dataset, ...)`;
* zuko: `zuko.flows.NSF(D, transforms=3, hidden_features=(128, 128))`, `torch.optim.Adam(lr=1e-3)`,
  run by `peers/zuko_tables.py` in the peers' environment (`--peers-python`; see that script).

The splits are fixed by `--split-seed`; the seeds (3 by default) vary each library's
initialisation and the order of the batches. Reported per table (mean and spread = max - min): held-out log-likelihood
in nats per row of the test split after 2,000 and 10,000 steps (higher is better; a curve over
the steps as a PNG), training rows/s over steady-state steps (every step timed on its own;
the first 20 are left out), the first step (trace and compile included), the training time
to reach NSF's 2,000-step held-out number, and the time `fit` spends outside its steps
(reported apart, not counted in rows/s). Held-out numbers at fixed steps do not depend on the
machine's load; speeds do (PyTorch's threads slow down several-fold on shared cores), so run
those on a quiet machine.

Run: python benchmarks/compare_tables.py --peers-python .venv-peers/bin/python
     [--tables digits,photo_patches] [--seeds 0,1,2] [--steps 10000] [--out-dir DIR] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # benchmarks/, also when run by runpy
import table_data  # noqa: E402

BATCH, EVERY, WARM = 256, 250, 20
REPORT_STEPS = (2000, 10000)
OURS = {"realnvp": {}, "realnvp_spline": {"coupling": "spline"}}
# The vector RealNVP before the tables work (alternating halves, no dropout): `--models realnvp_former` for the before figures.
FORMER = {"realnvp_former": {"permutation": "none", "dropout": 0.0}, "realnvp_spline_former": {"coupling": "spline", "permutation": "none", "dropout": 0.0}}
MODELS = {**OURS, **FORMER}


# ----------------------------------------------------------------------------- data
def checkpoints(steps: int) -> list[int]:
    """Steps after which the held-out rows are scored: every 250 to 2,000, then every 1,000."""
    dense = list(range(EVERY, min(steps, 2000) + 1, EVERY))
    return dense + list(range(3000, steps + 1, 1000)) + ([steps] if steps > 2000 and steps % 1000 else [])


def write_npz(path: str, splits: dict, seed: int, steps: int) -> None:
    """The splits, the rows of every training batch (one reshuffle per pass) and the checkpoints."""
    rng = np.random.default_rng([seed, 7])
    rows, need, passes = len(splits["train"]), steps * BATCH, []
    while sum(len(p) for p in passes) < need:
        passes.append(rng.permutation(rows))
    batches = np.concatenate(passes)[:need].reshape(steps, BATCH).astype(np.int32)
    np.savez(path, batches=batches, checkpoints=np.asarray(checkpoints(steps)), **splits)


# ----------------------------------------------------------------------------- our side (a worker process)
def train_ours(data_path: str, out_path: str, seed: int, overrides: dict) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from tfp_flows import models

    with np.load(data_path) as data:
        splits = {name: data[name] for name in table_data.SPLITS}
        batches, marks = data["batches"], [int(step) for step in data["checkpoints"]]
    train_rows = splits["train"][batches[:16].reshape(-1)]  # 4,096 training rows, as the peer scores
    start = time.perf_counter()
    keras.utils.set_random_seed(seed)
    model = models.RealNVP.from_preset("tabular", event_shape=(splits["train"].shape[1],), **overrides)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    build_seconds = time.perf_counter() - start
    table = tf.constant(splits["train"])
    dataset = tf.data.Dataset.from_tensor_slices(batches).map(lambda rows: tf.gather(table, rows)).prefetch(2)

    step_times, curve, scoring = [], [], []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            float(logs["loss"])  # the step has finished
            step_times.append(time.perf_counter() - self.start)

        def on_epoch_end(self, epoch, logs=None):
            step = (epoch + 1) * EVERY
            if step not in marks:
                return
            begin = time.perf_counter()
            score = lambda rows: float(np.mean(model.log_prob(rows).numpy()))  # noqa: E731
            curve.append(dict(step=step, test=score(splits["test"]), validation=score(splits["validation"]),
                              train=score(train_rows), train_seconds=float(np.sum(step_times)), loss=float(logs["loss"])))
            scoring.append(time.perf_counter() - begin)

    begin = time.perf_counter()
    model.fit(dataset, epochs=marks[-1] // EVERY, steps_per_epoch=EVERY, callbacks=[Clock()], verbose=0)
    fit_seconds = time.perf_counter() - begin
    result = dict(
        library="tfp_flows", model=f"RealNVP.from_preset('tabular', {overrides or ''})", parameters=model.count_params(),
        batch=BATCH, curve=curve, first_step_seconds=step_times[0], step_seconds=step_times, build_seconds=build_seconds,
        fit_overhead_seconds=fit_seconds - float(np.sum(step_times)) - float(np.sum(scoring)),
        versions=dict(tensorflow=tf.__version__, keras=keras.__version__),
    )
    with open(out_path, "w") as handle:
        json.dump(result, handle)


# ----------------------------------------------------------------------------- summaries
def at_step(result: dict, step: int) -> float | None:
    return next((point["test"] for point in result["curve"] if point["step"] == step), None)


def rows_per_second(result: dict) -> float:
    steady = result["step_seconds"][WARM:]
    return len(steady) * result["batch"] / float(np.sum(steady))


def time_to(result: dict, target: float) -> float | None:
    """Training seconds (first step included, scoring excluded) until the held-out score first reaches `target`."""
    return next((point["train_seconds"] for point in result["curve"] if point["test"] >= target), None)


def summarise(results: dict, tables, seeds, steps) -> tuple[str, dict]:
    """A markdown table per the brief and the numbers behind it."""
    lines = ["| table | model | parameters | held-out nats/row @2k, mean (spread) | @10k | train rows/s (x NSF) | "
             f"first step s | s to NSF's {min(2000, steps):,}-step number | fit overhead s |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    summary = {}
    for table in tables:
        nsf = [results[(table, "nsf", seed)] for seed in seeds]
        for name in ["nsf"] + list(MODELS):
            runs = [results.get((table, name, seed)) for seed in seeds]
            if any(run is None for run in runs):
                continue
            cells = {}
            for step in (s for s in REPORT_STEPS if s <= steps):
                values = [at_step(run, step) for run in runs]
                cells[step] = (float(np.mean(values)), float(np.ptp(values)))
            rate = float(np.mean([rows_per_second(run) for run in runs]))
            nsf_rate = float(np.mean([rows_per_second(run) for run in nsf]))
            reach = [time_to(run, at_step(peer, min(2000, steps))) for run, peer in zip(runs, nsf)]
            reached = [t for t in reach if t is not None]
            summary[f"{table}/{name}"] = dict(
                held_out={str(k): v for k, v in cells.items()}, rows_per_second=rate, speed_vs_nsf=rate / nsf_rate,
                first_step_seconds=float(np.mean([run["first_step_seconds"] for run in runs])),
                seconds_to_nsf_2k=reach, parameters=runs[0]["parameters"],
                fit_overhead_seconds=[run.get("fit_overhead_seconds") for run in runs],
            )
            held = " | ".join(f"{cells[s][0]:.2f} ({cells[s][1]:.2f})" if s in cells else "" for s in REPORT_STEPS)
            reach_text = f"{np.mean(reached):.1f}" + ("" if len(reached) == len(reach) else f" ({len(reached)}/{len(reach)} seeds)") if reached else "not reached"
            overhead = "" if name == "nsf" else f"{np.mean([run['fit_overhead_seconds'] for run in runs]):.1f}"
            lines.append(f"| {table} | {name} | {runs[0]['parameters']:,} | {held} | {rate:,.0f} ({rate / nsf_rate:.2f}x) | "
                         f"{summary[f'{table}/{name}']['first_step_seconds']:.2f} | {reach_text} | {overhead} |")
    return "\n".join(lines), summary


def plot(results: dict, tables, seeds, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tables), figsize=(4.2 * len(tables), 3.4), squeeze=False)
    for axis, table in zip(axes[0], tables):
        for name in ["nsf"] + list(MODELS):
            runs = [results.get((table, name, seed)) for seed in seeds]
            if any(run is None for run in runs):
                continue
            steps = [point["step"] for point in runs[0]["curve"]]
            values = np.array([[point["test"] for point in run["curve"]] for run in runs])
            axis.plot(steps, values.mean(axis=0), label="zuko NSF" if name == "nsf" else f"ours: {name}")
            axis.fill_between(steps, values.min(axis=0), values.max(axis=0), alpha=0.2)
        scores = [p["test"] for (t, _, _), run in results.items() if t == table for p in run["curve"]]
        low, high = np.percentile(scores, 10), max(scores)  # the first, far-off points would flatten the curves
        axis.set_ylim(low - 0.1 * (high - low), high + 0.05 * (high - low))
        axis.set_title(table)
        axis.set_xlabel("training steps (batch 256)")
        axis.set_ylabel("held-out nats per row")
        axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# ----------------------------------------------------------------------------- driver
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers-python", default=os.path.join(".venv-peers", "bin", "python"),
                        help="the Python of the peers' venv (torch + zuko)")
    parser.add_argument("--tables", default=",".join(table_data.TABLES))
    parser.add_argument("--seeds", default="0,1,2", help="seeds of the initialisation and the batch order")
    parser.add_argument("--split-seed", type=int, default=0, help="the seed of the splits (and dequantization noise)")
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--models", default=",".join(OURS), help=f"ours, among {sorted(MODELS)} ('none': only the peer)")
    parser.add_argument("--out-dir", default=os.path.join("runs", "compare_tables"))
    parser.add_argument("--peer-threads", type=int, default=None, help="torch threads (default: PyTorch's choice)")
    parser.add_argument("--quick", action="store_true", help="one seed, 500 steps, digits and wine (a smoke run)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        train_ours(args.data, args.out, args.seed, MODELS[args.worker])
        return 0
    if args.quick:
        args.seeds, args.steps, args.tables = "0", 500, "digits,wine"
    tables, seeds = args.tables.split(","), [int(s) for s in args.seeds.split(",")]
    names = [name for name in args.models.split(",") if name and name != "none"]  # "none": the peer alone
    unknown = [t for t in tables if t not in table_data.TABLES] + [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown table or model {unknown[0]!r}")
    if not os.path.exists(args.peers_python):
        parser.error(f"--peers-python {args.peers_python} does not exist; make the venv as peers/zuko_tables.py says")
    os.makedirs(args.out_dir, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.path.dirname(HERE), os.environ.get("PYTHONPATH")])))
    results = {}
    splits_by_table = table_data.load_tables(tables, seed=args.split_seed)
    for seed in seeds:
        for table in tables:
            data_path = os.path.join(args.out_dir, f"{table}-seed{seed}.npz")
            write_npz(data_path, splits_by_table[table], seed, args.steps)
            jobs = [("nsf", [args.peers_python, os.path.join(HERE, "peers", "zuko_tables.py"), "--seed", str(seed)]
                     + (["--threads", str(args.peer_threads)] if args.peer_threads else []))]
            jobs += [(name, [sys.executable, os.path.abspath(__file__), "--worker", name, "--seed", str(seed)]) for name in names]
            for name, command in jobs:
                out = os.path.join(args.out_dir, f"{table}-{name}-seed{seed}.json")
                if not os.path.exists(out):
                    print(f"{table} seed {seed}: {name}", flush=True)
                    subprocess.run(command + ["--data", data_path, "--out", out], check=True, env=env)
                with open(out) as handle:
                    results[(table, name, seed)] = json.load(handle)
    markdown, summary = summarise(results, tables, seeds, args.steps)
    plot(results, tables, seeds, os.path.join(args.out_dir, "tables.png"))
    with open(os.path.join(args.out_dir, "tables.md"), "w") as handle:
        handle.write(markdown + "\n")
    with open(os.path.join(args.out_dir, "summary.json"), "w") as handle:
        json.dump(summary, handle, indent=1)
    print(markdown)
    print(f"curves: {os.path.join(args.out_dir, 'tables.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
