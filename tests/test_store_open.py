"""Opening a store (issue 15): a damaged database is moved aside and reported, orphaned checkpoints are listed, and
a store that cannot be used raises one clear StoreError instead of sqlite3's exceptions."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from dqn_sim.store import SCHEMA_VERSION, RunStore, StoreError, StoreVersionError
from tests import test_store
from tests.test_store import REPO, fill, new_run

home = test_store.home  # the fixture test_store's tests use


def stored_run(home: Path) -> str:
    """A store in ``home`` holding one run with a checkpoint; closed again."""
    with RunStore() as s:
        run_id = new_run(s)
        fill(s, run_id)
    assert not (home / "runs.sqlite3-wal").exists()  # closing checkpointed the WAL: the file holds it all
    return run_id


DAMAGE = {  # how the database file is damaged -> what the warning says
    "emptied": (lambda data: b"", "it is empty (0 bytes)"),
    "garbage": (lambda data: os.urandom(len(data)), "it is not an SQLite database"),
    "cut short": (lambda data: data[:5000], "it is cut short: 5000 bytes is not a whole number of 4096-byte pages"),
    "pages overwritten": (lambda data: data[:4096] + b"\xff" * (len(data) - 4096), "malformed"),
}


@pytest.mark.parametrize("case", DAMAGE)
def test_a_damaged_database_is_moved_aside_and_reported(home: Path, case: str) -> None:
    run_id = stored_run(home)
    db = home / "runs.sqlite3"
    damage, reason = DAMAGE[case]
    spoiled = damage(db.read_bytes())
    db.write_bytes(spoiled)
    with RunStore() as s:
        assert len(s.warnings) == 1
        warning = s.warnings[0]
        assert str(db) in warning and reason in warning and "moved to runs.sqlite3.damaged-" in warning
        aside = home / warning.split("moved to ")[1].split(" ")[0]
        assert aside.read_bytes() == spoiled
        assert s.list_runs().empty
        assert s.orphans() == [home / "checkpoints" / run_id]
        new_run(s)  # the fresh store works
    with RunStore() as s:
        assert s.warnings == [] and len(s.list_runs()) == 1


def test_a_sound_store_opens_without_warnings(home: Path) -> None:
    stored_run(home)
    with RunStore() as s:
        assert s.warnings == [] and len(s.list_runs()) == 1 and s.orphans() == []


def test_orphans_are_checkpoint_folders_without_a_run(home: Path) -> None:
    with RunStore() as s:
        kept, deleted, gone = new_run(s), new_run(s), new_run(s)
        for run_id in (kept, deleted, gone):
            s.checkpoint_path(run_id)
        s.delete(deleted)  # takes its folder along
        con = sqlite3.connect(s.db_path)
        con.execute("DELETE FROM runs WHERE id = ?", (gone,))
        con.commit()
        con.close()
        (home / "checkpoints" / ".import-staging").mkdir()
        assert s.orphans() == [home / "checkpoints" / gone]


OPEN_AT_ONCE = """
import sys
from dqn_sim.store import RunStore
s = RunStore()
print(len(s.warnings), len(s.list_runs()))
"""


def test_processes_opening_a_new_home_at_once_never_take_it_for_damaged(home: Path) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", OPEN_AT_ONCE], cwd=REPO, stdout=subprocess.PIPE, text=True)
             for _ in range(4)]
    outputs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert outputs == [["0", "0"]] * 4
    assert [p.name for p in home.iterdir() if "damaged" in p.name] == []


def test_a_newer_database_is_a_store_error(home: Path) -> None:
    RunStore().close()
    con = sqlite3.connect(home / "runs.sqlite3")
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}.*upgrade dqn_sim") as info:
        RunStore()
    assert isinstance(info.value, StoreVersionError) and isinstance(info.value, RuntimeError)
    assert (home / "runs.sqlite3").is_file()  # not damaged: left where it is


@pytest.mark.parametrize("where", ["home is a file", "home inside a file", "database is a folder"])
def test_an_unusable_home_is_a_store_error(tmp_path: Path, where: str) -> None:
    (tmp_path / "file").write_text("x")
    home = {"home is a file": tmp_path / "file", "home inside a file": tmp_path / "file" / "home",
            "database is a folder": tmp_path / "home"}[where]
    if where == "database is a folder":
        (home / "runs.sqlite3").mkdir(parents=True)
    with pytest.raises(StoreError, match=f"run store (at )?{home}") as info:
        RunStore(home)
    assert "\n" not in str(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files")
def test_a_read_only_store_is_a_store_error(home: Path) -> None:
    stored_run(home)
    for path in (home / "runs.sqlite3", home):
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        with pytest.raises(StoreError, match=str(home)):
            RunStore()
    finally:
        home.chmod(0o755)
        (home / "runs.sqlite3").chmod(0o644)


def test_a_store_busy_beyond_the_wait_is_a_store_error(home: Path) -> None:
    with RunStore(busy_timeout_s=0.1) as s:
        run_id = new_run(s)
        other = sqlite3.connect(s.db_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            with pytest.raises(StoreError, match=r"runs.sqlite3 is busy: another process held its write lock"):
                s.append_metrics(run_id, [{"step": 1}])
            assert len(s.list_runs()) == 1  # reading does not wait for it
        finally:
            other.execute("ROLLBACK")
            other.close()
        s.append_metrics(run_id, [{"step": 1}])
        assert len(s.metrics(run_id)) == 1
