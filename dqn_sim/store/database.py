"""Opening the database file, and telling the user in one line when it cannot be used.

Opening takes a lock file beside the database, so two processes that open a new home at once never see each
other's half-created file. Under it, a database that is no SQLite file (0 bytes, garbage, cut short) or that SQLite
finds damaged is moved aside with a timestamp and a fresh one is started: the caller gets a warning naming both
files to show the user, instead of an empty history without a word. Every ``sqlite3`` or ``OSError`` on the way
becomes a ``StoreError`` whose message names the path.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dqn_sim.store import schema
from dqn_sim.store.errors import StoreError

DB_NAME = "runs.sqlite3"
BUSY_TIMEOUT_S = 10.0  # how long a write waits for another process's write before it fails
_HEADER = b"SQLite format 3\x00"
_DAMAGED = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def describe(e: sqlite3.Error | OSError, path: Path, busy_timeout_s: float) -> StoreError:
    """The one-line StoreError that tells a user what went wrong with the store at ``path``."""
    if isinstance(e, OSError):
        return StoreError(f"cannot use the run store at {path}: {e.strerror or e}")
    code = getattr(e, "sqlite_errorname", "") or ""
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        reason = f"is busy: another process held its write lock for over {busy_timeout_s:g} s"
    elif code.startswith("SQLITE_READONLY"):
        reason = "is read-only: make it writable, or point DQN_SIM_HOME elsewhere"
    elif code.startswith("SQLITE_CANTOPEN"):
        reason = "cannot be opened: check that its folder exists and is writable"
    elif code.startswith("SQLITE_FULL"):
        reason = "cannot grow: its disk is full"
    elif code.startswith(_DAMAGED):
        reason = f"is damaged ({e}): open the store again to move it aside"
    else:
        reason = f"failed: {e}"
    return StoreError(f"the run store {path} {reason}")


def damaged(e: BaseException) -> bool:
    return isinstance(e, sqlite3.DatabaseError) and (getattr(e, "sqlite_errorname", "") or "").startswith(_DAMAGED)


def open_store(home: Path, busy_timeout_s: float) -> tuple[sqlite3.Connection, sqlite3.Connection, list[str]]:
    """A writing and a reading connection to ``home``'s database, upgraded; and warnings for the user."""
    path = home / DB_NAME
    try:
        home.mkdir(parents=True, exist_ok=True)
        with _opening(home):
            warnings = []
            problem = _not_sqlite(path)
            if problem:
                warnings.append(_move_aside(path, problem))
            try:
                return (*_connect(path, busy_timeout_s), warnings)
            except sqlite3.DatabaseError as e:
                if not damaged(e):
                    raise
                warnings.append(_move_aside(path, str(e)))
                return (*_connect(path, busy_timeout_s), warnings)
    except (sqlite3.Error, OSError) as e:
        raise describe(e, path, busy_timeout_s) from None


@contextmanager
def _opening(home: Path) -> Iterator[None]:
    """Held while a process checks, creates or upgrades the database (released when the process dies)."""
    fd = os.open(home / "runs.lock", os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _not_sqlite(path: Path) -> str | None:
    """Why the file cannot be an SQLite database (None if absent or plausible); reads only its header."""
    if not path.exists():
        return None
    size = path.stat().st_size
    if size == 0:  # SQLite would take it for a new, empty database
        return "it is empty (0 bytes)"
    with path.open("rb") as f:
        header = f.read(100)
    if len(header) < 100 or not header.startswith(_HEADER):
        return "it is not an SQLite database"
    page = int.from_bytes(header[16:18], "big")
    page = 65536 if page == 1 else page
    if size % page:
        return f"it is cut short: {size} bytes is not a whole number of {page}-byte pages"
    return None


def _move_aside(path: Path, problem: str) -> str:
    """Rename the database and its WAL files with a timestamp; returns the warning for the user."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    n = 0
    while (aside := path.with_name(f"{path.name}.damaged-{stamp}{f'-{n}' if n else ''}")).exists():
        n += 1
    for suffix in ("-wal", "-shm", ""):
        part = path.with_name(path.name + suffix)
        if part.exists():
            part.rename(aside.with_name(aside.name.replace(path.name, path.name + suffix, 1)))
    return (f"the run store {path} could not be read ({problem}); it was moved to {aside.name} and a new, empty "
            f"store was started. Checkpoints of the runs it held stay in {path.parent / 'checkpoints'}")


def _connect(path: Path, busy_timeout_s: float) -> tuple[sqlite3.Connection, sqlite3.Connection]:
    """Connections in WAL mode with foreign keys on; the writer upgrades the schema if it is behind."""
    opened: list[sqlite3.Connection] = []
    try:
        for _ in range(2):
            # timeout= is SQLite's busy_timeout: wait for another process's write instead of failing at once
            con = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s)
            opened.append(con)
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("PRAGMA foreign_keys = ON")
        writer, reader = opened
        if not schema.up_to_date(writer):
            writer.execute("BEGIN IMMEDIATE")  # re-checked under the lock: another process may have upgraded it
            try:
                schema.upgrade(writer, path)
            except BaseException:
                writer.execute("ROLLBACK")
                raise
            writer.execute("COMMIT")
        reader.execute("SELECT count(*) FROM runs").fetchone()  # reads the runs table through: damage shows here
        return writer, reader
    except BaseException:
        for con in opened:
            con.close()
        raise
