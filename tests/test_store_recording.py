"""StoreObserver (issue 15): a store that fails to write never fails a job; rows wait in memory, are retried with
back-off, and the observer says when saving is behind."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig
from dqn_sim.presets import get_preset
from dqn_sim.store import RunStore, StoreError
from dqn_sim.store.groups import GroupStore
from dqn_sim.train import recording
from dqn_sim.train.group_recording import StoreGroupRecorder
from dqn_sim.train.groups import GroupJob
from dqn_sim.train.job import JobResult, TrainingJob
from dqn_sim.train.recording import StoreObserver

SCENARIO = get_preset("video").with_overrides({"audience.n_users": 500})
AGENT = AgentConfig(hidden_sizes=[32], batch_size=32)
TRAIN = TrainConfig(total_steps=10**6, n_envs=16, learning_starts=64, log_every=256, eval_every=10**9,
                    eval_episodes=20)


def _wait(pred, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


HOLD_LOCK = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.execute("ROLLBACK")
"""


def hold_write_lock(db: Path, seconds: float) -> subprocess.Popen:
    """Another process that holds the store's write lock for ``seconds`` (returns once it holds it)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db), str(seconds)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recording, "FLUSH_EVERY_S", 0.05)
    monkeypatch.setattr(recording, "RETRY_FIRST_S", 0.05)
    monkeypatch.setattr(recording, "RETRY_MAX_S", 0.2)


@pytest.fixture
def store() -> RunStore:
    with RunStore(busy_timeout_s=0.1) as s:
        yield s


@dataclass
class Snap:
    state: str = "running"
    error: str | None = None


@dataclass
class FakeJob:
    """What StoreObserver reads of a TrainingJob."""

    id: str = "f00dcafe"
    name: str = "fake"
    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)
    agent_cfg: AgentConfig = field(default_factory=AgentConfig)
    train_cfg: TrainConfig = field(default_factory=TrainConfig)
    snap: Snap = field(default_factory=Snap)

    def snapshot(self) -> Snap:
        return self.snap


class FakeAgent:
    def save(self, path: Path, scenario: ScenarioConfig) -> None:
        path.write_bytes(b"model")


def test_rows_wait_while_the_store_is_busy_and_are_saved_after(store: RunStore) -> None:
    job, observer = FakeJob(), StoreObserver(store)
    assert observer.started(job) == job.id and store.get_run(job.id)["name"] == "fake"
    locker = hold_write_lock(store.db_path, 2.0)
    observer.rows([{"step": i} for i in range(10)], [{"step": 9, "policy": "dqn"}])
    _wait(lambda: observer.behind, timeout=10)
    assert observer.pending_rows == 11 and "is busy" in observer.error
    locker.wait()
    _wait(lambda: not observer.behind and observer.pending_rows == 0, timeout=10)
    assert len(store.metrics(job.id)) == 10 and len(store.evals(job.id)) == 1
    job.snap.state = "finished"
    observer.ended(job, JobResult(FakeAgent(), {"dqn_return": 1.0}, []))
    run = store.get_run(job.id)
    assert (run["status"], run["summary"]) == ("finished", {"dqn_return": 1.0})
    assert store.checkpoint_path(job.id).read_bytes() == b"model"


def test_a_run_started_while_the_store_is_busy_is_created_later(store: RunStore) -> None:
    job, observer = FakeJob(), StoreObserver(store, notes="sweep x · trial 3")
    locker = hold_write_lock(store.db_path, 2.0)
    assert observer.started(job) == job.id and observer.behind
    observer.rows([{"step": 1}], [])
    locker.wait()
    job.snap.state = "stopped"
    observer.ended(job, None)
    run = store.get_run(job.id)
    assert (run["status"], run["notes"]) == ("stopped", "sweep x · trial 3") and len(store.metrics(job.id)) == 1
    assert not observer.behind


def test_an_end_that_cannot_be_saved_in_time_is_reported(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recording, "SAVE_WAIT_S", 0.5)
    job, observer = FakeJob(), StoreObserver(store)
    observer.started(job)
    locker = hold_write_lock(store.db_path, 2.0)
    observer.rows([{"step": 1}, {"step": 2}], [])
    job.snap.state = "finished"
    with pytest.raises(StoreError, match=r"2 rows and the run's end are not saved \(the run store .* is busy"):
        observer.ended(job, None)
    locker.wait()
    _wait(lambda: store.get_run(job.id)["status"] == "finished", timeout=10)  # the writer kept trying


def test_a_run_deleted_while_it_trains_stops_saving(store: RunStore) -> None:
    job, observer = FakeJob(), StoreObserver(store)
    observer.started(job)
    store.delete(job.id)
    observer.rows([{"step": 1}], [])
    _wait(lambda: observer.behind, timeout=10)
    assert observer.error.startswith("saving stopped: no run with id 'f00dcafe'")
    with pytest.raises(StoreError, match="saving stopped"):
        observer.ended(job, None)


def test_a_job_id_already_taken_gets_a_fresh_run_id(store: RunStore) -> None:
    first, second = StoreObserver(store), StoreObserver(store)
    assert first.started(FakeJob()) == "f00dcafe"
    other = second.started(FakeJob())
    assert other != "f00dcafe" and len(store.list_runs()) == 2


def test_a_group_end_that_cannot_be_saved_in_time_is_its_error_and_is_saved_after(
        store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A group (stopped before any member starts: no training) whose row and end meet a busy store: it ends all
    the same, says its end is not saved yet, and the writer saves it once the store is free."""
    monkeypatch.setattr(recording, "SAVE_WAIT_S", 0.5)
    recorder = StoreGroupRecorder(store)
    group = GroupJob(ScenarioConfig(), AgentConfig(), TrainConfig(), [0, 1], recorder=recorder)
    locker = hold_write_lock(store.db_path, 2.0)
    group.stop()
    assert group.start().join(timeout=30)
    assert recorder.behind and recorder.pending_rows == 1
    assert re.fullmatch(rf"saving the group failed: StoreError: group {group.id}: its row, state or summary are not "
                        r"saved \(the run store .* is busy: .*\); still trying while this process runs",
                        group.status().error)
    locker.wait()
    _wait(lambda: not recorder.behind, timeout=10)
    stored = GroupStore(store).get_group(group.id)
    assert (stored["status"], stored["seeds"], stored["summary"]["seeds"]) == ("stopped", [0, 1], [0, 1])
    assert recorder.pending_rows == 0


def test_training_goes_on_while_another_process_holds_the_store_for_long(store: RunStore) -> None:
    """Held far beyond the store's wait (0.1 s here, 10 s by default), as a slow disk or a stuck process would."""
    observer = StoreObserver(store)
    job = TrainingJob(SCENARIO, AGENT, TRAIN, observer=observer).start()
    _wait(lambda: job.snapshot().step > 1000)
    locker = hold_write_lock(store.db_path, 2.0)
    _wait(lambda: observer.behind, timeout=30)
    step = job.snapshot().step
    _wait(lambda: job.snapshot().step > step + 2000)  # training goes on while nothing can be saved
    locker.wait()
    _wait(lambda: not observer.behind, timeout=30)
    job.stop()
    assert job.join(timeout=60)
    snap = job.snapshot()
    assert (snap.state, snap.error, snap.run_id) == ("stopped", None, job.id)
    run = store.get_run(job.id)
    assert run["status"] == "stopped" and run["error"] is None
    assert len(store.metrics(job.id)) == len(snap.metrics) > 0


def test_the_cli_trains_on_and_says_saving_is_behind(monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path,
                                                     isolated_home: Path) -> None:
    """``train`` while another process holds the store's write lock beyond its wait: the progress line says saving is
    behind, the run finishes, and every row is saved once the lock is released."""
    from dqn_sim import cli

    monkeypatch.setattr(cli, "open_store", lambda: RunStore(busy_timeout_s=0.1))
    db, lockers = isolated_home / "runs.sqlite3", []

    def lock_once_rows_are_saved() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not lockers:
            with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(db)) as con:
                if con.execute("SELECT count(*) FROM metrics").fetchone()[0]:
                    lockers.append(hold_write_lock(db, 3.0))
            time.sleep(0.05)

    thread = threading.Thread(target=lock_once_rows_are_saved)
    thread.start()
    out = tmp_path / "out"
    code = cli.main(["train", "--steps", "60000", "--set", "audience.n_users=500", "--set", "train.n_envs=16",
                     "--set", "train.learning_starts=64", "--set", "train.log_every=256", "--set",
                     "train.eval_every=1000000000", "--set", "train.eval_episodes=16", "--set",
                     "agent.hidden_sizes=[32]", "--out", str(out)])
    thread.join()
    lockers[0].wait()
    err = capsys.readouterr().err
    assert code == 0 and "saving behind, " in err and "rows waiting" in err, err[-2000:]
    with RunStore(isolated_home) as store:
        [run_id] = store.list_runs()["id"]
        run = store.get_run(run_id)
        assert run["status"] == "finished" and run["error"] is None
        assert len(store.metrics(run_id)) == len(pd.read_csv(out / "metrics.csv")) > 0


def test_a_group_started_while_the_store_is_busy_trains_and_is_saved_after(monkeypatch: pytest.MonkeyPatch, capsys,
                                                                            tmp_path: Path,
                                                                            isolated_home: Path) -> None:
    """``train --seeds 2`` while another process holds the store's write lock beyond its wait from the start: the
    group trains (it failed at once, nothing trained), the progress line says saving is behind, and the group, its
    members and their rows are all saved once the lock is released."""
    from dqn_sim import cli

    monkeypatch.setattr(cli, "open_store", lambda: RunStore(busy_timeout_s=0.1))
    RunStore(isolated_home).close()  # the store exists: the lock is taken before the group starts
    locker = hold_write_lock(isolated_home / "runs.sqlite3", 4.0)
    out = tmp_path / "out"
    code = cli.main(["train", "--steps", "3000", "--seeds", "2", "--set", "audience.n_users=500", "--set",
                     "train.n_envs=16", "--set", "train.learning_starts=64", "--set", "train.log_every=256", "--set",
                     "train.eval_every=1000000000", "--set", "train.eval_episodes=16", "--set",
                     "agent.hidden_sizes=[32]", "--out", str(out)])
    locker.wait()
    err = capsys.readouterr().err
    assert code == 0 and "saving behind, " in err and "rows waiting" in err and "warning" not in err, err[-2000:]
    with RunStore(isolated_home) as store:
        [group_id] = GroupStore(store).list_groups()["id"]
        group = GroupStore(store).get_group(group_id)
        assert (group["status"], group["error"], group["seeds"]) == ("finished", None, [0, 1])
        assert [row["run_id"] for row in group["summary"]["per_seed"]] == [m["run_id"] for m in group["members"]]
        for member in group["members"]:
            run = store.get_run(member["run_id"])
            assert run["status"] == "finished" and run["error"] is None
            metrics = pd.read_csv(out / f"seed_{member['seed']}" / "metrics.csv")
            assert len(store.metrics(member["run_id"])) == len(metrics) > 0
