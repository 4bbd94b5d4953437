"""The training process: a Trainer's loop in a child process, reporting to its ``TrainingJob`` over a pipe.

Training runs in its own process, not in a thread of the web server, because Python runs one thread of a
process at a time (the GIL): every page a server thread draws, every websocket message it handles, stalls a
training thread beside it, and each hand-over costs more than the work itself. Measured on 2 cores with the
Train page open, a training thread in the server ran at ~0.66 of the headless trainer's steps/s, and a training
process at ~0.96: it has an interpreter of its own.

The protocol is one-way typed messages (``dqn_sim.train.reports``): ``Started``, ``Progress`` (new metric and
evaluation rows, at most every ``PUBLISH_EVERY_S``), ``PolicyCopy`` (on request), ``Holding`` (waiting for a verdict
on an evaluation, see ``Work.hold_at_evaluations``), ``Finished`` (summary and per-segment results) and ``Ended``
(the final state, an error, the agent). Requests go the other way as events (``Controls``), checked between batch
steps, so a stop always ends on a clean step with everything recorded.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig
from dqn_sim.train.reports import Checkpointed, Ended, Finished, Holding, PolicyCopy, Progress, Report, Started
from dqn_sim.train.threads import one_thread
from dqn_sim.train.trainer import Trainer

PUBLISH_EVERY_S = 0.25  # how fresh a job's snapshots are


@dataclass
class Controls:
    """What the job asks of the training process (multiprocessing events, shared with it)."""

    stop: Event
    resume: Event  # cleared while paused
    policy_wanted: Event
    go_on: Event  # cleared by the process while it holds at an evaluation, set by the job's verdict


@dataclass
class Work:
    """What to train: everything the child process needs, sent to it once (so all of it must pickle; a
    ``trainer_factory`` is pickled by reference, so it must be importable, e.g. a module-level class)."""

    scenario: ScenarioConfig
    agent: AgentConfig
    train: TrainConfig
    trainer_factory: Callable[..., Trainer]
    init_from: Path | None
    niceness: int
    checkpoint: Path | None = None  # where the model is saved every ``train.checkpoint_period`` user-steps
    hold_at_evaluations: bool = False  # wait after each validation evaluation until the job says go on or stop


@dataclass
class Checkpoints:
    """Saves the model to ``path`` each time training passes a multiple of ``every`` user-steps, so a killed run
    keeps its last model; the save is atomic (a kill mid-write leaves the previous file whole)."""

    path: Path | None
    every: int

    def __post_init__(self) -> None:
        self.due = self.every  # the user-step of the next save

    def save_if_due(self, report: Callable[[Report], None], trainer: Trainer, scenario: ScenarioConfig) -> None:
        if self.path is None or trainer.step_count < self.due:
            return
        self.due = (trainer.step_count // self.every + 1) * self.every
        try:
            trainer.learner.save(self.path, scenario)
        except OSError:  # e.g. a full disk: training goes on, and the next checkpoint tries again
            return
        report(Checkpointed(trainer.step_count))


def run(pipe: Connection, controls: Controls, work: Work) -> None:
    """The child process's entry point: train, reporting on ``pipe``. If the studio goes away the next report
    fails (the pipe is broken) and the process ends with it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in a terminal is the parent's to handle: it stops us
    one_thread()  # one core per job: more threads contend with the web server and other jobs
    if work.niceness > 0:
        os.nice(work.niceness)  # the web server and a browser on the same cores are scheduled first

    try:
        train(pipe.send, controls, work)
    except (BrokenPipeError, ConnectionResetError):
        return  # the studio that started this job is gone: so is its reader, and the job with it
    finally:
        pipe.close()


def train(report: Callable[[Report], None], controls: Controls, work: Work) -> None:
    """The loop: build the trainer, evaluate the baselines, step until done or stopped, finish; report as it
    goes. Any exception ends the run as failed, keeping what was reported."""
    trainer, final, error, sent = None, "finished", None, (0, 0)
    checkpoints = Checkpoints(work.checkpoint, work.train.checkpoint_period)
    report(Started())
    try:
        trainer = work.trainer_factory(work.scenario, work.agent, work.train, init_from=work.init_from)
        trainer.evaluate_baselines()
        sent = publish(report, trainer, sent)
        last_publish = time.perf_counter()
        while not trainer.done:
            if controls.stop.is_set():
                final = "stopped"
                break
            if controls.resume.is_set() and controls.go_on.is_set():
                evaluations = len(trainer.evals)
                trainer.step()
                if not math.isfinite(trainer.last_loss) and trainer.updates > 0:
                    final = "diverged"
                    error = (f"training diverged: the loss became {trainer.last_loss} at step {trainer.step_count}; "
                             f"try a lower learning rate{' or reward_scale' if work.train.algo == 'dqn' else ''}")
                    break
                checkpoints.save_if_due(report, trainer, work.scenario)
                if work.hold_at_evaluations and len(trainer.evals) > evaluations and not trainer.done:
                    controls.go_on.clear()
                    sent = publish(report, trainer, sent)  # the evaluation to judge, at once
                    report(Holding(trainer.step_count))
            else:
                (controls.resume if not controls.resume.is_set() else controls.go_on).wait(0.05)
            serve_policy(report, controls, trainer)
            # also while paused: a report is the heartbeat that ends this process once the studio is gone
            if time.perf_counter() - last_publish > PUBLISH_EVERY_S:
                sent = publish(report, trainer, sent)
                last_publish = time.perf_counter()
        if final != "diverged":
            summary = trainer.finish()
            report(Finished(summary, list(trainer.segments)))
    except Exception as e:  # the job ends as failed, with what it had recorded
        final, error = "failed", f"{type(e).__name__}: {e}"
    if trainer is None:
        report(Ended(final, error, None, {}))
        return
    publish(report, trainer, sent)
    report(Ended(final, error, trainer.learner.to_bytes(), trainer.summary()))


def publish(report: Callable[[Report], None], trainer: Trainer, sent: tuple[int, int]) -> tuple[int, int]:
    """Report the rows logged since ``sent`` (counts of metric and evaluation rows already reported)."""
    report(Progress(trainer.step_count, trainer.wall_time, trainer.metrics[sent[0]:], trainer.evals[sent[1]:]))
    return len(trainer.metrics), len(trainer.evals)


def serve_policy(report: Callable[[Report], None], controls: Controls, trainer: Trainer) -> None:
    if controls.policy_wanted.is_set():
        controls.policy_wanted.clear()
        report(PolicyCopy(trainer.learner.to_bytes()))
