"""A run as its readers see it, wherever it is: the snapshot of a job training in this process, or the run
the store holds (trained earlier, by another process, the CLI, or imported).

The store is the truth for runs; a live job only adds what has not been flushed yet. Pages ask for a run by
its id (a job's id is its run's id) and draw the same snapshot either way.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

import pandas as pd

from dqn_sim.store import RunNotFound, RunStore
from dqn_sim.train.job import JobSnapshot, TrainingJob


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
