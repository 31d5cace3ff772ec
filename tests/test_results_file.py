"""Benchmark results files: the table the Results page includes, with its command, machine and date."""
from __future__ import annotations

import datetime
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import results_file  # noqa: E402

sys.path.remove(str(ROOT / "benchmarks"))

TABLE = ["| model | bits/dim |", "|---|---:|", "| Glow | 2.062 |"]


def test_results_file_holds_the_table_command_machine_and_date(tmp_path):
    path = results_file.write(str(tmp_path / "results" / "t.md"), TABLE, argv=["benchmarks/x.py", "--run", "a b"])
    text = pathlib.Path(path).read_text()
    assert "\n".join(TABLE) in text
    assert "Command: `python benchmarks/x.py --run 'a b'`" in text
    assert f"Date: {datetime.date.today().isoformat()}" in text
    assert f"{results_file.os.cpu_count()} cores" in results_file.machine()


def test_results_file_refuses_what_is_not_a_table():
    with pytest.raises(ValueError, match="Markdown table"):
        results_file.render(["model: Glow"])
    with pytest.raises(ValueError, match="Markdown table"):
        results_file.render([])


def test_the_results_page_includes_every_results_file():
    page = (ROOT / "docs" / "results.md").read_text()
    for path in sorted((ROOT / "benchmarks" / "results").glob("*.md")):
        assert f'--8<-- "benchmarks/results/{path.name}"' in page, f"{path.name} is not on the Results page"
