"""The embedded speech corpus and the Griffin-Lim reference vocoder, measured on this machine.

Synthesises the corpus into a fresh cache folder (time, size on disk, hours of audio per split), then
resynthesises the held-out test sentences from their log-mels with fast Griffin-Lim (`tf.signal`) and
reports the log-mel L1 distance to the original (mean over mel bins and frames, averaged over utterances)
and Griffin-Lim's real-time factor (seconds of audio per second of compute).

    python benchmarks/speech_reference.py                    # the default 400-sentence corpus
    python benchmarks/speech_reference.py --quick            # 20 sentences, 8 iterations: a smoke run
    python benchmarks/speech_reference.py --png mels.png     # also draw the first test utterance
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time

import numpy as np

from tfp_flows import data
from tfp_flows.data import audio, speech
from tfp_flows.training.spectrograms import save_spectrogram_comparison


def folder_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(path) for name in names)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-sentences", type=int, default=speech.NUM_SENTENCES)
    parser.add_argument("--iterations", type=int, default=60, help="Griffin-Lim iterations")
    parser.add_argument("--split", default="test")
    parser.add_argument("--quick", action="store_true", help="20 sentences, 8 iterations")
    parser.add_argument("--png", help="write original vs Griffin-Lim log-mels of the first utterance here")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if args.quick:
        args.num_sentences, args.iterations = 20, 8
    config = audio.MelConfig()
    results: dict = {"num_sentences": args.num_sentences, "griffin_lim_iterations": args.iterations}

    cache_dir = tempfile.mkdtemp(prefix="speech_reference_")  # a fresh cache: measure the synthesis
    start = time.perf_counter()
    corpus = speech.load_corpus(args.num_sentences, cache_dir)
    results["synthesis_seconds"] = round(time.perf_counter() - start, 2)
    results["cache_megabytes"] = round(folder_bytes(corpus.directory) / 1e6, 1)
    for split in speech.SPLITS:
        _, clips = corpus.split(split)
        results[f"{split}_sentences"] = len(clips)
        results[f"{split}_minutes"] = round(sum(map(len, clips)) / speech.SAMPLE_RATE / 60, 2)
    print(json.dumps(results, indent=1), flush=True)

    # whole held-out utterances exactly as a vocoder sees them: zero-padded to a multiple of the hop
    utterances = data.load("speech", args.split, 1, segment_length=None, num_sentences=args.num_sentences,
                           cache_dir=cache_dir, mel_config=config)
    distances, compute, seconds = [], 0.0, 0.0
    for i, batch in enumerate(utterances):
        original = audio.audio_to_float(batch["audio"])
        start = time.perf_counter()
        resynthesised = audio.griffin_lim(batch["mel"], config, iterations=args.iterations).numpy()
        compute += time.perf_counter() - start
        seconds += original.shape[-1] / config.sample_rate
        distances.append(float(audio.log_mel_l1(original, resynthesised, config)[0]))
        if i == 0 and args.png:
            resynthesised_mel = audio.mel_spectrogram(resynthesised, config)[0].numpy()
            save_spectrogram_comparison(args.png, batch["mel"][0].numpy(), resynthesised_mel)
    results.update({
        "split": args.split,
        "griffin_lim_log_mel_l1": round(float(np.mean(distances)), 4),
        "griffin_lim_log_mel_l1_worst": round(float(np.max(distances)), 4),
        "griffin_lim_real_time_factor": round(seconds / compute, 2),
    })
    shutil.rmtree(cache_dir, ignore_errors=True)
    print(json.dumps(results, indent=1))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)
    return results


if __name__ == "__main__":
    main()
