"""Results files: a benchmark's Markdown table with the command, machine and date that produced it.

The documentation's Results page includes these files (`benchmarks/results/*.md`) as they are, so a
table on the site is always the output of a run, never a copy. A script that prints a table takes
`--markdown PATH` and calls `write(PATH, lines)` with the same lines it prints.
"""
from __future__ import annotations

import datetime
import os
import platform
import shlex
import sys

HEADER = "<!-- Results file written by a benchmark; rewrite it by re-running the command at its foot. -->"


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), or the platform's processor string."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    """One line: CPU model and cores, memory, accelerators, and the TensorFlow/TFP/Keras versions loaded."""
    try:
        memory = f", {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GB RAM"
    except (ValueError, OSError, AttributeError):
        memory = ""
    versions = []
    for module, label in (("tensorflow", "TensorFlow"), ("tensorflow_probability", "TFP"), ("keras", "Keras")):
        if module in sys.modules:
            versions.append(f"{label} {getattr(sys.modules[module], '__version__', '?')}")
    gpus = []
    if "tensorflow" in sys.modules:
        gpus = sys.modules["tensorflow"].config.list_physical_devices("GPU")
    accelerators = f"{len(gpus)} GPU(s)" if gpus else "no GPU"
    return f"{cpu_model()}, {os.cpu_count()} cores{memory}, {accelerators}" + (f"; {', '.join(versions)}" if versions else "")


def command(argv: list[str] | None = None) -> str:
    """The command line that ran this process (`python script.py args...`)."""
    argv = sys.argv if argv is None else argv
    return "python " + " ".join(shlex.quote(arg) for arg in argv)


def render(table_lines: list[str], argv: list[str] | None = None, date: datetime.date | None = None) -> str:
    """The results file's text: the table, then a line with its command, machine and date."""
    if not table_lines or not all(line.startswith("|") for line in table_lines):
        raise ValueError("results_file: expected the lines of a Markdown table, each starting with '|'.")
    date = date or datetime.date.today()
    return (f"{HEADER}\n\n" + "\n".join(table_lines) + "\n\n"
            f"<small>Command: `{command(argv)}` · Machine: {machine()} · Date: {date.isoformat()}</small>\n")


def write(path: str, table_lines: list[str], argv: list[str] | None = None) -> str:
    """Writes the results file for `table_lines` to `path` (its folder is created); returns `path`."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(render(table_lines, argv))
    return path
