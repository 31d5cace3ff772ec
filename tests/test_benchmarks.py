"""The benchmark script runs end to end (a benchmark: excluded from the default test run)."""
from __future__ import annotations

import importlib
import pathlib
import runpy
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _benchmark(name):
    """A script of benchmarks/ imported as a module."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


@pytest.mark.benchmark
def test_compare_tfp_quick(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "argv", ["compare_tfp.py", "--quick", "--json", str(tmp_path / "r.json")])
    runpy.run_path(str(ROOT / "benchmarks" / "compare_tfp.py"), run_name="__main__")
    assert (tmp_path / "r.json").exists()


@pytest.mark.benchmark
def test_waveglow_speech_quick(tmp_path):
    waveglow_speech = _benchmark("waveglow_speech")
    results = waveglow_speech.main(["--quick", "--run", str(tmp_path / "run"), "--json", str(tmp_path / "r.json")])
    assert results["test_sentences"] == 3 and 0 < results["bits_per_sample"] < 17
    assert set(results["resynthesis"]) == {"waveglow", "waveglow+denoiser", "griffin_lim"}


@pytest.mark.benchmark
def test_fold_actnorm_quick():
    fold_actnorm = _benchmark("fold_actnorm")
    fold_actnorm.main(["--shape", "4", "4", "1", "--steps", "1", "--hidden", "4", "--batch", "4", "--samples", "4",
                       "--repeats", "1", "--train-steps", "1"])


@pytest.mark.benchmark
def test_compile_defaults_and_time_to_quality_quick():
    compile_defaults, time_to_quality = _benchmark("compile_defaults"), _benchmark("time_to_quality")
    rows = compile_defaults.main(["--quick"])["configs"][0]["rows"]
    assert [row["setting"] for row in rows] == list(compile_defaults.SETTINGS)
    assert all(row["train_img_s"] > 0 and row["sample_img_s"] > 0 for row in rows)
    result = time_to_quality.run(steps=20, eval_every=10, levels=1, steps_per_level=1, hidden=8)
    assert result["tfp"] is not None and 0 < result["target_bpd"] < 10


@pytest.mark.benchmark
def test_memory_per_fit_quick():
    memory_per_fit = _benchmark("memory_per_fit")
    assert len(memory_per_fit.main(["--rounds", "2"])) == 2


@pytest.mark.benchmark
def test_compare_tables_quick(tmp_path):
    """Ours against zuko's NSF on two small tables for 500 steps (needs the peers' venv with torch and zuko)."""
    peers = ROOT.parent / ".venv-peers" / "bin" / "python"
    if not peers.exists():
        pytest.skip(f"no peers' venv at {peers} (see benchmarks/peers/zuko_tables.py)")
    compare_tables = _benchmark("compare_tables")
    assert compare_tables.main(["--quick", "--peers-python", str(peers), "--out-dir", str(tmp_path)]) == 0
    table = (tmp_path / "tables.md").read_text()
    assert all(f"| {t} | {m} |" in table for t in ("digits", "wine") for m in ("nsf", "realnvp", "realnvp_spline"))


def test_compare_peers_holds_out_whole_bands_and_summarizes_against_normflows():
    compare_peers = _benchmark("compare_peers")
    train = compare_peers.photo_crops(8, 1, 200, held_out=False, seed=0)
    test = compare_peers.photo_crops(8, 1, 200, held_out=True, seed=0)
    assert train.shape == test.shape == (200, 8, 8, 1) and train.dtype == np.uint8
    assert not {crop.tobytes() for crop in train} & {crop.tobytes() for crop in test}  # no held-out crop is trained on
    run = lambda curve: dict(curve=curve, step_s=[0.1] * 10, sample_s=0.5, first_step_s=1.0, peak_rss_mb=100)  # noqa: E731
    runs = {"8x8": {
        "normflows": [run([(100, 10.0, 5.0), (300, 30.0, 4.0)]), run([(100, 10.0, 5.2), (300, 30.0, 4.2)])],
        "ours": [run([(100, 5.0, 4.5), (300, 15.0, 4.05)]), run([(100, 6.0, 4.0), (300, 18.0, 3.9)])],
    }}
    summary, markdown = compare_peers.summarize(runs, ["8x8"], [100, 300])
    assert summary["8x8"]["normflows"]["target_bpd"] == 4.1
    assert summary["8x8"]["ours"]["bpd_300"] == (3.975, 0.15)
    assert summary["8x8"]["ours"]["time_to_target_s"] == 10.5  # seed 0 at 300 steps (15 s), seed 1 at 100 (6 s)
    assert summary["8x8"]["normflows"]["time_to_target_s"] is None  # one seed never reaches the mean
    assert "| ours | 4.250 (0.50) | 3.975 (0.15) | 10.5 s |" in markdown


@pytest.mark.benchmark
def test_compare_peers_quick(tmp_path):
    compare_peers = _benchmark("compare_peers")
    summary = compare_peers.main(["--sizes", "8x8", "--seeds", "0", "--steps", "8", "--libraries", "ours",
                                  "--out", str(tmp_path), "--images", str(tmp_path)])
    assert 0 < summary["8x8"]["ours"]["train_img_s"] and (tmp_path / "compare_peers_8x8.md").exists()
