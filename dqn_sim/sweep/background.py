"""A sweep driven from a thread of a long-lived process (the studio's server), so a page can start it, leave, come
back and stop it. Progress is read from the study, never from this object: a reload, another session or the CLI
all see the same trials.

In the studio a sweep trains beside the runs of the server's ``JobRegistry``: it is handed to the registry, which
starts it once ``slots`` (one per trial it runs at once) are free, so sweeps and runs never oversubscribe the cores.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

import optuna

from dqn_sim.sweep.driver import Progress, run_sweep
from dqn_sim.sweep.executors import Executor
from dqn_sim.vocab import ACTIVE_STATES


@dataclass(frozen=True)
class SweepStatus:
    """What the registry (and its queue's readers) ask of anything that holds slots."""

    id: str
    name: str
    state: str
    eta_s: float | None
    error: str | None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES or self.state == "stopping"


class SweepJob:
    """``run_sweep`` on a thread; ``stop`` ends the running trials (failed and queued again) and the loop, so
    starting the same sweep again resumes it. Before ``start`` it is pending (waiting for slots); stopped then, it
    never starts."""

    def __init__(self, study: optuna.Study, url: str, store_home: str, executor: Executor, n_trials: int) -> None:
        self.id = secrets.token_hex(5)  # as a run's: the registry knows entries by id
        self.name, self.n_trials, self.executor = study.study_name, n_trials, executor
        self.slots = executor.slots  # of the server's training slots: one per trial at once
        self.error: str | None = None
        self._progress: Progress | None = None  # the driver's last word: what the ETA is read from
        self._t0: float | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()  # start and stop, never both at once
        self._thread = threading.Thread(target=self._run, args=(study, url, store_home), daemon=True,
                                        name=f"sweep-{self.name}")

    def start(self) -> SweepJob:
        with self._lock:
            if not self._stop.is_set():
                self._t0 = time.monotonic()
                self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            if self._thread.ident is None:  # never started: nothing to wait for
                self.executor.close()
                self._done.set()

    def join(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    @property
    def state(self) -> str:
        """pending, running, stopping, stopped, finished or failed (as the run states say it)."""
        if not self._done.is_set():
            if self._thread.ident is None:
                return "pending"
            return "stopping" if self._stop.is_set() else "running"
        if self.error is not None:
            return "failed"
        return "stopped" if self._stop.is_set() else "finished"

    def status(self) -> SweepStatus:
        """What a queued run is told of the sweep holding slots: its name and, once it has progressed, an ETA."""
        state, done = self.state, self._progress.fraction if self._progress else 0.0
        eta = None
        if state == "running" and done > 0 and self._t0 is not None:
            eta = (time.monotonic() - self._t0) * (1 - done) / done
        return SweepStatus(id=self.id, name=f"sweep {self.name}", state=state, eta_s=eta, error=self.error)

    def _report(self, progress: Progress) -> None:
        self._progress = progress

    def _run(self, study: optuna.Study, url: str, store_home: str) -> None:
        try:
            run_sweep(study, url, store_home, self.executor, self.n_trials, on_progress=self._report, stop=self._stop)
        except Exception as e:  # a worker's own failure (the storage went away): the page says so
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self.executor.close()
            self._done.set()
