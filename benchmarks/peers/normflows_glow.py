"""normflows' Glow on a task written by `benchmarks/compare_peers.py` (runs in the peers' venv, not ours).

Needs numpy, torch and normflows only: `python -m venv .venv-peers && .venv-peers/bin/pip install torch
normflows zuko`. The model is normflows' own Glow example (examples/glow.ipynb): `levels` levels of `steps`
`GlowBlock`s (affine coupling with `sigmoid(h + 2)` scales, LU 1x1 convolution, ActNorm), a `Squeeze` per
level, `Merge` splits, and a learned per-channel `GlowBase` prior for every level's latent; Adam with the
task's learning rate, as its example trains.

The task file (`.npz`) holds `train` (uint8 `[N, H, W, C]`), `test`, `test_noise` (the held-out
dequantization), `batches` (`[steps, batch]` indices into `train`) and a JSON `config`. One line of JSON
on stdout reports the held-out bits/dim at the evaluation steps, step times, sampling speed and memory,
in the same fields as our worker.
"""
from __future__ import annotations

import json
import math
import sys
import time

import numpy as np
import torch
import normflows as nf


def build_glow(shape_chw, levels, steps, hidden):
    """normflows' Glow example with an unconditional `GlowBase` per level."""
    channels, height, width = shape_chw
    q0, merges, flows = [], [], []
    for i in range(levels):
        level = [nf.flows.GlowBlock(channels * 2 ** (levels + 1 - i), hidden, split_mode="channel", scale=True)
                 for _ in range(steps)]
        flows.append(level + [nf.flows.Squeeze()])
        if i > 0:
            merges.append(nf.flows.Merge())
            latent = (channels * 2 ** (levels - i), height // 2 ** (levels - i), width // 2 ** (levels - i))
        else:
            latent = (channels * 2 ** (levels + 1), height // 2 ** levels, width // 2 ** levels)
        q0.append(nf.distributions.GlowBase(latent))
    return nf.MultiscaleFlow(q0, flows, merges, class_cond=False)


def peak_rss_mb() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return -1


def run(task_path: str) -> dict:
    task = np.load(task_path)
    config = json.loads(str(task["config"]))
    torch.manual_seed(config["seed"])
    train, batches = task["train"], task["batches"]
    rng = np.random.default_rng(config["seed"] + 1000)
    dims = int(np.prod(train.shape[1:]))
    num_bins = config["num_bins"]

    def to_model(x_uint8, noise):  # (x + u) / num_bins - 1/2, NCHW
        y = (x_uint8.astype(np.float32) + noise.astype(np.float32)) / num_bins - 0.5
        return torch.from_numpy(np.ascontiguousarray(y.transpose(0, 3, 1, 2)))

    held_out = to_model(task["test"], task["test_noise"])

    def bits_per_dim() -> float:
        model.eval()
        with torch.no_grad():
            log_p = torch.cat([model.log_prob(held_out[i:i + 256], None) for i in range(0, len(held_out), 256)])
        model.train()
        return float(np.mean(-log_p.numpy() / (dims * math.log(2.0)) + math.log2(num_bins)))

    start = time.perf_counter()
    model = build_glow((train.shape[3], train.shape[1], train.shape[2]), config["levels"], config["steps"], config["hidden"])
    optimizer = torch.optim.Adam(model.parameters(), lr=config["learning_rate"])
    build_s = time.perf_counter() - start
    evals, step_s, curve, train_clock = set(config["evals"]), [], [], build_s
    for step, index in enumerate(batches, start=1):
        x = to_model(train[index], rng.uniform(size=(len(index),) + train.shape[1:]))
        begin = time.perf_counter()
        loss = model.forward_kld(x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        float(loss)
        step_s.append(time.perf_counter() - begin)
        train_clock += step_s[-1]
        if step in evals:
            curve.append((step, round(train_clock, 3), round(bits_per_dim(), 4)))
    model.eval()
    with torch.no_grad():
        model.sample(config["sample_batch"])
        times = []
        for _ in range(10):
            begin = time.perf_counter()
            model.sample(config["sample_batch"])
            times.append(time.perf_counter() - begin)
    return dict(
        library="normflows", version=nf.__version__, torch=torch.__version__, threads=torch.get_num_threads(),
        params=sum(p.numel() for p in model.parameters()), build_s=round(build_s, 3), first_step_s=round(step_s[0], 3),
        step_s=[round(s, 5) for s in step_s], curve=curve, sample_s=float(np.median(times)), peak_rss_mb=peak_rss_mb(),
    )


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1])))
