"""A griffe extension for the API reference: doctest examples in docstrings become code blocks.

Our docstrings keep their runnable examples (`>>>` lines and their expected output) in the body, where
pytest's `--doctest-modules` runs them. Markdown would read `>>>` as nested block quotes and an output like
`[1.0, 2.0]` as a link, so each run of example lines is fenced as a `pycon` block before mkdocstrings
renders the docstring. Nothing else in the docstring changes.
"""
from __future__ import annotations


import griffe


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
    """Fences the doctest examples of every docstring griffe loads."""

    def on_object(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
