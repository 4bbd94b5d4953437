"""Trained work survives a kill: ``python -m dqn_sim train`` in a subprocess, killed with SIGKILL after its first
checkpoint (the store keeps a model that loads, and says its step), or sent SIGTERM (a clean stop, as Ctrl+C: --out
holds model.pt and summary.json); the checkpoints follow the evaluations unless told otherwise; and an unwritable --out
is refused before anything trains."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from dqn_sim.agents.dqn import DQNAgent
from dqn_sim.cli import main
from dqn_sim.config import AgentConfig, TrainConfig
from dqn_sim.presets import get_preset
from dqn_sim.store import RunStore
from dqn_sim.train import worker
from dqn_sim.train.reports import Checkpointed
from dqn_sim.train.trainer import Trainer

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 180  # seconds: a fresh interpreter imports torch and starts the training process on a shared machine
ENDLESS = ["--steps", "100000000", "--set", "train.n_envs=16", "--set", "train.learning_starts=200",
           "--set", "train.eval_every=100000000", "--set", "train.eval_episodes=16",
           "--set", "train.checkpoint_every=400"]


@pytest.fixture
def training(isolated_home: Path, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """The CLI training in a session of its own; whatever is left of it (its training process) is killed after."""
    proc = subprocess.Popen([sys.executable, "-m", "dqn_sim", "train", *ENDLESS, "--out", str(tmp_path / "out")],
                            cwd=ROOT, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    yield proc
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


Found = Callable[[RunStore, str], int | None]


def wait_for(home: Path, proc: subprocess.Popen, what: str, found: Found) -> tuple[str, int]:
    """Poll the store until ``found(store, run_id)`` gives a number for the run: its id and that number."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        if (home / "runs.sqlite3").exists():
            with RunStore(home) as store:
                for run_id in store.list_runs()["id"]:
                    if value := found(store, run_id):
                        return run_id, value
        time.sleep(0.5)
    raise AssertionError(f"no {what} was recorded")


def first_checkpoint(home: Path, proc: subprocess.Popen) -> tuple[str, int]:
    """The run's id and the step of its model, once the store says it is saved."""
    return wait_for(home, proc, "checkpoint", lambda s, r: (s.get_run(r)["summary"] or {}).get("checkpoint_step"))


def test_kill_9_keeps_the_last_checkpoint_and_says_its_step(training: subprocess.Popen, isolated_home: Path) -> None:
    run_id, step = first_checkpoint(isolated_home, training)
    os.kill(training.pid, signal.SIGKILL)
    training.wait(TIMEOUT)
    with RunStore(isolated_home) as store:
        run = store.get_run(run_id)
        path = store.checkpoint_path(run_id)
    assert run["status"] == "interrupted"
    assert step >= 400 and run["summary"]["checkpoint_step"] >= step
    agent, scenario = DQNAgent.load(path)
    assert agent.updates > 0 and scenario["name"] == "video"


def test_sigterm_stops_cleanly_and_writes_out(training: subprocess.Popen, isolated_home: Path,
                                              tmp_path: Path) -> None:
    wait_for(isolated_home, training, "metric row", lambda s, r: len(s.metrics(r)))
    training.send_signal(signal.SIGTERM)
    _, err = training.communicate(timeout=TIMEOUT)
    assert training.returncode == 0, err.decode()[-2000:]  # as Ctrl+C: a stopped run is a result
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["state"] == "stopped"
    DQNAgent.load(tmp_path / "out" / "model.pt")


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs sysfs: a folder nobody may write in, root included")
def test_an_unwritable_out_is_refused_before_training(isolated_home: Path, capsys) -> None:
    assert main(["train", "--steps", "100", "--out", "/sys"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out /sys is not a writable folder") and err.count("\n") == 1
    assert not (isolated_home / "runs.sqlite3").exists()  # nothing trained, nothing stored


def checkpoint_steps(tmp_path: Path, **train: int) -> list[int]:
    """The user-steps at which a short training (in this process, as its training process runs it) saved its model."""
    reports: list = []
    go = threading.Event()
    go.set()
    work = worker.Work(get_preset("video"), AgentConfig(hidden_sizes=[16], batch_size=16),
                       TrainConfig(total_steps=4800, n_envs=16, learning_starts=160, log_every=800, eval_episodes=8,
                                   **train),
                       Trainer, init_from=None, niceness=0, checkpoint=tmp_path / "model.pt")
    worker.train(reports.append, worker.Controls(threading.Event(), go, threading.Event(), go), work)
    return [r.step for r in reports if isinstance(r, Checkpointed)]


def test_checkpoints_follow_the_evaluations_by_default_and_an_explicit_period_otherwise(tmp_path: Path) -> None:
    """The issue asks for a checkpoint at every evaluation by default: a fixed default of 10,000 steps did not follow a
    changed eval_every (with evaluations every 2,000 a 4,800-step run kept no model before its end)."""
    assert checkpoint_steps(tmp_path, eval_every=2000) == [2000, 4000]
    assert TrainConfig().checkpoint_every == 0 and TrainConfig(eval_every=2000).checkpoint_period == 2000
    assert checkpoint_steps(tmp_path, eval_every=2000, checkpoint_every=1600) == [1600, 3200, 4800]
    stored = TrainConfig(checkpoint_every=10000).to_json()  # a run stored before: its period stays its own
    assert TrainConfig.from_json(stored).checkpoint_period == 10000
