"""NVIDIA's WaveGlow checkpoints without PyTorch: every format against the numbers NVIDIA's own code computed
(tests/data/waveglow_nvidia, see its README), the restricted unpickler, bad files, Tacotron 2 mels, the
denoiser and `tfp-flows import-waveglow`."""
from __future__ import annotations

import json
import os
import pathlib
import pickle
import re
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import run_cli
from tfp_flows import models
from tfp_flows.data import audio as audio_lib
from tfp_flows.data import torch_checkpoint
from tfp_flows.models import waveglow_nvidia
from tfp_flows.models.denoiser import Denoiser

DATA = pathlib.Path(__file__).resolve().parent / "data" / "waveglow_nvidia"
ARCHITECTURES = {
    "A": dict(n_mels=2, upsample_kernel=1024, n_flows=4, n_group=8, n_early_every=2, n_early_size=2, wn_layers=2,
              wn_channels=4, wn_kernel_size=3, hop_length=256),
    "B": dict(n_mels=3, upsample_kernel=1024, n_flows=3, n_group=4, n_early_every=2, n_early_size=2, wn_layers=3,
              wn_channels=6, wn_kernel_size=5, hop_length=256),
}
# checkpoint -> (NVIDIA's outputs, architecture, what the file holds)
FORMATS = {
    "a_zip.pt": ("a.npz", "A", dict(held_as="{'model': ...}", dtypes=["float32"], weight_norm=True, iteration=12)),
    "a_legacy.pt": ("a.npz", "A", dict(held_as="{'model': ...}", weight_norm=True)),
    "a_state_dict.pt": ("a.npz", "A", dict(held_as="a state_dict", weight_norm=True)),
    "a_removed_legacy.pt": ("a_removed.npz", "A", dict(weight_norm=False, wn_layout="cond_layer")),
    "a_fp16.pt": ("a_fp16.npz", "A", dict(dtypes=["float16"], weight_norm=False)),
    "b_removed_zip.pt": ("b_removed.npz", "B", dict(weight_norm=False)),
    "glow2019_legacy.pt": ("glow2019.npz", "A", dict(wn_layout="cond_layers", iteration=580000)),
    "glow2018_legacy.pt": ("glow2018.npz", "A", dict(wn_layout="res_layers + skip_layers")),
    "dle.pt": ("dle.npz", "B", dict(held_as="{'state_dict': ...}", wn_layout="cond_layers", epoch=1000)),
}


@pytest.fixture(scope="module")
def imported():
    """One model per architecture from `WaveGlow.from_nvidia`; the format tests assign each file's weights into
    the model of its architecture (its traced synthesis graph reads the variables: traced once). B comes from a
    state_dict (no stride) with settings overridden, which the settings test checks."""
    return dict(A=models.WaveGlow.from_nvidia(DATA / "a_zip.pt"),
                B=models.WaveGlow.from_nvidia(DATA / "dle.pt", sample_rate=16000, fmax=7600.0, hop_length=256))


def _max_relative(ours, theirs) -> float:
    return float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))


def _errors(model, reference) -> dict:
    """Relative errors against NVIDIA's outputs: log-density per example, and audio (max |difference| / max |audio|)."""
    mel = reference["mel"]
    log_prob = model.log_prob(reference["audio"], mel).numpy()
    mode = model.infer(mel, sigma=0.0, clip=False).numpy()
    draws = [reference[f"draw_{i}"] for i in range(8) if f"draw_{i}" in reference]
    z = waveglow_nvidia.latent_from_nvidia_noise(draws, sigma=float(reference["sigma_noise"]))
    noisy = model.decode(z.astype(np.float32), mel).numpy()
    return dict(
        log_prob=float(np.max(np.abs(log_prob - reference["log_prob"]) / np.abs(reference["log_prob"]))),
        infer_sigma0=_max_relative(mode, reference["infer_sigma0"]),
        infer_noise=_max_relative(noisy, reference["infer_noise"]),
    )


def test_from_nvidia_reads_the_architecture_and_nvidia_settings(imported):
    model = imported["A"]
    assert not model.lu and model.mel_center and model.mel_config().center
    assert {key: getattr(model, key) for key in ARCHITECTURES["A"]} == ARCHITECTURES["A"]
    assert (model.sample_rate, model.n_fft, model.fmax, model.sigma, model.inference_sigma) == (22050, 1024, 8000.0, 1.0, 0.6)
    other = imported["B"]  # from dle.pt, a state_dict, with sample_rate, fmax and hop_length given
    assert (other.sample_rate, other.fmax, other.hop_length, other.n_fft) == (16000, 7600.0, 256, 1024)
    with pytest.raises(ValueError, match=r"\['n_flows'\] cannot be overridden"):
        models.WaveGlow.from_nvidia(DATA / "a_zip.pt", n_flows=3)
    with pytest.raises(ValueError, match="stride .* is 256; hop_length=128"):
        models.WaveGlow.from_nvidia(DATA / "a_zip.pt", hop_length=128)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_each_format_gives_nvidias_numbers(imported, name):
    reference_name, architecture, held = FORMATS[name]
    checkpoint = waveglow_nvidia.read_checkpoint(DATA / name)
    assert checkpoint.config == ARCHITECTURES[architecture]
    assert {key: checkpoint.info.get(key) for key in held} == held
    model = imported[architecture]
    waveglow_nvidia.assign(model, checkpoint)
    errors = _errors(model, np.load(DATA / reference_name))
    assert errors["log_prob"] <= 1e-4 and errors["infer_sigma0"] <= 2e-4 and errors["infer_noise"] <= 2e-4, errors


def test_denoiser_and_tacotron2_mels_equal_nvidias(imported):
    model = imported["A"]
    waveglow_nvidia.assign(model, waveglow_nvidia.read_checkpoint(DATA / "a_zip.pt"))
    reference = np.load(DATA / "a.npz")
    denoiser = Denoiser(model)
    assert _max_relative(denoiser.bias_spectrum.numpy(), reference["bias_spectrum"]) <= 1e-5
    denoised = denoiser(reference["denoise_input"], strength=0.1).numpy()
    assert np.abs(reference["denoised"] - reference["denoise_input"]).max() > 0.01  # the denoiser did something
    assert _max_relative(denoised, reference["denoised"]) <= 1e-5
    tacotron2 = np.load(DATA / "tacotron2_mel.npz")
    mel = audio_lib.mel_spectrogram(tf.constant(tacotron2["audio"] / 32768.0, tf.float32), audio_lib.MelConfig(center=True))
    assert mel.shape == tacotron2["mel"].shape == (80, 4000 // 256 + 1)
    np.testing.assert_allclose(mel.numpy(), tacotron2["mel"], atol=5e-5)


def _pickle_calling(module: str, name: str, argument: str) -> bytes:
    """A protocol-2 pickle whose loading calls `module.name(argument)` (GLOBAL, the argument, TUPLE1, REDUCE)."""
    return b"\x80\x02c" + f"{module}\n{name}\n".encode() + pickle.dumps(argument, protocol=2)[2:-1] + b"\x85R."


def test_a_pickle_that_would_run_code_is_refused_unrun(tmp_path):
    marker = tmp_path / "ran"
    attacks = {
        "os.system": _pickle_calling("os", "system", f"touch {marker}"),
        "builtins.eval": _pickle_calling("__builtin__", "eval", f"open({str(marker)!r}, 'w')"),
        "posix.system": pickle.dumps(type("Attack", (), {"__reduce__": lambda self: (os.system, (f"touch {marker}",))})(), protocol=2),
    }
    for index, (global_name, payload) in enumerate(attacks.items()):
        zipped = tmp_path / f"attack{index}.pt"
        with zipfile.ZipFile(zipped, "w") as archive:
            archive.writestr("archive/data.pkl", payload)
        legacy = tmp_path / f"attack{index}_legacy.pt"
        header = b"".join(pickle.dumps(value, protocol=2) for value in (torch_checkpoint.LEGACY_MAGIC, 1001, {}))
        legacy.write_bytes(header + payload)
        for path in (zipped, legacy):
            with pytest.raises(torch_checkpoint.CheckpointError, match=rf"{re.escape(str(path))}: refused to load the global '{global_name}'"):
                models.WaveGlow.from_nvidia(path)
    assert not marker.exists()


def test_bad_files_get_one_clear_error(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(os.urandom(3000))
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    truncated_zip, truncated_legacy = tmp_path / "cut.pt", tmp_path / "cut_legacy.pt"
    truncated_zip.write_bytes((DATA / "a_zip.pt").read_bytes()[:50000])
    truncated_legacy.write_bytes((DATA / "a_legacy.pt").read_bytes()[:-5000])
    cases = {
        garbage: "is not a PyTorch checkpoint",
        empty: "is not a PyTorch checkpoint",
        truncated_zip: "not a readable PyTorch checkpoint",
        truncated_legacy: "is truncated",
        DATA / "linear_state_dict.pt": r"not an NVIDIA WaveGlow checkpoint: expected tensors upsample.weight.*found bias, weight",
        tmp_path / "missing.pt": "no such file",
    }
    for path, message in cases.items():
        with pytest.raises(ValueError, match=rf"{re.escape(str(path))}.*{message}"):
            models.WaveGlow.from_nvidia(path)


def test_import_command_makes_a_run_that_vocodes_and_evaluates(tmp_path, capsys):
    out = tmp_path / "nvidia"
    code, err = run_cli(["import-waveglow", str(DATA / "glow2019_legacy.pt"), "--output", str(out), "--dataset", str(tmp_path / "wavs")], capsys)
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert config["source"] == "nvidia" and config["mel_config"]["center"] and config["checkpoint_info"]["iteration"] == 580000
    assert config["architecture"] == ARCHITECTURES["A"]
    rate = 22050
    wave = (0.3 * np.sin(2 * np.pi * 220 * np.arange(3000) / rate)).astype(np.float32)
    audio_lib.write_wav(str(tmp_path / "in.wav"), wave, rate)
    code, err = run_cli(["vocode", "--run", str(out), "--wav", str(tmp_path / "in.wav"), "--out", str(tmp_path / "out.wav"), "--denoise", "0.1"], capsys)
    assert code == 0, err
    samples, _ = audio_lib.read_wav(str(tmp_path / "out.wav"))
    assert samples.shape == (3072,)  # the input padded to whole hops (a Tacotron 2 mel has one frame more: trimmed)
    np.save(tmp_path / "mel80.npy", np.zeros([80, 5], np.float32))
    code, err = run_cli(["vocode", "--run", str(out), "--mel", str(tmp_path / "mel80.npy"), "--out", str(tmp_path / "x.wav")], capsys)
    assert code == 2 and "mel80.npy" in err and "expected a log-mel [2, frames]" in err
    for i in range(10):
        audio_lib.write_wav(str(tmp_path / "wavs" / f"{i}.wav"), np.roll(wave, 100 * i), rate)
    code, err = run_cli(["evaluate", "--run", str(out), "--split", "test"], capsys)
    assert code == 0, err
    result = json.loads((out / "eval_test.json").read_text())
    assert result["num_examples"] >= 1 and 0 < result["bits_per_sample"] < 40


def test_import_command_refuses_bad_files_and_writes_nothing(tmp_path, capsys):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x80\x02" + os.urandom(500))
    for checkpoint in (garbage, DATA / "linear_state_dict.pt"):
        out = tmp_path / f"run_{checkpoint.stem}"
        code, err = run_cli(["import-waveglow", str(checkpoint), "--output", str(out)], capsys)
        assert code == 2 and str(checkpoint) in err and "\n" not in err, err
        assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".import-")]
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    code, err = run_cli(["import-waveglow", str(DATA / "a_zip.pt"), "--output", str(tmp_path / "taken")], capsys)
    assert code == 2 and "already exists" in err
