"""Chunked reading of interaction logs into compact arrays: a 25M-row file never sits in memory as text.

Each chunk is checked as it comes (missing fields, non-numeric ratings, unknown items, bad timestamps), so an
error names the file and the line; ids become int32 codes, ratings float32, timestamps int64 seconds.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dqn_sim.calibrate.errors import DataError
from dqn_sim.calibrate.guard import GuardedFile
from dqn_sim.calibrate.items import ItemTable, genre_table, read_items
from dqn_sim.calibrate.layouts import Layout, parquet_names, parse_mapping, ratings_layout

CHUNK_ROWS = 1_000_000
MILLISECONDS = 1e11  # numeric timestamps beyond this (year 5138 in seconds) are read as milliseconds
SIBLING_ITEM_FILES = {"ml-100k": "u.item", "ml-latest": "movies.csv"}
Progress = Callable[[float], None]


@dataclass(frozen=True)
class Interactions:
    """One entry per row of the ratings file (``_R``), plus the users and items the codes stand for."""

    path: Path
    format: str
    user_R: np.ndarray  # int32 codes into user_ids
    item_R: np.ndarray  # int32 codes into items.ids
    rating_R: np.ndarray | None  # float32, when the file has ratings
    click_R: np.ndarray | None  # bool, when the file has a click column
    time_R: np.ndarray  # int64 seconds
    user_ids: pd.Index
    items: ItemTable

    @property
    def n_ratings(self) -> int:
        return int(self.user_R.shape[0])

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return self.items.n_items


class _Column:
    """A column filled chunk by chunk into one array sized from the file's length (pages of ``np.empty`` cost
    nothing until written). A list of chunk arrays joined at the end would leave their freed memory resident,
    kept by the allocator: a 25M-row log then needed twice its size."""

    def __init__(self) -> None:
        self.data: np.ndarray | None = None
        self.n = 0

    def append(self, values: np.ndarray, expected: int) -> None:
        end = self.n + values.size
        if self.data is None or end > self.data.size:
            grown = np.empty(max(int(1.25 * expected), end + end // 2), dtype=values.dtype)
            if self.data is not None:
                grown[: self.n] = self.data[: self.n]
            self.data = grown
        self.data[self.n:end] = values
        self.n = end

    @property
    def values(self) -> np.ndarray | None:
        return None if self.data is None else self.data[: self.n]


class _Coder:
    """Int32 codes for ids across chunks; new ids get new codes unless the set of ids is fixed."""

    def __init__(self, known: pd.Index | None = None) -> None:
        self.index, self.fixed = known, known is not None

    def encode(self, values: pd.Series) -> np.ndarray:
        if self.index is None:
            self.index = pd.Index(pd.unique(values))
        codes = self.index.get_indexer(values)
        if not self.fixed and (codes < 0).any():
            self.index = self.index.append(pd.Index(pd.unique(values[codes < 0])))
            codes = self.index.get_indexer(values)
        return codes.astype(np.int32)


def read_interactions(
    ratings: str | Path, items: str | Path | None = None, fmt: str = "auto",
    mapping: dict[str, str] | str | None = None, progress: Progress | None = None,
) -> Interactions:
    """Read a ratings file (and its item file: given, or MovieLens' sibling ``u.item``/``movies.csv``)."""
    path = Path(ratings)
    if not path.is_file():
        raise DataError(path, "no such file")
    mapping = parse_mapping(mapping) if isinstance(mapping, str) or mapping is None else mapping
    layout = ratings_layout(path, fmt, mapping, parquet_names(path), item_file=items is not None)
    items_path = Path(items) if items else _sibling(path, layout.format)
    if items_path is not None and not items_path.is_file():
        raise DataError(items_path, "no such file")
    table = read_items(items_path, layout.format, mapping) if items_path else None
    if table is not None and _string_ids(layout):
        table = ItemTable(table.ids.astype(str), table.genres_IG, table.genre_names)
    users, item_coder = _Coder(), _Coder(table.ids if table is not None else None)
    columns = {role: _Column() for role in ("user", "item", "rating", "click", "timestamp")}
    categories: list[pd.DataFrame] = []
    rows = 0
    for chunk, line, fraction in _chunks(path, layout):
        if chunk.empty:  # a header-only file's one chunk: nothing to check (a median of nothing warns on stderr)
            continue
        rows += len(chunk)
        expected = int(rows / max(fraction, 1e-9))
        _check_missing(path, chunk, line)
        if not _string_ids(layout):  # MovieLens ids are integers
            for role in ("user", "item"):
                chunk[role] = _numbers(path, chunk[role], f"{role} id", line).astype(np.int64)
        columns["user"].append(users.encode(chunk["user"]), expected)
        codes = item_coder.encode(chunk["item"])
        if (codes < 0).any():
            i = int(np.argmax(codes < 0))
            raise DataError(path, f"item {_shown(chunk['item'].iloc[i])} is not in {items_path}", line + i)
        columns["item"].append(codes, expected)
        if "rating" in chunk:
            columns["rating"].append(_numbers(path, chunk["rating"], "rating", line).astype(np.float32), expected)
        if "click" in chunk:
            columns["click"].append(_numbers(path, chunk["click"], "click", line) != 0, expected)
        columns["timestamp"].append(_seconds(path, chunk["timestamp"], line), expected)
        if table is None and "category" in chunk:
            categories.append(pd.DataFrame({"code": codes, "category": chunk["category"]}).drop_duplicates("code"))
        if progress:
            progress(fraction)
    if not rows:
        raise DataError(path, "no interactions (only a header?)")
    if table is None:
        table = _items_from_ratings(item_coder.index, categories)
    column = {role: c.values for role, c in columns.items()}
    return Interactions(path, layout.format, column["user"], column["item"], column["rating"], column["click"],
                        column["timestamp"], users.index, table)


def _sibling(path: Path, fmt: str) -> Path | None:
    name = SIBLING_ITEM_FILES.get(fmt)
    return path.with_name(name) if name and path.with_name(name).is_file() else None


def _string_ids(layout: Layout) -> bool:
    """Generic files compare ids as text, so ``7`` in one file matches ``7`` in the other whatever the types."""
    return layout.format in ("csv", "parquet")


def _chunks(path: Path, layout: Layout) -> Iterator[tuple[pd.DataFrame, int, float]]:
    """Chunks with role-named columns, the file line (Parquet: row) of each chunk's first row, and the share of
    the file read once the chunk is."""
    roles = list(layout.columns)
    columns = [layout.columns[r] for r in roles]
    if layout.parquet:
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        row = 1
        for batch in parquet.iter_batches(batch_size=CHUNK_ROWS, columns=columns):
            chunk = _ids_as_text(batch.to_pandas().set_axis(roles, axis=1))
            yield chunk, row, min((row - 1 + len(chunk)) / max(parquet.metadata.num_rows, 1), 1.0)
            row += len(chunk)
        return
    text_ids = {layout.columns[r]: str for r in ("user", "item", "category") if r in layout.columns}
    guard = GuardedFile(path)
    line = 2 if layout.header else 1
    try:
        with io.BufferedReader(guard) as f:
            reader = pd.read_csv(
                f, sep=layout.sep, header=0 if layout.header else None, usecols=columns, chunksize=CHUNK_ROWS,
                encoding=layout.encoding, encoding_errors="replace", dtype=text_ids if _string_ids(layout) else None,
            )
            for chunk in reader:
                yield chunk[columns].set_axis(roles, axis=1), line, guard.fraction
                line += len(chunk)
    except pd.errors.EmptyDataError:
        raise DataError(path, "empty file") from None
    except pd.errors.ParserError as e:
        raise DataError(path, str(e)) from None


def _ids_as_text(chunk: pd.DataFrame) -> pd.DataFrame:
    for role in ("user", "item"):
        chunk[role] = chunk[role].astype(str).where(chunk[role].notna())
    return chunk


def _check_missing(path: Path, chunk: pd.DataFrame, line: int) -> None:
    for role in chunk.columns:
        if role == "category":
            continue
        missing = chunk[role].isna().to_numpy()
        if missing.any():
            raise DataError(path, f"missing {role} (a short line or an empty field?)", line + int(np.argmax(missing)))


def _numbers(path: Path, values: pd.Series, role: str, line: int) -> np.ndarray:
    """A numeric column as float64; the first value that is not a finite number is an error at its line."""
    numbers = values if pd.api.types.is_numeric_dtype(values) else pd.to_numeric(values, errors="coerce")
    out = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(out)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(path, f"{role} {_shown(values.iloc[i])} is not a number", line + i)
    return out


def _seconds(path: Path, values: pd.Series, line: int) -> np.ndarray:
    """Unix seconds from numbers (seconds, or milliseconds) or ISO dates, as the first row has them; anything else
    is an error at its line."""
    if pd.api.types.is_numeric_dtype(values) or pd.to_numeric(values.iloc[:1], errors="coerce").notna().all():
        seconds = _numbers(path, values, "timestamp", line)
        if np.median(seconds) > MILLISECONDS:  # a log in milliseconds (seconds would be thousands of years on)
            seconds = seconds / 1000.0
        return np.floor(seconds).astype(np.int64)
    dates = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
    bad = dates.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(path, f"timestamp {_shown(values.iloc[i])} is neither a number nor an ISO date", line + i)
    return ((dates - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy(dtype=np.int64)


def _shown(value) -> str:
    """A cell as the file shows it: ``9``, ``'five'`` (numpy scalars as plain Python values)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _items_from_ratings(ids: pd.Index, categories: list[pd.DataFrame]) -> ItemTable:
    """Items seen in the ratings; genres from a category column of the ratings (its first value per item)."""
    genres = pd.Series([None] * len(ids), dtype=object)
    if categories:
        first = pd.concat(categories).drop_duplicates("code")
        genres.iloc[first["code"].to_numpy()] = first["category"].to_numpy()
    return genre_table(ids, genres)
