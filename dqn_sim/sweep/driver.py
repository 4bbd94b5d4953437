"""The sweep's loop: keep the executor's slots busy until the study has its trials.

``--trials N`` is what the study should hold, not how many to add: a resumed sweep runs only what is missing. A
trial counts once it is complete, pruned or failed, unless it was queued again (a worker died or was
interrupted). Running trials of other workers (another sweep process on the same storage, or a dead one whose
heartbeat has not gone stale yet) count as under way, so the loop waits for them rather than overshooting, and
fails stale ones as it goes: their parameters are queued again and the next trial asked for takes them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass

import optuna

from dqn_sim.sweep import study as studies
from dqn_sim.sweep.executors import Executor
from dqn_sim.sweep.spec import SweepSpec, TrialOutcome, TrialTask

POLL_S = 0.5


@dataclass(frozen=True)
class Progress:
    """What the progress bar shows."""

    done: int
    total: int
    running: int
    best: float | None
    fraction: float  # trials done plus the share of the budget running trials have evaluated


def run_sweep(study: optuna.Study, url: str, store_home: str, executor: Executor, n_trials: int,
              on_progress: Callable[[Progress], None] | None = None, stop: threading.Event | None = None) -> None:
    """Run trials on ``executor`` until ``n_trials`` are done. When ``stop`` is set, or on KeyboardInterrupt (which
    then propagates), the running trials are ended first: failed and queued again, for a resume."""
    spec = SweepSpec.from_dict(study.user_attrs[studies.SPEC_ATTR])
    running: dict[Future[TrialOutcome], int] = {}  # future -> its slot
    try:
        while stop is None or not stop.is_set():
            optuna.storages.fail_stale_trials(study)
            tally = studies.tally(study)
            if tally.done >= n_trials and not running:
                if on_progress:  # the last line says N/N, not the tally of the poll before the last trial ended
                    on_progress(_progress(study, spec, tally, n_trials))
                return
            elsewhere = max(0, tally.running - len(running))
            free = [s for s in range(executor.slots) if s not in running.values()]
            while free and tally.done + len(running) + elsewhere < n_trials:
                slot = free.pop(0)
                running[executor.submit(TrialTask(spec.name, url, store_home, slot))] = slot
            if on_progress:
                on_progress(_progress(study, spec, tally, n_trials))
            if not running:  # waiting for other workers' trials (or for a dead one's to go stale)
                time.sleep(POLL_S)
                continue
            finished, _ = wait(list(running), timeout=POLL_S, return_when=FIRST_COMPLETED)
            for future in finished:
                del running[future]
                future.result()  # a worker's own failure (not a trial's) ends the sweep
    except BaseException:
        _end(executor, running)
        raise
    _end(executor, running)


def _end(executor: Executor, running: dict[Future[TrialOutcome], int]) -> None:
    executor.interrupt()
    wait(list(running))


def _progress(study: optuna.Study, spec: SweepSpec, tally: studies.Tally, n_trials: int) -> Progress:
    partial = sum(min(1.0, (t.last_step or 0) / spec.steps)
                  for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)))
    return Progress(done=tally.done, total=n_trials, running=tally.running, best=tally.best,
                    fraction=min(1.0, (tally.done + partial) / n_trials))
