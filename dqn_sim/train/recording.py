"""Persisting a training job into the run store while it trains (app and CLI alike).

The job's watching thread hands this observer what the training process reports; a writer thread of the observer
puts it into the store. So a slow or busy store never holds up the reports, nor the training behind them. A write
that fails (another process holding the store's write lock, a full disk) is retried with back-off while the rows
wait in memory: saving may fall behind, which ``behind`` and ``pending_rows`` tell the user, but it never fails
the job. At its end the job waits up to ``SAVE_WAIT_S`` for the rest; what is still unsaved then becomes the
job's error ("saving failed: ..."), the training outcome itself stands, and the writer keeps trying while the
process lives. The writer thread and its back-off are a ``Saver``, which a run group's recording shares
(``dqn_sim.train.group_recording``).

While it trains, the training process saves the model at the run's checkpoint path at every evaluation (or
every ``checkpoint_every`` user-steps where set: ``TrainConfig.checkpoint_period``), and the run's summary says
which step it is from (``checkpoint_step``), so a killed run keeps a model and says how old it is; the end
replaces both with the kept model and the final summary.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dqn_sim.store import RunIdTaken, RunNotFound, RunStore, StoreError
from dqn_sim.train.job import JobObserver, JobResult, TrainingJob

FLUSH_EVERY_S = 2.0  # a crash loses at most this much of a run's metric rows
RETRY_FIRST_S, RETRY_MAX_S = 0.5, 30.0  # back-off between failed writes: doubles from the first to the most
SAVE_WAIT_S = 120.0  # how long a job's end waits for the rows still to save


class Saver:
    """Calls ``write`` on a thread of its own until it returns True (all is saved): again when woken, else every
    ``FLUSH_EVERY_S``. A write that fails for now (busy, read-only or full: ``StoreError``, ``OSError``) is tried
    again with back-off while ``error`` says why; any other failure stops saving for good. So a store that refuses
    writes puts saving behind, never the job that is saved."""

    def __init__(self, write: Callable[[], bool], name: str) -> None:
        self.error: str | None = None  # why the last write failed while saving is behind, or why saving stopped
        self.stopped = False  # a write failed for good: nothing more is saved
        self._write = write
        self._wake = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Write now rather than at the next flush (a state or an end should not wait)."""
        self._wake.set()

    @property
    def started(self) -> bool:
        return self._thread.ident is not None

    @property
    def behind(self) -> bool:
        """Whether saving is behind: the last write failed (``error`` says why) and is tried again, or stopped."""
        return self.error is not None

    def finish(self, unsaved: Callable[[], str]) -> None:
        """Wait up to ``SAVE_WAIT_S`` for the last write; if it did not come, raise a StoreError saying what is
        ``unsaved()`` and why."""
        if self._done.wait(SAVE_WAIT_S) and not self.stopped:
            return
        still = "" if self.stopped else "; still trying while this process runs"
        raise StoreError(f"{unsaved()} are not saved ({self.error}){still}")

    def _loop(self) -> None:
        delay = RETRY_FIRST_S
        while True:
            try:
                finished = self._write()
            except (StoreError, OSError) as e:  # busy, read-only or full for now: try again later
                self.error = str(e)
                self._sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            except Exception as e:  # e.g. the run was deleted from the store while it trained: saving stops
                self.error, self.stopped = f"saving stopped: {e}", True
                break
            self.error, delay = None, RETRY_FIRST_S
            if finished:
                break
            self._sleep(FLUSH_EVERY_S)
        self._done.set()

    def _sleep(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()


class Saving(Protocol):
    """What a recorder tells the user about saving (``StoreObserver``, ``StoreGroupRecorder``)."""

    @property
    def behind(self) -> bool: ...

    @property
    def pending_rows(self) -> int: ...


def saving_detail(saving: Saving) -> str:
    """The CLI progress line's word on saving: empty unless the store refuses writes for now."""
    return f" · saving behind, {saving.pending_rows:,} rows waiting" if saving.behind else ""


@dataclass
class _End:
    """What the end of a job leaves to save, after its last rows."""

    result: JobResult | None
    state: str
    error: str | None


class StoreObserver(JobObserver):
    """Writes a job's run (under the job's id), its metric/eval rows in batches, and at the end its checkpoint,
    results and final state. ``notes`` start the run's notes (a sweep tags its trials there); ``started_by`` is who
    started it, as people read it (``RunStore.create_run``)."""

    def __init__(self, store: RunStore, source: str = "app", notes: str | None = None,
                 started_by: str | None = None) -> None:
        self.store, self.source, self.notes, self.started_by = store, source, notes, started_by
        self.run_id: str | None = None
        self._job: TrainingJob | None = None
        self._created = False
        self._metrics: list[dict] = []
        self._evals: list[dict] = []
        self._state: str | None = None  # a pause or resume not saved yet
        self._checkpoint_step: int | None = None  # a checkpoint not recorded yet
        self._end: _End | None = None
        self._lock = threading.Lock()
        self._saver = Saver(self._write_pending, name="dqn-store-writer")

    # ------------------------------------------------------------------------------------- what the job calls

    def started(self, job: TrainingJob) -> str:
        """Create the run under the job's id; if the store is busy now, the writer creates it later."""
        self._job, self.run_id = job, job.id
        try:
            self._create(fresh_id_if_taken=True)
        except StoreError as e:
            self._saver.error = str(e)
        self._saver.start()
        return self.run_id

    def rows(self, metrics: list[dict], evals: list[dict]) -> None:
        with self._lock:
            self._metrics += metrics
            self._evals += evals

    def checkpoint_path(self) -> Path | None:
        """The run's checkpoint in the store (None if the run is not in the store yet: no checkpoints then)."""
        try:
            return self.store.checkpoint_path(self.run_id)
        except (StoreError, RunNotFound):  # the store was busy when the run started
            return None

    def checkpointed(self, step: int) -> None:
        with self._lock:
            self._checkpoint_step = step
        self._saver.wake()  # at once: the summary should name the model on disk when a kill comes

    def state_changed(self, job: TrainingJob, state: str) -> None:
        with self._lock:
            self._state = state
        self._saver.wake()

    def ended(self, job: TrainingJob, result: JobResult | None) -> None:
        """Hand the end to the writer and wait for everything to be saved; raise if it could not be in time."""
        snap = job.snapshot()
        with self._lock:
            self._end = _End(result, snap.state, snap.error)
        self._saver.wake()
        if self._saver.started:  # else it never started: there is no run to save into
            self._saver.finish(lambda: f"run {self.run_id}: {self.pending_rows} rows and the run's end")

    # ------------------------------------------------------------------------------------- what the UI reads

    @property
    def pending_rows(self) -> int:
        """Rows received and not saved yet."""
        with self._lock:
            return len(self._metrics) + len(self._evals)

    @property
    def behind(self) -> bool:
        """Whether saving is behind: the last write failed (``error`` says why) and is tried again, or stopped."""
        return self._saver.behind

    @property
    def error(self) -> str | None:
        """Why the last write failed while saving is behind, or why saving stopped."""
        return self._saver.error

    # ------------------------------------------------------------------------------------- the writer

    def _write_pending(self) -> bool:
        """Save what waits, oldest first (each step once: a retry starts where a failure stopped); returns whether
        the job's end is saved."""
        if not self._created:
            self._create(fresh_id_if_taken=False)  # the job was told this id already
        with self._lock:
            metrics, evals, state, end = list(self._metrics), list(self._evals), self._state, self._end
            checkpoint = self._checkpoint_step
        if metrics:
            self.store.append_metrics(self.run_id, metrics)
        with self._lock:
            del self._metrics[: len(metrics)]
        if evals:
            self.store.append_evals(self.run_id, evals)
        with self._lock:
            del self._evals[: len(evals)]
        if checkpoint is not None and (end is None or end.result is None):
            self.store.set_summary(self.run_id, {"checkpoint_step": checkpoint})
            with self._lock:
                self._checkpoint_step = None if self._checkpoint_step == checkpoint else self._checkpoint_step
        if end is None:
            if state is not None:
                self.store.set_status(self.run_id, state)
                with self._lock:
                    self._state = None if self._state == state else self._state
            return False
        if end.result is not None:
            end.result.agent.save(self.store.checkpoint_path(self.run_id), self._job.scenario)
            self.store.set_segment_results(self.run_id, end.result.segments)
            self.store.set_summary(self.run_id, end.result.summary)
        self.store.set_status(self.run_id, end.state, error=end.error)
        return True

    def _create(self, *, fresh_id_if_taken: bool) -> None:
        job = self._job
        settings = dict(name=job.name, scenario=job.scenario, agent=job.agent_cfg, train=job.train_cfg,
                        seed=job.train_cfg.seed, source=self.source, notes=self.notes, started_by=self.started_by)
        try:
            self.store.create_run(**settings, run_id=self.run_id)
        except RunIdTaken:  # another run has this id already (a job's id is short)
            if not fresh_id_if_taken:
                raise
            self.run_id = self.store.create_run(**settings)
        self._created = True
