"""`tfp-flows train --model waveglow` and `tfp-flows vocode`: the speech side of the command line.

Imported lazily by `tfp_flows.commands` (it loads TensorFlow).
"""
from __future__ import annotations

import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from tfp_flows import data, models
from tfp_flows.data import audio as audio_lib
from tfp_flows.commands._runs import report_divergence, resume_state
from tfp_flows.training import RunCheckpoint, RunDir, RunError

# WaveGlow's defaults for the options `tfp-flows train` leaves unset (None): a vocoder on a CPU, not an image model.
WAVEGLOW_DEFAULTS = dict(dataset="speech", preset="small", epochs=10, batch_size=8)
_RUN_IDENTITY = ("model", "preset", "dataset", "segment_length")


def _resolve(args) -> dict:
    """The run's settings: the options given, WaveGlow's defaults for the rest (the learning rate: the preset's)."""
    def given_or_default(name):
        value = getattr(args, name, None)
        return WAVEGLOW_DEFAULTS[name] if value is None else value

    dataset = getattr(args, "data", None) or given_or_default("dataset")
    preset = given_or_default("preset")
    if preset not in models.WaveGlow.presets():
        raise ValueError(f"unknown WaveGlow preset {preset!r}; expected one of {sorted(models.WaveGlow.presets())}.")
    settings = models.WaveGlow.presets()[preset]
    _check_sample_rate(preset, str(dataset))
    return dict(
        model="waveglow", preset=preset, dataset=str(dataset), segment_length=settings["segment_length"],
        batch_size=given_or_default("batch_size"), epochs=given_or_default("epochs"),
        learning_rate=settings["learning_rate"] if args.learning_rate is None else args.learning_rate,
        warmup_steps=args.warmup_steps, seed=args.seed, jit=bool(args.jit), n_bits=None,
        data_dir=getattr(args, "data_dir", None),
    )


def _check_sample_rate(preset: str, dataset: str) -> None:
    """A preset's mels need audio at its sample rate: say which presets fit the data when this one does not."""
    presets = models.WaveGlow.presets()
    wanted, rate = presets[preset]["sample_rate"], data.native_sample_rate(dataset)
    if rate is None or rate == wanted:
        return
    fitting = [name for name, settings in presets.items() if settings["sample_rate"] == rate]
    what = os.path.basename(dataset.rstrip(os.sep)) if os.sep in dataset else f"the {dataset} corpus"
    advice = (f"use --preset {' or '.join(fitting)}" if fitting else
              f"no preset is for {rate} Hz: resample the files to {wanted} Hz (e.g. `sox in.wav -r {wanted} out.wav`)")
    purpose = " (a preset for unit tests)" if preset == "tiny" else ""
    raise ValueError(f"--preset {preset}: WaveGlow's {preset!r} preset{purpose} computes mels of {wanted} Hz audio, but "
                     f"{what} is {rate} Hz; {advice}.")


def _mel_config(preset: str) -> audio_lib.MelConfig:
    s = models.WaveGlow.presets()[preset]
    return audio_lib.MelConfig(
        sample_rate=s["sample_rate"], n_fft=s["n_fft"], win_length=s["win_length"], hop_length=s["hop_length"],
        n_mels=s["n_mels"], fmin=s.get("fmin", 0.0), fmax=s["fmax"],
    )


class AudioRunCheckpoint(RunCheckpoint):
    """`RunCheckpoint` monitoring (validation) bits per audio sample."""

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        for prefix in ("", "val_"):
            if f"{prefix}bits_per_sample" in logs:
                logs[f"{prefix}bits_per_dim"] = logs.pop(f"{prefix}bits_per_sample")
        super().on_epoch_end(epoch, logs)


class VocodedExample(keras.callbacks.Callback):
    """After every epoch: one held-out utterance vocoded to `samples/epoch_NNN.wav` and a side-by-side mel PNG."""

    def __init__(self, run: RunDir, mel: np.ndarray, checkpoint: RunCheckpoint, sigma: float = 0.6):
        super().__init__()
        self.run, self.mel, self.checkpoint, self.sigma = run, mel, checkpoint, sigma

    def on_epoch_end(self, epoch, logs=None):
        if self.checkpoint.diverged_at is not None:
            return
        stem = self.run.file("samples", f"epoch_{epoch + 1:03d}")
        vocode_mel(self.model, self.mel, stem + ".wav", png=stem + ".png", sigma=self.sigma, seed=0)


def train_waveglow(args) -> int:
    settings = _resolve(args)
    run = RunDir(args.output or os.path.join("runs", f"waveglow-{os.path.basename(settings['dataset'].rstrip('/'))}"))
    mel_config = _mel_config(settings["preset"])
    segment = settings["segment_length"]
    load = dict(segment_length=segment, mel_config=mel_config, data_dir=settings["data_dir"])
    info = data.info(settings["dataset"], mel_config=mel_config, segment_length=segment)  # validates the source first
    train_ds = data.load(settings["dataset"], "train", settings["batch_size"], seed=settings["seed"], **load)
    val_ds = data.load(settings["dataset"], "validation", settings["batch_size"], **load)

    existed = run.exists
    state = resume_state(run, settings, _RUN_IDENTITY)
    if not existed:
        run.write_json("config.json", settings)

    if state["epoch"] > 0:
        model = run.load_model("last.keras")
        print(f"Resuming {run.path} after epoch {state['epoch']}.", flush=True)
    else:
        keras.utils.set_random_seed(settings["seed"])
        model = models.WaveGlow.from_preset(settings["preset"], seed=settings["seed"])
        rate = settings["learning_rate"]
        schedule = models.LinearWarmup(rate, settings["warmup_steps"]) if settings["warmup_steps"] else rate
        model.compile(optimizer=keras.optimizers.Adam(schedule), jit_compile=settings["jit"])
    if state["epoch"] >= settings["epochs"]:
        print(f"{run.path} has already trained {state['epoch']} epochs (asked for {settings['epochs']}); nothing to do.")
        return 0

    print(f"Training WaveGlow ({settings['preset']}, {model.count_params():,} parameters) on {settings['dataset']} "
          f"({info.sample_rate} Hz, {info.n_mels} mels, segments of {segment} samples) -> {run.path}", flush=True)
    example = next(iter(data.load(settings["dataset"], "validation", 1, segment_length=None, mel_config=mel_config,
                                  data_dir=settings["data_dir"])))["mel"][0].numpy()
    checkpoint = AudioRunCheckpoint(run, state)
    callbacks = [checkpoint, VocodedExample(run, example, checkpoint), keras.callbacks.TensorBoard(log_dir=run.file("logs"))]
    model.fit(train_ds, validation_data=val_ds, epochs=settings["epochs"], initial_epoch=state["epoch"], callbacks=callbacks,
              verbose=1 if sys.stdout.isatty() else 2)
    if report_divergence(checkpoint, state, run, "Try a lower --learning-rate."):
        return 1
    print(f"Done: {state['epoch']} epochs; best bits/sample {state['best_bits_per_dim']:.4f} at epoch {state['best_epoch']}; "
          f"checkpoints, vocoded samples and logs in {run.path}")
    return 0



def load_vocoder(path: str) -> models.WaveGlow:
    run = RunDir(path)
    if not os.path.isdir(run.path):
        raise RunError(f"run directory {run.path} does not exist.")
    model = run.load_model(run.best_or_last(), compile=False)
    if not isinstance(model, models.WaveGlow):
        raise RunError(f"{run.path} holds a {type(model).__name__}, not a WaveGlow: train one with --model waveglow.")
    return model


def vocode_mel(model, mel: np.ndarray, out: str, png: str | None = None, sigma: float = 0.6, seed: int | None = 0,
               denoise: float = 0.0, length: int | None = None) -> dict:
    """Vocodes one log-mel `[n_mels, frames]` to the WAV `out` (and the comparison PNG `png`); returns timings and the L1.

    `length` trims the audio (`frames * hop` samples) to the source's length: a Tacotron 2 mel (`mel_center`)
    of `T` samples has `T // hop + 1` frames.
    """
    from tfp_flows.training.spectrograms import save_spectrogram_comparison

    mel = np.asarray(mel, np.float32)
    if mel.ndim == 3 and mel.shape[0] == 1:
        mel = mel[0]
    if mel.ndim != 2:
        raise ValueError(f"vocode: expected one log-mel [n_mels={model.n_mels}, frames], got shape {mel.shape}.")
    start = time.perf_counter()  # a first call: includes tracing the synthesis graph and setting up its kernels
    audio = model.infer(mel, sigma=sigma, seed=seed)
    if denoise > 0:
        from tfp_flows.models.denoiser import Denoiser

        audio = Denoiser(model, filter_length=model.n_fft, win_length=model.win_length)(audio[None], strength=denoise)[0]
    seconds = time.perf_counter() - start
    audio = np.clip(audio.numpy(), -1.0, 1.0)[:length]
    audio_lib.write_wav(out, audio, model.sample_rate)
    resynthesised = audio_lib.mel_spectrogram(tf.constant(audio), model.mel_config()).numpy()
    if png:
        save_spectrogram_comparison(png, mel, resynthesised)
    frames = min(mel.shape[1], resynthesised.shape[1])
    duration = len(audio) / model.sample_rate
    return dict(seconds=seconds, duration=duration, real_time_factor=seconds / duration,
                mel_l1=float(np.mean(np.abs(mel[:, :frames] - resynthesised[:, :frames]))))


def vocode(args) -> int:
    model = load_vocoder(args.run)
    if args.wav:
        try:
            samples = audio_lib.read_wav_at(args.wav, model.sample_rate, resample=args.resample)
        except ValueError as error:  # the library names its keyword; the command line has a flag
            raise ValueError(str(error).replace("pass resample=True", "pass --resample")) from None
        samples = np.pad(samples, (0, -len(samples) % model.hop_length))  # whole frames
        if len(samples) < model.n_fft:
            raise ValueError(f"{args.wav!r} is too short to vocode: {len(samples)} samples, expected at least {model.n_fft}.")
        mel = audio_lib.mel_spectrogram(tf.constant(samples.astype(np.float32) / 32768.0), model.mel_config()).numpy()
    else:
        try:
            mel = np.load(args.mel, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise ValueError(f"cannot read the mel {args.mel!r} as a .npy array ({error}).") from None
        mel = np.asarray(mel, np.float32)
        if mel.ndim == 3 and mel.shape[0] == 1:
            mel = mel[0]
        if mel.ndim != 2 or mel.shape[0] != model.n_mels:
            hint = " (transpose it: [frames, n_mels] was given)" if mel.ndim == 2 and mel.shape[1] == model.n_mels else ""
            raise ValueError(f"{args.mel!r}: expected a log-mel [{model.n_mels}, frames], got shape {mel.shape}{hint}.")
        if not np.all(np.isfinite(mel)):
            raise ValueError(f"{args.mel!r}: the mel has NaN or Inf values.")
    png = args.png or os.path.splitext(args.out)[0] + ".png"
    length = len(samples) if args.wav else None
    result = vocode_mel(model, mel, args.out, png=png, sigma=args.sigma, seed=args.seed, denoise=args.denoise, length=length)
    print(f"Wrote {result['duration']:.2f} s of audio to {args.out} in {result['seconds']:.2f} s including one-time graph "
          f"set-up; log-mel L1 {result['mel_l1']:.3f} against the input mel; mels side by side in {png}")
    return 0
