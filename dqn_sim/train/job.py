"""Background training: a ``TrainingJob`` runs a Trainer in a child process (``registry`` shares slots among them).

Readers (the Streamlit pages, the CLI) never touch the trainer: the training process (``worker``) reports new
metric rows (``reports``), a thread of this process files them under a lock, ``status()`` reads the state and
progress cheaply, and ``snapshot()`` hands out copies of everything.
Pause/resume/stop are events the training loop checks between batch steps, so a stop always ends on a clean
step with everything recorded. If the training process dies, the job ends as failed and keeps its rows.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import popen_forkserver, reduction, spawn
from pathlib import Path

import pandas as pd

from dqn_sim.agents.policy import Policy
from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig
from dqn_sim.policies import learner_class
from dqn_sim.train import worker
from dqn_sim.train.reports import Checkpointed, Ended, Finished, Holding, PolicyCopy, Progress, Report, Started
from dqn_sim.train.trainer import Trainer
from dqn_sim.vocab import ACTIVE_STATES, EVALUATION, LIVE_STATES, SEGMENTS, TRAINING

EXIT_WAIT_S = 10.0  # a training process that has ended its job gets this long to exit
BACKGROUND_NICENESS = 10  # jobs of a registry (the studio's) let the web server and a browser go first
# Jobs are forked from a server process that has imported the trainer once, so a job starts in well under a
# second rather than the ~4 s of a fresh interpreter; forking the multi-threaded web server itself is unsafe.
PROCESSES = multiprocessing.get_context("forkserver")
PROCESSES.set_forkserver_preload([worker.__name__])
# What a new process is told about its parent, less the parent's main module: multiprocessing would run that again
# in every child, and under Streamlit it is the app script (each job ran app.py, logged "missing
# ScriptRunContext" and paid seconds of start-up). A training process needs only the engine, which it imports.
_MAIN_KEYS = ("init_main_from_name", "init_main_from_path")


class _EnginePopen(popen_forkserver.Popen):
    """``popen_forkserver.Popen`` whose child does not import the parent's ``__main__``."""

    def _launch(self, process_obj: multiprocessing.process.BaseProcess) -> None:
        prep_data = {k: v for k, v in spawn.get_preparation_data(process_obj._name).items() if k not in _MAIN_KEYS}
        buf = io.BytesIO()
        popen_forkserver.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            popen_forkserver.set_spawning_popen(None)
        self.sentinel, w = popen_forkserver.forkserver.connect_to_new_process(self._fds)
        parent_w = os.dup(w)  # kept as a sentinel of this process for the child, as the stdlib does
        self.finalizer = popen_forkserver.util.Finalize(self, popen_forkserver.util.close_fds,
                                                        (parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = popen_forkserver.forkserver.read_signed(self.sentinel)


class EngineProcess(PROCESSES.Process):  # type: ignore[name-defined,misc]
    """A forkserver process that runs only engine code (see ``_EnginePopen``)."""

    @staticmethod
    def _Popen(process_obj: multiprocessing.process.BaseProcess) -> _EnginePopen:
        return _EnginePopen(process_obj)


def new_job_id() -> str:
    """A job's id, which is also its run's id in the store: one id everywhere."""
    return secrets.token_hex(5)


@dataclass(frozen=True)
class JobStatus:
    """State and progress of a job, cheap to read (no metric rows copied)."""

    id: str
    name: str
    state: str
    step: int
    total_steps: int
    progress: float
    elapsed_s: float
    eta_s: float | None
    error: str | None
    startup_s: float | None = None  # from start() to the training process running: not in elapsed_s

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


@dataclass(frozen=True, kw_only=True)
class JobSnapshot(JobStatus):
    """A job's status and a consistent copy of its configs and metrics, safe to read from any thread."""

    run_id: str | None
    scenario: ScenarioConfig
    agent: AgentConfig
    train: TrainConfig
    metrics: pd.DataFrame
    evals: pd.DataFrame
    segments: pd.DataFrame
    summary: dict


@dataclass
class JobResult:
    """What a job that built its trainer leaves: the trained policy (the DQN's agent, or a rival), its summary and
    per-segment results."""

    agent: Policy
    summary: dict
    segments: list[dict]


class JobObserver:
    """Hooks a job calls from its watching thread (e.g. to persist rows); all no-ops by default."""

    def started(self, job: TrainingJob) -> str | None:
        """Called once before training; may return a run id."""
        return None

    def rows(self, metrics: list[dict], evals: list[dict]) -> None:
        """New rows since the last call (called every publish)."""

    def checkpoint_path(self) -> Path | None:
        """Where the training process saves the model while it trains (after ``started``; None: nowhere)."""
        return None

    def checkpointed(self, step: int) -> None:
        """The model of user-step ``step`` is saved at ``checkpoint_path()``."""

    def state_changed(self, job: TrainingJob, state: str) -> None:
        """Called on pause and resume (from the caller's thread)."""

    def ended(self, job: TrainingJob, result: JobResult | None) -> None:
        """Called once when the job reaches a final state (``result`` is None if no trainer was built)."""


class TrainingJob:
    """A Trainer running in a child process, controllable with pause/resume/stop; a daemon thread of this
    process watches it and files what it reports (the ``on_*`` methods, see ``worker``)."""

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
        hold_at_evaluations: bool = False,
    ) -> None:
        """``hold_at_evaluations``: training waits after each validation evaluation until ``go_on`` or ``stop``
        (``holding`` says where), so a pruner's verdict costs no steps past the evaluation it judged."""
        self.id = new_job_id()
        self.name = name or f"{scenario.name} · seed {train_cfg.seed} · {self.id[:4]}"
        self.scenario, self.agent_cfg, self.train_cfg = scenario, agent_cfg, train_cfg
        self.observer = observer or JobObserver()
        self.init_from = init_from  # checkpoint to resume from
        self._work = worker.Work(scenario, agent_cfg, train_cfg, trainer_factory, init_from, niceness,
                                 hold_at_evaluations=hold_at_evaluations)
        self._controls = worker.Controls(stop=PROCESSES.Event(), resume=PROCESSES.Event(),
                                         policy_wanted=PROCESSES.Event(), go_on=PROCESSES.Event())
        self._controls.resume.set()
        self._controls.go_on.set()
        self._lock = threading.Lock()
        self._policy_ready = threading.Event()
        self._done = threading.Event()
        self._policy: Policy | None = None
        self._thread = threading.Thread(target=self._watch, name=f"dqn-job-{self.id}", daemon=True)
        self._state = "pending"
        self._error: str | None = None
        self._run_id: str | None = None
        self._step = 0
        self._holding: int | None = None
        self._elapsed = 0.0
        self._metrics: list[dict] = []
        self._evals: list[dict] = []
        self._segments: list[dict] = []
        self._summary: dict = {}
        self._started_at: float | None = None
        self._startup_s: float | None = None

    # ------------------------------------------------------------------ control
    def start(self) -> TrainingJob:
        self._started_at = time.monotonic()
        self._thread.start()
        return self

    def pause(self) -> None:
        """Pause after the current step; a job still starting pauses once its trainer is built (a group pausing
        its members may catch one starting)."""
        self._switch(("pending", "running"), "paused")

    def resume(self) -> None:
        self._switch(("paused",), "running")

    def _switch(self, before: tuple[str, ...], after: str) -> None:
        with self._lock:
            if self._state not in before:
                return
            self._state = after
            if after == "paused":
                self._controls.resume.clear()
            else:
                self._controls.resume.set()
        self.observer.state_changed(self, after)

    def stop(self) -> None:
        """Ask the loop to end after the current step; recorded metrics are kept."""
        self._controls.stop.set()
        self._controls.resume.set()
        self._controls.go_on.set()

    def go_on(self) -> None:
        """Let training go on past the evaluation it holds at (``hold_at_evaluations``)."""
        with self._lock:
            self._holding = None
        self._controls.go_on.set()

    @property
    def holding(self) -> int | None:
        """The user-step at which training waits for ``go_on`` or ``stop``; None while it trains or has ended."""
        with self._lock:
            return self._holding

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the job has ended and its end is recorded. (An event, not ``Thread.join``: a Ctrl+C that
        interrupts ``Thread.join`` on Python 3.11 leaves the thread looking finished while it still runs.)"""
        return self._done.wait(timeout)

    @property
    def state(self) -> str:
        with self._lock:
            return self._state

    def policy(self, timeout: float = 5.0) -> Policy | None:
        """A frozen copy of the current agent (taken between steps by the training process); None before the
        trainer exists."""
        if self.state in LIVE_STATES:
            self._policy_ready.clear()
            self._controls.policy_wanted.set()  # served between steps, and while paused
            self._policy_ready.wait(timeout)
        return self._policy

    def status(self) -> JobStatus:
        with self._lock:
            return self._status()

    def _status(self) -> JobStatus:
        total, step, elapsed = self.train_cfg.total_steps, self._step, self._elapsed
        rate = step / elapsed if elapsed > 0 else 0.0
        eta = (total - step) / rate if rate > 0 and self._state in ("pending", "running") else None
        return JobStatus(id=self.id, name=self.name, state=self._state, step=step, total_steps=total,
                         progress=min(1.0, step / total), elapsed_s=elapsed, eta_s=eta, error=self._error,
                         startup_s=self._startup_s)

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            return JobSnapshot(
                **vars(self._status()), run_id=self._run_id, scenario=self.scenario, agent=self.agent_cfg,
                train=self.train_cfg, metrics=pd.DataFrame(list(self._metrics), columns=TRAINING.names),
                evals=pd.DataFrame(list(self._evals), columns=EVALUATION.names),
                segments=pd.DataFrame(list(self._segments), columns=SEGMENTS.names), summary=dict(self._summary),
            )

    # ------------------------------------------------------------------ the watching thread
    def _watch(self) -> None:
        """Start the training process and file its reports until it ends (or dies)."""
        try:
            self._follow()
        finally:
            self._done.set()

    def _follow(self) -> None:
        ended = False
        try:
            self._run_id = self.observer.started(self)
            self._work.checkpoint = self.observer.checkpoint_path()
            reports, sender = PROCESSES.Pipe(duplex=False)
            process = EngineProcess(target=worker.run, args=(sender, self._controls, self._work),
                                    name=f"dqn-job-{self.id}", daemon=True)
            process.start()
            sender.close()  # ours: with it closed, the child's end is the last, and its death reads as EOF
            with reports:
                while not ended:
                    try:
                        report = reports.recv()
                    except EOFError:
                        break
                    self._file(report)
                    ended = isinstance(report, Ended)
            process.join(EXIT_WAIT_S)
            if process.is_alive():  # it has said all it had to say: it must not keep a core
                process.kill()
            error = f"the training process exited unexpectedly (exit code {process.exitcode})"
        except Exception as e:  # the run could not start (e.g. the store refused it), or a report was unreadable
            error = f"{type(e).__name__}: {e}"
        if not ended:
            self._end(Ended("failed", error, None, {}))

    def _file(self, report: Report) -> None:
        """Take in one report of the training process."""
        match report:
            case Started():
                with self._lock:
                    self._startup_s = time.monotonic() - (self._started_at or time.monotonic())
                    if self._state == "pending":
                        self._state = "running"
            case Progress(step=step, elapsed_s=elapsed, metrics=metrics, evals=evals):
                with self._lock:
                    self._metrics.extend(metrics)
                    self._evals.extend(evals)
                    self._step, self._elapsed = step, elapsed
                if metrics or evals:
                    self.observer.rows(metrics, evals)
            case PolicyCopy(payload=payload):
                self._policy, _ = learner_class(self.train_cfg.algo).from_bytes(payload)
                self._policy_ready.set()
            case Checkpointed(step=step):
                self.observer.checkpointed(step)
            case Holding(step=step):
                with self._lock:
                    self._holding = step
            case Finished(summary=summary, segments=segments):
                with self._lock:
                    self._summary, self._segments = summary, segments
            case Ended():
                self._end(report)
            case _:
                raise TypeError(f"unknown report from the training process: {report!r}")

    def _end(self, ended: Ended) -> None:
        result = None
        if ended.payload is not None:
            self._policy, _ = learner_class(self.train_cfg.algo).from_bytes(ended.payload)
            result = JobResult(self._policy, self._summary or ended.summary, list(self._segments))
        with self._lock:
            self._state, self._error, self._holding = ended.state, ended.error, None
        self._policy_ready.set()
        try:
            self.observer.ended(self, result)
        except Exception as e:  # persisting must never hide the training outcome
            with self._lock:
                self._error = (self._error + "; " if self._error else "") + f"saving failed: {e}"
