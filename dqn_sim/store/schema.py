"""The database schema: versioned migrations for the runs table, and row tables whose columns follow the vocabulary.

``PRAGMA user_version`` counts the migrations applied; ``MIGRATIONS[v]`` upgrades a version-``v`` database to
``v + 1``, and a fresh database is built by running them all, so the upgrade path is exercised every time. They
are history and never change. The metric tables' columns are not migrated by hand: every column that
``dqn_sim.vocab.TABLES`` declares and a database lacks is added when the store opens it (``sync``), so a new metric
reaches an old database without a migration. Columns are read from the vocabulary at each call, never cached.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from dqn_sim import vocab
from dqn_sim.store.errors import StoreVersionError


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


def _v2_to_v3(con: sqlite3.Connection) -> None:
    """Run groups (one configuration trained on several seeds): the group, and which run trained each seed.

    A member is linked by its run's id without a foreign key: a group lists its members before their runs are
    created, and a member run deleted on its own leaves its seed without a run.
    """
    _run_script(con, """
        CREATE TABLE run_groups (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,
            status TEXT NOT NULL, source TEXT NOT NULL, preset TEXT, scenario_json TEXT NOT NULL,
            agent_json TEXT NOT NULL, train_json TEXT NOT NULL, summary_json TEXT, error TEXT,
            owner_pid INTEGER, owner_token TEXT
        );
        CREATE TABLE group_members (
            group_id TEXT NOT NULL REFERENCES run_groups(id) ON DELETE CASCADE, seed INTEGER NOT NULL,
            run_id TEXT NOT NULL, PRIMARY KEY (group_id, seed)
        );
        CREATE INDEX group_members_run ON group_members(run_id);
    """)


def _v3_to_v4(con: sqlite3.Connection) -> None:
    """Who did what to a run, and when: renames and deletions on a studio shared by a team. No foreign key: the
    record of a deletion outlives the run."""
    _run_script(con, """
        CREATE TABLE run_events (
            run_id TEXT NOT NULL, at REAL NOT NULL, action TEXT NOT NULL, who TEXT, detail TEXT
        );
        CREATE INDEX run_events_run ON run_events(run_id, at);
    """)


def _v4_to_v5(con: sqlite3.Connection) -> None:
    """Who started a run (an account's e-mail, the command line): the registry's owner lives only as long as the
    server, so a finished, listed or exported run said nobody. Runs from before have none."""
    con.execute("ALTER TABLE runs ADD COLUMN started_by TEXT")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v0_to_v1, _v1_to_v2, _v2_to_v3, _v3_to_v4, _v4_to_v5]
SCHEMA_VERSION = len(MIGRATIONS)


def tables() -> list[str]:
    """The row tables, as the vocabulary declares them now."""
    return list(vocab.TABLES)


def columns(table: str) -> dict[str, str]:
    """Column -> SQLite type, in CSV order, as the vocabulary declares them now."""
    return {m.name: m.sql_type for m in vocab.TABLES[table].columns}


def keys(table: str) -> tuple[str, ...]:
    """Columns that identify a row and so may never be empty."""
    return tuple(vocab.TABLES[table].keys)


def csv_name(table: str) -> str:
    return vocab.TABLES[table].csv


def quoted(names: list[str] | dict[str, str]) -> str:
    """Column names for SQL, quoted: they come from the vocabulary, and a metric may be named like a keyword."""
    return ", ".join(f'"{n}"' for n in names)


def _missing(con: sqlite3.Connection) -> dict[str, list[str]]:
    """Declared columns each row table lacks (a table that does not exist yet lacks them all)."""
    out = {}
    for table in tables():
        have = {row[1] for row in con.execute(f'PRAGMA table_info("{table}")')}
        missing = [c for c in columns(table) if c not in have]
        if missing:
            out[table] = missing
    return out


def up_to_date(con: sqlite3.Connection) -> bool:
    """Whether this database needs no migration and no column: then opening it needs no write lock."""
    return con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION and not _missing(con)


def upgrade(con: sqlite3.Connection, path: Path) -> None:
    """Migrate to ``SCHEMA_VERSION`` and add the declared columns a table lacks; call inside a write transaction."""
    version = con.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreVersionError(
            f"{path} has schema version {version}, but this dqn_sim knows up to {SCHEMA_VERSION}: "
            "upgrade dqn_sim or point DQN_SIM_HOME elsewhere"
        )
    for v in range(version, SCHEMA_VERSION):
        MIGRATIONS[v](con)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    for table, missing in _missing(con).items():
        con.execute(f'CREATE TABLE IF NOT EXISTS "{table}" '
                    "(run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE)")
        con.execute(f'CREATE INDEX IF NOT EXISTS "{table}_run" ON "{table}"(run_id)')
        types = columns(table)
        for name in missing:
            con.execute(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {types[name]}')
