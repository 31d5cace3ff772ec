"""A griffe extension for the API reference: docstrings written for `help()` render well as Markdown.

- Doctest examples: our docstrings keep their runnable examples (`>>>` lines and their expected output)
  in the body, where pytest's `--doctest-modules` runs them. Markdown would read `>>>` as nested block
  quotes and an output like `[1.0, 2.0]` as a link, so each run of example lines is fenced as a `pycon`
  block before mkdocstrings renders the docstring.
- Formula lines: the bijectors state their maps as consecutive `Forward:` / `Inverse:` / `Log-det:` lines,
  which Markdown would join into one paragraph; they keep their line breaks.

Nothing else in the docstring changes.
"""
from __future__ import annotations

import re

import griffe

FORMULA_LINE = re.compile(r"^\s*(Forward|Inverse|Log-det)( \([^)]*\))?:\s")


def keep_formula_lines(text: str) -> str:
    """`text` with a Markdown hard break before every formula line that follows another line."""
    lines = text.splitlines()
    for i in range(1, len(lines)):
        if FORMULA_LINE.match(lines[i]) and lines[i - 1].strip():
            lines[i - 1] = lines[i - 1].rstrip() + "<br>"
    return "\n".join(lines)


def fence_doctests(text: str) -> str:
    """`text` with every doctest example (prompt lines and the output up to a blank line) fenced."""
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        stripped = lines[i].lstrip()
        if not stripped.startswith(">>>"):
            out.append(lines[i])
            i += 1
            continue
        indent = lines[i][: len(lines[i]) - len(stripped)]
        block = []
        while i < len(lines) and lines[i].strip() and lines[i].startswith(indent):
            block.append(lines[i][len(indent):])
            i += 1
        out += [f"{indent}```pycon"] + [indent + line for line in block] + [f"{indent}```"]
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Fences the doctest examples and keeps the formula lines of every docstring griffe loads."""

    def on_object(self, *, obj, **kwargs) -> None:
        if obj.docstring is None:
            return
        text = keep_formula_lines(obj.docstring.value)
        obj.docstring.value = fence_doctests(text) if ">>>" in text else text
