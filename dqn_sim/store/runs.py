"""``RunStore``: create runs, append their rows, list, export and import them."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import Any

import pandas as pd

from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig
from dqn_sim.store import database, listing, owner, schema, transfer, validate
from dqn_sim.store.errors import RunIdTaken, RunNotFound, StoreError, cut, short
from dqn_sim.store.rows import row_tuples
from dqn_sim.vocab import LIVE_STATES, STORED_STATES

SOURCES = ("app", "cli", "import")
RUN_ID = re.compile(r"[0-9A-Za-z]{4,32}")
IMPORT_BATCH_ROWS = 20_000  # rows per import transaction: each holds the write lock for tens of milliseconds
IMPORTING = "import in progress: if this stays, the import was cut off; delete the run and import the zip again"


def default_home() -> Path:
    return Path(os.environ.get("DQN_SIM_HOME") or "~/.dqn_sim").expanduser()


def _to_json(obj: Any) -> str:
    """JSON that also takes numpy scalars (trainers hand over ``np.float32`` means)."""
    def plain(o: Any) -> Any:
        if hasattr(o, "item"):
            return o.item()
        raise TypeError(f"{type(o).__name__} is not JSON serialisable")
    return json.dumps(obj, default=plain)


class RunStore:
    """The run history: one SQLite database ``runs.sqlite3`` under ``home`` and a folder ``checkpoints/<run_id>/``
    per run beside it.

    Training runs in child processes that report to the parent, where a ``StoreObserver`` writes what they
    report; the studio's pages, those writers and CLI processes may all use one home at once. WAL mode lets
    readers run while a writer commits, and a writer waits up to ``busy_timeout_s`` for another process's write.
    Each store keeps one connection for writes and one for reads, so a write that waits never holds up a page that
    reads. Every write is one short transaction, so a process killed mid-write loses at most the batch it was
    writing. Opening a store marks live runs of dead processes 'interrupted'; ``warnings`` says what the user
    should be told about the opening (a damaged database moved aside).
    Failures of the database or its folder raise ``StoreError``.
    """

    def __init__(self, home: str | Path | None = None, *, busy_timeout_s: float = database.BUSY_TIMEOUT_S) -> None:
        self.home = Path(home).expanduser() if home is not None else default_home()
        self.db_path = self.home / database.DB_NAME
        self.busy_timeout_s = busy_timeout_s
        self._lock = threading.RLock()  # the writing connection
        self._read_lock = threading.Lock()
        self._con, self._reader, self.warnings = database.open_store(self.home, busy_timeout_s)
        try:
            self.mark_interrupted()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        with self._lock, self._read_lock:
            self._con.close()
            self._reader.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------- connections

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """``sqlite3`` and ``OSError`` exceptions as the one-line ``StoreError`` callers catch."""
        try:
            yield
        except (sqlite3.Error, OSError) as e:
            raise database.describe(e, self.db_path, self.busy_timeout_s) from None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; BEGIN IMMEDIATE takes the write lock up front so it cannot deadlock later."""
        with self._lock, self._errors():
            self._con.execute("BEGIN IMMEDIATE")
            try:
                yield self._con
                self._con.execute("COMMIT")
            except BaseException:
                if self._con.in_transaction:
                    self._con.execute("ROLLBACK")
                raise

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._read_lock, self._errors():
            return self._reader.execute(sql, params).fetchall()

    def schema_version(self) -> int:
        return self._query("PRAGMA user_version")[0][0]

    def _touch(self, con: sqlite3.Connection, run_id: str, **fields: Any) -> None:
        """Set run columns and ``updated``; raises RunNotFound (rolling the transaction back) if no such run."""
        sets = "".join(f", {k} = ?" for k in fields)
        cur = con.execute(f"UPDATE runs SET updated = ?{sets} WHERE id = ?", (time.time(), *fields.values(), run_id))
        if cur.rowcount == 0:
            raise self._not_found(run_id)

    def _not_found(self, run_id: str) -> RunNotFound:
        return RunNotFound(f"no run with id {run_id!r} in {self.db_path}")

    def _require(self, run_id: str) -> None:
        if not self._query("SELECT 1 FROM runs WHERE id = ?", (run_id,)):
            raise self._not_found(run_id)

    # ------------------------------------------------------------------------------------- writing

    def create_run(
        self, *, name: str, scenario: ScenarioConfig, agent: AgentConfig, train: TrainConfig, seed: int,
        source: str = "app", run_id: str | None = None, notes: str | None = None, started_by: str | None = None,
    ) -> str:
        """A new run in status 'running', owned by this process; returns its id.

        ``run_id`` lets the caller choose the id (a training job uses its own, so one id names it everywhere):
        4 to 32 letters and digits, not taken yet (``RunIdTaken`` otherwise). By default a fresh one is drawn.
        ``started_by``: who started it, as people read it (an account's e-mail, the command line); kept with the run
        after the process that trained it is gone.
        """
        validate.started_by(started_by)
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
        if run_id is not None and not (isinstance(run_id, str) and RUN_ID.fullmatch(run_id)):
            raise ValueError(f"run id must be 4 to 32 letters and digits, got {short(run_id)}")
        now = time.time()
        with self._tx() as con:
            if run_id is None:
                run_id = self._new_id(con)
            elif con.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                raise RunIdTaken(f"run id {run_id!r} is already taken in {self.db_path}")
            con.execute(
                "INSERT INTO runs (id, name, created, updated, status, preset, seed, scenario_json, agent_json,"
                " train_json, notes, source, started_by, owner_pid, owner_token)"
                " VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, name, now, now, scenario.name, int(seed), scenario.to_json(), agent.to_json(),
                 train.to_json(), notes, source, started_by, *owner.mine().values()),
            )
        return run_id

    @staticmethod
    def _new_id(con: sqlite3.Connection) -> str:
        while True:
            run_id = secrets.token_hex(5)
            if con.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                return run_id

    @staticmethod
    def _insert_sql(table: str) -> str:
        cols = schema.columns(table)
        return f'INSERT INTO "{table}" (run_id, {schema.quoted(cols)}) VALUES ({", ".join("?" * (len(cols) + 1))})'

    def _append(self, table: str, run_id: str, rows: list[dict[str, Any]], *, replace: bool = False) -> None:
        values = [(run_id, *v) for v in row_tuples(table, rows)]
        with self._tx() as con:
            self._touch(con, run_id)
            if replace:
                con.execute(f'DELETE FROM "{table}" WHERE run_id = ?', (run_id,))
            con.executemany(self._insert_sql(table), values)

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
        if status not in STORED_STATES:
            raise ValueError(f"status must be one of {', '.join(STORED_STATES)}, got {status!r}")
        with self._tx() as con:
            self._touch(con, run_id, status=status, error=error, **(owner.mine() if status in LIVE_STATES else {}))

    def set_summary(self, run_id: str, summary: dict[str, Any]) -> None:
        with self._tx() as con:
            self._touch(con, run_id, summary_json=_to_json(summary))

    def rename(self, run_id: str, name: str, *, by: str | None = None) -> None:
        """Rename the run; who and when are kept (``events``)."""
        with self._tx() as con:
            self._touch(con, run_id, name=name)
            self._event(con, run_id, "rename", by, name)

    def set_notes(self, run_id: str, notes: str) -> None:
        with self._tx() as con:
            self._touch(con, run_id, notes=notes)

    def delete(self, run_id: str, *, by: str | None = None) -> None:
        """Remove the run, its rows (by cascade) and its checkpoint folder; who and when are kept (``events``)."""
        with self._tx() as con:
            name = con.execute("SELECT name FROM runs WHERE id = ?", (run_id,)).fetchone()
            if name is None or con.execute("DELETE FROM runs WHERE id = ?", (run_id,)).rowcount == 0:
                raise self._not_found(run_id)
            self._event(con, run_id, "delete", by, name[0])
        shutil.rmtree(self._checkpoints / run_id, ignore_errors=True)

    @staticmethod
    def _event(con: sqlite3.Connection, run_id: str, action: str, who: str | None, detail: str | None) -> None:
        con.execute("INSERT INTO run_events (run_id, at, action, who, detail) VALUES (?, ?, ?, ?, ?)",
                    (run_id, time.time(), action, who, cut(detail or "", 200)))

    def events(self, run_id: str) -> list[dict[str, Any]]:
        """What was done to a run, oldest first: ``{"at", "action", "who", "detail"}`` (kept after a deletion)."""
        rows = self._query("SELECT at, action, who, detail FROM run_events WHERE run_id = ? ORDER BY at, rowid",
                           (run_id,))
        return [dict(zip(("at", "action", "who", "detail"), row, strict=True)) for row in rows]

    @property
    def _checkpoints(self) -> Path:
        return self.home / "checkpoints"

    def checkpoint_path(self, run_id: str) -> Path:
        """Where the run's model is saved (the folder is created; the file may not exist yet)."""
        self._require(run_id)
        folder = self._checkpoints / run_id
        with self._errors():
            folder.mkdir(parents=True, exist_ok=True)
        return folder / "model.pt"

    def orphans(self) -> list[Path]:
        """Checkpoint folders whose run is not in the store (deleted by hand, or held by a database moved aside)."""
        if not self._checkpoints.is_dir():
            return []
        ids = {run_id for (run_id,) in self._query("SELECT id FROM runs")}
        return sorted(p for p in self._checkpoints.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and p.name not in ids)

    def mark_interrupted(self) -> list[str]:
        """Mark live runs whose owner process is gone as 'interrupted'; returns their ids.

        A run is left alone when this process owns it, or when its owner pid is another living process (a CLI
        run or a second server). A run with this process's pid but another process token was written by an
        earlier process that had the same pid, so it is interrupted too. Takes the write lock only if there is
        something to mark.
        """
        live = ", ".join("?" * len(LIVE_STATES))
        candidates = self._query(f"SELECT id, owner_pid, owner_token FROM runs WHERE status IN ({live})", LIVE_STATES)
        dead = [row for row in candidates if owner.owner_gone(row[1], row[2])]
        if not dead:
            return []
        marked = []
        with self._tx() as con:
            for run_id, pid, token in dead:  # unless its owner changed since it was read
                cur = con.execute(
                    f"UPDATE runs SET status = 'interrupted', updated = ? WHERE id = ? AND status IN ({live})"
                    " AND owner_pid IS ? AND owner_token IS ?", (time.time(), run_id, *LIVE_STATES, pid, token))
                if cur.rowcount:
                    marked.append(run_id)
        return marked

    # ------------------------------------------------------------------------------------- reading

    def list_runs(self) -> pd.DataFrame:
        """One row per run, newest first, with key hyperparameters and scalar final metrics as columns.

        Never fails on what a row holds: a value that breaks the store's rules is left empty and the row's
        ``problem`` column says why (None for a sound row).
        """
        rows = self._query(f"SELECT {', '.join(listing.COLUMNS)} FROM runs ORDER BY created DESC, id")
        records = [listing.record(row) for row in rows]
        df = pd.DataFrame.from_records(records, columns=None if records else [*listing.BASE, "problem", "notes"])
        return df[[c for c in df.columns if c != "notes"] + ["notes"]]

    def get_run(self, run_id: str) -> dict[str, Any]:
        """Every column of the run, plus its configs parsed back (scenario/agent/train), its summary (a dict, the
        values that break the store's rules left out) and ``problem`` (why any were, or None)."""
        with self._read_lock, self._errors():
            cur = self._reader.execute("SELECT * FROM runs WHERE id = ?", (run_id,))
            row = cur.fetchone()
            names = [d[0] for d in cur.description]
        if row is None:
            raise self._not_found(run_id)
        run = dict(zip(names, row, strict=True))
        try:
            for key, cls in (("scenario", ScenarioConfig), ("agent", AgentConfig), ("train", TrainConfig)):
                run[key] = cls.from_json(run[f"{key}_json"])
        except (ValueError, TypeError, RecursionError) as e:
            raise StoreError(f"run {run_id} in {self.db_path} is damaged: its {key} settings do not load "
                             f"({cut(str(e), 200)})") from None
        run["summary"] = listing.summary(run["summary_json"])
        run["problem"] = listing.record(tuple(run[c] for c in listing.COLUMNS))["problem"]
        return run

    def _rows(self, table: str, run_id: str, order: str) -> pd.DataFrame:
        """A table's rows of one run, numeric columns as numbers (a value stored by hand as text reads as NaN)."""
        self._require(run_id)
        cols = schema.columns(table)
        rows = self._query(f'SELECT {schema.quoted(cols)} FROM "{table}" WHERE run_id = ? ORDER BY {order}', (run_id,))
        frame = pd.DataFrame.from_records(rows, columns=list(cols), coerce_float=True)
        for name, kind in cols.items():
            if kind != "TEXT":
                frame[name] = pd.to_numeric(frame[name], errors="coerce")
        return frame

    def metrics(self, run_id: str) -> pd.DataFrame:
        return self._rows("metrics", run_id, "step, rowid")

    def evals(self, run_id: str) -> pd.DataFrame:
        return self._rows("evals", run_id, "step, rowid")

    def segment_results(self, run_id: str) -> pd.DataFrame:
        return self._rows("segment_results", run_id, "policy, segment, rowid")

    # ------------------------------------------------------------------------------------- export / import

    def export_zip(self, run_id: str, path: str | Path) -> Path:
        """Write the run as one zip: configs, metric/eval/segment CSVs, summary, model (if saved), manifest.

        Rows stream from a connection of its own, in one read transaction: a consistent copy, and no other reader
        of this store waits while a large run is written.
        """
        run = self.get_run(run_id)
        config = {
            "scenario": run["scenario"].to_dict(), "agent": run["agent"].to_dict(), "train": run["train"].to_dict(),
            "name": run["name"], "seed": run["seed"], "status": run["status"], "notes": run["notes"],
            "created": run["created"], "started_by": run["started_by"],
        }
        model = self._checkpoints / run_id / "model.pt"
        path = Path(path)
        try:
            with closing(sqlite3.connect(self.db_path, timeout=self.busy_timeout_s)) as con:
                con.execute("BEGIN")
                rows = {t: con.execute(f'SELECT {schema.quoted(schema.columns(t))} FROM "{t}" WHERE run_id = ? '
                                       "ORDER BY rowid", (run_id,)) for t in schema.tables()}
                return transfer.write_export(path, config, run["summary"], rows, model if model.is_file() else None)
        except sqlite3.Error as e:
            raise database.describe(e, self.db_path, self.busy_timeout_s) from None
        except OSError as e:
            raise StoreError(f"cannot write the export {path}: {e.strerror or e}") from None

    def import_zip(self, path: str | Path) -> str:
        """Add an exported run as a new run (source 'import'); returns its id.

        The zip is read and checked whole first, without the write lock: a refused zip raises RunImportError and
        changes nothing. The run is then written in short transactions, its rows in batches; until the last one
        it shows as 'interrupted' with an error saying the import is in progress (which stays if the process
        dies meanwhile). If writing fails, the partial run is removed.
        """
        with transfer.ExportZip(Path(path), self._checkpoints, IMPORT_BATCH_ROWS) as export:
            run = export.run
            status = "interrupted" if run.status in LIVE_STATES else run.status  # no process trains it here
            with self._tx() as con:
                run_id = self._new_id(con)
                con.execute(
                    "INSERT INTO runs (id, name, created, updated, status, preset, seed, scenario_json, agent_json,"
                    " train_json, summary_json, notes, error, source, started_by) VALUES (?, ?, ?, ?, 'interrupted',"
                    " ?, ?, ?, ?, ?, ?, ?, ?, 'import', ?)",
                    (run_id, run.name, run.created, time.time(), run.scenario.name, run.seed, run.scenario.to_json(),
                     run.agent.to_json(), run.train.to_json(),
                     None if export.summary is None else _to_json(export.summary), run.notes, IMPORTING,
                     run.started_by),
                )
            try:
                for table, batch in export.batches():
                    with self._tx() as con:
                        con.executemany(self._insert_sql(table), [(run_id, *row) for row in batch])
                if export.model is not None:
                    with self._errors():
                        export.take_model(self.checkpoint_path(run_id))
                with self._tx() as con:
                    self._touch(con, run_id, status=status, error=None)
            except BaseException:
                self._discard(run_id)
                raise
        return run_id

    def _discard(self, run_id: str) -> None:
        """Remove a run an import could not finish; if the store refuses even that, the run keeps its error."""
        with suppress(StoreError):
            self.delete(run_id)
