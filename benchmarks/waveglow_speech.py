"""WaveGlow on the embedded speech corpus: held-out bits per audio sample, resynthesis log-mel L1 against
Griffin-Lim, and the real-time factor of synthesis on this machine.

    python benchmarks/waveglow_speech.py                      # trains the "small" preset (CPU budget), then measures
    python benchmarks/waveglow_speech.py --run runs/wg --skip-train
    python benchmarks/waveglow_speech.py --quick              # a smoke run: 1 short epoch, 3 test sentences

Training is `tfp-flows train --model waveglow --preset small --epochs E` (resumable). The measurements use the
best checkpoint on the test split of the corpus (sentences never seen in training), each utterance whole:
  * bits per sample: -(log p(y) - T log 32768) / (T log 2), `y = (x + u) / 32768` uniformly dequantised
    (16 = uniform noise over 16-bit levels); the mean over all test samples (length-weighted);
  * log-mel L1: mean |mel - mel(resynthesis)| in natural-log units over all bins and frames, for WaveGlow at
    sigma 0.6 (with and without the denoiser at strength 0.1) and for Griffin-Lim (60 iterations, momentum 0.99);
  * real-time factor: synthesis seconds / audio seconds (after a warm-up call at the same length), on this CPU.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import results_file  # noqa: E402  benchmarks/results_file.py, beside this script


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=os.path.join("runs", "waveglow-speech-benchmark"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--num-test", type=int, default=None, help="test sentences to measure (default: all)")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny budget, 3 sentences")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--markdown", default=None, help="also write the table as a results file (benchmarks/results/)")
    args = parser.parse_args(argv)

    import tensorflow as tf

    from tfp_flows import cli, data
    from tfp_flows.commands.speech import load_vocoder
    from tfp_flows.data import audio as audio_lib
    from tfp_flows.models.denoiser import Denoiser

    if not args.skip_train:
        train = ["train", "--model", "waveglow", "--preset", "small", "--output", args.run, "--epochs", str(1 if args.quick else args.epochs)]
        start = time.perf_counter()
        if cli.main(train) != 0:
            raise SystemExit("training failed")
        print(f"training: {time.perf_counter() - start:.0f} s", flush=True)
    model = load_vocoder(args.run)
    config = model.mel_config()
    test = data.load("speech", "test", 1, segment_length=None, mel_config=config)
    limit = 3 if args.quick else args.num_test
    denoiser = Denoiser(model, filter_length=config.n_fft, win_length=config.win_length)
    model.infer(tf.zeros([1, model.n_mels, 4]), seed=0)  # warm-up: traces the synthesis graph once

    nats = samples = 0.0
    rows = {name: dict(l1=0.0, frames=0, seconds=0.0, audio_seconds=0.0) for name in ("waveglow", "waveglow+denoiser", "griffin_lim")}
    count = 0
    for i, batch in enumerate(test):
        if limit is not None and i >= limit:
            break
        audio, mel = batch["audio"], batch["mel"]
        length = int(audio.shape[-1])
        bits = float(model.bits_per_sample(audio, mel, noise=True)[0])
        nats, samples = nats + bits * length, samples + length
        seconds = length / model.sample_rate
        model.infer(mel, sigma=0.6, seed=i)  # warm-up at this length (TensorFlow sets up kernels per shape)
        start = time.perf_counter()
        waveform = model.infer(mel, sigma=0.6, seed=i)
        outputs = {"waveglow": (waveform, time.perf_counter() - start)}
        start = time.perf_counter()
        denoised = denoiser(waveform, strength=0.1)
        outputs["waveglow+denoiser"] = (denoised, outputs["waveglow"][1] + time.perf_counter() - start)
        start = time.perf_counter()
        start = time.perf_counter()
        reference = audio_lib.griffin_lim(mel, config, iterations=60)
        outputs["griffin_lim"] = (reference, time.perf_counter() - start)
        for name, (out, spent) in outputs.items():
            rebuilt = audio_lib.mel_spectrogram(tf.clip_by_value(out, -1.0, 1.0), config)
            frames = min(int(rebuilt.shape[-1]), int(mel.shape[-1]))
            row = rows[name]
            row["l1"] += float(tf.reduce_sum(tf.abs(rebuilt[..., :frames] - mel[..., :frames]))) / model.n_mels
            row["frames"] += frames
            row["seconds"] += spent
            row["audio_seconds"] += seconds
        count += 1
    results = dict(
        run=os.path.abspath(args.run), test_sentences=count, test_audio_seconds=samples / model.sample_rate,
        bits_per_sample=nats / samples,
        resynthesis={name: dict(log_mel_l1=r["l1"] / r["frames"], real_time_factor=r["seconds"] / r["audio_seconds"]) for name, r in rows.items()},
        parameters=int(model.count_params()), cpu_count=os.cpu_count(),
    )
    print(f"\nheld-out test: {count} sentences, {results['test_audio_seconds']:.1f} s of audio")
    print(f"bits per audio sample (dequantised, test): {results['bits_per_sample']:.3f}")
    table = [f"| vocoder | bits per audio sample (test) | log-mel L1 (test) | real-time factor ({os.cpu_count()} cores) |",
             "|---|---:|---:|---:|"]
    for name, row in results["resynthesis"].items():
        bits = f"{results['bits_per_sample']:.2f}" if name == "waveglow" else ""
        table.append(f"| {name} | {bits} | {row['log_mel_l1']:.3f} | {row['real_time_factor']:.3f} |")
    print("\n".join(table))
    if args.markdown:
        results_file.write(args.markdown, table)
    for path in filter(None, [args.json, os.path.join(args.run, "benchmark.json")]):
        with open(path, "w") as handle:
            json.dump(results, handle, indent=2)
    return results


if __name__ == "__main__":
    main()
