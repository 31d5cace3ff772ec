"""The embedded offline speech corpus: English sentences rendered by eSpeak NG, synthesised once and cached.

No download: the `espeakng-loader` wheel bundles libespeak-ng and its voice data, driven here through
ctypes in a short-lived worker process (see below: that makes the audio reproducible bit for bit).
Sentences come from a deterministic generator in this module (templates and word lists, picked by SHA-256
of the sentence index, so the same on every machine and Python/numpy version); each sentence is spoken by
one of `VOICES` with its own pitch and speaking rate.

Size: the default `NUM_SENTENCES = 400` gives 21.7 minutes of 22050 Hz 16-bit speech (57.5 MB cached;
324 train / 40 validation / 36 test sentences), rendered in 4-6 s on one core of a busy 2-core machine.
That is more audio than a CPU training budget consumes in 16000-sample segments, with a small cache.

Splits are fixed per sentence index (SHA-256 of the index: ~10% test, ~10% validation, the rest train), so a
smaller corpus (`num_sentences=...`, for tests) is a prefix of the default one with the same splits.

The cache lives in `$TFP_FLOWS_CACHE/speech/<n>-<key>/` (default `~/.cache/tfp_flows`), `<key>` hashing the
corpus version, the `espeakng-loader` version and every (text, voice, pitch, rate); it is written to a
temporary folder and renamed into place, so concurrent or interrupted runs never see a half-written corpus.

>>> sentences(3)[0]
'The tired bridge sold the morning news beside the harbour.'
"""
from __future__ import annotations

import ctypes
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

SAMPLE_RATE = 22050  # eSpeak NG's output rate
CORPUS_VERSION = 1  # bump when the sentence generator or the synthesis settings change
NUM_SENTENCES = 400
SPLITS = ("train", "validation", "test")
# eSpeak NG voices and variants: American and British English, male and female variants, other accents.
VOICES = ("en-us", "en-us+f3", "en", "en+m3", "en-us+f2", "en+f4", "en-gb-scotland", "en-us+m7")
_VOLUME = 90  # of eSpeak's 0..200; leaves headroom so loud vowels do not clip

# --- deterministic sentences ----------------------------------------------------------------------------
_ADJECTIVES = (
    "old", "quiet", "bright", "heavy", "small", "green", "tired", "careful", "golden", "cold", "gentle",
    "wooden", "busy", "narrow", "silver", "broken", "happy", "distant", "sudden", "ancient",
)
_NOUNS = (
    "captain", "farmer", "teacher", "river", "garden", "window", "village", "engine", "letter", "station",
    "doctor", "kitten", "mountain", "market", "sailor", "painter", "bridge", "library", "orchard", "clock",
)
_OBJECTS = (
    "a paper lamp", "the blue basket", "seven apples", "a long ladder", "the morning news", "a box of nails",
    "two warm loaves", "the spare key", "a map of the coast", "fresh water", "the old violin", "a bag of flour",
)
_VERBS = ("carried", "found", "painted", "dropped", "sold", "borrowed", "cleaned", "mended", "hid", "lifted")
_PLACES = (
    "across the river", "near the station", "under the bridge", "behind the school", "along the coast",
    "into the cellar", "past the market", "over the hill", "through the forest", "beside the harbour",
)
_TIMES = ("at dawn", "before supper", "on Tuesday", "late last night", "in the spring", "after the storm")
_NUMBERS = ("three", "twelve", "forty", "nineteen", "a hundred", "sixty five", "eight", "two thousand")
_TEMPLATES = (
    "The {adj} {noun} {verb} {obj} {place}.",
    "Did the {noun} really say that {obj} was {place}?",
    "{time}, a {adj} {noun} {verb} {obj}.",
    "We counted {number} {noun}s {place} {time}.",
    "Please bring {obj} to the {adj} {noun}.",
    "Nobody knew why the {noun} {verb} {obj}, but everyone was {adj2} about it.",
    "It is {number} miles from the {noun} to the {adj} {noun2}.",
    "The {noun} and the {noun2} {verb} {obj} {time}, and then walked home {place}.",
    "Where is the {adj} {noun}?",
    "Listen: the {noun} is {adj}, the {noun2} is {adj2}, and the night is long.",
)


def _pick(options: tuple, index: int, slot: str) -> str:
    digest = hashlib.sha256(f"{CORPUS_VERSION}:{index}:{slot}".encode()).digest()
    return options[int.from_bytes(digest[:8], "little") % len(options)]


def sentence(index: int) -> str:
    """The `index`-th sentence of the corpus (deterministic)."""
    template = _TEMPLATES[index % len(_TEMPLATES)]  # in turn: any 10 consecutive sentences use every template
    words = {
        "adj": _pick(_ADJECTIVES, index, "adj"), "adj2": _pick(_ADJECTIVES, index, "adj2"),
        "noun": _pick(_NOUNS, index, "noun"), "noun2": _pick(_NOUNS, index, "noun2"),
        "obj": _pick(_OBJECTS, index, "obj"), "verb": _pick(_VERBS, index, "verb"),
        "place": _pick(_PLACES, index, "place"), "time": _pick(_TIMES, index, "time"),
        "number": _pick(_NUMBERS, index, "number"),
    }
    text = template.format(**words)
    return text[0].upper() + text[1:]


def sentences(num_sentences: int = NUM_SENTENCES) -> list[str]:
    return [sentence(i) for i in range(num_sentences)]


def split_of(index: int) -> str:
    """Fixed split of sentence `index`: about 80% train, 10% validation, 10% test."""
    bucket = int.from_bytes(hashlib.sha256(f"split:{index}".encode()).digest()[:8], "little") % 10
    return "test" if bucket == 0 else "validation" if bucket == 1 else "train"


@dataclasses.dataclass(frozen=True)
class Utterance:
    """One corpus entry: what is said, by which eSpeak voice, at which pitch (0..100) and rate (words/min)."""

    index: int
    text: str
    voice: str
    pitch: int
    rate: int
    split: str


def plan(num_sentences: int = NUM_SENTENCES) -> list[Utterance]:
    """The corpus without audio: one utterance per sentence, voices in turn, pitch 30..70, rate 140..210."""
    if not isinstance(num_sentences, (int, np.integer)) or num_sentences < 1:
        raise ValueError(f"speech corpus: expected num_sentences >= 1, got {num_sentences!r}.")
    utterances = []
    for i in range(int(num_sentences)):
        pitch = 30 + int(hashlib.sha256(f"pitch:{i}".encode()).hexdigest(), 16) % 41
        rate = 140 + int(hashlib.sha256(f"rate:{i}".encode()).hexdigest(), 16) % 71
        utterances.append(Utterance(i, sentence(i), VOICES[i % len(VOICES)], pitch, rate, split_of(i)))
    return utterances


# --- eSpeak NG through ctypes, in a worker process ------------------------------------------------------
# eSpeak NG keeps synthesis state in C statics that no API call resets (the pitch-flutter phase, the glottal
# wave phase, its random generator for breathy voices), so the same text rendered twice in one process
# differs slightly. Each batch of utterances is therefore rendered in a fresh worker process (this file run
# as a script: it imports only numpy and the standard library), in a fixed order, with both random
# generators reseeded before every utterance: the output is then a pure function of the requests.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_ESPEAK_CHARS_UTF8 = 1
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH = 1, 2, 3


class SpeechSynthesisError(RuntimeError):
    """eSpeak NG is missing or failed."""


def espeak_version() -> str:
    """Version of the `espeakng-loader` wheel, which pins the bundled eSpeak NG and its voice data."""
    from importlib import metadata

    try:
        return metadata.version("espeakng-loader")
    except metadata.PackageNotFoundError:
        raise SpeechSynthesisError(
            "the embedded speech corpus needs the `espeakng-loader` package (pip install espeakng-loader), "
            "which bundles eSpeak NG."
        ) from None


class _ESpeak:
    """The eSpeak NG engine of a worker process (the C library is a process-wide singleton)."""

    def __init__(self):
        import espeakng_loader

        self._lib = ctypes.cdll.LoadLibrary(espeakng_loader.get_library_path())
        self._libc = ctypes.CDLL(None)
        self._lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        data_path = espeakng_loader.get_data_path().encode()
        rate = self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, 0)
        if rate != SAMPLE_RATE:
            raise SpeechSynthesisError(f"eSpeak NG failed to initialise (returned {rate}; expected {SAMPLE_RATE} Hz).")
        self._chunks: list[np.ndarray] = []
        callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
        self._callback = callback_type(self._collect)  # keep a reference: C holds only the pointer
        self._lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, samples, count, events):
        if count > 0:
            self._chunks.append(np.ctypeslib.as_array(samples, shape=(count,)).copy())
        return 0  # continue

    def synthesise(self, text: str, voice: str, pitch: int, rate: int, seed: int) -> np.ndarray:
        if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"eSpeak NG has no voice {voice!r} (try 'en-us', 'en', 'en-us+f3').")
        for parameter, value in ((_PARAM_RATE, rate), (_PARAM_PITCH, pitch), (_PARAM_VOLUME, _VOLUME)):
            self._lib.espeak_SetParameter(parameter, int(value), 0)
        self._libc.srand(seed)  # breathy variants draw noise from libc's rand()
        self._lib.espeak_ng_SetRandSeed(seed)
        self._chunks = []
        encoded = text.encode("utf-8")
        status = self._lib.espeak_Synth(
            ctypes.c_char_p(encoded), ctypes.c_size_t(len(encoded) + 1), ctypes.c_uint(0),
            ctypes.c_int(_POS_CHARACTER), ctypes.c_uint(0), ctypes.c_uint(_ESPEAK_CHARS_UTF8), None, None,
        )
        self._lib.espeak_Synchronize()
        if status != 0:
            raise SpeechSynthesisError(f"eSpeak NG failed on {text!r} (status {status}).")
        chunks, self._chunks = self._chunks, []
        return np.concatenate(chunks).astype(np.int16) if chunks else np.zeros([0], np.int16)


def _worker(out_path: str) -> None:
    """Worker process: JSON requests [[text, voice, pitch, rate, seed], ...] on stdin -> int16 .npy + lengths."""
    requests = json.load(sys.stdin)
    engine = _ESpeak()
    try:
        audio = [engine.synthesise(*request) for request in requests]
    except ValueError as error:
        print(json.dumps({"error": str(error)}))
        return
    np.save(out_path, np.concatenate(audio) if audio else np.zeros([0], np.int16))
    print(json.dumps({"lengths": [len(a) for a in audio]}))


# Runs this file as __main__ without putting its folder first on sys.path (where data/ modules could shadow
# standard-library ones) and without importing tfp_flows (and so TensorFlow): only numpy and the stdlib.
_WORKER_BOOTSTRAP = (
    "import runpy, sys; sys.path = [p for p in sys.path if p not in ('', '.')]; "
    "runpy.run_path(sys.argv[1], run_name='__main__')"
)


def _synthesise_batch(requests: list[tuple], out_path: str) -> list[int]:
    """Renders `requests` in a fresh worker into `out_path` (.npy, concatenated); returns their lengths."""
    espeak_version()  # a clear error when the package is missing
    process = subprocess.run(
        [sys.executable, "-c", _WORKER_BOOTSTRAP, os.path.abspath(__file__), out_path], input=json.dumps(requests),
        capture_output=True, text=True, check=False,
    )
    if process.returncode != 0:
        detail = process.stderr.strip().splitlines()[-1] if process.stderr.strip() else f"exit code {process.returncode}"
        raise SpeechSynthesisError(f"eSpeak NG worker failed: {detail}")
    reply = json.loads(process.stdout.strip().splitlines()[-1])
    if "error" in reply:
        raise ValueError(reply["error"])
    return reply["lengths"]


def synthesise(text: str, voice: str = "en-us", pitch: int = 50, rate: int = 175, seed: int = 1) -> np.ndarray:
    """English `text` as 22050 Hz int16 speech `[T]`, offline and deterministic.

    `voice` is an eSpeak NG voice, optionally with a variant ("en-us", "en", "en-us+f3"); `pitch` is 0..100,
    `rate` words per minute; `seed` drives the breath noise of breathy variants.

    >>> speech = synthesise("Hello.")
    >>> speech.dtype, 0.3 < len(speech) / SAMPLE_RATE < 2.0
    (dtype('int16'), True)
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"synthesise: expected non-empty text, got {text!r}.")
    with tempfile.TemporaryDirectory(prefix="tfp_flows_speech_") as scratch:
        out_path = os.path.join(scratch, "audio.npy")
        _synthesise_batch([[text, voice, int(pitch), int(rate), int(seed)]], out_path)
        return np.load(out_path)


# --- the cached corpus ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Corpus:
    utterances: tuple[Utterance, ...]
    audio: tuple[np.ndarray, ...]  # int16 [T_i] per utterance
    directory: str

    def split(self, name: str) -> tuple[list[Utterance], list[np.ndarray]]:
        if name not in SPLITS:
            raise ValueError(f"speech: unknown split {name!r}; expected one of {SPLITS}.")
        chosen = [i for i, u in enumerate(self.utterances) if u.split == name]
        return [self.utterances[i] for i in chosen], [self.audio[i] for i in chosen]


def cache_root() -> str:
    return os.path.join(os.environ.get("TFP_FLOWS_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "tfp_flows"), "speech")


def _cache_key(utterances: list[Utterance], espeak_version: str) -> str:
    description = json.dumps([CORPUS_VERSION, espeak_version, _VOLUME, [dataclasses.astuple(u) for u in utterances]])
    return hashlib.sha256(description.encode()).hexdigest()[:16]


def load_corpus(num_sentences: int = NUM_SENTENCES, cache_dir: str | None = None) -> Corpus:
    """The corpus of `num_sentences` utterances, synthesised on first use and cached under `cache_dir`."""
    utterances = plan(num_sentences)
    directory = os.path.join(cache_dir or cache_root(), f"{len(utterances)}-{_cache_key(utterances, espeak_version())}")
    if not os.path.exists(os.path.join(directory, "audio.npy")):
        _synthesise_to(directory, utterances)
    with open(os.path.join(directory, "index.json")) as handle:
        lengths = json.load(handle)["lengths"]
    flat = np.load(os.path.join(directory, "audio.npy"), mmap_mode="r")
    if len(lengths) != len(utterances) or sum(lengths) != len(flat):
        raise SpeechSynthesisError(f"speech cache {directory} is inconsistent; delete it to re-synthesise.")
    offsets = np.cumsum([0] + lengths)
    audio = tuple(np.array(flat[offsets[i] : offsets[i + 1]]) for i in range(len(lengths)))
    return Corpus(tuple(utterances), audio, directory)


def _synthesise_to(directory: str, utterances: list[Utterance]) -> None:
    parent = os.path.dirname(directory)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".partial-", dir=parent)
    try:
        requests = [[u.text, u.voice, u.pitch, u.rate, u.index + 1] for u in utterances]
        lengths = _synthesise_batch(requests, os.path.join(staging, "audio.npy"))
        index = {
            "sample_rate": SAMPLE_RATE, "espeakng_loader": espeak_version(), "corpus_version": CORPUS_VERSION,
            "lengths": lengths, "utterances": [dataclasses.asdict(u) for u in utterances],
        }
        with open(os.path.join(staging, "index.json"), "w") as handle:
            json.dump(index, handle, indent=0)
        try:
            os.rename(staging, directory)
        except OSError:  # another process finished first: its copy is identical
            if not os.path.exists(os.path.join(directory, "audio.npy")):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


if __name__ == "__main__":
    _worker(sys.argv[-1])
