"""Every public name has the docstring the API reference shows: arguments, errors and a runnable example."""
from __future__ import annotations

import importlib.util
import pathlib

AUDIT = pathlib.Path(__file__).resolve().parents[1] / "docs" / "audit_docstrings.py"


def load_audit():
    spec = importlib.util.spec_from_file_location("audit_docstrings", AUDIT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_public_name_has_a_complete_docstring():
    report = load_audit().audit()
    assert not report, "incomplete docstrings (python docs/audit_docstrings.py):\n" + "\n".join(
        f"  {name}: {'; '.join(gaps)}" for name, gaps in report.items())


def test_the_audit_finds_what_is_missing():
    audit = load_audit()

    def undocumented(size, *, scale=1.0):
        """Returns something."""

    def documented(size, *, scale=1.0):
        """Scales `size` by `scale`.

        Raises:
          ValueError: `size < 0`.

        >>> documented(1)
        """

    assert audit.missing(undocumented) == ["example", "args: size, scale", "raises"]
    assert audit.missing(documented) == []
