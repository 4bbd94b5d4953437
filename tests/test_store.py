"""The SQLite run store: CRUD, concurrent writers, a writer killed mid-write, export/import, migrations."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig
from dqn_sim.store import SCHEMA_VERSION, RunImportError, RunNotFound, RunStore
from dqn_sim.store import transfer as store_mod

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("DQN_SIM_HOME", str(home))
    return home


@pytest.fixture
def store(home: Path):
    with RunStore() as s:
        yield s


def new_run(s: RunStore, name: str = "run", **agent: object) -> str:
    return s.create_run(
        name=name, scenario=ScenarioConfig(name="video"), agent=AgentConfig(**agent),
        train=TrainConfig(total_steps=1000), seed=7,
    )


def fill(s: RunStore, run_id: str) -> None:
    """Metrics, evals, segment results, summary and a (fake, torch-format) checkpoint."""
    s.append_metrics(run_id, [
        {"step": i * 100, "episode": i, "episode_return": 0.1 * i + 1 / 3, "ctr": 0.25, "loss": None,
         "epsilon": np.float32(0.5), "sps": 1e6 / 7, "wall_time": 1.0 + i}
        for i in range(5)
    ])
    s.append_evals(run_id, [
        {"step": 500, "policy": p, "return_mean": 2.0 / 3, "return_lo": 0.5, "return_hi": 0.8, "ctr": 0.1,
         "episode_len_mean": 12.5}
        for p in ("dqn", "random", "greedy")
    ])
    s.set_segment_results(run_id, [
        {"policy": "dqn", "segment": k, "segment_name": f"Seg {k}", "episodes": 50, "return_mean": k / 3}
        for k in range(3)
    ])
    s.set_summary(run_id, {"dqn_return": 1.5, "best_baseline": "greedy", "greedy_return": 1.2,
                           "per_policy": {"dqn": 1.5}})
    with zipfile.ZipFile(s.checkpoint_path(run_id), "w") as zf:
        zf.writestr("model/data.pkl", b"\x80\x02}q\x00.")


def counts(s: RunStore) -> tuple:
    """Everything an import could change: rows per table and checkpoint folders."""
    con = sqlite3.connect(s.db_path)
    try:
        rows = tuple(con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                     for t in ("runs", "metrics", "evals", "segment_results"))
    finally:
        con.close()
    ckpt = s.home / "checkpoints"
    return rows, sorted(p.name for p in ckpt.iterdir()) if ckpt.exists() else []


# --------------------------------------------------------------------------------------------- CRUD


def test_create_and_get_run(store: RunStore, home: Path) -> None:
    run_id = new_run(store, lr=5e-4)
    assert (home / "runs.sqlite3").is_file()
    run = store.get_run(run_id)
    assert run["status"] == "running" and run["source"] == "app" and run["owner_pid"] == os.getpid()
    assert run["preset"] == "video" and run["seed"] == 7 and run["summary"] is None
    assert run["scenario"] == ScenarioConfig(name="video")
    assert run["agent"] == AgentConfig(lr=5e-4)
    assert run["train"] == TrainConfig(total_steps=1000)
    assert store.schema_version() == SCHEMA_VERSION
    with store._lock:
        assert store._con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_rows_ignore_unknown_keys_and_null_missing(store: RunStore) -> None:
    run_id = new_run(store)
    store.append_metrics(run_id, [{"step": np.int64(3), "loss": np.float32(0.25), "bogus": 1},
                                  {"step": 1, "loss": float("nan")}])
    m = store.metrics(run_id)
    assert list(m["step"]) == [1, 3]
    assert m["loss"].isna().tolist() == [True, False] and m.loc[1, "loss"] == 0.25
    assert m["ctr"].isna().all()
    with pytest.raises(ValueError, match="step is required"):
        store.append_metrics(run_id, [{"loss": 1.0}])
    with pytest.raises(ValueError, match="status must be one of"):
        store.set_status(run_id, "exploded")


def test_list_runs_flattens_hyperparameters_and_summary(store: RunStore) -> None:
    a = new_run(store, "a", lr=5e-4, dueling=True)
    b = new_run(store, "b", n_step=3)
    fill(store, a)
    store.set_status(a, "finished")
    df = store.list_runs()
    assert set(df["id"]) == {a, b} and df.columns[-1] == "notes"
    row = df.set_index("id").loc[a]
    assert row["lr"] == 5e-4 and row["dueling"] and row["network"] == "auto"
    assert row["dqn_return"] == 1.5 and row["best_baseline"] == "greedy" and "per_policy" not in df
    assert pd.isna(df.set_index("id").loc[b, "dqn_return"])
    assert list(df[df["status"] == "finished"]["id"]) == [a]
    assert list(df[df["n_step"] == 3]["name"]) == ["b"]


def test_empty_store_lists_no_runs(store: RunStore) -> None:
    df = store.list_runs()
    assert df.empty and {"id", "name", "status", "lr", "notes"} <= set(df.columns)


def test_rename_notes_status_delete(store: RunStore) -> None:
    run_id = new_run(store)
    fill(store, run_id)
    store.rename(run_id, "renamed")
    store.set_notes(run_id, "lr too high?")
    store.set_status(run_id, "failed", error="boom")
    run = store.get_run(run_id)
    assert (run["name"], run["notes"], run["status"], run["error"]) == ("renamed", "lr too high?", "failed", "boom")
    folder = store.checkpoint_path(run_id).parent
    assert folder.is_dir()
    store.delete(run_id)
    assert not folder.exists()
    assert counts(store) == ((0, 0, 0, 0), [])


@pytest.mark.parametrize("call", [
    lambda s: s.get_run("nope"), lambda s: s.metrics("nope"), lambda s: s.evals("nope"),
    lambda s: s.segment_results("nope"), lambda s: s.append_metrics("nope", [{"step": 1}]),
    lambda s: s.set_status("nope", "finished"), lambda s: s.rename("nope", "x"), lambda s: s.delete("nope"),
    lambda s: s.checkpoint_path("nope"),
])
def test_missing_run_is_a_key_error(store: RunStore, call) -> None:
    with pytest.raises(KeyError, match="no run with id 'nope'") as info:
        call(store)
    assert isinstance(info.value, RunNotFound)
    assert counts(store) == ((0, 0, 0, 0), [])


# --------------------------------------------------------------------------------------------- processes


def test_two_writer_threads_and_a_reader(store: RunStore) -> None:
    runs = [new_run(store, "w0"), new_run(store, "w1")]
    batches, size = 40, 25
    errors: list[BaseException] = []
    done = threading.Event()

    def write(run_id: str) -> None:
        try:
            for b in range(batches):
                store.append_metrics(run_id, [{"step": b * size + i, "loss": 1.0} for i in range(size)])
        except BaseException as e:
            errors.append(e)

    def read() -> None:
        try:
            while not done.is_set():
                assert len(store.list_runs()) == 2
                for run_id in runs:
                    assert len(store.metrics(run_id)) % size == 0  # a batch is seen whole or not at all
        except BaseException as e:
            errors.append(e)

    writers = [threading.Thread(target=write, args=(r,)) for r in runs]
    reader = threading.Thread(target=read)
    for t in [*writers, reader]:
        t.start()
    for t in writers:
        t.join()
    done.set()
    reader.join()
    assert errors == []
    for run_id in runs:
        assert list(store.metrics(run_id)["step"]) == list(range(batches * size))


WRITER = """
from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig
from dqn_sim.store import RunStore
s = RunStore()
run_id = s.create_run(name="killed", scenario=ScenarioConfig(), agent=AgentConfig(), train=TrainConfig(),
                      seed=1, source="cli")
print(run_id, flush=True)
step = 0
while True:
    s.append_metrics(run_id, [{"step": step + i, "loss": 0.5, "ctr": 0.1} for i in range(50)])
    step += 50
    print(step, flush=True)
"""


def test_writer_killed_mid_write(home: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", WRITER], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        run_id = proc.stdout.readline().strip()
        committed = 0
        while committed < 1000:
            line = proc.stdout.readline()
            assert line, "writer exited early"
            committed = int(line)
        with RunStore() as s:  # opened while the writer lives: its run is left alone
            assert s.get_run(run_id)["status"] == "running"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()  # reap it: a zombie's pid still answers kill(pid, 0)
        proc.stdout.close()
    with RunStore() as s:
        with s._lock:
            assert s._con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        run = s.get_run(run_id)
        assert run["status"] == "interrupted" and run["source"] == "cli"
        steps = list(s.metrics(run_id)["step"])
        assert len(steps) >= committed and len(steps) % 50 == 0
        assert steps == list(range(len(steps)))


def test_mark_interrupted_only_touches_runs_of_ended_processes(store: RunStore) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    ids = {k: new_run(store, k) for k in ("mine", "dead", "other_live", "earlier_me", "paused_dead", "done")}
    owners = {"dead": (dead.pid, "x"), "other_live": (os.getppid(), "x"), "earlier_me": (os.getpid(), "old"),
              "paused_dead": (dead.pid, "x")}
    with store._lock:
        for k, (pid, token) in owners.items():
            store._con.execute("UPDATE runs SET owner_pid = ?, owner_token = ? WHERE id = ?", (pid, token, ids[k]))
    store.set_status(ids["done"], "finished")
    with store._lock:
        store._con.execute("UPDATE runs SET status = 'paused' WHERE id = ?", (ids["paused_dead"],))
    assert sorted(store.mark_interrupted()) == sorted(ids[k] for k in ("dead", "earlier_me", "paused_dead"))
    status = dict(zip(store.list_runs()["name"], store.list_runs()["status"], strict=True))
    assert status == {"mine": "running", "dead": "interrupted", "other_live": "running",
                      "earlier_me": "interrupted", "paused_dead": "interrupted", "done": "finished"}


# --------------------------------------------------------------------------------------------- export / import


def test_export_import_round_trip(store: RunStore, tmp_path: Path) -> None:
    src = new_run(store, "exported", lr=3e-4, prioritized=True)
    fill(store, src)
    store.set_notes(src, "keep")
    store.set_status(src, "finished")
    path = store.export_zip(src, tmp_path / "run.zip")
    with zipfile.ZipFile(path) as zf:
        assert set(zf.namelist()) == {"manifest.json", "config.json", "summary.json", "metrics.csv", "evals.csv",
                                      "segments.csv", "model.pt"}
    dst = store.import_zip(path)
    assert dst != src
    a, b = store.get_run(src), store.get_run(dst)
    for key in ("name", "seed", "status", "notes", "created", "preset", "scenario", "agent", "train", "summary"):
        assert a[key] == b[key], key
    assert b["source"] == "import" and b["owner_pid"] is None
    for table in ("metrics", "evals", "segment_results"):
        pd.testing.assert_frame_equal(getattr(store, table)(src), getattr(store, table)(dst))
    assert store.checkpoint_path(dst).read_bytes() == store.checkpoint_path(src).read_bytes()


def test_import_of_a_live_run_is_interrupted(store: RunStore, tmp_path: Path) -> None:
    run_id = new_run(store)
    imported = store.import_zip(store.export_zip(run_id, tmp_path / "live.zip"))
    assert store.get_run(imported)["status"] == "interrupted"
    assert store.metrics(imported).empty


def rewrite(src: Path, dst: Path, *, drop: tuple[str, ...] = (), put: dict[str, bytes | str] | None = None) -> Path:
    """A copy of an export zip with members dropped or replaced/added."""
    put = put or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            if name not in drop and name not in put:
                zout.writestr(name, zin.read(name))
        for name, data in put.items():
            zout.writestr(name, data)
    return dst


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def corrupt(src: Path, dst: Path, member: str = "metrics.csv") -> Path:
    """Flip a byte inside a member's compressed data (the directory stays intact, the data does not)."""
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as zf:
        info = zf.getinfo(member)
    name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)  # local file header
    data[info.header_offset + 30 + name_len + extra_len + info.compress_size // 2] ^= 0xFF
    return write(dst, bytes(data))


def bad_config(src: Path) -> str:
    with zipfile.ZipFile(src) as zf:
        cfg = json.loads(zf.read("config.json"))
    cfg["agent"]["lr"] = 5.0
    return json.dumps(cfg)


BAD_ZIPS = {
    "not a zip": (lambda src, dst: write(dst, b"hello"), "not a readable zip"),
    "truncated": (lambda src, dst: write(dst, src.read_bytes()[:200]), "not a readable zip"),
    "corrupt member": (corrupt, "not a readable zip"),
    "missing config": (lambda src, dst: rewrite(src, dst, drop=("config.json",)), "missing config.json"),
    "missing metrics": (lambda src, dst: rewrite(src, dst, drop=("metrics.csv",)), "missing metrics.csv"),
    "missing summary": (lambda src, dst: rewrite(src, dst, drop=("summary.json",)), "missing summary.json"),
    "wrong format": (lambda src, dst: rewrite(src, dst, put={"manifest.json": '{"format": "x", "version": 1}'}),
                     "format must be"),
    "wrong version": (lambda src, dst: rewrite(
        src, dst, put={"manifest.json": '{"format": "dqn_sim-run", "version": 2}'}), "version 2 is not supported"),
    "invalid config": (lambda src, dst: rewrite(src, dst, put={"config.json": bad_config(src)}),
                       r"config.json: agent.lr must be a number in \[1e-07, 1\]"),
    "parent path": (lambda src, dst: rewrite(src, dst, put={"../evil.txt": "x"}), "unsafe member path"),
    "absolute path": (lambda src, dst: rewrite(src, dst, put={"/tmp/evil.txt": "x"}), "unsafe member path"),
    "too many members": (lambda src, dst: rewrite(src, dst, put={f"extra/{i}.txt": "x" for i in range(40)}),
                         "too many members"),
    "bad model": (lambda src, dst: rewrite(src, dst, put={"model.pt": b"not a model"}), "not a torch checkpoint"),
    "bad csv": (lambda src, dst: rewrite(src, dst, put={"metrics.csv": "step,loss\nabc,1\n"}), "metrics.csv"),
}


@pytest.mark.parametrize("case", BAD_ZIPS)
def test_bad_zip_is_refused_and_nothing_changes(store: RunStore, tmp_path: Path, case: str) -> None:
    fill(store, new_run(store))
    good = store.export_zip(store.list_runs()["id"][0], tmp_path / "good.zip")
    make, reason = BAD_ZIPS[case]
    bad = make(good, tmp_path / "bad.zip")
    before = counts(store)
    with pytest.raises(RunImportError, match=reason):
        store.import_zip(bad)
    assert counts(store) == before


def test_oversized_zip_is_refused_before_reading(store: RunStore, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    fill(store, new_run(store))
    good = store.export_zip(store.list_runs()["id"][0], tmp_path / "good.zip")
    monkeypatch.setattr(store_mod, "MAX_IMPORT_BYTES", 1000)
    before = counts(store)
    with pytest.raises(RunImportError, match="too large"):
        store.import_zip(good)
    assert counts(store) == before


# --------------------------------------------------------------------------------------------- migrations

V1_SCHEMA = """
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
PRAGMA user_version = 1;
"""


def test_v1_database_is_upgraded(home: Path) -> None:
    home.mkdir()
    con = sqlite3.connect(home / "runs.sqlite3")
    con.executescript(V1_SCHEMA)
    for run_id, status in (("old1", "finished"), ("old2", "running")):
        con.execute(
            "INSERT INTO runs VALUES (?, 'old run', 1.0, 2.0, ?, 'video', 3, ?, ?, ?, '{\"dqn_return\": 1.0}', "
            "'n', NULL)",
            (run_id, status, ScenarioConfig(name="video").to_json(), AgentConfig().to_json(), TrainConfig().to_json()),
        )
    con.execute("INSERT INTO metrics (run_id, step, loss) VALUES ('old1', 10, 0.5)")
    con.commit()
    con.close()
    with RunStore() as s:
        assert s.schema_version() == SCHEMA_VERSION
        run = s.get_run("old1")
        assert (run["name"], run["status"], run["source"], run["summary"]) == (
            "old run", "finished", "app", {"dqn_return": 1.0})
        assert s.get_run("old2")["status"] == "interrupted"  # live in v1 but owned by no process now
        assert list(s.metrics("old1")["loss"]) == [0.5]
        s.set_segment_results("old1", [{"policy": "dqn", "segment": 0, "return_mean": 1.0}])
        assert len(s.segment_results("old1")) == 1
