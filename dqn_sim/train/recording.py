"""Persisting a training job into the run store while it trains (app and CLI alike)."""

from __future__ import annotations

import time

from dqn_sim.store import RunStore
from dqn_sim.train.job import JobObserver, JobResult, TrainingJob

FLUSH_EVERY_S = 2.0  # a crash loses at most this much of a run's metric rows


class StoreObserver(JobObserver):
    """Writes a job's run, its metric/eval rows in batches, and at the end its results and checkpoint."""

    def __init__(self, store: RunStore, source: str = "app") -> None:
        self.store, self.source = store, source
        self.run_id: str | None = None
        self._metrics: list[dict] = []
        self._evals: list[dict] = []
        self._last_flush = time.monotonic()

    def started(self, job: TrainingJob) -> str:
        self.run_id = self.store.create_run(
            name=job.name, scenario=job.scenario, agent=job.agent_cfg, train=job.train_cfg,
            seed=job.train_cfg.seed, source=self.source,
        )
        return self.run_id

    def rows(self, metrics: list[dict], evals: list[dict]) -> None:
        self._metrics += metrics
        self._evals += evals
        if time.monotonic() - self._last_flush >= FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        if self.run_id is None:
            return
        if self._metrics:
            self.store.append_metrics(self.run_id, self._metrics)
        if self._evals:
            self.store.append_evals(self.run_id, self._evals)
        self._metrics, self._evals = [], []
        self._last_flush = time.monotonic()

    def state_changed(self, job: TrainingJob, state: str) -> None:
        if self.run_id is not None:
            self.store.set_status(self.run_id, state)

    def ended(self, job: TrainingJob, result: JobResult | None) -> None:
        if self.run_id is None:
            return
        self.flush()
        if result is not None:
            result.agent.save(self.store.checkpoint_path(self.run_id), job.scenario)
            self.store.set_segment_results(self.run_id, result.segments)
            self.store.set_summary(self.run_id, result.summary)
        snap = job.snapshot()
        self.store.set_status(self.run_id, snap.state, error=snap.error)
