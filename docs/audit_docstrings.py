"""Audits the docstrings of every public name (each subpackage's `__all__`) for the API reference.

A public class or function passes when its docstring (the class's and its `__init__`'s together) has
a runnable example (`>>>`, run by pytest's doctest), names every argument of its signature (the
standard `name` and `validate_args` of TFP bijectors and Keras' `**kwargs` excepted) and says which
errors it raises (a `Raises:` section, or the error named in the text). Constants and submodules are
described by their package docstring and skipped.

Run: python docs/audit_docstrings.py        (prints what each incomplete docstring lacks; exit 1 if any)
"""
from __future__ import annotations

import importlib
import inspect
import re
import sys

PACKAGES = ("bijectors", "layers", "networks", "models", "data", "training", "export")
STANDARD_ARGUMENTS = {"self", "cls", "args", "kwargs", "name", "validate_args"}


def documentation(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    if inspect.isclass(obj) and "__init__" in obj.__dict__ and obj.__init__.__doc__:
        doc += "\n" + inspect.getdoc(obj.__init__)
    return doc


def arguments(obj) -> list[str]:
    try:
        signature = inspect.signature(obj.__init__ if inspect.isclass(obj) else obj)
    except (TypeError, ValueError):
        return []
    return [p.name for p in signature.parameters.values()
            if p.name not in STANDARD_ARGUMENTS and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def missing(obj) -> list[str]:
    """What the docstring of `obj` lacks: "docstring", "example", "args: a, b", "raises"."""
    doc = documentation(obj)
    if not doc:
        return ["docstring"]
    gaps = []
    if ">>>" not in doc:
        gaps.append("example")
    undocumented = [a for a in arguments(obj) if not re.search(rf"\b{re.escape(a)}\b", doc)]
    if undocumented:
        gaps.append("args: " + ", ".join(undocumented))
    if not re.search(r"Raises:|Raises nothing|\w+Error\b|raises", doc):
        gaps.append("raises")
    return gaps


def audit() -> dict[str, list[str]]:
    """`{"package.Name": gaps}` for every public class and function with an incomplete docstring."""
    report = {}
    for package in PACKAGES:
        module = importlib.import_module(f"tfp_flows.{package}")
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                gaps = missing(obj)
                if gaps:
                    report[f"{package}.{name}"] = gaps
    return report


if __name__ == "__main__":
    report = audit()
    for name, gaps in report.items():
        print(f"{name}: {'; '.join(gaps)}")
    print(f"{len(report)} incomplete docstrings")
    sys.exit(1 if report else 0)
