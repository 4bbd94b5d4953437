"""Item files: which items exist and their genres (MovieLens ``u.item`` flags, ``movies.csv`` genre lists, or a
category column of a CSV/Parquet file)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dqn_sim.calibrate.errors import DataError
from dqn_sim.calibrate.guard import GuardedFile
from dqn_sim.calibrate.layouts import (
    ALIASES,
    ML100K_GENRES,
    ML100K_ITEM_FIELDS,
    first_line,
    parquet_names,
    shown_columns,
    sniff_separator,
)

NO_GENRE = "(no genre)"


@dataclass(frozen=True)
class ItemTable:
    """Known items in file order, with their genres as flags (items x genres)."""

    ids: pd.Index
    genres_IG: np.ndarray  # bool
    genre_names: list[str]

    @property
    def n_items(self) -> int:
        return len(self.ids)


def genre_table(ids: pd.Index, genres: pd.Series) -> ItemTable:
    """Genre flags from ``"A|B"`` strings; a blank or MovieLens' ``(no genres listed)`` means no genre."""
    lists = [[clean_name(g) for g in str(text).split("|") if g.strip()] if isinstance(text, str) else []
             for text in genres]
    lists = [[] if names == ["(no genres listed)"] else names for names in lists]
    names = sorted({g for gs in lists for g in gs})
    column = {g: j for j, g in enumerate(names)}
    flags = np.zeros((len(ids), len(names)), dtype=bool)
    for i, gs in enumerate(lists):
        flags[i, [column[g] for g in gs]] = True
    return ItemTable(ids, flags, names)


def clean_name(name: str) -> str:
    """A topic name the scenario accepts: no ',' (list separator in forms) and no '|' (mix separator)."""
    return " ".join(name.replace(",", ";").replace("|", "/").split())


def read_items(path: Path, fmt: str, mapping: dict[str, str]) -> ItemTable:
    """The item file of a ratings file of format ``fmt``."""
    if fmt == "ml-100k":
        frame = _read(path, sep="|", header=None, encoding="latin-1", quoting=csv.QUOTE_NONE)
        if frame.shape[1] != ML100K_ITEM_FIELDS:
            raise DataError(path, f"expected {ML100K_ITEM_FIELDS} '|'-separated fields (id, title, dates, url, "
                                  f"19 genre flags), found {frame.shape[1]}", 1)
        flags = frame.iloc[:, 5:]
        bad = ~flags.isin([0, 1, "0", "1"]).all(axis=1).to_numpy()
        if bad.any():
            raise DataError(path, "genre flags must be 0 or 1", int(np.argmax(bad)) + 1)
        table = ItemTable(pd.Index(frame.iloc[:, 0]), flags.astype(int).to_numpy(dtype=bool), list(ML100K_GENRES))
        return _checked(path, table, header_lines=0)
    if (names := parquet_names(path)) is not None:
        item, category = _item_columns(path, names, mapping, fmt)
        frame = pd.read_parquet(path, columns=[item, category])
        return _checked(path, genre_table(pd.Index(frame[item]), frame[category]), header_lines=0)
    line = first_line(path)
    sep = "," if fmt == "ml-latest" else sniff_separator(line)
    names = [n.strip().strip('"') for n in line.split(sep)]
    item, category = _item_columns(path, names, mapping, fmt)
    frame = _read(path, sep=sep, header=0, encoding="utf-8", usecols=[item, category])
    return _checked(path, genre_table(pd.Index(frame[item]), frame[category]), header_lines=1)


def _item_columns(path: Path, names: list[str], mapping: dict[str, str], fmt: str) -> tuple[str, str]:
    """The item id and category columns of an item file (MovieLens: movieId, genres)."""
    lower = {n.lower(): n for n in names}

    def find(role: str) -> str | None:
        if fmt == "ml-latest":
            return {"item": "movieId", "category": "genres"}[role] if {"movieId", "genres"} <= set(names) else None
        if mapping.get(role) in names:
            return mapping[role]
        return next((lower[a] for a in ALIASES[role] if a in lower), None)

    item, category = find("item"), find("category")
    if item is None or category is None:
        hint = "" if len(names) > 1 else " (wrong delimiter?)"
        raise DataError(path, f"missing item id or category column; found: {shown_columns(names)}{hint}; "
                              f"name them with --map item=COL,category=COL", 1)
    return item, category


def _read(path: Path, **kwargs) -> pd.DataFrame:
    try:
        with io.BufferedReader(GuardedFile(path)) as f:
            frame = pd.read_csv(f, encoding_errors="replace", **kwargs)
    except pd.errors.EmptyDataError:
        raise DataError(path, "empty file") from None
    except (pd.errors.ParserError, ValueError) as e:
        raise DataError(path, str(e)) from None
    if frame.empty:
        raise DataError(path, "no items")
    return frame


def _checked(path: Path, table: ItemTable, header_lines: int) -> ItemTable:
    missing = table.ids.isna()
    if missing.any():
        raise DataError(path, "missing item id", int(np.argmax(missing)) + 1 + header_lines)
    duplicated = table.ids.duplicated()
    if duplicated.any():
        i = int(np.argmax(duplicated))
        raise DataError(path, f"item {table.ids[i]} appears twice", i + 1 + header_lines)
    return table
