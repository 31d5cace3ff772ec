"""Tables (CSV with a header row) as continuous vectors `[N, D]`, float32, `num_bins=None`.

`columns` picks the numeric columns to model (default: every column, which must then
all be numeric). Values are parsed with Python's `float`; an empty cell, `NA`/`NaN`, a
non-number or an infinite value is an error naming the file, the line and the column.
The delimiter (comma, semicolon or tab) is detected from the header. `context_columns`
are read the same way, apart, as the context `c` of a conditional density `p(x | c)`
(`columns` then defaults to every other column). Parquet is not
read: no Parquet reader is a dependency of tfp_flows (convert to CSV or `.npy`).
"""
from __future__ import annotations

import csv
import math
import os
from typing import Sequence

import numpy as np

from tfp_flows.data.in_memory import InMemoryData
from tfp_flows.data.info import DatasetInfo

SUFFIXES = (".csv", ".tsv", ".txt")
_MISSING = {"", "na", "nan", "n/a", "null", "none", "?"}


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def read(path: str, columns: Sequence[str] | None = None, context_columns: Sequence[str] | None = None) -> InMemoryData:
    """Reads the chosen numeric columns (and context columns) of a CSV file; the keys are the file's line numbers."""
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror or error}.") from None
    with handle:
        try:
            first = handle.readline()
            if not first.strip():
                raise ValueError(f"{path} is empty; expected a header row naming the columns, then one row per example.")
            delimiter = _delimiter(first)
            header = [name.strip() for name in next(csv.reader([first], delimiter=delimiter))]
            chosen = _choose(path, header, columns)
            context_chosen = _choose_context(path, header, columns, context_columns)
            if context_chosen and columns is None:
                chosen = [i for i in chosen if i not in context_chosen]
                if not chosen:
                    raise ValueError(f"{path}: every column is a context column; leave at least one column to model.")
            rows, context_rows, keys = [], [], []
            for line, row in enumerate(csv.reader(handle, delimiter=delimiter), start=2):
                if not row or all(not cell.strip() for cell in row):
                    continue  # blank lines
                if len(row) != len(header):
                    raise ValueError(f"{path}, line {line}: {len(row)} fields, but the header names {len(header)} columns.")
                rows.append([_number(path, line, header[i], row[i], columns is None) for i in chosen])
                context_rows.append([_number(path, line, header[i], row[i], False, "context ") for i in context_chosen])
                keys.append(str(line))
        except UnicodeDecodeError as error:
            raise ValueError(f"{path} is not a UTF-8 text table ({error.reason} at byte {error.start}).") from None
    if not rows:
        raise ValueError(f"{path} has a header but no rows of data.")
    names = tuple(header[i] for i in chosen)
    info = DatasetInfo(name=path, event_shape=(len(chosen),), num_bins=None, kind="vectors", columns=names, num_examples=len(rows),
                       context_columns=tuple(header[i] for i in context_chosen))
    context = np.asarray(context_rows, np.float32) if context_chosen else None
    return InMemoryData(info=info, examples=np.asarray(rows, np.float32), keys=tuple(keys), context=context)


def _choose(path: str, header: list[str], columns) -> list[int]:
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise ValueError(f"{path}: the header names column {duplicated[0]!r} more than once.")
    if columns is None:
        return list(range(len(header)))
    _check_names(path, header, columns, "columns", "column")
    return [header.index(c) for c in columns]


def _check_names(path: str, header: list[str], names, argument: str, kind: str) -> None:
    """`names` (the `argument` of `data.load`) is a non-empty list of distinct columns of `header`."""
    if isinstance(names, str) or not len(names):
        raise ValueError(f"expected {argument} as a non-empty list of column names, got {names!r}.")
    missing = [c for c in names if c not in header]
    if missing:
        raise ValueError(f"{path} has no {kind} {missing[0]!r}; its columns are {', '.join(header)}.")
    if len(set(names)) != len(names):
        raise ValueError(f"{argument} names a column twice: {list(names)}.")


def _choose_context(path: str, header: list[str], columns, context_columns) -> list[int]:
    if context_columns is None:
        return []
    _check_names(path, header, context_columns, "context_columns", "context column")
    both = [c for c in context_columns if columns is not None and c in columns]
    if both:
        raise ValueError(f"{path}: column {both[0]!r} is both modelled (columns) and a context column; a column is one or the other.")
    return [header.index(c) for c in context_columns]


def _number(path: str, line: int, column: str, text: str, all_columns: bool, role: str = "") -> float:
    cell = text.strip()
    hint = " (choose numeric columns with columns=[...]; tfp-flows: --columns a,b)" if all_columns else ""
    if cell.lower() in _MISSING:
        raise ValueError(f"{path}, line {line}, {role}column {column!r}: missing value {text!r}; fill or drop the row{hint}.")
    try:
        value = float(cell)
    except ValueError:
        raise ValueError(f"{path}, line {line}, {role}column {column!r}: {text!r} is not a number{hint}.") from None
    if not math.isfinite(value):
        raise ValueError(f"{path}, line {line}, {role}column {column!r}: {text!r} is not a finite number.")
    return value


def refuse_parquet(path: str) -> None:
    if os.path.splitext(path)[1].lower() in (".parquet", ".pq"):
        raise ValueError(
            f"{path}: Parquet is not supported (no Parquet reader is a dependency of tfp_flows); "
            "convert it to CSV, e.g. pandas.read_parquet(path).to_csv('data.csv', index=False)."
        )
