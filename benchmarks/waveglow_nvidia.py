"""Synthesis speed of the full-size WaveGlow (`ljspeech`, 87.7M parameters) against NVIDIA's PyTorch `glow.py`.

Both sides run on this machine's CPU with random weights (speed does not depend on them) and the same mel
lengths, one utterance at a time, after a warm-up call at the same length; the figure is the median of
`--repeats` timed calls, as the real-time factor (synthesis seconds per second of 22050 Hz audio), with the
process's CPU seconds and peak resident memory (after each length, the lengths in the order given).

* ours: `models.WaveGlow.from_preset("ljspeech", lu=False)` (NVIDIA's plain 1x1 matrices, what
  `WaveGlow.from_nvidia` builds), `infer(mel, sigma=0.6)`, in this environment;
* NVIDIA's: `glow.WaveGlow(80, 12, 8, 4, 2, WN 8 x 256, kernel 3)` from a checkout of NVIDIA/waveglow
  (`--nvidia-repo PATH`; nothing of it is copied), weight norm removed as `inference.py` does, `infer(mel,
  sigma=0.6)` under `torch.no_grad()`, run by `--torch-python` (an environment with PyTorch). Two shims let
  the 2018 code run on a CPU-only PyTorch 2: `torch.qr` -> `torch.linalg.qr` and `torch.cuda.FloatTensor`
  -> a CPU tensor; NVIDIA's files are not changed.

    python benchmarks/waveglow_nvidia.py --nvidia-repo ~/src/waveglow --torch-python /work/.venv-peers/bin/python
    python benchmarks/waveglow_nvidia.py --seconds 1 --repeats 2          # our side only
    python benchmarks/waveglow_nvidia.py --seconds 10 --chunk-steps 0     # our WaveNet layers unchunked

Timings need a quiet machine: on a shared one, run it twice and trust neither much.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

SAMPLE_RATE, HOP, N_MELS = 22050, 256, 80


def frames_for(seconds: float) -> int:
    return max(1, round(seconds * SAMPLE_RATE / HOP))


def time_calls(fn, repeats: int) -> list[tuple[float, float]]:
    """(wall seconds, process CPU seconds over all threads) of each timed call, after a warm-up call."""
    fn()  # warm-up at the same length: kernels, graph tracing, caches
    times = []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - start, time.process_time() - cpu))
    return times


def ours(seconds_list, repeats: int, threads: int | None, chunk_steps: int | None = None) -> dict:
    import numpy as np
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    from tfp_flows import models

    model = models.WaveGlow.from_preset("ljspeech", lu=False)
    if chunk_steps is not None:
        model.synthesis_chunk_steps = chunk_steps or None  # 0: each WaveNet over the whole utterance at once
    results = {"parameters": int(model.count_params()), "rows": [],
               "synthesis_chunk_steps": getattr(model, "synthesis_chunk_steps", None)}  # None before the attribute
    for seconds in seconds_list:
        frames = frames_for(seconds)
        mel = tf.constant(np.random.default_rng(0).normal(-5.0, 1.0, (1, N_MELS, frames)).astype(np.float32))
        times = time_calls(lambda: model.infer(mel, sigma=0.6, seed=0).numpy(), repeats)
        results["rows"].append(_row(seconds, frames, times))
    return results


def nvidia(repo: str, seconds_list, repeats: int, threads: int | None) -> dict:
    """Runs in the PyTorch environment: NVIDIA's glow.py from `repo`, nothing of tfp_flows."""
    import numpy as np
    import torch

    if threads:
        torch.set_num_threads(threads)
    torch.qr = lambda a, some=True: torch.linalg.qr(a)  # removed from PyTorch 2; glow.py's init calls it
    torch.cuda.FloatTensor = lambda *size: torch.empty(*size)  # glow.py's infer draws its noise on "cuda"
    sys.path.insert(0, os.path.abspath(repo))
    import glow

    torch.manual_seed(0)
    model = glow.WaveGlow(N_MELS, 12, 8, 4, 2, dict(n_layers=8, n_channels=256, kernel_size=3))
    model = glow.WaveGlow.remove_weightnorm(model).eval()
    results = {"parameters": int(sum(p.numel() for p in model.parameters())), "threads": torch.get_num_threads(),
               "torch": torch.__version__, "rows": []}
    for seconds in seconds_list:
        frames = frames_for(seconds)
        mel = torch.from_numpy(np.random.default_rng(0).normal(-5.0, 1.0, (1, N_MELS, frames)).astype(np.float32))

        def call():
            with torch.no_grad():
                model.infer(mel, sigma=0.6)

        results["rows"].append(_row(seconds, frames, time_calls(call, repeats)))
    return results


def _row(seconds, frames, times) -> dict:
    """Median wall time and real-time factor; CPU seconds too (less sensitive to other processes on a shared machine);
    the process's peak resident memory so far (lengths run in the order given: after the longest, its peak)."""
    audio_seconds = frames * HOP / SAMPLE_RATE
    median = statistics.median(wall for wall, _ in times)
    cpu = statistics.median(cpu for _, cpu in times)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    return dict(seconds=seconds, frames=frames, audio_seconds=round(audio_seconds, 3), times=[round(t, 3) for t, _ in times],
                median_seconds=round(median, 3), real_time_factor=round(median / audio_seconds, 3),
                cpu_seconds=round(cpu, 3), cpu_seconds_per_audio_second=round(cpu / audio_seconds, 3),
                peak_rss_gib=round(peak_rss, 2))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, nargs="+", default=[1.0, 10.0], help="audio lengths to synthesise")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per length (after one warm-up)")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads on both sides (default: the libraries')")
    parser.add_argument("--chunk-steps", type=int, default=None,
                        help="our WaveNets' synthesis chunk (grouped steps; default the model's; 0: the whole utterance at once)")
    parser.add_argument("--nvidia-repo", default=None, help="a checkout of NVIDIA/waveglow (its glow.py is timed)")
    parser.add_argument("--torch-python", default=os.environ.get("TORCH_PYTHON", "python"),
                        help="the Python of an environment with PyTorch, for NVIDIA's side")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--worker", choices=("ours", "nvidia"), default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:  # one side, in its own process, printing JSON
        side = ours(args.seconds, args.repeats, args.threads, args.chunk_steps) if args.worker == "ours" else \
            nvidia(args.nvidia_repo, args.seconds, args.repeats, args.threads)
        print("RESULT " + json.dumps(side))
        return side

    common = ["--seconds", *map(str, args.seconds), "--repeats", str(args.repeats)]
    common += ["--threads", str(args.threads)] if args.threads else []
    chunk = ["--chunk-steps", str(args.chunk_steps)] if args.chunk_steps is not None else []
    sides = {"tfp_flows": [sys.executable, __file__, "--worker", "ours", *common, *chunk]}
    if args.nvidia_repo:
        sides["nvidia_pytorch"] = [args.torch_python, __file__, "--worker", "nvidia", "--nvidia-repo", args.nvidia_repo, *common]
    results = {"cpu_count": os.cpu_count(), "load_average": os.getloadavg()}
    for name, command in sides.items():  # one side at a time: they would share the CPU
        output = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        lines = [line for line in output.stdout.splitlines() if line.startswith("RESULT ")]
        if output.returncode or not lines:
            raise SystemExit(f"{name} failed:\n{output.stderr[-3000:]}")
        results[name] = json.loads(lines[-1][len("RESULT "):])
    if "nvidia_pytorch" in results:
        pairs = list(zip(results["tfp_flows"]["rows"], results["nvidia_pytorch"]["rows"]))
        results["speedup"] = [round(n["median_seconds"] / o["median_seconds"], 2) for o, n in pairs]
        results["speedup_cpu_time"] = [round(n["cpu_seconds"] / o["cpu_seconds"], 2) for o, n in pairs]
    for name in sides:
        for row in results[name]["rows"]:
            print(f"{name:15s} {row['audio_seconds']:6.2f} s of audio: {row['median_seconds']:7.3f} s "
                  f"(real-time factor {row['real_time_factor']:.3f}; runs {row['times']}; {row['cpu_seconds']:.2f} CPU-s; "
                  f"peak RSS {row['peak_rss_gib']:.2f} GiB)")
    if "speedup" in results:
        print(f"tfp_flows speed-up over NVIDIA's PyTorch: {results['speedup']} wall time, "
              f"{results['speedup_cpu_time']} CPU time (x, per length)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return results


if __name__ == "__main__":
    main()
