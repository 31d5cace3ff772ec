"""`tfp-flows import-waveglow CHECKPOINT --output RUN`: an NVIDIA WaveGlow checkpoint as an ordinary run directory.

The run holds `best.keras` (a `WaveGlow` with NVIDIA's weights, `lu=False`, Tacotron 2's mel features) and a
`config.json` recording where it came from, so `vocode`, `evaluate` and `export` work on it as on a trained
run. The checkpoint is read and checked completely, and the run written in a temporary folder renamed into
place at the end: a bad file leaves nothing behind.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile

from tfp_flows import models
from tfp_flows.models import waveglow_nvidia
from tfp_flows.training import RunDir, RunError


def import_waveglow(args) -> int:
    source = os.path.abspath(args.checkpoint)
    stem = os.path.splitext(os.path.basename(source))[0]
    target = os.path.abspath(args.output or os.path.join("runs", f"waveglow-{stem}"))
    if os.path.exists(target) and (not os.path.isdir(target) or os.listdir(target)):
        raise RunError(f"{target} already exists; choose a new --output for the imported run.")
    checkpoint = waveglow_nvidia.read_checkpoint(source)  # every error about the file comes before any writing
    model = models.WaveGlow(lu=False, **{**waveglow_nvidia.NVIDIA_SETTINGS, **checkpoint.config})
    waveglow_nvidia.assign(model, checkpoint)

    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(dir=parent, prefix=".import-")
    try:
        run = RunDir(staging)
        info = {key: value for key, value in checkpoint.info.items()}
        run.write_json("config.json", dict(
            model="waveglow", preset=None, source="nvidia", checkpoint=source, checkpoint_info=info,
            dataset=args.dataset, segment_length=model.segment_length, architecture=checkpoint.config,
            mel_config=dataclasses.asdict(model.mel_config()),
        ))
        run.save_model(model, "best.keras")
        if os.path.isdir(target):
            os.rmdir(target)  # empty (checked above)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    config = checkpoint.config
    print(f"Imported {source} ({checkpoint.info.get('held_as')}, {', '.join(checkpoint.info['dtypes'])}, weight norm "
          f"{'folded' if checkpoint.info['weight_norm'] else 'already removed'}): {config['n_flows']} flows, "
          f"n_group {config['n_group']}, {config['n_mels']} mels, WN {config['wn_layers']} x {config['wn_channels']}, "
          f"{model.count_params():,} parameters -> {target}")
    print(f"Next: tfp-flows vocode --run {target} --wav in.wav --out out.wav   (Tacotron 2 mels; --denoise 0.1)")
    return 0
