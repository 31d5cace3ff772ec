"""Constructor arguments, checked before anything is built: one `ValueError` naming the argument, what came and what it needs.

Plain Python (no TensorFlow): bijectors, layers, networks and models call these first
thing in `__init__`, so a wrong setting costs no weights and no graph.

>>> integer("Glow", "steps", 0)
Traceback (most recent call last):
ValueError: Glow: expected steps as an integer >= 1, got 0.
"""
from __future__ import annotations

import math
import numbers
from typing import Sequence

import numpy as np


def integer(owner: str, name: str, value, minimum: int = 1, maximum: int | None = None) -> int:
    """An int (not a bool or a float) in `[minimum, maximum]`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum or (
            maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
        raise ValueError(f"{owner}: expected {name} as an integer {bound}, got {value!r}.")
    return int(value)


def number(owner: str, name: str, value, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False) -> float:
    """A finite real number in the interval given (`low_open`/`high_open` exclude the end)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        if low is not None and high is not None:
            need = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        elif low is not None:
            need = f"{'>' if low_open else '>='} {low:g}"
        elif high is not None:
            need = f"{'<' if high_open else '<='} {high:g}"
        else:
            need = ""
        raise ValueError(f"{owner}: expected {name} as a finite number{' ' + need if need else ''}, got {value!r}.")
    return float(value)


def boolean(owner: str, name: str, value) -> bool:
    """True or False (numpy's too), not a truthy string."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{owner}: expected {name} as True or False, got {value!r}.")
    return bool(value)


def one_of(owner: str, name: str, value, choices: Sequence) -> object:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{owner}: unknown {name} {value!r}; expected one of {tuple(choices)}.")
    return value


def shape(owner: str, name: str, value, ranks: Sequence[int] = (1, 2, 3)) -> tuple[int, ...]:
    """A tuple of positive ints of one of the `ranks` (an event shape)."""
    try:
        dims = tuple(value)
    except TypeError:
        dims = None
    if (dims is None or isinstance(value, str) or len(dims) not in ranks
            or not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 1 for d in dims)):
        what = {1: "(D,)", 2: "(H, W)", 3: "(H, W, C)"}
        raise ValueError(f"{owner}: expected {name} as a shape of positive integers, {' or '.join(what.get(r, f'rank {r}') for r in ranks)}; "
                         f"got {value!r}.")
    return tuple(int(d) for d in dims)
