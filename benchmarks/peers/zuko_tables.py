"""The peer side of `compare_tables.py`: zuko's NSF on the same tables, batches and checkpoints.

Runs in the peers' environment (numpy + torch + zuko only; never imported by tfp_flows):

    python -m venv .venv-peers && .venv-peers/bin/pip install torch normflows zuko
    .venv-peers/bin/python benchmarks/peers/zuko_tables.py --data table.npz --out nsf.json

`--data` is an .npz written by `compare_tables.py`: `train`, `validation`, `test` (float32 rows,
already standardised), `batches` (int [steps, batch]: the training rows of every step, the same
for both libraries) and `checkpoints` (the steps after which the held-out rows are scored).
The flow is what a zuko user types: `zuko.flows.NSF(features, transforms=3,
hidden_features=(128, 128))` (fully autoregressive rational-quadratic splines on [-5, 5]),
`torch.optim.Adam(flow.parameters(), lr=1e-3)`, and the step
`loss = -flow().log_prob(x).mean(); loss.backward(); optimizer.step()`.

Timing: every training step is timed on its own (`time.perf_counter` around it, the loss read
with `.item()` so the step has finished); the held-out scoring between checkpoints is not
counted. The output JSON has the per-checkpoint mean log-likelihoods (nats per row) of the
test and validation rows and of the 4,096 training rows of the first 16 batches, the first step's time, the
step times and the library versions.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
import zuko


def mean_log_prob(flow, rows: torch.Tensor, chunk: int = 4096) -> float:
    with torch.no_grad():
        return float(torch.cat([flow().log_prob(rows[i:i + chunk]) for i in range(0, len(rows), chunk)]).mean())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help=".npz from compare_tables.py")
    parser.add_argument("--out", required=True, help="JSON results")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--transforms", type=int, default=3)
    parser.add_argument("--hidden", type=int, nargs="+", default=[128, 128])
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: PyTorch's own choice)")
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(args.seed)
    with np.load(args.data) as data:
        splits = {name: torch.from_numpy(np.ascontiguousarray(data[name], np.float32)) for name in ("train", "validation", "test")}
        batches = torch.from_numpy(data["batches"].astype(np.int64))
        checkpoints = sorted(int(step) for step in data["checkpoints"])
    train_rows = splits["train"][batches[:16].reshape(-1)]  # 4,096 training rows in random order
    flow = zuko.flows.NSF(splits["train"].shape[1], transforms=args.transforms, hidden_features=tuple(args.hidden))
    optimizer = torch.optim.Adam(flow.parameters(), lr=1e-3)

    step_times, curve = [], []
    for step in range(1, checkpoints[-1] + 1):
        x = splits["train"][batches[step - 1]]
        start = time.perf_counter()
        loss = -flow().log_prob(x).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss = loss.item()
        step_times.append(time.perf_counter() - start)
        if step in checkpoints:
            flow.eval()
            curve.append(dict(step=step, test=mean_log_prob(flow, splits["test"]),
                              validation=mean_log_prob(flow, splits["validation"]), train=mean_log_prob(flow, train_rows),
                              train_seconds=float(np.sum(step_times)), loss=loss))
            flow.train()
            print(json.dumps(curve[-1]), flush=True)
    result = dict(
        library="zuko", model=f"NSF({splits['train'].shape[1]}, transforms={args.transforms}, hidden_features={tuple(args.hidden)})",
        versions=dict(torch=torch.__version__, zuko=zuko.__version__, numpy=np.__version__), threads=torch.get_num_threads(),
        parameters=sum(p.numel() for p in flow.parameters()), batch=int(batches.shape[1]), curve=curve,
        first_step_seconds=step_times[0], step_seconds=step_times,
    )
    with open(args.out, "w") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
