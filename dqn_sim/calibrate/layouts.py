"""The file layouts calibration reads, how to tell them apart, and which column plays which role.

MovieLens 100k (``u.data`` tab-separated, no header; ``u.item`` pipe-separated latin-1 with 19 genre flags),
MovieLens latest/25M (``ratings.csv``, ``movies.csv`` with ``|``-joined genres), and any CSV or Parquet file of
interactions whose columns are named by a mapping (``user=COL,item=COL,...``) or recognised by their names.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from dqn_sim.calibrate.errors import DataError
from dqn_sim.calibrate.guard import GuardedFile

FORMATS = ("auto", "ml-100k", "ml-latest", "csv")
ROLES = ("user", "item", "rating", "click", "timestamp", "category")
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
ML100K_ITEM_FIELDS = 5 + len(ML100K_GENRES)  # id | title | release | video release | url | 19 flags
# column names recognised without a mapping (lower case)
ALIASES = {
    "user": ("user", "userid", "user_id", "uid", "customer_id", "member_id"),
    "item": ("item", "itemid", "item_id", "movieid", "movie_id", "product_id", "sku", "content_id"),
    "rating": ("rating", "score", "stars"),
    "click": ("click", "clicked", "is_click"),
    "timestamp": ("timestamp", "time", "ts", "datetime", "date", "event_time"),
    "category": ("category", "categories", "genre", "genres"),
}
SEPARATORS = {",": "commas", "\t": "tabs", ";": "semicolons", "|": "pipes"}


@dataclass(frozen=True)
class Layout:
    """Where each role's column is in a ratings file: a name (with a header) or a position (without)."""

    format: str  # ml-100k | ml-latest | csv | parquet
    sep: str
    header: bool
    encoding: str
    columns: dict[str, str | int] = field(default_factory=dict)

    @property
    def parquet(self) -> bool:
        return self.format == "parquet"


def parse_mapping(text: str | None) -> dict[str, str]:
    """``"user=member,item=sku"`` -> ``{"user": "member", "item": "sku"}``; ValueError names what is wrong."""
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        role, eq, column = part.partition("=")
        if not eq or role.strip() not in ROLES or not column.strip():
            raise ValueError(f"--map expects ROLE=COLUMN pairs with ROLE one of {', '.join(ROLES)}, got {part!r}")
        mapping[role.strip()] = column.strip()
    return mapping


def first_line(path: Path, encoding: str = "utf-8") -> str:
    """The file's first line (guarded: an overlong line is an error); DataError when the file is empty."""
    with io.BufferedReader(GuardedFile(path)) as f:
        line = f.readline()
    text = line.decode(encoding, errors="replace").rstrip("\r\n")
    if not text.strip():
        raise DataError(path, "empty file")
    return text


def sniff_separator(line: str) -> str:
    return max(SEPARATORS, key=line.count)


def parquet_names(path: Path) -> list[str] | None:
    """The column names in a Parquet file's schema (None for a file of another suffix); DataError when pyarrow is
    missing or the file is not Parquet (pyarrow's own errors name no file)."""
    if path.suffix.lower() not in (".parquet", ".pq"):
        return None
    try:
        import pyarrow.parquet as pq  # optional: only Parquet files need it
    except ImportError:
        raise DataError(path, "reading Parquet needs pyarrow (pip install pyarrow)") from None
    try:
        return pq.read_schema(path).names
    except Exception as e:  # pyarrow raises its own errors for files that are not Parquet
        raise DataError(path, f"not a Parquet file ({e})") from None


def detect(path: Path, fmt: str = "auto") -> str:
    """The format of a ratings file: by suffix (Parquet), by its first line, else a generic CSV."""
    if path.suffix.lower() in (".parquet", ".pq"):
        return "parquet"
    if fmt != "auto":
        return fmt
    if path.name == "u.data":
        return "ml-100k"
    line = first_line(path)
    fields = line.split("\t")
    if len(fields) == 4 and all(f.strip().lstrip("-").replace(".", "", 1).isdigit() for f in fields):
        return "ml-100k"
    if [c.strip() for c in line.split(",")][:4] == ["userId", "movieId", "rating", "timestamp"]:
        return "ml-latest"
    return "csv"


def ratings_layout(path: Path, fmt: str, mapping: dict[str, str], names: list[str] | None = None,
                   item_file: bool = False) -> Layout:
    """The layout of a ratings file, its columns resolved and checked against its header (or schema ``names``);
    with an ``item_file``, a mapped category column may be the item file's instead."""
    fmt = detect(path, fmt)
    if fmt == "ml-100k":
        line = first_line(path, "latin-1")
        if len(line.split("\t")) < 4:
            raise DataError(path, f"expected 4 tab-separated fields (user, item, rating, timestamp), found "
                                  f"{len(line.split(chr(9)))}{_delimiter_hint(line, chr(9))}", 1)
        return Layout("ml-100k", "\t", False, "latin-1", {"user": 0, "item": 1, "rating": 2, "timestamp": 3})
    if fmt == "ml-latest":
        mapping = {"user": "userId", "item": "movieId", "rating": "rating", "timestamp": "timestamp", **mapping}
    sep = ","
    if names is None:
        line = first_line(path)
        sep = "," if fmt == "ml-latest" else sniff_separator(line)
        names = [n.strip().strip('"') for n in line.split(sep)]
    columns = resolve_columns(path, names, mapping, sep, item_file)
    return Layout(fmt, sep, True, "utf-8", columns)


def resolve_columns(path: Path, names: list[str], mapping: dict[str, str], sep: str,
                    item_file: bool = False) -> dict[str, str | int]:
    """Role -> column name, from the mapping or the recognised names; DataError for what is missing. With an
    ``item_file``, a mapped category column the ratings file lacks is left to the item file (which checks it)."""
    lower = {n.lower(): n for n in names}
    columns: dict[str, str | int] = {}
    for role in ROLES:
        if role == "category" and item_file and mapping.get(role) not in (None, *names):
            continue
        if role in mapping:
            if mapping[role] not in names:
                raise DataError(path, f"missing column {mapping[role]!r} (--map {role}=...); found: "
                                      f"{shown_columns(names)}{_delimiter_hint(sep.join(names), sep)}", 1)
            columns[role] = mapping[role]
        elif alias := next((lower[a] for a in ALIASES[role] if a in lower), None):
            columns[role] = alias
    needed = [r for r in ("user", "item", "timestamp") if r not in columns]
    if not ("rating" in columns or "click" in columns):
        needed.append("rating (or click)")
    if needed:
        raise DataError(path, f"missing column for {', '.join(needed)}; found: {shown_columns(names)}"
                              f"{_delimiter_hint(sep.join(names), sep)}; name them with --map ROLE=COLUMN", 1)
    return columns


def shown_columns(names: list[str], limit: int = 120) -> str:
    """The columns a file has, for an error line (cut short: a wrong delimiter makes one very long name)."""
    text = ", ".join(names)
    return text if len(text) <= limit else text[:limit] + "..."


def _delimiter_hint(line: str, sep: str) -> str:
    other = max((s for s in SEPARATORS if s != sep), key=line.count)
    return f" (wrong delimiter? the line has {SEPARATORS[other]})" if line.count(other) > line.count(sep) else ""
