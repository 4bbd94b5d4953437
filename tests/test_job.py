"""TrainingJob and JobRegistry: background training that can pause, resume, stop, fail and diverge."""

import multiprocessing
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from dqn_sim.config import AgentConfig, TrainConfig
from dqn_sim.presets import get_preset
from dqn_sim.train.job import TrainingJob
from dqn_sim.train.trainer import Trainer

SCENARIO = get_preset("video").with_overrides({"audience.n_users": 500})
AGENT = AgentConfig(hidden_sizes=[32], batch_size=32)


def _train(total: int = 200_000, **kw) -> TrainConfig:
    return TrainConfig(total_steps=total, n_envs=16, learning_starts=64, log_every=256, eval_every=10**9,
                       eval_episodes=20, **kw)


def _wait(pred, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out waiting for the job"
        time.sleep(0.02)


def test_pause_freezes_the_step_counter_resume_continues_stop_keeps_metrics():
    job = TrainingJob(SCENARIO, AGENT, _train()).start()
    _wait(lambda: job.snapshot().step > 1000)
    job.pause()
    _wait(lambda: job.snapshot().state == "paused")
    time.sleep(0.3)  # let a step in flight finish and publish
    frozen = job.snapshot().step
    time.sleep(0.5)
    assert job.snapshot().step == frozen
    job.resume()
    _wait(lambda: job.snapshot().step > frozen)
    job.stop()
    assert job.join(timeout=60)
    snap = job.snapshot()
    assert snap.state == "stopped"
    assert snap.step > frozen and len(snap.metrics) > 0
    assert snap.metrics.step.iloc[-1] <= snap.step
    assert {"random", "popularity", "greedy", "oracle", "dqn"} <= set(snap.evals.policy)
    assert snap.eta_s is None and snap.error is None


def test_a_holding_job_waits_at_each_evaluation_until_told_to_go_on():
    """A sweep's trial judges each evaluation before training goes on: the job holds at the step it evaluated,
    with that evaluation already filed, and trains no further until ``go_on``; it never holds after the last."""
    train = _train(total=1536).with_overrides({"eval_every": 512})
    job = TrainingJob(SCENARIO, AGENT, train, hold_at_evaluations=True).start()
    for step in (512, 1024):
        _wait(lambda: job.holding is not None)
        assert job.holding == step
        time.sleep(0.3)
        snap = job.snapshot()
        assert snap.step == step and snap.evals[snap.evals.policy == "dqn"].step.max() == step
        job.go_on()
    assert job.join(timeout=60) and job.holding is None and job.snapshot().state == "finished"


def test_snapshot_reports_progress_and_eta_while_running():
    job = TrainingJob(SCENARIO, AGENT, _train()).start()
    _wait(lambda: job.snapshot().step > 2000)
    snap = job.snapshot()
    assert 0 < snap.progress < 1 and snap.eta_s is not None and snap.eta_s > 0
    job.stop()
    job.join(60)


def test_a_frozen_policy_copy_can_be_taken_while_training_and_while_paused():
    job = TrainingJob(SCENARIO, AGENT, _train()).start()
    _wait(lambda: job.snapshot().step > 1000)
    # a generous wait: on a loaded machine the copy can take longer than the studio's default 5 s to arrive
    assert job.policy(timeout=60) is not None
    job.pause()
    assert job.policy(timeout=60) is not None
    job.stop()
    job.join(60)


class _ExplodingTrainer(Trainer):
    def step(self) -> None:
        super().step()
        if self.step_count > 600:
            raise RuntimeError("simulated failure in the training loop")


def test_an_exception_ends_the_job_as_failed_with_its_message_and_metrics():
    job = TrainingJob(SCENARIO, AGENT, _train(), trainer_factory=_ExplodingTrainer).start()
    assert job.join(timeout=60)
    snap = job.snapshot()
    assert snap.state == "failed"
    assert "simulated failure in the training loop" in snap.error
    assert len(snap.metrics) >= 2  # rows logged before the failure are kept


def test_a_training_process_that_dies_fails_the_job_which_keeps_its_metrics():
    job = TrainingJob(SCENARIO, AGENT, _train()).start()
    _wait(lambda: len(job.snapshot().metrics) >= 2)
    [process] = [p for p in multiprocessing.active_children() if p.name == f"dqn-job-{job.id}"]
    process.kill()  # as the OOM killer would
    assert job.join(timeout=60)
    snap = job.snapshot()
    assert snap.state == "failed" and "exited unexpectedly (exit code -9)" in snap.error
    assert len(snap.metrics) >= 2 and job.policy() is None


def test_a_stopped_job_leaves_no_training_process_behind():
    job = TrainingJob(SCENARIO, AGENT, _train()).start()
    _wait(lambda: job.snapshot().state == "running")
    [process] = [p for p in multiprocessing.active_children() if p.name == f"dqn-job-{job.id}"]
    job.stop()
    assert job.join(60) and job.snapshot().state == "stopped"
    assert not process.is_alive()


class _PoisonedRewardTrainer(Trainer):
    """Stores infinite rewards after a while, as a broken reward signal would: the real loss turns nan/inf."""

    def step(self) -> None:
        if self.step_count > 2000:
            self.learner.buffer.reward_CS[: len(self.learner.buffer)] = np.inf
        super().step()


def test_nan_loss_stops_the_job_as_diverged_with_metrics_up_to_then():
    job = TrainingJob(SCENARIO, AGENT, _train(total=400_000), trainer_factory=_PoisonedRewardTrainer).start()
    assert job.join(timeout=120)
    snap = job.snapshot()
    assert snap.state == "diverged", snap.error
    assert "diverged" in snap.error and len(snap.metrics) > 0
    assert snap.step < 400_000


ORPHAN_SCRIPT = """
import sys, time
sys.path.insert(0, {root!r})
from tests.test_job import AGENT, SCENARIO, _train, _wait
from dqn_sim.train.job import TrainingJob
import multiprocessing
if __name__ == "__main__":
    job = TrainingJob(SCENARIO, AGENT, _train()).start()
    _wait(lambda: job.snapshot().step > 500)
    job.pause()
    [process] = [p for p in multiprocessing.active_children() if p.name == f"dqn-job-{{job.id}}"]
    print(process.pid, flush=True)
    time.sleep(600)
"""


def test_a_paused_job_of_a_studio_that_dies_ends_with_it(tmp_path):
    script = tmp_path / "studio.py"
    script.write_text(ORPHAN_SCRIPT.format(root=str(Path(__file__).resolve().parent.parent)))
    studio = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    child = int(studio.stdout.readline())
    studio.kill()  # no clean-up of any kind, as when the server is killed
    studio.wait()
    _wait(lambda: not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2],
          timeout=10)


class _EngineOnlyTrainer(Trainer):
    """Fails the run if its training process holds anything of the studio: Streamlit, the pages' helpers, the run
    store (the job's own recording path, in the studio's process, is the only way to the store)."""

    def __init__(self, *args, **kwargs) -> None:
        studio = sorted(m for m in sys.modules if m.split(".")[0] in ("streamlit", "ui", "pages", "sqlite3")
                        or m == "dqn_sim.store" or m.startswith("dqn_sim.store."))
        if studio:
            raise RuntimeError(f"the training process imported {studio[:5]}")
        super().__init__(*args, **kwargs)


MAIN_WITH_SIDE_EFFECTS = """
import sys
sys.path.insert(0, {root!r})
import streamlit  # as Streamlit's app script has
with open({marker!r}, "a") as f:  # a side effect at import, as Streamlit's app script has
    f.write("ran\\n")
from tests.test_job import AGENT, SCENARIO, _EngineOnlyTrainer, _train
from dqn_sim.train.job import TrainingJob
if __name__ == "__main__":
    job = TrainingJob(SCENARIO, AGENT, _train(total=2_000), trainer_factory=_EngineOnlyTrainer).start()
    assert job.join(120), "the job did not end"
    print(job.snapshot().state, job.snapshot().error, flush=True)
"""


def test_a_training_process_does_not_run_the_parents_main_script(tmp_path):
    """Under Streamlit the main module is app.py: a training process must import the engine only (no Streamlit, no
    run store), and never run the parent's script."""
    marker, script = tmp_path / "marker.txt", tmp_path / "app_like.py"
    script.write_text(MAIN_WITH_SIDE_EFFECTS.format(root=str(Path(__file__).resolve().parent.parent),
                                                    marker=str(marker)))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180)
    assert out.stdout.strip() == "finished None", (out.stdout, out.stderr[-2000:])
    assert marker.read_text().splitlines() == ["ran"]  # the parent's run only
