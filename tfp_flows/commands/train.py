"""`tfp-flows train`: a run directory with checkpoints, sample grids and logs, resumed when rerun."""
from __future__ import annotations

import os
import sys

import keras

from tfp_flows import data, models
from tfp_flows.commands._runs import MODEL_CLASSES, SPLITS_FILE, report_divergence, resume_state
from tfp_flows.data import splits as splits_lib
from tfp_flows.training import EMAWeights, RunCheckpoint, RunDir, SampleGrid, uses_ema

# What must match for a rerun to resume a run (anything else may change between runs).
_RUN_IDENTITY = ("model", "preset", "dataset", "n_bits", "num_bins", "image_size", "columns", "coupling", "dequantization",
                 "num_classes", "context_columns", "condition_couplings", "weight_y")
_OWN = ("folder", "arrays", "table")


def _default_preset(model_cls, dataset: str, info: data.DatasetInfo, kind: str) -> str:
    presets = model_cls.presets()
    if info.kind == "vectors":
        return "tabular"
    name = dataset if dataset in presets else {"celeb_a": "celeba64", "downsampled_imagenet_32": "imagenet32"}.get(dataset)
    if name in presets:
        return name
    if kind == "tfds":
        raise ValueError(f"no {model_cls.__name__} preset for dataset {dataset!r}; pass --preset, one of {sorted(presets)}.")
    return "digits"  # own images and other TFDS datasets: the laptop-sized preset, at the data's shape


def build_model(config: dict, info: data.DatasetInfo | None = None) -> models.FlowModel:
    model_cls = MODEL_CLASSES[config["model"]]
    if info is None:
        from tfp_flows.commands._runs import data_options

        info = data.info(config["dataset"], **data_options(config))
    overrides = {k: config[k] for k in ("coupling", "dequantization") if config.get(k) is not None}
    _check_variant(model_cls, overrides.get("coupling"), overrides.get("dequantization"), info)
    if model_cls is models.Jet:
        overrides.pop("coupling", None)  # always affine, checked above
    if config.get("num_classes"):
        overrides["num_classes"] = config["num_classes"]
        if config.get("condition_couplings"):
            overrides["condition_couplings"] = True
        if config.get("weight_y"):
            overrides["weight_y"] = config["weight_y"]
    if config.get("context_columns"):
        overrides["context_dim"] = len(config["context_columns"])
    return model_cls.from_preset(
        config["preset"], event_shape=info.event_shape, num_bins=info.num_bins, seed=config["seed"], **overrides
    )


_COUPLINGS = {models.Glow: ("affine", "additive", "spline"), models.RealNVP: ("affine", "spline"),
              models.NICE: ("additive", "spline"), models.Jet: ("affine",)}


def _check_variant(model_cls, coupling, dequantization, info) -> None:
    """`--coupling` / `--dequantization` the model and data accept (checked before a run directory is written)."""
    if coupling is not None and coupling not in _COUPLINGS[model_cls]:
        raise ValueError(f"--coupling {coupling}: {model_cls.__name__} takes {' or '.join(_COUPLINGS[model_cls])}.")
    if dequantization == "variational" and (info.num_bins is None or len(info.event_shape) != 3):
        raise ValueError(f"--dequantization variational needs discrete images; this data has event shape "
                         f"{info.event_shape} and num_bins={info.num_bins}.")


def _check_conditioning(args, dataset: str, kind: str, info: data.DatasetInfo, model_name: str) -> None:
    """`--conditional` needs labelled images of two classes or more; `--context-columns` a table (before any run is written)."""
    conditional, context_columns = getattr(args, "conditional", False), getattr(args, "context_columns", None)
    if conditional and context_columns:
        raise ValueError("--conditional (class labels) and --context-columns (a table's context) exclude each other.")
    if conditional:
        if model_name not in ("glow", "realnvp", "nice"):
            raise ValueError(f"--conditional: {model_name} has no class-conditional form; use --model glow, realnvp or nice.")
        if info.num_classes < 2:
            found = "one class" if info.num_classes == 1 else "no class labels"
            raise ValueError(
                f"--conditional needs labelled data with two classes or more: {_short_name(dataset, kind)} has {found} "
                "(labelled: digits, TFDS datasets with a 'label', folders with one subfolder per class, .npz with 'labels')."
            )
    if context_columns and model_name not in ("realnvp", "nice"):
        raise ValueError(f"--context-columns: {model_name} has no context-conditioned form; use --model realnvp or nice.")


def _dataset_name(args) -> tuple[str, str]:
    """(the dataset as stored in the config, its kind); own files are stored as absolute paths."""
    if args.data is not None:
        kind = data.kind_of(args.data)
        if kind not in _OWN:
            raise ValueError(f"--data {args.data}: expected a folder of images, a .npy/.npz array or a .csv table.")
        return os.path.abspath(args.data), kind
    name = args.dataset or "digits"
    kind = data.kind_of(name)
    if kind in _OWN:
        return os.path.abspath(name), kind
    return name, kind


def _short_name(dataset: str, kind: str) -> str:
    return os.path.splitext(os.path.basename(dataset.rstrip(os.sep)))[0] if kind in _OWN else dataset.replace("/", "_")


def train(args) -> int:
    if args.model == "waveglow":  # speech: its own data, run layout and callbacks
        from tfp_flows.commands.speech import train_waveglow

        return train_waveglow(args)
    dataset, kind = _dataset_name(args)
    context_columns = getattr(args, "context_columns", None)
    if kind not in _OWN and (args.columns is not None or args.validation_fraction != 0.1 or args.test_fraction != 0.1):
        raise ValueError("--columns, --validation-fraction and --test-fraction apply to --data files.")
    if context_columns and kind != "table":
        raise ValueError(f"--context-columns applies to CSV tables (--data FILE.csv), not to {_short_name(dataset, kind)}; "
                         "condition images on their class labels with --conditional.")
    # Reads and checks all of the data (own files) before anything is written.
    num_bins = getattr(args, "num_bins", None)
    info_options = dict(image_size=args.image_size, columns=args.columns, data_dir=args.data_dir)
    if kind in _OWN:
        info_options.pop("data_dir")
        if num_bins is not None:
            info_options["num_bins"] = num_bins
    if context_columns:
        info_options["context_columns"] = context_columns
    info = data.info(dataset, args.n_bits, **info_options)
    # The embedded digits' default is the best recipe measured at a few CPU minutes (README: "What the default
    # trains with"): RealNVP, 30 epochs of batch 64.
    model_name = args.model or ("realnvp" if info.kind == "vectors" or dataset == "digits" else "glow")
    if args.epochs is None:
        args.epochs = 30 if dataset == "digits" else 100
    if args.batch_size is None:
        args.batch_size = 64 if dataset == "digits" else 128
    if args.learning_rate is None:
        args.learning_rate = 1e-3
    if info.kind == "vectors" and model_name in ("glow", "jet"):
        raise ValueError(f"{dataset} holds vectors {info.event_shape}; {model_name} models images. Use --model realnvp (default) or nice.")
    _check_conditioning(args, dataset, kind, info, model_name)
    conditional = bool(getattr(args, "conditional", False))
    model_cls = MODEL_CLASSES[model_name]
    _check_variant(model_cls, args.coupling, args.dequantization, info)
    preset = args.preset or _default_preset(model_cls, dataset, info, kind)
    if preset not in model_cls.presets():
        raise ValueError(f"unknown {model_cls.__name__} preset {preset!r}; expected one of {sorted(model_cls.presets())}.")
    if (info.kind == "vectors") != (model_cls.presets()[preset]["num_bins"] is None):
        wanted = "a tabular preset" if info.kind == "vectors" else "an image preset"
        raise ValueError(f"{model_cls.__name__} preset {preset!r} does not fit {info.kind} {info.event_shape}; use {wanted}.")
    if args.flip and info.kind != "images":
        raise ValueError("--flip applies to images, not vectors.")
    print(_levels(info, dataset, kind, args), flush=True)
    run = RunDir(args.output or os.path.join("runs", f"{model_name}-{_short_name(dataset, kind)}"))
    config = dict(
        model=model_name, preset=preset, dataset=dataset, n_bits=args.n_bits, num_bins=num_bins, image_size=args.image_size,
        columns=args.columns,
        batch_size=args.batch_size, learning_rate=args.learning_rate, warmup_steps=args.warmup_steps, flip=args.flip,
        data_dir=args.data_dir, seed=args.seed, jit=args.jit, kind=info.kind, feature_columns=list(info.columns),
        validation_fraction=args.validation_fraction, test_fraction=args.test_fraction,
        coupling=args.coupling, dequantization=args.dequantization, ema_momentum=args.ema_momentum, schedule=args.schedule,
        # Conditioning (None: unconditional): class labels of images, or a table's context columns.
        num_classes=info.num_classes if conditional else None, class_names=list(info.class_names) if conditional else None,
        context_columns=list(context_columns) if context_columns else None,
        condition_couplings=True if conditional and getattr(args, "condition_couplings", False) else None,
        weight_y=float(args.weight_y) if conditional and getattr(args, "weight_y", 0.0) else None,
    )

    state = resume_state(run, config, _RUN_IDENTITY)

    load = dict(n_bits=args.n_bits, image_size=args.image_size)
    if conditional:
        load["with_labels"] = True
    assignment = None
    if kind in _OWN:
        own = data.read(dataset, image_size=args.image_size, columns=args.columns, n_bits=args.n_bits, context_columns=context_columns,
                        num_bins=num_bins)
        if run.exists and os.path.exists(run.file(SPLITS_FILE)):
            assignment = splits_lib.read(run.file(SPLITS_FILE))  # a resumed run keeps its splits
        else:
            assignment = own.assignment(args.validation_fraction, args.test_fraction, args.seed)
        load.update(columns=args.columns, splits=assignment, num_bins=num_bins)
        if context_columns:
            load["context_columns"] = context_columns
    else:
        load.update(data_dir=args.data_dir)
        if args.image_size is None:
            load.pop("image_size")
    train_ds = data.load(dataset, "train", args.batch_size, flip=args.flip, seed=args.seed, **load)
    val_ds = data.load(dataset, "validation", args.batch_size, **load)

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
        model = build_model(config, info)
        if getattr(model, "standardizer", None) is not None:  # statistics of the whole training split
            model.standardizer.adapt(own.examples[own.indices("train", assignment)])
        optimizer = models.default_optimizer(
            model.num_dims, args.learning_rate, args.warmup_steps, ema_momentum=args.ema_momentum or None,
            decay_steps=decay_steps,
        )
        model.compile(optimizer=optimizer, jit_compile=args.jit)
        if not run.exists:  # the data and the model are good: now the run directory may be written
            run.write_json("config.json", config)
        if assignment is not None and not os.path.exists(run.file(SPLITS_FILE)):
            splits_lib.save(run.file(SPLITS_FILE), assignment)
    if state["epoch"] >= args.epochs:
        print(f"{run.path} has already trained {state['epoch']} epochs (asked for {args.epochs}); nothing to do.")
        return 0

    bins = "continuous" if info.num_bins is None else f"{info.num_bins} bins"
    given = (f", given the label ({info.num_classes} classes)" if conditional else
             f", given {', '.join(context_columns)}" if context_columns else "")
    print(f"Training {model_cls.__name__} ({preset}, {model.count_params():,} parameters) on {_short_name(dataset, kind)} "
          f"{info.event_shape}, {bins}{given} -> {run.path}", flush=True)
    checkpoint = RunCheckpoint(run, state)
    # Checkpoints written with a weight average hold it as the model's weights (the trained weights in the optimizer).
    resumed_with_average = state["epoch"] > 0 and state.get("ema_in_checkpoints", False)
    state["ema_in_checkpoints"] = uses_ema(model.optimizer)
    # First: validation, checkpoints and sample grids use the average.
    callbacks = [EMAWeights(ema_in_model=resumed_with_average), checkpoint, keras.callbacks.TensorBoard(log_dir=run.file("logs"))]
    if info.kind == "images":
        callbacks.insert(2, SampleGrid(run, num=args.samples, temperature=args.temperature, seed=args.seed, checkpoint=checkpoint))
    model.fit(
        train_ds, validation_data=val_ds, epochs=args.epochs, initial_epoch=state["epoch"], callbacks=callbacks,
        shuffle=False,  # the dataset shuffles itself
        verbose=1 if sys.stdout.isatty() else 2,
    )
    if report_divergence(checkpoint, state, run, "Try a lower --learning-rate or more --warmup-steps."):
        return 1
    print(f"Done: {state['epoch']} epochs; best validation bits/dim {state['best_bits_per_dim']:.4f} at epoch "
          f"{state['best_epoch']}; checkpoints{', samples' if info.kind == 'images' else ''} and logs in {run.path}")
    return 0


def _levels(info: data.DatasetInfo, dataset: str, kind: str, args) -> str:
    """The number of levels modelled and why, and a hint when integer images use far fewer than that."""
    if info.num_bins is None:
        return "Levels: none, the values are continuous (vectors)."
    if kind == "digits":
        why = "the digits' levels 0..16"
    elif getattr(args, "num_bins", None) is not None:
        why = f"--num-bins {args.num_bins}"
    elif args.n_bits is not None:
        why = f"--n-bits {args.n_bits}: 8-bit values reduced to {args.n_bits} bits"
    elif kind in _OWN:
        why = "integer images are taken as 8-bit; --num-bins N for data with N levels"
    else:
        why = "8-bit images"
    line = f"Levels: {info.num_bins} per value ({why})."
    if kind in _OWN and getattr(args, "num_bins", None) is None and args.n_bits is None:
        used = int(data.read(dataset, image_size=args.image_size).examples.max()) + 1  # read (and cached) by data.info
        if used <= info.num_bins // 4:  # e.g. the digits' 0..16 read as 8-bit: bits/dim would count 239 empty levels
            line += (f" {_short_name(dataset, kind)} only uses levels 0..{used - 1}: if it has {used} levels, pass "
                     f"--num-bins {used} (bits/dim count against the levels modelled).")
    return line


def _decay_steps(args, train_ds) -> int | None:
    """Steps until the cosine schedule reaches 0 (`--epochs` x batches per epoch); None for a constant rate."""
    batches = int(train_ds.cardinality())
    if args.schedule != "cosine" or batches <= 0:  # unknown or infinite cardinality: keep the rate constant
        return None
    return max(args.epochs * batches, args.warmup_steps + 1)
