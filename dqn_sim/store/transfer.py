"""Export zips: one run as its configs, CSVs of its rows, summary and model; and reading one back without trusting it.

Reading checks member names from the central directory, then reads every member in bounded chunks and counts the
bytes it decompresses (a header's sizes may lie), parses the CSVs as a stream with caps on rows per table and on
line length, and copies the model to a staging file. ``ExportZip`` checks everything when it opens, spooling the
checked rows in batches to an unnamed file: an import refuses a bad zip before it writes anything, then writes
the batches in short transactions, and never holds the whole run in memory.
"""

from __future__ import annotations

import csv
import io
import json
import marshal
import os
import tempfile
import time
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from pathlib import Path, PurePosixPath
from typing import IO, Any

from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig, json_problem
from dqn_sim.store import schema, validate
from dqn_sim.store.errors import RunImportError, StoreError, cut, short
from dqn_sim.store.rows import row_tuples
from dqn_sim.vocab import STORED_STATES

EXPORT_FORMAT = "dqn_sim-run"
EXPORT_VERSION = 1
MAX_IMPORT_BYTES = 200 * 1024**2  # uncompressed bytes of all members together, counted as they are read
MAX_IMPORT_MEMBERS = 32
MAX_IMPORT_ROWS = 1_000_000  # rows per table
MAX_JSON_BYTES = 1024**2  # a config, summary or manifest
MAX_LINE = 64 * 1024  # characters in one CSV line
CHUNK = 64 * 1024
REQUIRED = ("manifest.json", "config.json", "metrics.csv", "summary.json")
# Whatever an archive that is not readable throws while it is decompressed (CRC mismatch, bad deflate data, ...).
# RuntimeError: an encrypted member.
_UNREADABLE = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError)


# --------------------------------------------------------------------------------------------- export


def write_export(path: Path, config: dict[str, Any], summary: Any, rows: Mapping[str, Iterable[tuple]],
                 model: Path | None) -> Path:
    """Write the zip; ``rows`` gives each table's rows in column order (read lazily, written as they come)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps({"format": EXPORT_FORMAT, "version": EXPORT_VERSION}))
        zf.writestr("config.json", json.dumps(config, indent=2))
        zf.writestr("summary.json", json.dumps(summary, indent=2))
        for table, table_rows in rows.items():
            with zf.open(schema.csv_name(table), "w") as raw, io.TextIOWrapper(raw, "utf-8", newline="") as text:
                writer = csv.writer(text, lineterminator="\n")
                writer.writerow(schema.columns(table))
                # floats are written with repr, so they read back bit for bit
                writer.writerows(["" if v is None else repr(v) if isinstance(v, float) else v for v in row]
                                 for row in table_rows)
        if model is not None:
            zf.write(model, "model.pt")
    return path


# --------------------------------------------------------------------------------------------- import


@dataclass(frozen=True)
class ExportedRun:
    """config.json, validated: what the imported run's row in the runs table is made of."""

    scenario: ScenarioConfig
    agent: AgentConfig
    train: TrainConfig
    name: str
    seed: int
    status: str
    notes: str | None
    created: float
    started_by: str | None  # absent from exports made before runs kept who started them


class _Budget:
    """Decompressed bytes left to read; refuses the zip as soon as a member goes over."""

    def __init__(self, total: int) -> None:
        self.total = self.left = total

    def spend(self, n: int, member: str) -> None:
        self.left -= n
        if self.left < 0:
            raise RunImportError(f"too large: {member} takes the archive over {self.total} bytes uncompressed")


class _Counted(io.RawIOBase):
    """A member's decompressed bytes, counted against the budget (and ``limit``) as they are read."""

    def __init__(self, raw: IO[bytes], member: str, budget: _Budget, limit: int) -> None:
        self._raw, self._member, self._budget, self._limit = raw, member, budget, limit
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(min(len(buffer), CHUNK))
        n = len(data)
        buffer[:n] = data
        self._read += n
        if self._read > self._limit:
            raise RunImportError(f"too large: {self._member} holds more than {self._limit} bytes uncompressed")
        self._budget.spend(n, self._member)
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


class ExportZip:
    """An export zip opened for import and checked whole; ``batches`` then hands out its rows.

    ``staging`` is a folder on the store's disk for the model's copy and the spooled rows; use as a context manager,
    which removes both if nobody took them.
    """

    def __init__(self, path: Path, staging: Path, batch_rows: int) -> None:
        self.path = path
        try:
            self._zf = zipfile.ZipFile(path)
        except _UNREADABLE as e:
            raise self._unreadable(e) from None
        except OSError as e:
            raise RunImportError(f"cannot read {path}: {e.strerror or e}") from None
        self.model: Path | None = None  # the staged copy of model.pt, until it is taken
        self._spool: IO[bytes] | None = None
        try:
            self._names = _check_members(self._zf.infolist())
            budget = _Budget(MAX_IMPORT_BYTES)
            self.run, self.summary = self._settings(budget)
            try:
                staging.mkdir(parents=True, exist_ok=True)
                self._spool = tempfile.TemporaryFile(dir=staging)  # noqa: SIM115 (closed by close())
            except OSError as e:
                raise StoreError(f"cannot stage the import in {staging}: {e.strerror or e}") from None
            if "model.pt" in self._names:
                self.model = self._stage_model(staging, budget)
            for table in schema.tables():
                rows = self._rows(table, budget)
                while batch := list(islice(rows, batch_rows)):
                    data = marshal.dumps((table, batch))
                    self._spool.write(len(data).to_bytes(8, "little") + data)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> ExportZip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zf.close()
        if self._spool is not None:
            self._spool.close()
        if self.model is not None:
            self.model.unlink(missing_ok=True)

    def take_model(self, dest: Path) -> None:
        """Move the staged model to ``dest`` (same file system: a rename)."""
        if self.model is not None:
            os.replace(self.model, dest)
            self.model = None

    def batches(self) -> Iterator[tuple[str, list[tuple]]]:
        """Each table's checked rows as insert tuples, ``batch_rows`` at a time: (table, rows)."""
        self._spool.seek(0)
        while size := self._spool.read(8):  # each batch is its length, then its marshal bytes (read whole: fast)
            yield marshal.loads(self._spool.read(int.from_bytes(size, "little")))

    # ------------------------------------------------------------------------------------- reading members

    def _settings(self, budget: _Budget) -> tuple[ExportedRun, dict[str, Any] | None]:
        """The manifest checked; config.json and summary.json validated."""
        missing = [m for m in REQUIRED if m not in self._names]
        if missing:
            raise RunImportError(f"{self.path.name} is missing {missing[0]}: is it a dqn_sim run export?")
        manifest = self._json("manifest.json", budget)
        if not isinstance(manifest, dict) or manifest.get("format") != EXPORT_FORMAT:
            raise RunImportError(f"manifest.json: format must be {EXPORT_FORMAT!r}, got {short(manifest)}")
        if manifest.get("version") != EXPORT_VERSION:
            raise RunImportError(
                f"manifest.json: export version {short(manifest.get('version'))} is not supported (this "
                f"dqn_sim reads version {EXPORT_VERSION})"
            )
        run = _exported_run(self._json("config.json", budget))
        summary, problems = validate.summary(self._json("summary.json", budget))
        if problems:
            raise RunImportError(f"summary.json: {problems[0]}")
        return run, summary

    def _unreadable(self, e: BaseException) -> RunImportError:
        return RunImportError(f"{self.path.name} is not a readable zip file: {e}")

    def _open(self, member: str, budget: _Budget, limit: int = MAX_IMPORT_BYTES) -> IO[bytes]:
        return io.BufferedReader(_Counted(self._zf.open(member), member, budget, limit), CHUNK)

    def _json(self, member: str, budget: _Budget) -> Any:
        try:
            with self._open(member, budget, MAX_JSON_BYTES) as f:
                data = f.read()
        except _UNREADABLE as e:
            raise self._unreadable(e) from None
        try:
            return json.loads(data.decode("utf-8"))
        except (ValueError, RecursionError) as e:  # ValueError: not UTF-8, not JSON, a 5000-digit number
            reason = "nested too deeply" if isinstance(e, RecursionError) else json_problem(e)
            raise RunImportError(f"{member} is not valid JSON: {reason}") from None

    def _stage_model(self, staging: Path, budget: _Budget) -> Path:
        """Copy model.pt beside the checkpoints in chunks, and check it is a ``torch.save`` archive."""
        try:
            fd, name = tempfile.mkstemp(prefix=".import-", suffix=".pt", dir=staging)
        except OSError as e:
            raise StoreError(f"cannot stage the imported model in {staging}: {e.strerror or e}") from None
        staged = Path(name)
        try:
            try:
                with os.fdopen(fd, "wb") as out, self._open("model.pt", budget) as src:
                    while chunk := src.read(CHUNK):
                        out.write(chunk)
            except _UNREADABLE as e:
                raise self._unreadable(e) from None
            if not _is_torch_zip(staged):
                raise RunImportError("model.pt is not a torch checkpoint (torch.save zip format)")
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
        return staged

    def _rows(self, table: str, budget: _Budget) -> Iterator[tuple]:
        """The rows of one table's CSV member (none if the member is absent), checked cell by cell."""
        member = schema.csv_name(table)
        if member not in self._names:
            return
        try:
            with io.TextIOWrapper(self._open(member, budget), "utf-8", newline="") as text:
                for i, row in enumerate(row_tuples(table, csv.DictReader(_lines(text, member)))):
                    if i == MAX_IMPORT_ROWS:
                        raise RunImportError(f"{member}: more than {MAX_IMPORT_ROWS} rows (the most a table may hold)")
                    yield row
        except RunImportError:
            raise
        except _UNREADABLE as e:
            raise self._unreadable(e) from None
        except (UnicodeDecodeError, csv.Error, ValueError) as e:
            raise RunImportError(f"{member}: {e}") from None


def _lines(text: IO[str], member: str) -> Iterator[str]:
    """The lines of a CSV member, none longer than ``MAX_LINE`` (a single huge line would be read whole)."""
    while line := text.readline(MAX_LINE):
        if len(line) == MAX_LINE and not line.endswith("\n"):
            raise RunImportError(f"{member}: a line longer than {MAX_LINE} characters")
        yield line


def _check_members(infos: list[zipfile.ZipInfo]) -> set[str]:
    """Refuse zip bombs and odd names from the central directory alone, before anything is decompressed.

    The sizes it states are checked here too, but only as a first refusal: reading counts the real bytes.
    """
    if len(infos) > MAX_IMPORT_MEMBERS:
        raise RunImportError(f"too many members: {len(infos)} (at most {MAX_IMPORT_MEMBERS})")
    total = sum(i.file_size for i in infos)
    if total > MAX_IMPORT_BYTES:
        raise RunImportError(f"too large: {total} bytes uncompressed (at most {MAX_IMPORT_BYTES})")
    names: set[str] = set()
    for i in infos:
        name = i.filename
        if name.startswith(("/", "\\")) or "\\" in name or ":" in name or ".." in PurePosixPath(name).parts:
            raise RunImportError(f"unsafe member path {short(name)}: members must stay inside the archive")
        if name in names:
            raise RunImportError(f"duplicate member {short(name)}")
        names.add(name)
    return names


def _exported_run(cfg: Any) -> ExportedRun:
    """config.json with its configs validated as dataclasses and every run field checked."""
    if not isinstance(cfg, dict):
        raise RunImportError("config.json must be a JSON object")
    missing = [k for k in ("scenario", "agent", "train", "name", "seed", "status") if k not in cfg]
    if missing:
        raise RunImportError(f"config.json is missing {', '.join(missing)}")
    try:
        configs = {
            "scenario": ScenarioConfig.from_dict(cfg["scenario"], prefix="scenario."),
            "agent": AgentConfig.from_dict(cfg["agent"], prefix="agent."),
            "train": TrainConfig.from_dict(cfg["train"], prefix="train."),
        }
    except (ValueError, TypeError, OverflowError, RecursionError) as e:  # ConfigError, or a value it chokes on
        raise RunImportError(f"config.json: {cut(str(e))}") from None
    if cfg["status"] not in STORED_STATES:
        raise RunImportError(f"config.json: status must be one of {', '.join(STORED_STATES)}, "
                             f"got {short(cfg['status'])}")
    try:
        return ExportedRun(
            **configs, name=validate.name(cfg["name"]), seed=validate.seed(cfg["seed"]), status=cfg["status"],
            notes=validate.notes(cfg.get("notes")), started_by=validate.started_by(cfg.get("started_by")),
            created=validate.created(time.time() if cfg.get("created") is None else cfg["created"]),
        )
    except validate.Problem as e:
        raise RunImportError(f"config.json: {e}") from None


def _is_torch_zip(path: Path) -> bool:
    """Whether a file looks like ``torch.save`` output (a zip with a ``data.pkl``), without importing torch."""
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.endswith("/data.pkl") or n == "data.pkl" for n in zf.namelist())
    except (*_UNREADABLE, OSError):
        return False
