"""NVIDIA's trained WaveGlow checkpoints as a `WaveGlow`: read with numpy (no PyTorch), mapped weight by weight.

What is read (`data.torch_checkpoint`, both PyTorch formats, float32/float16/bfloat16 tensors):

* NVIDIA/waveglow `train.py` checkpoints `{'model': glow.WaveGlow, 'iteration', 'optimizer',
  'learning_rate'}`, with weight norm (`weight_g`, `weight_v`) or after `WaveGlow.remove_weightnorm`;
  also a pickled `glow.WaveGlow` alone, as the published `waveglow_256channels_*.pt` files hold;
* plain `state_dict` files and DeepLearningExamples' `{'state_dict': ...}` (`module.` prefixes removed);
* the WN layouts NVIDIA's code has had: one fused `cond_layer` (glow.py since 2019-08), one `cond_layers[i]`
  per layer (earlier glow.py, DeepLearningExamples), separate `res_layers`/`skip_layers` (2018), which
  `convert_model.py` fuses the same way (concatenated along the output channels).

The configuration comes from the tensors' shapes, not from assumptions: `n_mels` and the upsampler's
kernel from `upsample.weight`, `n_flows` and each flow's channels from `convinv.K.conv.weight` (so
`n_group`, `n_early_every`, `n_early_size`), the WN's layers, channels and kernel from `WN.K.*`. The hop
(the upsampler's stride) is read from a pickled module; a bare state_dict holds no stride, and NVIDIA's
code fixes it at 256. The audio settings (22050 Hz, n_fft 1024, 0-8000 Hz) are NVIDIA's LJ Speech recipe
and can be overridden; the mels are Tacotron 2's (`MelConfig(center=True)`).

The mapping (PyTorch `[out, in, kernel]` convs -> Keras `[kernel, in, out]`; `ConvTranspose1d` `[in,
out, kernel]` -> Keras `[kernel, out, in]`; weight norm folded as `w = g * v / ||v||`, the norm over all
axes but the first, in float64):

| NVIDIA (glow.py)                    | ours (`WaveGlow(lu=False)`)          |
|-------------------------------------|--------------------------------------|
| `upsample.weight` / `.bias`         | `upsample.kernel` / `.bias`          |
| `convinv.K.conv.weight[:, :, 0]`    | `convs[K].matrix`                    |
| `WN.K.start`, `.cond_layer`, `.end` | `wns[K].start`, `.cond_layer`, `.end`|
| `WN.K.in_layers.I`                  | `wns[K].in_layers[I]`                |
| `WN.K.res_skip_layers.I`            | `wns[K].res_skip_layers[I]`          |
"""
from __future__ import annotations

import dataclasses
import os
import re

import numpy as np

from tfp_flows.data import torch_checkpoint
from tfp_flows.data.torch_checkpoint import CheckpointError, TensorRef, TorchModule

# NVIDIA/waveglow config.json (LJ Speech): what a checkpoint does not store.
NVIDIA_SETTINGS = dict(
    hop_length=256, segment_length=16000, sigma=1.0, inference_sigma=0.6, learning_rate=1e-4, sample_rate=22050,
    n_fft=1024, win_length=1024, fmin=0.0, fmax=8000.0, mel_center=True,
)
_EXPECTED = "upsample.weight, convinv.0.conv.weight, WN.0.start.weight, WN.0.in_layers.0.weight, ..."


@dataclasses.dataclass
class NvidiaCheckpoint:
    """A WaveGlow checkpoint of NVIDIA's code, read: `config` (WaveGlow keyword arguments from the shapes),
    `weights` (NVIDIA's names in glow.py's current layout -> float32 arrays, weight norm folded) and `info`
    (what the file held: format, tensor dtypes, weight norm, WN layout, training iteration)."""

    path: str
    config: dict
    weights: dict
    info: dict


def read_checkpoint(path, hop_length: int | None = None) -> NvidiaCheckpoint:
    """Reads and checks an NVIDIA WaveGlow checkpoint; `CheckpointError` (a ValueError) names the file otherwise."""
    path = os.fspath(path)
    obj = torch_checkpoint.read(path)
    refs, stride, info = _find_state(obj, path)
    if not refs:
        raise CheckpointError(f"{path} holds no tensors: expected NVIDIA WaveGlow weights ({_EXPECTED}).")
    prefix = "module."
    if all(name.startswith(prefix) for name in refs):  # DataParallel / DistributedDataParallel
        refs = {name[len(prefix) :]: ref for name, ref in refs.items()}
    if "upsample.weight" not in refs or "convinv.0.conv.weight" not in refs:
        found = ", ".join(sorted(refs)[:6]) + (", ..." if len(refs) > 6 else "")
        raise CheckpointError(
            f"{path} is not an NVIDIA WaveGlow checkpoint: expected tensors {_EXPECTED}; found {found}."
        )
    info["dtypes"] = sorted({str(ref.dtype) for ref in refs.values()})
    info["weight_norm"] = any(name.endswith("weight_g") or ".parametrizations." in name for name in refs)
    weights = _fold_weight_norm({name: ref.numpy().astype(np.float64) for name, ref in refs.items()}, path)
    weights, info["wn_layout"] = _fuse_old_layouts(weights, path)
    if hop_length is not None and stride is not None and hop_length != stride:
        raise CheckpointError(f"{path}: the upsampler's stride (the hop) is {stride}; hop_length={hop_length} was asked.")
    config = _config_from_shapes(weights, path)
    config["hop_length"] = int(stride or hop_length or NVIDIA_SETTINGS["hop_length"])
    info["hop_from"] = "the pickled upsampler's stride" if stride else "NVIDIA's default (a state_dict has no stride)"
    for name, value in weights.items():
        if not np.all(np.isfinite(value)):
            raise CheckpointError(f"{path}: tensor {name} has NaN or Inf values.")
    return NvidiaCheckpoint(path, config, {k: v.astype(np.float32) for k, v in weights.items()}, info)


def from_nvidia(path, model_class, **overrides):
    """A `model_class` (`WaveGlow`, `lu=False`) with the weights of an NVIDIA checkpoint; see `WaveGlow.from_nvidia`."""
    unknown = sorted(set(overrides) - set(NVIDIA_SETTINGS) - {"name"})
    if unknown:
        raise ValueError(
            f"WaveGlow.from_nvidia: {unknown} cannot be overridden (the architecture comes from the checkpoint); "
            f"settings that can: {sorted(NVIDIA_SETTINGS)}."
        )
    checkpoint = read_checkpoint(path, hop_length=overrides.pop("hop_length", None))
    settings = {**NVIDIA_SETTINGS, **overrides, **checkpoint.config}
    model = model_class(lu=False, **settings)
    assign(model, checkpoint)
    return model


def assign(model, checkpoint: NvidiaCheckpoint) -> None:
    """Sets `model`'s weights (a `WaveGlow(lu=False)` of the checkpoint's config) from `checkpoint`."""
    if model.lu:
        raise ValueError("assign: NVIDIA's 1x1 convolutions are plain matrices; build the WaveGlow with lu=False.")
    w = checkpoint.weights
    conv = lambda name: w[name].transpose(2, 1, 0)  # noqa: E731  [out, in, kernel] -> [kernel, in, out]
    pairs = [(model.upsample.kernel, w["upsample.weight"].transpose(2, 1, 0), "upsample.weight"),
             (model.upsample.bias, w["upsample.bias"], "upsample.bias")]
    for k, (matrix, wn) in enumerate(zip(model.convs, model.wns)):
        pairs.append((matrix.matrix, w[f"convinv.{k}.conv.weight"][:, :, 0], f"convinv.{k}.conv.weight"))
        layers = [("start", wn.start), ("cond_layer", wn.cond_layer), ("end", wn.end)]
        layers += [(f"in_layers.{i}", layer) for i, layer in enumerate(wn.in_layers)]
        layers += [(f"res_skip_layers.{i}", layer) for i, layer in enumerate(wn.res_skip_layers)]
        for name, layer in layers:
            pairs.append((layer.kernel, conv(f"WN.{k}.{name}.weight"), f"WN.{k}.{name}.weight"))
            pairs.append((layer.bias, w[f"WN.{k}.{name}.bias"], f"WN.{k}.{name}.bias"))
    for variable, value, name in pairs:
        if tuple(variable.shape) != value.shape:
            raise CheckpointError(
                f"{checkpoint.path}: tensor {name} maps to shape {value.shape}, the model expects {tuple(variable.shape)}."
            )
    for variable, value, _ in pairs:
        variable.assign(value)


def latent_from_nvidia_noise(draws, sigma: float = 1.0) -> np.ndarray:
    """Our latent `z` `[B, T]` holding the noise NVIDIA's `infer` drew, so `decode(z, mel)` gives its audio.

    `draws` in NVIDIA's order: first the last flow's `[B, n_remaining, T / n_group]`, then each early output's
    `[B, n_early_size, T / n_group]` from the last split to the first; `infer` prepends each to the channels,
    so the channel order is the reverse draw order, and sample `t * n_group + j` holds channel `j` at step `t`.
    """
    draws = [np.asarray(d) for d in draws]
    channels = np.concatenate(draws[:0:-1] + draws[:1], axis=1)  # [B, n_group, T / n_group]
    return sigma * channels.transpose(0, 2, 1).reshape(channels.shape[0], -1)


# ------------------------------------------------------------------------------------------- internals
def _module_tensors(module: TorchModule, prefix: str = "") -> dict:
    """A pickled module's state_dict (parameters, persistent buffers, then submodules), as `TensorRef`s."""
    state = module.state
    found = {}
    skip = state.get("_non_persistent_buffers_set") or set()
    for group in ("_parameters", "_buffers"):
        for name, value in (state.get(group) or {}).items():
            if isinstance(value, TensorRef) and name not in skip:
                found[prefix + name] = value
    for name, child in (state.get("_modules") or {}).items():
        if isinstance(child, TorchModule):
            found.update(_module_tensors(child, f"{prefix}{name}."))
    return found


def _upsample_stride(module: TorchModule):
    upsample = (module.state.get("_modules") or {}).get("upsample")
    stride = upsample.state.get("stride") if isinstance(upsample, TorchModule) else None
    return int(stride[0]) if isinstance(stride, (tuple, list)) and stride else None


def _find_state(obj, path):
    """(name -> TensorRef, the upsampler's stride or None, info) of the WaveGlow inside a checkpoint."""
    info = {}
    if isinstance(obj, dict):
        info.update({key: obj[key] for key in ("iteration", "epoch", "learning_rate") if isinstance(obj.get(key), (int, float))})
        for key in ("model", "state_dict", "model_state_dict"):
            if key in obj:
                info["held_as"] = f"{{'{key}': ...}}"
                obj = obj[key]
                break
    if isinstance(obj, TorchModule):
        if obj.class_name != "glow.WaveGlow":
            raise CheckpointError(f"{path} holds a {obj.class_name}, not NVIDIA's glow.WaveGlow.")
        info.setdefault("held_as", "a pickled glow.WaveGlow")
        return _module_tensors(obj), _upsample_stride(obj), info
    if isinstance(obj, dict):
        info.setdefault("held_as", "a state_dict")
        return {str(k): v for k, v in obj.items() if isinstance(v, TensorRef)}, None, info
    raise CheckpointError(
        f"{path} holds a {type(obj).__name__}: expected NVIDIA's {{'model': glow.WaveGlow, ...}}, a state_dict, "
        "or DeepLearningExamples' {'state_dict': ...}."
    )


def _fold_weight_norm(weights: dict, path: str) -> dict:
    """`name.weight_g` + `name.weight_v` (or `parametrizations.weight.original0/1`) -> `name.weight = g v / ||v||`."""
    out = dict(weights)
    pairs = []
    for name in weights:
        if name.endswith(".weight_g"):
            pairs.append((name, name[: -len("_g")] + "_v", name[: -len("_g")]))
        elif name.endswith(".parametrizations.weight.original0"):
            base = name[: -len(".parametrizations.weight.original0")]
            pairs.append((name, base + ".parametrizations.weight.original1", base + ".weight"))
    for g_name, v_name, target in pairs:
        if v_name not in weights:
            raise CheckpointError(f"{path}: weight norm's {g_name} has no {v_name} (corrupt checkpoint).")
        g, v = out.pop(g_name), out.pop(v_name)
        norm = np.sqrt(np.sum(v * v, axis=tuple(range(1, v.ndim)), keepdims=True))
        out[target] = v * (g.reshape(norm.shape) / np.maximum(norm, 1e-300))
    for name, value in out.items():  # DeepLearningExamples' TensorRT-friendly Conv2d (kernel, 1): drop the 1
        if value.ndim == 4 and value.shape[-1] == 1:
            out[name] = value[..., 0]
    return out


def _fuse_old_layouts(weights: dict, path: str):
    """Per-layer `cond_layers.I` and separate `res_layers.I`/`skip_layers.I` -> glow.py's fused names."""
    layout = "cond_layer"
    flows = sorted({int(m.group(1)) for name in weights for m in [re.match(r"WN\.(\d+)\.", name)] if m})
    for k in flows:
        if f"WN.{k}.cond_layers.0.weight" in weights:
            layout = "cond_layers" if layout == "cond_layer" else layout
            for part in ("weight", "bias"):
                layers = _pop_series(weights, f"WN.{k}.cond_layers", part)
                weights[f"WN.{k}.cond_layer.{part}"] = np.concatenate(layers, axis=0)
        if f"WN.{k}.skip_layers.0.weight" in weights:
            layout = "res_layers + skip_layers"
            for part in ("weight", "bias"):
                skips = _pop_series(weights, f"WN.{k}.skip_layers", part)
                res = _pop_series(weights, f"WN.{k}.res_layers", part)
                if len(res) != len(skips) - 1:
                    raise CheckpointError(f"{path}: WN.{k} has {len(res)} res_layers for {len(skips)} skip_layers.")
                for i, skip in enumerate(skips):
                    fused = np.concatenate([res[i], skip], axis=0) if i < len(res) else skip
                    weights[f"WN.{k}.res_skip_layers.{i}.{part}"] = fused
    return weights, layout


def _pop_series(weights: dict, prefix: str, part: str) -> list:
    series = []
    while f"{prefix}.{len(series)}.{part}" in weights:
        series.append(weights.pop(f"{prefix}.{len(series)}.{part}"))
    return series


def _shape(weights: dict, name: str, path: str, ndim: int):
    if name not in weights:
        raise CheckpointError(f"{path}: tensor {name} is missing: not NVIDIA's WaveGlow layout (expected {_EXPECTED}).")
    shape = weights[name].shape
    if len(shape) != ndim:
        raise CheckpointError(f"{path}: tensor {name} has shape {shape}; expected {ndim} dimensions.")
    return shape


def _count(weights: dict, template: str) -> int:
    count = 0
    while template.format(count) in weights:
        count += 1
    return count


def _config_from_shapes(weights: dict, path: str) -> dict:
    """WaveGlow's architecture keywords from the tensors' shapes; unexpected or inconsistent tensors are errors."""
    n_mels, n_mels_out, kernel = _shape(weights, "upsample.weight", path, 3)
    if n_mels != n_mels_out:
        raise CheckpointError(f"{path}: upsample.weight has shape {weights['upsample.weight'].shape}; expected [n_mels, n_mels, kernel].")
    n_flows = _count(weights, "convinv.{}.conv.weight")
    if _count(weights, "WN.{}.start.weight") != n_flows:
        raise CheckpointError(f"{path}: {n_flows} convinv layers but {_count(weights, 'WN.{}.start.weight')} WN stacks.")
    channels = [_shape(weights, f"convinv.{k}.conv.weight", path, 3)[0] for k in range(n_flows)]
    drops = [k for k in range(1, n_flows) if channels[k] != channels[k - 1]]
    every = drops[0] if drops else n_flows
    size = channels[every - 1] - channels[every] if drops else 0
    expected = [channels[0] - size * (k // every) for k in range(n_flows)]
    if channels != expected:
        raise CheckpointError(f"{path}: the flows' channels {channels} do not follow early outputs every few flows.")
    wn_channels = _shape(weights, "WN.0.start.weight", path, 3)[0]
    wn_layers = _count(weights, "WN.0.in_layers.{}.weight")
    wn_kernel = _shape(weights, "WN.0.in_layers.0.weight", path, 3)[2] if wn_layers else 0
    config = dict(
        n_mels=int(n_mels), upsample_kernel=int(kernel), n_flows=n_flows, n_group=int(channels[0]),
        n_early_every=int(every), n_early_size=int(size), wn_layers=wn_layers, wn_channels=int(wn_channels),
        wn_kernel_size=int(wn_kernel),
    )
    known = {"upsample.weight", "upsample.bias"}
    for k in range(n_flows):
        known.add(f"convinv.{k}.conv.weight")
        names = ["start", "cond_layer", "end"] + [f"{kind}.{i}" for kind in ("in_layers", "res_skip_layers") for i in range(wn_layers)]
        known.update(f"WN.{k}.{name}.{part}" for name in names for part in ("weight", "bias"))
    unexpected = sorted(set(weights) - known)
    if unexpected:
        raise CheckpointError(
            f"{path}: unexpected tensors {unexpected[:4]}{' ...' if len(unexpected) > 4 else ''} for an NVIDIA WaveGlow "
            f"of {n_flows} flows with {wn_layers} WN layers: another model's checkpoint or another layout."
        )
    missing = sorted(known - set(weights))
    if missing:
        raise CheckpointError(f"{path}: tensors {missing[:4]} are missing (a truncated or different WaveGlow checkpoint).")
    return config
