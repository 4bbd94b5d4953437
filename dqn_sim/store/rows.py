"""Rows of the metric tables as the store holds them: every cell checked against its declared column.

The same rules serve rows a trainer appends and rows an imported CSV brings, so the store holds one kind of value
whatever its origin: finite numbers or NULL, integers that fit SQLite's 64 bits, short text, key columns never
empty, and the two ends of an interval in order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from dqn_sim.store import schema
from dqn_sim.store.errors import short

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_TEXT = 1000  # characters in a text cell (a policy or segment name)


def _real(value: Any) -> float | None:
    """A number; NaN and ±inf become NULL (nothing was measured, or a diverging loss: the run's error says so)."""
    x = float(value)
    return x if math.isfinite(x) else None


def _integer(value: Any) -> int:
    n = int(value)
    if not INT64_MIN <= n <= INT64_MAX:
        raise ValueError(f"{n} does not fit in 64 bits")
    return n


def _text(value: Any) -> str:
    text = str(value)
    if len(text) > MAX_TEXT:
        raise ValueError(f"text of {len(text)} characters (at most {MAX_TEXT})")
    return text


_CONVERT: dict[str, Callable[[Any], Any]] = {"REAL": _real, "INTEGER": _integer, "TEXT": _text}


def cell(kind: str, value: Any) -> Any:
    """One cell to its SQLite type; None and "" (an empty CSV cell) are NULL. Raises ValueError if it cannot be."""
    if value is None or (isinstance(value, str) and value == ""):
        return None
    try:
        return _CONVERT[kind](value)
    except (TypeError, OverflowError) as e:  # int(inf), float(10**400), int([1])
        raise ValueError(str(e)) from None


def intervals(table: str) -> list[tuple[int, int]]:
    """Positions of the ``<stem>_lo`` and ``<stem>_hi`` columns that bound the same interval."""
    names = list(schema.columns(table))
    return [(i, names.index(n[:-3] + "_hi")) for i, n in enumerate(names)
            if n.endswith("_lo") and n[:-3] + "_hi" in names]


def row_tuples(table: str, rows: Iterable[Mapping[str, Any]]) -> Iterator[tuple]:
    """Rows as insert tuples in column order: unknown keys ignored, missing ones NULL, every cell checked.

    Raises ValueError naming the row (counted from 0), the column and the value. (An import checks a million rows
    twice, so the common case converts a row in one comprehension and only a failure looks for the culprit.)
    """
    cols = schema.columns(table)
    plan = [(name, _CONVERT[kind]) for name, kind in cols.items()]
    required = [i for i, name in enumerate(cols) if name in schema.keys(table)]
    pairs = intervals(table)
    for i, row in enumerate(rows):
        try:
            values = [None if (v := row.get(name)) is None or v == "" else convert(v) for name, convert in plan]
        except (ValueError, TypeError, OverflowError):
            _explain(table, i, cols, row)
            raise
        for k in required:
            if values[k] is None:
                raise ValueError(f"{table} row {i}: {list(cols)[k]} is required")
        for lo, hi in pairs:
            if values[lo] is not None and values[hi] is not None and values[lo] > values[hi]:
                raise ValueError(f"{table} row {i}: the interval {list(cols)[lo]}..{list(cols)[hi]} is reversed "
                                 f"({values[lo]} > {values[hi]})")
        yield tuple(values)


def _explain(table: str, i: int, cols: dict[str, str], row: Mapping[str, Any]) -> None:
    """Raise the ValueError that names the first cell of a row that cannot be converted."""
    for name, kind in cols.items():
        try:
            cell(kind, row.get(name))
        except ValueError as e:
            raise ValueError(f"{table} row {i}: {name} = {short(row.get(name))}: {e}") from None
