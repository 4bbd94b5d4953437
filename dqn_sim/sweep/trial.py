"""One trial of a sweep, run by a worker (a local thread or a Ray task) against the shared study and run store.

A trial asks the study for parameters, trains the configuration on the sweep's seeds at once as a run group
(``GroupJob``: each seed a stored run tagged with the sweep and the trial), reports the IQM over seeds of the
validation curve at every evaluation so the pruner can stop a hopeless trial early, and tells the study the IQM over
seeds of each seed's last validation value. Everything goes through the storage, never through the caller, so a
worker on another machine reports the same way as one on this machine.
"""

from __future__ import annotations

import threading
from typing import Any

import optuna
import pandas as pd
from optuna.trial import TrialState

from dqn_sim.config import ConfigError
from dqn_sim.splits import validation_rows
from dqn_sim.stats import iqm
from dqn_sim.store import RunStore
from dqn_sim.sweep import study as studies
from dqn_sim.sweep.choices import OBJECTIVES
from dqn_sim.sweep.space import distributions
from dqn_sim.sweep.spec import SweepSpec, TrialOutcome, TrialTask, base_config
from dqn_sim.train.group_recording import StoreGroupRecorder
from dqn_sim.train.groups import GroupJob, seed_range
from dqn_sim.train.job import TrainingJob

POLL_S = 0.5  # how often an unpruned trial reads its members' validation curves
HOLD_POLL_S = 0.01  # how often a pruned trial looks whether its members wait at an evaluation (a cheap check)


class Curve:
    """The trial's validation curve: per evaluation step, the IQM over seeds of the objective."""

    def __init__(self, column: str) -> None:
        self.column = column
        self.reported = -1

    def points(self, group: GroupJob) -> pd.Series:
        """Objective at every step that every seed has evaluated, as IQM over seeds."""
        per_seed = [_validation(job, self.column) for job in group.members]
        table = pd.concat(per_seed, axis=1).dropna()
        return table.apply(lambda row: iqm(row.to_numpy()), axis=1)

    def new(self, group: GroupJob) -> list[tuple[int, float]]:
        """Points not reported yet."""
        points = self.points(group)
        fresh = [(int(step), float(v)) for step, v in points.items() if step > self.reported]
        if fresh:
            self.reported = fresh[-1][0]
        return fresh


def _validation(job: TrainingJob, column: str) -> pd.Series:
    evals = validation_rows(job.snapshot().evals)
    mine = evals[evals.policy == job.train_cfg.algo]  # the learner's curve
    return pd.Series(mine[column].to_numpy(dtype=float), index=mine.step.to_numpy(dtype=int)).groupby(level=0).last()


def run_trial(task: TrialTask, stop: threading.Event | None, ran_on: dict[str, Any]) -> TrialOutcome:
    """Ask the study for a trial and run it to its end (complete, pruned or failed). ``stop`` (or a
    KeyboardInterrupt, as Ray's cancel raises) ends it early: it is then failed and queued again."""
    bare, spec = studies.load(task.name, task.storage_url)
    study = studies.for_worker(bare, spec, task.storage_url, task.slot, base_config(spec).train.eval_every)
    trial = study.ask(distributions(spec.params))
    with studies.heartbeat(task.storage_url, trial._trial_id):  # the storage knows a trial by this id alone
        return _run(study, trial, spec, task, stop, ran_on)


def _run(study: optuna.Study, trial: optuna.Trial, spec: SweepSpec, task: TrialTask,
         stop: threading.Event | None, ran_on: dict[str, Any]) -> TrialOutcome:
    trial.set_user_attr("ran_on", ran_on)
    trial.set_user_attr("run_ids", [])
    try:
        run = base_config(spec, trial.params)
    except ConfigError as e:  # sampled values that clash with the rest of the configuration
        return _tell(study, trial, TrialState.FAIL, error=str(e))
    seeds = seed_range(spec.first_seed, spec.seeds)
    hold = spec.pruner != "none"  # each seed waits at each evaluation for the pruner: a pruned trial ends there
    # stored as a run group, as ``train --seeds`` is, each seed a run whose notes name the sweep and the trial
    # (``sweep=NAME trial=N``: the run list can find them; the run's name carries them too)
    notes = f"sweep={spec.name} trial={trial.number}"
    recorder = StoreGroupRecorder(RunStore(task.store_home), source="cli", notes=notes)
    group = GroupJob(run.scenario, run.agent, run.train, seeds, name=f"{spec.name} · trial {trial.number}",
                     recorder=recorder, max_parallel=len(seeds),  # all seeds at once: the curve is judged over all
                     hold_at_evaluations=hold).start()
    trial.set_user_attr("group_id", group.id)
    trial.set_user_attr("run_ids", [job.id for job in group.members])
    curve = Curve(OBJECTIVES[spec.objective])
    try:
        while not group.join(HOLD_POLL_S if hold else POLL_S):
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt
            if hold and any(job.holding is None and not job.join(0) for job in group.members):
                continue  # a seed still trains towards the evaluation to judge
            for step, value in curve.new(group):
                trial.report(value, step)
                if trial.should_prune():
                    group.stop()
                    group.join()
                    trial.set_user_attr("pruned_at", step)
                    return _tell(study, trial, TrialState.PRUNED)
            if hold:
                for job in group.members:
                    job.go_on()  # judged (or, seeds evaluating at different steps, nothing in common to judge)
    except KeyboardInterrupt:
        group.stop()
        group.join()
        outcome = _tell(study, trial, TrialState.FAIL, error="interrupted: queued again")
        studies.requeue(study, study.get_trials(deepcopy=False)[trial.number])
        return outcome
    return _finish(study, trial, group, curve)


def _finish(study: optuna.Study, trial: optuna.Trial, group: GroupJob, curve: Curve) -> TrialOutcome:
    """Tell the study how the trial ended: failed with a member's error, or the IQM of the last values."""
    trial.set_user_attr("run_ids", [job.snapshot().run_id or job.id for job in group.members])
    if group.status().state == "failed":
        return _tell(study, trial, TrialState.FAIL, error=group.status().error)
    for step, value in curve.new(group):
        trial.report(value, step)
    last = [_validation(job, curve.column) for job in group.members]
    if any(s.empty for s in last):
        return _tell(study, trial, TrialState.FAIL, error="no validation evaluation within the budget")
    trial.set_user_attr("seed_values", [float(s.iloc[-1]) for s in last])
    return _tell(study, trial, TrialState.COMPLETE, value=iqm([s.iloc[-1] for s in last]))


def _tell(study: optuna.Study, trial: optuna.Trial, state: TrialState, value: float | None = None,
          error: str | None = None) -> TrialOutcome:
    if error:
        trial.set_user_attr("error", error)
    frozen = study.tell(trial, value, state=state)
    return TrialOutcome(trial.number, studies.state_name(state), frozen.value)
