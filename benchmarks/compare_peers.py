"""Side by side with the peers: our Glow, normflows' Glow (PyTorch) and TFP's `tfb.Glow` on natural-image crops.

Data: the two photographs scikit-learn ships (`sklearn.datasets.load_sample_images`: china.jpg and
flower.jpg, 427x640 RGB), cut into vertical bands 64 pixels wide; every fourth band is held out, so
no held-out crop overlaps a training crop. Two tasks, each the same Glow in every library:

  8x8      grey crops (ITU-R 601 luma), levels 2, steps 4, width 64, batch 64
  32x32x3  colour crops,                 levels 3, steps 8, width 128, batch 16

with affine couplings (`sigmoid(h + 2)` scales), LU 1x1 convolutions, ActNorm, `y = (x + u) / 256`
(ours and TFP's) or `(x + u) / 256 - 1/2` (normflows': the same density), Adam 1e-3, and the same
batches in the same order (drawn per seed). Each library is typed as its users type it: ours is
`models.Glow(event_shape, levels=, steps=, hidden_channels=)`,
`compile(optimizer=keras.optimizers.Adam(1e-3))`, one `fit`, `sample`, `log_prob`; normflows' is its
Glow example (`benchmarks/peers/normflows_glow.py`); TFP's is `tfb.Glow` with its default networks
and a `tf.function` training step. Every run is its own process, one at a time.

Reported per library (mean over seeds, spread = max - min): held-out bits/dim at the evaluation steps
(every held-out crop with one fixed uniform dequantization), the wall time to reach normflows' mean
300-step bits/dim (model construction, tracing and every step included; evaluations and imports
excluded), steady-state training and sampling img/s (the step's own time, step 6 on; sampling is the
median of 10 calls of `sample(batch)`), the first step (ours: `fit` called to the end of step 1, data
initialisation and tracing included), and the process' peak resident memory. Keras' per-`fit`-call
overhead is in `benchmarks/fit_overhead.py`.

Peers live in their own venv, never in ours:
  python -m venv .venv-peers && .venv-peers/bin/pip install torch normflows zuko
PyTorch's threads slow down several-fold when another process shares the cores: run on a quiet machine.

Run: python benchmarks/compare_peers.py [--sizes 8x8 32x32x3] [--seeds 0 1 2] [--steps 1000] [--reuse OLD.json]
     [--libraries ours normflows tfp] [--peers-python .venv-peers/bin/python] [--out docs/results]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = {
    "8x8": dict(shape=(8, 8, 1), levels=2, steps=4, hidden=64, batch=64, pool=20000, test=4096),
    "32x32x3": dict(shape=(32, 32, 3), levels=3, steps=8, hidden=128, batch=16, pool=6000, test=512),
}
BAND, NUM_BINS, LEARNING_RATE = 64, 256, 1e-3
LIBRARIES = ("ours", "normflows", "tfp")


# ----------------------------------------------------------------------------- data
def photo_crops(size: int, channels: int, count: int, held_out: bool, seed: int) -> np.ndarray:
    """`count` uint8 crops `[count, size, size, channels]` of scikit-learn's sample photographs.

    Crops lie inside 64-pixel vertical bands: bands `b % 4 == 3` are held out, the others train.
    """
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    rng = np.random.default_rng(seed)
    crops = np.empty((count, size, size, channels), np.uint8)
    for i in range(count):
        photo = photos[rng.integers(len(photos))]
        height, width, _ = photo.shape
        bands = [b for b in range(width // BAND) if (b % 4 == 3) == held_out]
        left = bands[rng.integers(len(bands))] * BAND + rng.integers(0, BAND - size + 1)
        top = rng.integers(0, height - size + 1)
        crop = photo[top:top + size, left:left + size].astype(np.float64)
        if channels == 1:
            crop = crop @ np.array([0.299, 0.587, 0.114])[:, None]
        crops[i] = np.clip(np.round(crop), 0, 255).astype(np.uint8)
    return crops


def write_task(path: str, size: str, seed: int, steps: int, evals: list[int]) -> None:
    """The task every library's worker reads: data, held-out noise, the batches in order, the config."""
    spec = SIZES[size]
    height, _, channels = spec["shape"]
    train = photo_crops(height, channels, spec["pool"], held_out=False, seed=0)
    test = photo_crops(height, channels, spec["test"], held_out=True, seed=1)
    rng = np.random.default_rng(seed)
    config = dict(size=size, seed=seed, levels=spec["levels"], steps=spec["steps"], hidden=spec["hidden"],
                  batch=spec["batch"], sample_batch=spec["batch"], learning_rate=LEARNING_RATE, num_bins=NUM_BINS,
                  evals=sorted(set(evals)))
    np.savez(path, train=train, test=test, test_noise=np.random.default_rng(123).uniform(size=test.shape).astype(np.float32),
             batches=rng.integers(0, len(train), (steps, spec["batch"])), config=json.dumps(config))


def _read_task(path: str):
    task = np.load(path)
    return task, json.loads(str(task["config"]))


def _peak_rss_mb() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return -1


def _held_out_bits_per_dim(log_prob_fn, test, noise, chunk=256) -> float:
    y = (test.astype(np.float32) + noise) / NUM_BINS
    log_p = np.concatenate([np.asarray(log_prob_fn(y[i:i + chunk])) for i in range(0, len(y), chunk)])
    dims = int(np.prod(test.shape[1:]))
    return float(np.mean(-log_p / (dims * math.log(2.0)) + math.log2(NUM_BINS)))


# ----------------------------------------------------------------------------- workers (one process each)
def run_ours(task_path: str) -> dict:
    """Our Glow as a user types it: constructor, `compile(Adam)`, one `fit`, `log_prob`, `sample`."""
    import keras
    import tensorflow as tf
    from tfp_flows import models

    task, config = _read_task(task_path)
    keras.utils.set_random_seed(config["seed"])
    train, batches, evals = task["train"], task["batches"], set(config["evals"])
    start = time.perf_counter()
    model = models.Glow(event_shape=train.shape[1:], levels=config["levels"], steps=config["steps"],
                        hidden_channels=config["hidden"])
    model.compile(optimizer=keras.optimizers.Adam(config["learning_rate"]))
    build_s = time.perf_counter() - start
    dataset = tf.data.Dataset.from_tensor_slices(train[batches.reshape(-1)]).batch(config["batch"])
    step_s, curve, paused = [], [], [0.0]

    class Timer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.begin = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            step_s.append(time.perf_counter() - self.begin)
            if batch == 0:
                self.first = time.perf_counter() - fit_start
            if batch + 1 in evals:
                begin = time.perf_counter()
                bpd = _held_out_bits_per_dim(model.log_prob, task["test"], task["test_noise"])
                paused[0] += time.perf_counter() - begin
                curve.append((batch + 1, round(time.perf_counter() - start - paused[0], 3), round(bpd, 4)))

    timer = Timer()
    fit_start = time.perf_counter()
    model.fit(dataset, epochs=1, verbose=0, callbacks=[timer])
    fit_s = time.perf_counter() - fit_start - paused[0]
    sample_s = _median_call_s(lambda: model.sample(config["sample_batch"]).numpy())
    return dict(library="ours", params=model.count_params(), build_s=round(build_s, 3), first_step_s=round(timer.first, 3),
                fit_overhead_s=round(fit_s - sum(step_s), 3), step_s=[round(s, 5) for s in step_s], curve=curve,
                sample_s=sample_s, peak_rss_mb=_peak_rss_mb())


def run_tfp(task_path: str) -> dict:
    """TFP's `tfb.Glow` (default networks) with a `tf.function` training step, as a TFP user writes it."""
    import keras
    import tensorflow as tf
    import tf_keras

    sys.path.insert(0, HERE)
    import time_to_quality

    task, config = _read_task(task_path)
    keras.utils.set_random_seed(config["seed"])
    train, batches, evals = task["train"], task["batches"], set(config["evals"])
    rng = np.random.default_rng(config["seed"] + 1000)
    dequantize = lambda x: ((x + rng.uniform(size=x.shape)) / NUM_BINS).astype(np.float32)  # noqa: E731
    start = time.perf_counter()
    dist = time_to_quality.tfp_glow_distribution(tuple(train.shape[1:]), config["levels"], config["steps"], config["hidden"])
    dist.log_prob(dequantize(train[batches[0]]))  # creates the variables
    variables = dist.bijector.trainable_variables
    train_step = time_to_quality.tfp_train_step(dist, variables, tf_keras.optimizers.Adam(config["learning_rate"]))
    log_prob = tf.function(dist.log_prob)
    build_s = time.perf_counter() - start
    step_s, curve, paused = [], [], 0.0
    for step, index in enumerate(batches, start=1):
        y = tf.constant(dequantize(train[index]))
        begin = time.perf_counter()
        float(train_step(y))
        step_s.append(time.perf_counter() - begin)
        if step in evals:
            begin = time.perf_counter()
            bpd = _held_out_bits_per_dim(log_prob, task["test"], task["test_noise"])
            paused += time.perf_counter() - begin
            curve.append((step, round(time.perf_counter() - start - paused, 3), round(bpd, 4)))
    sample = tf.function(lambda n: dist.sample(n, seed=1))
    sample_s = _median_call_s(lambda: sample(config["sample_batch"]).numpy())
    return dict(library="tfp", params=int(sum(np.prod(v.shape) for v in variables)), build_s=round(build_s, 3),
                first_step_s=round(step_s[0], 3), step_s=[round(s, 5) for s in step_s], curve=curve, sample_s=sample_s,
                peak_rss_mb=_peak_rss_mb())


def _median_call_s(call, repeats: int = 10) -> float:
    call()  # trace
    call()
    times = []
    for _ in range(repeats):  # the median call: single calls of a few ms are noisy
        begin = time.perf_counter()
        call()
        times.append(time.perf_counter() - begin)
    return float(np.median(times))


# ----------------------------------------------------------------------------- driver
def _size_of(path: str) -> str:
    name = os.path.basename(path)
    for size in SIZES:
        if name == f"compare_peers_{size}.json":
            return size
    raise SystemExit(f"--reuse {path}: expected a compare_peers_<size>.json file written by --out, one of "
                     f"{[f'compare_peers_{size}.json' for size in SIZES]}")


def _machine(load_before: float) -> str:
    """The machine and its load: PyTorch's figures in particular mean little on a busy machine."""
    sys.path.insert(0, HERE)
    import results_file

    return (f"{time.strftime('%Y-%m-%d')}, {results_file.cpu_model()}, {os.cpu_count()} cores, load average "
            f"{load_before:.1f} at the start and {os.getloadavg()[0]:.1f} at the end")


def run_worker(library: str, task_path: str, peers_python: str) -> dict:
    if library == "normflows":
        command = [peers_python, os.path.join(HERE, "peers", "normflows_glow.py"), task_path]
    else:
        command = [sys.executable, os.path.abspath(__file__), "--worker", library, task_path]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONWARNINGS="ignore")
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{library} worker failed ({' '.join(command)}):\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _steady_img_s(run: dict, batch: int) -> float:
    steady = run["step_s"][5:]
    return batch * len(steady) / sum(steady)


def _time_to(curve, target):
    """Seconds (training clock) of the first evaluation at or below `target`, or None."""
    return next((seconds for _, seconds, bpd in curve if bpd <= target + 1e-9), None)


def summarize(runs: dict, sizes, report_steps) -> tuple[dict, str]:
    """Per size and library: bits/dim at `report_steps` (mean, spread), time to normflows' 300-step mean, speeds."""
    summary, lines = {}, []
    for size in sizes:
        batch = SIZES[size]["batch"]
        by_lib = runs[size]
        target = None
        if "normflows" in by_lib:
            at300 = [bpd for run in by_lib["normflows"] for step, _, bpd in run["curve"] if step == 300]
            target = float(np.mean(at300)) if at300 else None
        summary[size] = {}
        for library, lib_runs in by_lib.items():
            row = dict(seeds=len(lib_runs))
            for steps in report_steps:
                values = [bpd for run in lib_runs for step, _, bpd in run["curve"] if step == steps]
                if values:
                    row[f"bpd_{steps}"] = (round(float(np.mean(values)), 3), round(float(np.ptp(values)), 3))
            if target is not None:
                reached = [_time_to(run["curve"], target) for run in lib_runs]
                row["time_to_target_s"] = (round(float(np.mean(reached)), 1) if all(r is not None for r in reached)
                                           else None)
                row["target_bpd"] = round(target, 3)
            row["train_img_s"] = round(float(np.mean([_steady_img_s(run, batch) for run in lib_runs])), 1)
            row["sample_img_s"] = round(float(np.mean([batch / run["sample_s"] for run in lib_runs])), 1)
            row["first_step_s"] = round(float(np.mean([run["first_step_s"] for run in lib_runs])), 2)
            row["peak_rss_mb"] = int(np.max([run["peak_rss_mb"] for run in lib_runs]))
            if "fit_overhead_s" in lib_runs[0]:
                row["fit_overhead_s"] = round(float(np.max([run["fit_overhead_s"] for run in lib_runs])), 2)
            summary[size][library] = row
        lines += _markdown(size, summary[size], report_steps)
    return summary, "\n".join(lines)


def _markdown(size, rows, report_steps) -> list[str]:
    spec = SIZES[size]
    head = [f"### {size}: levels {spec['levels']}, steps {spec['steps']}, width {spec['hidden']}, batch {spec['batch']}", ""]
    cols = [f"bits/dim at {s}" for s in report_steps] + [
        "time to normflows' 300-step bits/dim", "train img/s", "sample img/s", "first step", "peak memory"]
    head += ["| library | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for library, row in rows.items():
        cells = []
        for steps in report_steps:
            mean_spread = row.get(f"bpd_{steps}")
            cells.append(f"{mean_spread[0]:.3f} ({mean_spread[1]:.2f})" if mean_spread else "-")
        reached = row.get("time_to_target_s")
        cells.append("-" if "target_bpd" not in row else (f"{reached:.1f} s" if reached is not None else "not reached"))
        cells += [f"{row['train_img_s']:.0f}", f"{row['sample_img_s']:.0f}", f"{row['first_step_s']:.2f} s",
                  f"{row['peak_rss_mb']} MB"]
        head.append(f"| {library} | " + " | ".join(cells) + " |")
    return head + [""]


def plot(runs: dict, size: str, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = dict(ours="tab:blue", normflows="tab:orange", tfp="tab:green")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for library, lib_runs in runs[size].items():
        for i, run in enumerate(lib_runs):
            steps, seconds, bpd = zip(*run["curve"])
            label = library if i == 0 else None
            axes[0].plot(steps, bpd, color=colours.get(library), alpha=0.8, label=label)
            axes[1].plot(seconds, bpd, color=colours.get(library), alpha=0.8, label=label)
    axes[0].set_xlabel("training step")
    axes[1].set_xlabel("wall seconds (construction, tracing and steps; evaluations excluded)")
    for axis in axes:
        axis.set_ylabel("held-out bits/dim")
        axis.grid(alpha=0.3)
        axis.legend()
    fig.suptitle(f"Glow on {size} photograph crops, one line per seed")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=("ours", "tfp"), help=argparse.SUPPRESS)
    parser.add_argument("task", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=1000, help="training steps per run (evaluated along the way)")
    parser.add_argument("--libraries", nargs="+", default=list(LIBRARIES), choices=LIBRARIES)
    parser.add_argument("--peers-python", default=os.path.join(os.path.dirname(HERE), ".venv-peers", "bin", "python"),
                        help="the Python of a venv with torch and normflows")
    parser.add_argument("--out", default=None, help="folder for compare_peers_<size>.json and .md (the docs include "
                        "benchmarks/results/compare_peers_<size>.md)")
    parser.add_argument("--images", default=os.path.join(os.path.dirname(HERE), "docs", "images"),
                        help="folder for the curves, compare_peers_<size>.png")
    parser.add_argument("--reuse", nargs="+", help="compare_peers_<size>.json files of an earlier run: their libraries "
                        "that are not in --libraries join the table (same seeds and steps)")
    args = parser.parse_args(argv)
    if args.worker:
        result = run_ours(args.task) if args.worker == "ours" else run_tfp(args.task)
        print(json.dumps(result))
        return result
    if "normflows" in args.libraries and not os.path.exists(args.peers_python):
        parser.error(f"--peers-python {args.peers_python} does not exist; make the venv (see --help) or drop normflows "
                     "from --libraries")
    report_steps = [s for s in (100, 300, 1000) if s <= args.steps]
    evals = sorted({s for s in (25, 50, 75, 100, 150, 200, 250, 300, 400, 500, 600, 800, 1000) if s <= args.steps}
                   | {args.steps})
    runs, load_before = {}, os.getloadavg()[0]
    reused = {}
    for path in args.reuse or []:  # earlier runs of other libraries, e.g. the peers timed on a quieter machine
        with open(path) as handle:
            earlier = json.load(handle)
        reused[_size_of(path)] = earlier["runs"]
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            runs[size] = {library: [] for library in args.libraries}
            for library, lib_runs in reused.get(size, {}).items():
                if library not in args.libraries:
                    runs[size][library] = lib_runs
            for seed in args.seeds:
                task = os.path.join(folder, f"{size}_{seed}.npz")
                write_task(task, size, seed, args.steps, evals)
                for library in args.libraries:
                    run = run_worker(library, task, args.peers_python)
                    runs[size][library].append(run)
                    last = run["curve"][-1]
                    print(f"{size} seed {seed} {library:9s}: bits/dim {last[2]:.3f} at step {last[0]}, "
                          f"first step {run['first_step_s']:.2f} s, "
                          f"train {_steady_img_s(run, SIZES[size]['batch']):.0f} img/s", flush=True)
    summary, markdown = summarize(runs, args.sizes, report_steps)
    machine = _machine(load_before)
    print(markdown + f"\n{machine}")
    if args.out:
        sys.path.insert(0, HERE)
        import results_file

        os.makedirs(args.out, exist_ok=True)
        for size in args.sizes:  # one set of files per size: sizes can be run (and rerun) apart
            stem = os.path.join(args.out, f"compare_peers_{size}")
            with open(stem + ".json", "w") as handle:
                json.dump(dict(summary=summary[size], runs=runs[size], argv=sys.argv[1:], machine=machine), handle)
            table = [line for line in _markdown(size, summary[size], report_steps) if line.startswith("|")]
            with open(stem + ".md", "w") as handle:  # the Results page includes it
                handle.write(results_file.render(table).replace(" · Date:", f"; load average{machine.split('load average', 1)[1]} · Date:"))
            os.makedirs(args.images, exist_ok=True)
            plot(runs, size, os.path.join(args.images, f"compare_peers_{size}.png"))
    return summary


if __name__ == "__main__":
    main()
