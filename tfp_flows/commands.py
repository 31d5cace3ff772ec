"""The work behind each `tfp-flows` command (imported lazily: it loads TensorFlow)."""
from __future__ import annotations

import math
import os
import sys

import keras

from tfp_flows import data, models
from tfp_flows.training import EMAWeights, RunCheckpoint, RunDir, RunError, SampleGrid, save_sample_grid, uses_ema

MODEL_CLASSES = {"glow": models.Glow, "realnvp": models.RealNVP, "nice": models.NICE}
USER_ERRORS = (ValueError, RunError, data.DatasetUnavailableError, OSError)  # OSError: existing export, permissions, disk
# What must match for a rerun to resume a run (anything else may change between runs).
_RUN_IDENTITY = ("model", "preset", "dataset", "n_bits")


def _default_preset(model_cls, dataset: str) -> str:
    presets = model_cls.presets()
    name = dataset if dataset in presets else {"celeb_a": "celeba64", "downsampled_imagenet_32": "imagenet32"}.get(dataset)
    if name not in presets:
        raise ValueError(f"no {model_cls.__name__} preset for dataset {dataset!r}; pass --preset, one of {sorted(presets)}.")
    return name


def build_model(config: dict) -> models.FlowModel:
    model_cls = MODEL_CLASSES[config["model"]]
    info = data.info(config["dataset"], config.get("n_bits"))
    return model_cls.from_preset(config["preset"], event_shape=info.event_shape, num_bins=info.num_bins, seed=config["seed"])


def train(args) -> int:
    model_cls = MODEL_CLASSES[args.model]
    preset = args.preset or _default_preset(model_cls, args.dataset)
    if preset not in model_cls.presets():
        raise ValueError(f"unknown {model_cls.__name__} preset {preset!r}; expected one of {sorted(model_cls.presets())}.")
    run = RunDir(args.output or os.path.join("runs", f"{args.model}-{args.dataset}"))
    config = dict(
        model=args.model, preset=preset, dataset=args.dataset, n_bits=args.n_bits, batch_size=args.batch_size,
        learning_rate=args.learning_rate, warmup_steps=args.warmup_steps, flip=args.flip, data_dir=args.data_dir,
        seed=args.seed, jit=args.jit, ema_momentum=args.ema_momentum, schedule=args.schedule,
    )
    info = data.info(args.dataset, args.n_bits)  # validates dataset and n_bits before any work
    load = dict(n_bits=args.n_bits, data_dir=args.data_dir)
    train_ds = data.load(args.dataset, "train", args.batch_size, flip=args.flip, seed=args.seed, **load)
    val_ds = data.load(args.dataset, "validation", args.batch_size, **load)

    if run.exists:
        saved = run.read_json("config.json")
        changed = [k for k in _RUN_IDENTITY if saved.get(k) != config[k]]
        if changed:
            raise RunError(
                f"{run.path} holds a run with a different {', '.join(changed)} "
                f"({', '.join(f'{k}={saved.get(k)!r}' for k in changed)}); use another --output."
            )
        state = run.read_json("state.json") if os.path.exists(run.file("state.json")) else _new_state()
    else:
        run.write_json("config.json", config)
        state = _new_state()

    decay_steps = _decay_steps(args, train_ds)
    if state["epoch"] > 0:
        model = run.load_model("last.keras")
        print(f"Resuming {run.path} after epoch {state['epoch']}.", flush=True)
        schedule = model.optimizer._learning_rate
        if decay_steps and isinstance(schedule, models.WarmupCosineDecay) and schedule.decay_steps != decay_steps:
            # More (or fewer) --epochs than the run started with: the cosine now ends at the new last epoch.
            model.optimizer.learning_rate = models.WarmupCosineDecay(**{**schedule.get_config(), "decay_steps": decay_steps})
    else:
        keras.utils.set_random_seed(args.seed)
        model = build_model(config)
        optimizer = models.default_optimizer(
            model.num_dims, args.learning_rate, args.warmup_steps, ema_momentum=args.ema_momentum or None,
            decay_steps=decay_steps,
        )
        model.compile(optimizer=optimizer, jit_compile=args.jit)
    if state["epoch"] >= args.epochs:
        print(f"{run.path} has already trained {state['epoch']} epochs (asked for {args.epochs}); nothing to do.")
        return 0

    print(f"Training {model_cls.__name__} ({preset}, {model.count_params():,} parameters) on {args.dataset} "
          f"{info.event_shape}, {info.num_bins} bins -> {run.path}", flush=True)
    checkpoint = RunCheckpoint(run, state)
    # Checkpoints written with a weight average hold it as the model's weights (the trained weights in the optimizer).
    resumed_with_average = state["epoch"] > 0 and state.get("ema_in_checkpoints", False)
    state["ema_in_checkpoints"] = uses_ema(model.optimizer)
    callbacks = [
        EMAWeights(ema_in_model=resumed_with_average),  # first: validation, checkpoints and samples use the average
        checkpoint,
        SampleGrid(run, num=args.samples, temperature=args.temperature, seed=args.seed, checkpoint=checkpoint),
        keras.callbacks.TensorBoard(log_dir=run.file("logs")),
    ]
    model.fit(
        train_ds, validation_data=val_ds, epochs=args.epochs, initial_epoch=state["epoch"], callbacks=callbacks,
        shuffle=False,  # the dataset shuffles itself
        verbose=1 if sys.stdout.isatty() else 2,
    )
    if checkpoint.diverged_at is not None:
        epoch, step = checkpoint.diverged_at
        where = f"epoch {epoch}" + (f", step {step}" if step else "")
        print(f"tfp-flows: training diverged (NaN/Inf loss) at {where}; kept the last good checkpoint "
              f"(epoch {state['epoch']}) in {run.path}. Try a lower --learning-rate or more --warmup-steps.", file=sys.stderr)
        return 1
    print(f"Done: {state['epoch']} epochs; best bits/dim {state['best_bits_per_dim']:.4f} at epoch {state['best_epoch']}; "
          f"checkpoints, samples and logs in {run.path}")
    return 0


def _decay_steps(args, train_ds) -> int | None:
    """Steps until the cosine schedule reaches 0 (`--epochs` x batches per epoch); None for a constant rate."""
    batches = int(train_ds.cardinality())
    if args.schedule != "cosine" or batches <= 0:  # unknown or infinite cardinality: keep the rate constant
        return None
    return max(args.epochs * batches, args.warmup_steps + 1)


def _new_state():
    return dict(epoch=0, history=[], best_bits_per_dim=None, best_epoch=None)


def _load_run(path: str):
    run = RunDir(path)
    if not os.path.isdir(run.path):
        raise RunError(f"run directory {run.path} does not exist.")
    config = run.read_json("config.json")
    return run, config, run.load_model(run.best_or_last(), compile=False)


def evaluate(args) -> int:
    run, config, model = _load_run(args.run)
    ds = data.load(config["dataset"], args.split, args.batch_size, shuffle=False, n_bits=config.get("n_bits"), data_dir=config.get("data_dir"))
    total, count = 0.0, 0
    for batch in ds:
        bpd = model.bits_per_dim(batch, noise=True).numpy()
        total, count = total + float(bpd.sum()), count + len(bpd)
    if count == 0:
        raise ValueError(f"split {args.split!r} of {config['dataset']} is empty.")
    result = dict(split=args.split, dataset=config["dataset"], bits_per_dim=total / count, num_examples=count,
                  checkpoint=run.best_or_last())
    if not math.isfinite(result["bits_per_dim"]):
        raise ValueError(f"bits/dim on {args.split} is not finite: the checkpoint is broken.")
    run.write_json(f"eval_{args.split}.json", result)
    print(f"{config['dataset']} {args.split}: {result['bits_per_dim']:.4f} bits/dim over {count} images "
          f"({result['checkpoint']}); written to {run.file(f'eval_{args.split}.json')}")
    return 0


def sample(args) -> int:
    run, _, model = _load_run(args.run)
    out = args.out or run.file("samples.png")
    image = save_sample_grid(model, out, num=args.num, temperature=args.temperature, seed=args.seed)
    print(f"Wrote {args.num} samples (temperature {args.temperature}) to {out} ({image.shape[1]}x{image.shape[0]} px)")
    return 0


def export(args) -> int:
    from tfp_flows import export as export_lib

    run, _, model = _load_run(args.run)
    path = export_lib.save(model, args.export_dir, version=args.version, overwrite=args.overwrite)
    print(f"Exported SavedModel to {path}")
    return 0
