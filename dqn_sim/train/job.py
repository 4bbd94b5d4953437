"""Background training: a ``TrainingJob`` runs a Trainer in a thread; a ``JobRegistry`` caps how many run.

Readers (the Streamlit pages) never touch the trainer: the job thread publishes copies of new metric rows
under a lock and ``snapshot()`` hands out those copies. Pause/resume/stop are events the loop checks
between batch steps, so a stop always ends on a clean step with everything recorded.
"""

from __future__ import annotations

import copy
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from dqn_sim.agents.dqn import DQNAgent
from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig
from dqn_sim.train.foreground import FOREGROUND, lower_thread_priority
from dqn_sim.train.trainer import EVAL_COLUMNS, METRIC_COLUMNS, SEGMENT_COLUMNS, Trainer

PUBLISH_EVERY_S = 0.25  # how fresh snapshots are
YIELD_EVERY_S = 0.1  # give the GIL to the web server this often ...
YIELD_FOR_S = 0.001  # ... for this long, so its I/O goes on while a job trains (renders: see foreground.py)
BACKGROUND_NICENESS = 10  # jobs of a registry (the studio's) let a browser on the same cores go first

ACTIVE_STATES = ("pending", "running", "paused")
FINAL_STATES = ("finished", "stopped", "failed", "diverged")


@dataclass
class JobSnapshot:
    """A consistent copy of a job's progress and metrics, safe to read from any thread."""

    id: str
    name: str
    state: str
    step: int
    total_steps: int
    progress: float
    elapsed_s: float
    eta_s: float | None
    error: str | None
    run_id: str | None
    scenario: ScenarioConfig
    agent: AgentConfig
    train: TrainConfig
    metrics: pd.DataFrame
    evals: pd.DataFrame
    segments: pd.DataFrame
    summary: dict

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


class JobObserver:
    """Hooks a job calls from its thread (e.g. to persist rows); all no-ops by default."""

    def started(self, job: TrainingJob) -> str | None:
        """Called once before training; may return a run id."""
        return None

    def rows(self, metrics: list[dict], evals: list[dict]) -> None:
        """New rows since the last call (called every publish)."""

    def state_changed(self, job: TrainingJob, state: str) -> None:
        """Called on pause and resume (from the caller's thread)."""

    def ended(self, job: TrainingJob, trainer: Trainer | None) -> None:
        """Called once when the job reaches a final state."""


class TrainingJob:
    """A Trainer running in a daemon thread, controllable with pause/resume/stop."""

    def __init__(
        self,
        scenario: ScenarioConfig,
        agent_cfg: AgentConfig,
        train_cfg: TrainConfig,
        name: str | None = None,
        observer: JobObserver | None = None,
        trainer_factory: Callable[..., Trainer] = Trainer,
        init_from: Path | None = None,
        niceness: int = 0,
    ) -> None:
        self.id = uuid.uuid4().hex[:8]
        self.name = name or f"{scenario.name} · seed {train_cfg.seed} · {self.id[:4]}"
        self.scenario, self.agent_cfg, self.train_cfg = scenario, agent_cfg, train_cfg
        self.observer = observer or JobObserver()
        self._factory = trainer_factory
        self.init_from = init_from  # checkpoint to resume from
        self.niceness = niceness  # > 0: the thread yields the CPU to interactive processes (see foreground.py)
        self._lock = threading.Lock()
        self._resume = threading.Event()
        self._resume.set()
        self._stop = threading.Event()
        self._policy_wanted = threading.Event()
        self._policy_ready = threading.Event()
        self._policy: DQNAgent | None = None
        self._thread = threading.Thread(target=self._run, name=f"dqn-job-{self.id}", daemon=True)
        self._trainer: Trainer | None = None
        self._state = "pending"
        self._error: str | None = None
        self._run_id: str | None = None
        self._step = 0
        self._elapsed = 0.0
        self._metrics: list[dict] = []
        self._evals: list[dict] = []
        self._segments: list[dict] = []
        self._summary: dict = {}

    # ------------------------------------------------------------------ control
    def start(self) -> TrainingJob:
        self._thread.start()
        return self

    def pause(self) -> None:
        self._switch("running", "paused")

    def resume(self) -> None:
        self._switch("paused", "running")

    def _switch(self, before: str, after: str) -> None:
        with self._lock:
            if self._state != before:
                return
            self._state = after
            if after == "paused":
                self._resume.clear()
            else:
                self._resume.set()
        self.observer.state_changed(self, after)

    def stop(self) -> None:
        """Ask the loop to end after the current step; recorded metrics are kept."""
        self._stop.set()
        self._resume.set()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def state(self) -> str:
        with self._lock:
            return self._state

    def policy(self, timeout: float = 5.0) -> DQNAgent | None:
        """A frozen copy of the current agent (taken between steps by the job thread)."""
        if self._thread.is_alive() and self.state != "pending":
            self._policy_ready.clear()
            self._policy_wanted.set()  # served between steps, and while paused
            self._policy_ready.wait(timeout)
        elif self._trainer is not None:
            self._policy = copy.deepcopy(self._trainer.agent)
        return self._policy

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            total = self.train_cfg.total_steps
            step, elapsed = self._step, self._elapsed
            rate = step / elapsed if elapsed > 0 else 0.0
            eta = (total - step) / rate if rate > 0 and self._state in ACTIVE_STATES else None
            return JobSnapshot(
                id=self.id, name=self.name, state=self._state, step=step, total_steps=total,
                progress=min(1.0, step / total), elapsed_s=elapsed, eta_s=eta, error=self._error,
                run_id=self._run_id, scenario=self.scenario, agent=self.agent_cfg, train=self.train_cfg,
                metrics=pd.DataFrame(list(self._metrics), columns=METRIC_COLUMNS),
                evals=pd.DataFrame(list(self._evals), columns=EVAL_COLUMNS),
                segments=pd.DataFrame(list(self._segments), columns=SEGMENT_COLUMNS),
                summary=dict(self._summary),
            )

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        torch.set_num_threads(1)  # two threads beside the web server collapse throughput
        lower_thread_priority(self.niceness)
        trainer = None
        final = "finished"
        try:
            with self._lock:
                self._state = "running"
            self._run_id = self.observer.started(self)
            trainer = self._factory(self.scenario, self.agent_cfg, self.train_cfg, init_from=self.init_from)
            self._trainer = trainer
            trainer.evaluate_baselines()
            self._publish(trainer)
            last_publish = last_yield = time.perf_counter()
            while not trainer.done:
                if self._stop.is_set():
                    final = "stopped"
                    break
                if not self._resume.is_set():
                    self._serve_policy(trainer)
                    self._resume.wait(0.05)
                    continue
                trainer.step()
                self._serve_policy(trainer)
                if not math.isfinite(trainer.last_loss) and trainer.updates > 0:
                    final = "diverged"
                    self._error = f"training diverged: the TD loss became {trainer.last_loss} at step " \
                                  f"{trainer.step_count}; try a lower learning rate or reward_scale"
                    break
                now = time.perf_counter()
                if now - last_publish > PUBLISH_EVERY_S:
                    self._publish(trainer)
                    last_publish = now
                if FOREGROUND.busy:  # a page is being drawn: it goes first
                    FOREGROUND.step_aside(wake=self._wanted)
                    last_yield = time.perf_counter()
                elif now - last_yield > YIELD_EVERY_S:
                    time.sleep(YIELD_FOR_S)
                    last_yield = time.perf_counter()
            if final != "diverged":
                summary = trainer.finish()
                with self._lock:
                    self._summary = summary
                    self._segments = list(trainer.segments)
        except Exception as e:  # the job ends as failed, with what it had recorded
            final = "failed"
            self._error = f"{type(e).__name__}: {e}"
        finally:
            if trainer is not None:
                self._publish(trainer)
                self._policy = copy.deepcopy(trainer.agent)
            with self._lock:
                self._state = final
            self._policy_ready.set()
            try:
                self.observer.ended(self, trainer)
            except Exception as e:  # persisting must never hide the training outcome
                with self._lock:
                    self._error = (self._error + "; " if self._error else "") + f"saving failed: {e}"

    def _wanted(self) -> bool:
        """Whether a reader waits on this thread: a stop, a pause or a policy copy."""
        return self._stop.is_set() or not self._resume.is_set() or self._policy_wanted.is_set()

    def _serve_policy(self, trainer: Trainer) -> None:
        if self._policy_wanted.is_set():
            self._policy_wanted.clear()
            self._policy = copy.deepcopy(trainer.agent)
            self._policy_ready.set()

    def _publish(self, trainer: Trainer) -> None:
        with self._lock:
            new_metrics = trainer.metrics[len(self._metrics):]
            new_evals = trainer.evals[len(self._evals):]
            self._metrics.extend(new_metrics)
            self._evals.extend(new_evals)
            self._step = trainer.step_count
            self._elapsed = trainer.wall_time
        if new_metrics or new_evals:
            self.observer.rows(new_metrics, new_evals)


class RegistryFull(RuntimeError):
    """Refusal to start a job beyond the registry's cap."""


class JobRegistry:
    """Process-wide set of jobs; at most ``max_running`` train at once (paused ones hold their slot)."""

    def __init__(self, max_running: int = 2, observer_factory: Callable[[], JobObserver] | None = None,
                 niceness: int = BACKGROUND_NICENESS) -> None:
        self.max_running = max_running
        self.niceness = niceness
        self._observer_factory = observer_factory
        self._jobs: dict[str, TrainingJob] = {}
        self._lock = threading.Lock()

    def start(
        self, scenario: ScenarioConfig, agent_cfg: AgentConfig, train_cfg: TrainConfig, name: str | None = None,
        init_from: Path | None = None,
    ) -> TrainingJob:
        with self._lock:
            active = [j for j in self._jobs.values() if j.state in ACTIVE_STATES]
            if len(active) >= self.max_running:
                raise RegistryFull(
                    f"{len(active)} training jobs are already running (the limit is {self.max_running}); "
                    "stop one before starting another"
                )
            observer = self._observer_factory() if self._observer_factory else None
            job = TrainingJob(scenario, agent_cfg, train_cfg, name=name, observer=observer, init_from=init_from,
                              niceness=self.niceness)
            self._jobs[job.id] = job
        return job.start()

    def get(self, job_id: str | None) -> TrainingJob | None:
        with self._lock:
            return self._jobs.get(job_id) if job_id else None

    def jobs(self) -> list[TrainingJob]:
        with self._lock:
            return list(self._jobs.values())

    def running_count(self) -> int:
        return sum(j.state in ACTIVE_STATES for j in self.jobs())
