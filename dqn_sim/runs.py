"""A run (or a run group) as its readers see it, wherever it is: the snapshot of a job training in this process,
or the run the store holds (trained earlier, by another process, the CLI, or imported).

The store is the truth for runs; a live job only adds what has not been flushed yet. Pages ask for a run by
its id (a job's id is its run's id) and draw the same snapshot either way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig
from dqn_sim.store import RunNotFound, RunStore
from dqn_sim.store.groups import GroupNotFound, GroupStore
from dqn_sim.train.groups import GroupJob
from dqn_sim.train.job import JobSnapshot, TrainingJob
from dqn_sim.vocab import ACTIVE_STATES


class Jobs(Protocol):
    def get(self, job_id: str | None) -> TrainingJob | None: ...


def stored_snapshot(store: RunStore, run_id: str) -> JobSnapshot:
    """The stored run as a snapshot (``RunNotFound`` if the store has no such run)."""
    run = store.get_run(run_id)
    metrics, evals, segments = store.metrics(run_id), store.evals(run_id), store.segment_results(run_id)
    summary = run["summary"] if isinstance(run["summary"], dict) else {}
    total = run["train"].total_steps
    step = _last(metrics, "step", _last(evals, "step", 0))
    step = int(summary.get("steps", step)) if isinstance(summary.get("steps"), int) else int(step)
    elapsed = float(_last(metrics, "wall_time", 0.0))
    return JobSnapshot(
        id=run_id, name=run["name"], state=run["status"], step=step, total_steps=total,
        progress=min(1.0, step / total) if total else 0.0, elapsed_s=elapsed, eta_s=None, error=run["error"],
        run_id=run_id, scenario=run["scenario"], agent=run["agent"], train=run["train"], metrics=metrics,
        evals=evals, segments=segments, summary=summary,
    )


def run_snapshot(store: RunStore, jobs: Jobs, run_id: str) -> JobSnapshot:
    """The run as it is now: a live job's snapshot under its stored name (a rename shows at once), else the
    stored run. ``RunNotFound`` if neither knows the id."""
    job = jobs.get(run_id)
    if job is None:
        return stored_snapshot(store, run_id)
    snap = job.snapshot()
    try:
        return dataclasses.replace(snap, name=store.get_run(run_id)["name"])
    except RunNotFound:  # not recorded yet (the first moments of a job), or a job without a store
        return snap


def _last(frame: pd.DataFrame, column: str, default: float) -> float:
    values = frame[column].dropna() if column in frame else ()
    return values.iloc[-1] if len(values) else default


@dataclass(frozen=True)
class GroupView:
    """A run group as its readers see it: live while its members train here, else as the store keeps it."""

    id: str
    name: str
    state: str
    progress: float
    elapsed_s: float
    eta_s: float | None
    error: str | None
    seeds: list[int]
    members: list[JobSnapshot]  # one per seed that has a run (a member that never started has none)
    summary: dict  # the aggregate over seeds once the group has ended (``groups.group_summary``)
    scenario: ScenarioConfig
    agent: AgentConfig
    train: TrainConfig

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def step(self) -> int:
        """User-steps trained by all members together."""
        return sum(m.step for m in self.members)

    @property
    def total_steps(self) -> int:
        return self.train.total_steps * len(self.seeds)


class Groups(Protocol):
    def group(self, group_id: str | None) -> GroupJob | None: ...


def group_view(store: RunStore, jobs: Jobs, groups: Groups, group_id: str) -> GroupView:
    """The group by id (``GroupNotFound`` if neither this server nor the store knows it)."""
    live = groups.group(group_id)
    if live is not None:
        status = live.status()
        members = [run_snapshot(store, jobs, job.id) for job in live.members]  # a waiting one shows as starting
        summary = live.aggregate() if not status.active else {}
        return GroupView(group_id, status.name, status.state, status.progress, status.elapsed_s, status.eta_s,
                         status.error, list(status.seeds), members, summary, live.scenario, live.agent_cfg,
                         live.train_cfg)
    stored = GroupStore(store).get_group(group_id)
    members = [stored_snapshot(store, m["run_id"]) for m in stored["members"] if m["status"] is not None]
    progress = sum(m.progress for m in members) / max(len(stored["seeds"]), 1)
    return GroupView(group_id, stored["name"], stored["status"], progress, max((m.elapsed_s for m in members),
                     default=0.0), None, stored.get("error"), stored["seeds"], members, stored["summary"] or {},
                     stored["scenario"], stored["agent"], stored["train"])


def is_group(store: RunStore, groups: Groups, run_id: str) -> bool:
    """Whether an id names a run group (here or in the store) rather than a single run."""
    if groups.group(run_id) is not None:
        return True
    try:
        GroupStore(store).get_group(run_id)
    except GroupNotFound:
        return False
    return True
