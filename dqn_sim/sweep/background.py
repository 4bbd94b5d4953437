"""A sweep driven from a thread of a long-lived process (the studio's server), so a page can start it, leave, come
back and stop it. Progress is read from the study, never from this object: a reload, another session or the CLI
all see the same trials."""

from __future__ import annotations

import threading

import optuna

from dqn_sim.sweep.driver import run_sweep
from dqn_sim.sweep.executors import Executor


class SweepJob:
    """``run_sweep`` on a thread; ``stop`` ends the running trials (failed and queued again) and the loop, so
    starting the same sweep again resumes it."""

    def __init__(self, study: optuna.Study, url: str, store_home: str, executor: Executor, n_trials: int) -> None:
        self.name, self.n_trials, self.executor = study.study_name, n_trials, executor
        self.error: str | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(study, url, store_home), daemon=True,
                                        name=f"sweep-{self.name}")

    def start(self) -> SweepJob:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    @property
    def state(self) -> str:
        """running, stopping, stopped, finished or failed (as the run states say it)."""
        if not self._done.is_set():
            return "stopping" if self._stop.is_set() else "running"
        if self.error is not None:
            return "failed"
        return "stopped" if self._stop.is_set() else "finished"

    def _run(self, study: optuna.Study, url: str, store_home: str) -> None:
        try:
            run_sweep(study, url, store_home, self.executor, self.n_trials, stop=self._stop)
        except Exception as e:  # a worker's own failure (the storage went away): the page says so
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self.executor.close()
            self._done.set()
