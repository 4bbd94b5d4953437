"""Run history that outlasts the process: an embedded SQLite store of runs, metric rows and checkpoints.

One database file ``runs.sqlite3`` under ``$DQN_SIM_HOME`` (default ``~/.dqn_sim``) and a folder
``checkpoints/<run_id>/`` per run beside it. The app's trainer threads, the UI thread and a CLI process may all
use the same home at once: WAL mode lets readers run while a writer commits, ``busy_timeout`` makes writers
from different processes queue instead of failing, and every write is one short transaction, so a process
killed mid-write loses at most the batch it was writing.

The schema is versioned with ``PRAGMA user_version``; ``_MIGRATIONS[v]`` upgrades a version-``v`` database
to ``v + 1``, and a fresh database is built by running them all, so the upgrade path is exercised every time.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import secrets
import shutil
import sqlite3
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from dqn_sim.config import AgentConfig, ConfigError, ScenarioConfig, TrainConfig
from dqn_sim.vocab import LIVE_STATES, STORED_STATES, TABLES

STATUSES = STORED_STATES
LIVE_STATUSES = LIVE_STATES
SOURCES = ("app", "cli", "import")

EXPORT_FORMAT = "dqn_sim-run"
EXPORT_VERSION = 1
MAX_IMPORT_BYTES = 200 * 1024**2  # total uncompressed size of an imported zip, checked before reading it
MAX_IMPORT_MEMBERS = 32

# Written by runs in this process: tells this process's runs apart from a previous process that had the same
# pid (a restarted container's server is often pid 1 again), which a pid alone cannot.
_PROCESS_TOKEN = secrets.token_hex(8)

# Row tables: column -> SQLite type, in CSV order, as the vocabulary declares them.
_COLUMNS: dict[str, dict[str, str]] = {t.name: {m.name: m.sql_type for m in t.columns} for t in TABLES.values()}
_REQUIRED = {t.name: tuple(t.keys) for t in TABLES.values()}
_CSV_NAMES = {t.name: t.csv for t in TABLES.values()}
# Agent hyperparameters worth a column in the runs table.
_AGENT_KEYS = ("lr", "gamma", "batch_size", "n_step", "double_dqn", "prioritized", "dueling", "network")


class RunNotFound(KeyError):
    """No run with this id in the store."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


class RunImportError(ValueError):
    """An export zip that was refused; the message says why. The store is left unchanged."""


class StoreVersionError(RuntimeError):
    """The database was written by a newer dqn_sim than this one."""


# --------------------------------------------------------------------------------------------- schema


def _run_script(con: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated statements one by one: ``executescript`` would commit the migration's transaction."""
    for statement in script.split(";"):
        if statement.strip():
            con.execute(statement)


def _v0_to_v1(con: sqlite3.Connection) -> None:
    """The first schema: runs, metric rows and evaluations."""
    _run_script(con, """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,
            status TEXT NOT NULL, preset TEXT, seed INTEGER, scenario_json TEXT NOT NULL,
            agent_json TEXT NOT NULL, train_json TEXT NOT NULL, summary_json TEXT, notes TEXT, error TEXT
        );
        CREATE TABLE metrics (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, step INTEGER NOT NULL,
            episode REAL, episode_return REAL, ctr REAL, q_mean REAL, disc_return REAL, epsilon REAL,
            loss REAL, sps REAL, updates_per_s REAL, wall_time REAL
        );
        CREATE INDEX metrics_run_step ON metrics(run_id, step);
        CREATE TABLE evals (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, step INTEGER NOT NULL,
            wall_time REAL, policy TEXT NOT NULL, return_mean REAL, return_lo REAL, return_hi REAL,
            ctr REAL, ctr_lo REAL, ctr_hi REAL, episode_len_mean REAL
        );
        CREATE INDEX evals_run_step ON evals(run_id, step);
    """)


def _v1_to_v2(con: sqlite3.Connection) -> None:
    """Per-segment final results, where a run came from, and which process owns a live run.

    v1 runs get source 'app' and no owner, so any of them still marked live become 'interrupted' on open.
    """
    _run_script(con, """
        ALTER TABLE runs ADD COLUMN source TEXT NOT NULL DEFAULT 'app';
        ALTER TABLE runs ADD COLUMN owner_pid INTEGER;
        ALTER TABLE runs ADD COLUMN owner_token TEXT;
        CREATE TABLE segment_results (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, policy TEXT NOT NULL,
            segment INTEGER NOT NULL, segment_name TEXT, episodes INTEGER,
            return_mean REAL, return_lo REAL, return_hi REAL
        );
        CREATE INDEX segment_results_run ON segment_results(run_id);
    """)


_MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v0_to_v1, _v1_to_v2]
SCHEMA_VERSION = len(_MIGRATIONS)


# --------------------------------------------------------------------------------------------- helpers


def default_home() -> Path:
    return Path(os.environ.get("DQN_SIM_HOME") or "~/.dqn_sim").expanduser()


def _pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (signal 0 checks without sending anything; POSIX only)."""
    if pid <= 0:  # kill(0, ...) and kill(-1, ...) address process groups, not a process
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _owner_gone(pid: int | None, token: str | None) -> bool:
    """Whether the process that owns a live run has ended (see ``RunStore.mark_interrupted``)."""
    if pid == os.getpid():
        return token != _PROCESS_TOKEN
    return pid is None or not _pid_alive(pid)


def _coerce(kind: str, value: Any) -> Any:
    """One cell to its SQLite type; None, NaN and "" (an empty CSV cell) become NULL."""
    if value is None or (isinstance(value, str) and value == ""):
        return None
    if kind == "REAL":
        x = float(value)
        return None if math.isnan(x) else x
    if kind == "INTEGER":
        return int(value)
    return str(value)


def _row_tuples(table: str, rows: list[dict[str, Any]]) -> list[tuple]:
    """Rows as insert tuples in column order: unknown keys ignored, missing ones NULL, required ones checked."""
    cols = _COLUMNS[table]
    out = []
    for i, row in enumerate(rows):
        try:
            values = tuple(_coerce(kind, row.get(name)) for name, kind in cols.items())
        except (TypeError, ValueError) as e:
            raise ValueError(f"{table} row {i}: {e}") from None
        missing = [name for name, v in zip(cols, values, strict=True) if v is None and name in _REQUIRED[table]]
        if missing:
            raise ValueError(f"{table} row {i}: {missing[0]} is required")
        out.append(values)
    return out


def _to_json(obj: Any) -> str:
    """JSON that also takes numpy scalars (trainers hand over ``np.float32`` means)."""
    def plain(o: Any) -> Any:
        if hasattr(o, "item"):
            return o.item()
        raise TypeError(f"{type(o).__name__} is not JSON serialisable")
    return json.dumps(obj, default=plain)


def _is_torch_zip(data: bytes) -> bool:
    """Whether bytes look like ``torch.save`` output (a zip with a ``data.pkl``), without importing torch."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return any(n.endswith("/data.pkl") or n == "data.pkl" for n in zf.namelist())
    except zipfile.BadZipFile:
        return False


# --------------------------------------------------------------------------------------------- store


class RunStore:
    """The run history: create runs, append metric batches, list, export and import them.

    Thread-safe: one connection shared under a lock (every call is short), so trainer threads can write while
    the UI thread reads. Opening a store marks live runs of dead processes as 'interrupted'.
    """

    def __init__(self, home: str | Path | None = None) -> None:
        self.home = Path(home).expanduser() if home is not None else default_home()
        self.home.mkdir(parents=True, exist_ok=True)
        self.db_path = self.home / "runs.sqlite3"
        self._lock = threading.RLock()
        # timeout= is SQLite's busy_timeout: wait up to 10 s for another process's write instead of failing
        self._con = sqlite3.connect(self.db_path, isolation_level=None, check_same_thread=False, timeout=10.0)
        try:
            self._con.execute("PRAGMA journal_mode = WAL")
            self._con.execute("PRAGMA foreign_keys = ON")
            self._migrate()
            self.mark_interrupted()
        except BaseException:
            self._con.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; BEGIN IMMEDIATE takes the write lock up front so it cannot deadlock later."""
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    def _migrate(self) -> None:
        with self._tx() as con:  # re-read inside the lock: another process may have upgraded meanwhile
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreVersionError(
                    f"{self.db_path} has schema version {version}, but this dqn_sim knows up to "
                    f"{SCHEMA_VERSION}: upgrade dqn_sim or point DQN_SIM_HOME elsewhere"
                )
            for v in range(version, SCHEMA_VERSION):
                _MIGRATIONS[v](con)
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def schema_version(self) -> int:
        with self._lock:
            return self._con.execute("PRAGMA user_version").fetchone()[0]

    def _read(self, sql: str, params: tuple = ()) -> pd.DataFrame:
        with self._lock:
            return pd.read_sql_query(sql, self._con, params=params)

    def _touch(self, con: sqlite3.Connection, run_id: str, **fields: Any) -> None:
        """Set run columns and ``updated``; raises RunNotFound (rolling the transaction back) if no such run."""
        sets = "".join(f", {k} = ?" for k in fields)
        cur = con.execute(f"UPDATE runs SET updated = ?{sets} WHERE id = ?", (time.time(), *fields.values(), run_id))
        if cur.rowcount == 0:
            raise RunNotFound(f"no run with id {run_id!r} in {self.db_path}")

    def _require(self, run_id: str) -> None:
        with self._lock:
            if self._con.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                raise RunNotFound(f"no run with id {run_id!r} in {self.db_path}")

    # ------------------------------------------------------------------------------------- writing

    def create_run(
        self, *, name: str, scenario: ScenarioConfig, agent: AgentConfig, train: TrainConfig, seed: int,
        source: str = "app",
    ) -> str:
        """A new run in status 'running', owned by this process; returns its id."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
        now = time.time()
        with self._tx() as con:
            run_id = self._new_id(con)
            con.execute(
                "INSERT INTO runs (id, name, created, updated, status, preset, seed, scenario_json, agent_json,"
                " train_json, source, owner_pid, owner_token) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, name, now, now, scenario.name, int(seed), scenario.to_json(), agent.to_json(),
                 train.to_json(), source, os.getpid(), _PROCESS_TOKEN),
            )
        return run_id

    @staticmethod
    def _new_id(con: sqlite3.Connection) -> str:
        while True:
            run_id = secrets.token_hex(5)
            if con.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                return run_id

    def _append(self, table: str, run_id: str, rows: list[dict[str, Any]], *, replace: bool = False) -> None:
        values = _row_tuples(table, rows)
        cols = ", ".join(_COLUMNS[table])
        marks = ", ".join("?" * (len(_COLUMNS[table]) + 1))
        with self._tx() as con:
            self._touch(con, run_id)
            if replace:
                con.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
            con.executemany(f"INSERT INTO {table} (run_id, {cols}) VALUES ({marks})", [(run_id, *v) for v in values])

    def append_metrics(self, run_id: str, rows: list[dict[str, Any]]) -> None:
        """Add a batch of logging points in one transaction (unknown keys ignored, missing ones NULL)."""
        self._append("metrics", run_id, rows)

    def append_evals(self, run_id: str, rows: list[dict[str, Any]]) -> None:
        """Add a batch of evaluation results (one row per policy and evaluation step)."""
        self._append("evals", run_id, rows)

    def set_segment_results(self, run_id: str, rows: list[dict[str, Any]]) -> None:
        """Replace the run's per-segment final results."""
        self._append("segment_results", run_id, rows, replace=True)

    def set_status(self, run_id: str, status: str, error: str | None = None) -> None:
        """Change the status; setting a live status (running/paused) makes this process the run's owner."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        owner = {"owner_pid": os.getpid(), "owner_token": _PROCESS_TOKEN} if status in LIVE_STATUSES else {}
        with self._tx() as con:
            self._touch(con, run_id, status=status, error=error, **owner)

    def set_summary(self, run_id: str, summary: dict[str, Any]) -> None:
        with self._tx() as con:
            self._touch(con, run_id, summary_json=_to_json(summary))

    def rename(self, run_id: str, name: str) -> None:
        with self._tx() as con:
            self._touch(con, run_id, name=name)

    def set_notes(self, run_id: str, notes: str) -> None:
        with self._tx() as con:
            self._touch(con, run_id, notes=notes)

    def delete(self, run_id: str) -> None:
        """Remove the run, its rows (by cascade) and its checkpoint folder."""
        with self._tx() as con:
            if con.execute("DELETE FROM runs WHERE id = ?", (run_id,)).rowcount == 0:
                raise RunNotFound(f"no run with id {run_id!r} in {self.db_path}")
        shutil.rmtree(self.home / "checkpoints" / run_id, ignore_errors=True)

    def checkpoint_path(self, run_id: str) -> Path:
        """Where the run's model is saved (the folder is created; the file may not exist yet)."""
        self._require(run_id)
        folder = self.home / "checkpoints" / run_id
        folder.mkdir(parents=True, exist_ok=True)
        return folder / "model.pt"

    def mark_interrupted(self) -> list[str]:
        """Mark live runs whose owner process is gone as 'interrupted'; returns their ids.

        A run is left alone when this process owns it, or when its owner pid is another living process (a CLI
        run or a second server). A run with this process's pid but another process token was written by an
        earlier process that had the same pid, so it is interrupted too.
        """
        with self._tx() as con:
            live = con.execute(
                "SELECT id, owner_pid, owner_token FROM runs WHERE status IN (?, ?)", LIVE_STATUSES
            ).fetchall()
            dead = [run_id for run_id, pid, token in live if _owner_gone(pid, token)]
            for run_id in dead:
                self._touch(con, run_id, status="interrupted")
        return dead

    # ------------------------------------------------------------------------------------- reading

    def list_runs(self) -> pd.DataFrame:
        """One row per run, newest first, with key hyperparameters and scalar final metrics as columns."""
        with self._lock:
            cur = self._con.execute(
                "SELECT id, name, status, preset, created, updated, seed, source, agent_json, summary_json, notes"
                " FROM runs ORDER BY created DESC, id"
            )
            rows = cur.fetchall()
        records = []
        for run_id, name, status, preset, created, updated, seed, source, agent_json, summary_json, notes in rows:
            rec: dict[str, Any] = {"id": run_id, "name": name, "status": status, "preset": preset,
                                   "created": created, "updated": updated, "seed": seed, "source": source}
            agent = json.loads(agent_json)
            rec.update({k: agent.get(k) for k in _AGENT_KEYS})
            summary = json.loads(summary_json) if summary_json else {}
            rec.update({k: v for k, v in summary.items() if isinstance(v, (int, float, str)) and k not in rec})
            rec["notes"] = notes
            records.append(rec)
        base = ["id", "name", "status", "preset", "created", "updated", "seed", "source", *_AGENT_KEYS]
        df = pd.DataFrame.from_records(records, columns=None if records else [*base, "notes"])
        return df[[c for c in df.columns if c != "notes"] + ["notes"]]

    def get_run(self, run_id: str) -> dict[str, Any]:
        """Every column of the run, plus its configs parsed back (scenario/agent/train) and summary (a dict)."""
        with self._lock:
            cur = self._con.execute("SELECT * FROM runs WHERE id = ?", (run_id,))
            row = cur.fetchone()
            names = [d[0] for d in cur.description]
        if row is None:
            raise RunNotFound(f"no run with id {run_id!r} in {self.db_path}")
        run = dict(zip(names, row, strict=True))
        run["scenario"] = ScenarioConfig.from_json(run["scenario_json"])
        run["agent"] = AgentConfig.from_json(run["agent_json"])
        run["train"] = TrainConfig.from_json(run["train_json"])
        run["summary"] = json.loads(run["summary_json"]) if run["summary_json"] else None
        return run

    def _rows(self, table: str, run_id: str, order: str) -> pd.DataFrame:
        self._require(run_id)
        cols = ", ".join(_COLUMNS[table])
        return self._read(f"SELECT {cols} FROM {table} WHERE run_id = ? ORDER BY {order}", (run_id,))

    def metrics(self, run_id: str) -> pd.DataFrame:
        return self._rows("metrics", run_id, "step, rowid")

    def evals(self, run_id: str) -> pd.DataFrame:
        return self._rows("evals", run_id, "step, rowid")

    def segment_results(self, run_id: str) -> pd.DataFrame:
        return self._rows("segment_results", run_id, "policy, segment, rowid")

    # ------------------------------------------------------------------------------------- export / import

    def export_zip(self, run_id: str, path: str | Path) -> Path:
        """Write the run as one zip: configs, metric/eval/segment CSVs, summary, model (if saved), manifest."""
        run = self.get_run(run_id)
        config = {
            "scenario": run["scenario"].to_dict(), "agent": run["agent"].to_dict(), "train": run["train"].to_dict(),
            "name": run["name"], "seed": run["seed"], "status": run["status"], "notes": run["notes"],
            "created": run["created"],
        }
        model = self.home / "checkpoints" / run_id / "model.pt"
        path = Path(path)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("manifest.json", json.dumps({"format": EXPORT_FORMAT, "version": EXPORT_VERSION}))
            zf.writestr("config.json", json.dumps(config, indent=2))
            zf.writestr("summary.json", json.dumps(run["summary"], indent=2))
            for table, member in _CSV_NAMES.items():
                zf.writestr(member, self._csv(table, run_id))
            if model.is_file():
                zf.write(model, "model.pt")
        return path

    def _csv(self, table: str, run_id: str) -> str:
        """The table's rows as CSV; floats are written with repr, so they read back bit for bit."""
        cols = list(_COLUMNS[table])
        with self._lock:
            rows = self._con.execute(
                f"SELECT {', '.join(cols)} FROM {table} WHERE run_id = ? ORDER BY rowid", (run_id,)
            ).fetchall()
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(cols)
        writer.writerows(["" if v is None else repr(v) if isinstance(v, float) else v for v in row] for row in rows)
        return buf.getvalue()

    def import_zip(self, path: str | Path) -> str:
        """Add an exported run as a new run (source 'import'); returns its id.

        Everything is read and validated first; a refused zip raises RunImportError and changes nothing.
        """
        parts = _read_export(Path(path))
        cfg = parts["config"]
        status = "interrupted" if cfg["status"] in LIVE_STATUSES else cfg["status"]  # no process runs it here
        now = time.time()
        with self._tx() as con:
            run_id = self._new_id(con)
            con.execute(
                "INSERT INTO runs (id, name, created, updated, status, preset, seed, scenario_json, agent_json,"
                " train_json, summary_json, notes, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'import')",
                (run_id, cfg["name"], cfg["created"], now, status, cfg["scenario"].name, cfg["seed"],
                 cfg["scenario"].to_json(), cfg["agent"].to_json(), cfg["train"].to_json(),
                 None if parts["summary"] is None else _to_json(parts["summary"]), cfg["notes"]),
            )
            for table in _COLUMNS:
                cols = ", ".join(_COLUMNS[table])
                marks = ", ".join("?" * (len(_COLUMNS[table]) + 1))
                con.executemany(f"INSERT INTO {table} (run_id, {cols}) VALUES ({marks})",
                                [(run_id, *v) for v in parts[table]])
            if parts["model"] is not None:  # written inside the transaction: a failed write rolls the rows back
                folder = self.home / "checkpoints" / run_id
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                    (folder / "model.pt").write_bytes(parts["model"])
                except BaseException:
                    shutil.rmtree(folder, ignore_errors=True)
                    raise
        return run_id


def _read_export(path: Path) -> dict[str, Any]:
    """Open and validate an export zip entirely in memory; raise RunImportError naming the first problem."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            _check_members(infos)
            data = {i.filename: zf.read(i) for i in infos if not i.is_dir()}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as e:
        raise RunImportError(f"{path.name} is not a readable zip file: {e}") from None
    except OSError as e:
        raise RunImportError(f"cannot read {path}: {e}") from None
    for required in ("manifest.json", "config.json", "metrics.csv", "summary.json"):
        if required not in data:
            raise RunImportError(f"{path.name} is missing {required}: is it a dqn_sim run export?")
    manifest = _json_member(data, "manifest.json")
    if not isinstance(manifest, dict) or manifest.get("format") != EXPORT_FORMAT:
        raise RunImportError(f"manifest.json: format must be {EXPORT_FORMAT!r}, got {manifest!r}")
    if manifest.get("version") != EXPORT_VERSION:
        raise RunImportError(
            f"manifest.json: export version {manifest.get('version')!r} is not supported (this dqn_sim reads "
            f"version {EXPORT_VERSION})"
        )
    summary = _json_member(data, "summary.json")
    if summary is not None and not isinstance(summary, dict):
        raise RunImportError("summary.json must be a JSON object or null")
    model = data.get("model.pt")
    if model is not None and not _is_torch_zip(model):
        raise RunImportError("model.pt is not a torch checkpoint (torch.save zip format)")
    parts: dict[str, Any] = {"config": _config_member(data), "summary": summary, "model": model}
    for table, member in _CSV_NAMES.items():
        parts[table] = _csv_member(data, member, table)
    return parts


def _check_members(infos: list[zipfile.ZipInfo]) -> None:
    """Refuse zip bombs and odd names from the central directory alone, before anything is decompressed."""
    if len(infos) > MAX_IMPORT_MEMBERS:
        raise RunImportError(f"too many members: {len(infos)} (at most {MAX_IMPORT_MEMBERS})")
    total = sum(i.file_size for i in infos)
    if total > MAX_IMPORT_BYTES:
        raise RunImportError(f"too large: {total} bytes uncompressed (at most {MAX_IMPORT_BYTES})")
    seen = set()
    for i in infos:
        name = i.filename
        if name.startswith(("/", "\\")) or "\\" in name or ":" in name or ".." in PurePosixPath(name).parts:
            raise RunImportError(f"unsafe member path {name!r}: members must stay inside the archive folder")
        if name in seen:
            raise RunImportError(f"duplicate member {name!r}")
        seen.add(name)


def _json_member(data: dict[str, bytes], name: str) -> Any:
    try:
        return json.loads(data[name].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunImportError(f"{name} is not valid JSON: {e}") from None


def _config_member(data: dict[str, bytes]) -> dict[str, Any]:
    """config.json with its configs validated as dataclasses and the run fields type-checked."""
    cfg = _json_member(data, "config.json")
    if not isinstance(cfg, dict):
        raise RunImportError("config.json must be a JSON object")
    missing = [k for k in ("scenario", "agent", "train", "name", "seed", "status") if k not in cfg]
    if missing:
        raise RunImportError(f"config.json is missing {', '.join(missing)}")
    try:
        out = {
            "scenario": ScenarioConfig.from_dict(cfg["scenario"], prefix="scenario."),
            "agent": AgentConfig.from_dict(cfg["agent"], prefix="agent."),
            "train": TrainConfig.from_dict(cfg["train"], prefix="train."),
        }
    except ConfigError as e:
        raise RunImportError(f"config.json: {e}") from None
    if not isinstance(cfg["name"], str) or not cfg["name"]:
        raise RunImportError(f"config.json: name must be a non-empty string, got {cfg['name']!r}")
    if isinstance(cfg["seed"], bool) or not isinstance(cfg["seed"], int):
        raise RunImportError(f"config.json: seed must be an integer, got {cfg['seed']!r}")
    if cfg["status"] not in STATUSES:
        raise RunImportError(f"config.json: status must be one of {', '.join(STATUSES)}, got {cfg['status']!r}")
    if cfg.get("notes") is not None and not isinstance(cfg["notes"], str):
        raise RunImportError(f"config.json: notes must be a string, got {cfg['notes']!r}")
    created = cfg.get("created")
    if isinstance(created, bool) or not isinstance(created, (int, float)) or not math.isfinite(created):
        created = time.time()
    return {**out, "name": cfg["name"], "seed": cfg["seed"], "status": cfg["status"], "notes": cfg.get("notes"),
            "created": float(created)}


def _csv_member(data: dict[str, bytes], name: str, table: str) -> list[tuple]:
    """A CSV member as insert tuples (an absent optional member is no rows)."""
    if name not in data:
        return []
    try:
        rows = list(csv.DictReader(io.StringIO(data[name].decode("utf-8"))))
        return _row_tuples(table, rows)
    except (UnicodeDecodeError, csv.Error, ValueError) as e:
        raise RunImportError(f"{name}: {e}") from None
