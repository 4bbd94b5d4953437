"""A sweep's Optuna study: where it is kept, how it samples and prunes, and how to read it back.

The study lives in an RDB storage, by default the SQLite file ``sweeps.sqlite3`` beside the run store (in
``DQN_SIM_HOME``), so a sweep outlives its process: running the same name again continues the same study, and
any process pointed at the same storage (``--storage URL``, a database every machine reaches) may work on it.
Workers send Optuna heartbeats while they train; a trial whose worker died (killed, preempted) goes stale after
``GRACE_S`` and is then failed and queued again with the same parameters, so it is never lost silently.
"""

from __future__ import annotations

import functools
import json
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from dqn_sim.config import ConfigError
from dqn_sim.sweep.space import Param, grid_size, grid_space
from dqn_sim.sweep.spec import SweepSpec, base_config

SWEEPS_DB = "sweeps.sqlite3"
HEARTBEAT_S = 2  # a working trial tells the storage it lives this often
GRACE_S = 10  # a running trial without a heartbeat for this long belongs to a dead worker
SQLITE_BUSY_S = 60  # how long a write waits for another process's write to the SQLite file
TPE_STARTUP_TRIALS = 5  # random trials before TPE models the results (RL Zoo's choice; Optuna's 10 suits long sweeps)
MEDIAN_STARTUP_TRIALS = 3  # trials that must finish before the median pruner judges others
HALVING_REDUCTION = 4  # successive halving keeps the best quarter at each rung (RL Zoo's choice)
SPEC_ATTR = "dqn_sim_sweep"  # the study's user attribute holding the sweep's definition
TRIALS_ATTR = "dqn_sim_trials"  # and the trials it was last asked to hold
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)

optuna.logging.set_verbosity(optuna.logging.WARNING)  # trial-by-trial INFO lines would break the progress bar
warnings.filterwarnings("ignore", category=ExperimentalWarning)  # heartbeats and retries are Optuna "experimental"
# Optuna warns that heartbeats are meant for Study.optimize: here trials are asked and told, with ``heartbeat``
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")


def default_storage(home: Path) -> str:
    """The SQLite file beside the run store in ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home.resolve() / SWEEPS_DB}"


@functools.lru_cache(maxsize=8)
def storage(url: str) -> RDBStorage:
    """One storage per URL and process (its threads share it): heartbeats on, stale trials queued again."""
    engine = {"connect_args": {"timeout": SQLITE_BUSY_S}} if url.startswith("sqlite") else {}
    try:
        return RDBStorage(url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                          heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback())
    except Exception as e:  # a bad URL, a missing driver, an unreachable server
        raise ConfigError(f"--storage {url}: cannot open the study storage ({str(e).splitlines()[0][:200]})") from None


class CoveringGridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler calls ``study.stop()`` once the grid is covered, which only works inside
    ``study.optimize``; here trials are asked and told by the driver, where it raised after the last grid point and
    failed the sweep. The driver stops by itself: its trial count is capped at the grid's size."""

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        return None


def sampler(spec: SweepSpec, seed: int) -> optuna.samplers.BaseSampler:
    """``seed`` differs between workers, except for the grid: its order is shuffled by the seed, and trial ``i``
    takes point ``i`` of it, so every worker must shuffle alike."""
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if spec.sampler == "grid":
        return CoveringGridSampler(grid_space(spec.params), seed=spec.first_seed)
    return optuna.samplers.TPESampler(n_startup_trials=TPE_STARTUP_TRIALS, seed=seed)


def pruner(spec: SweepSpec, eval_every: int) -> optuna.pruners.BasePruner:
    """Judged on the validation curve, reported at every evaluation (``eval_every`` steps apart). Both pruners judge
    no trial before a third of its budget: until the default exploration has decayed (over 30% of training) the
    curve shows the schedule more than the knobs, and a late bloomer looks worst (on video a trial with gamma 0.9
    was last of 12 at 10k steps of 40k and first from 15k on). Successive halving's first rung is then the first
    evaluation past that point."""
    warmup = spec.steps // 3
    if spec.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=MEDIAN_STARTUP_TRIALS, n_warmup_steps=warmup)
    if spec.pruner == "halving":
        first_rung = max(eval_every, -(-warmup // eval_every) * eval_every)
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=first_rung, reduction_factor=HALVING_REDUCTION)
    return optuna.pruners.NopPruner()


def worker_seed(spec: SweepSpec, trials_so_far: int, slot: int) -> int:
    """A sampler seed per trial: the same sweep samples the same way, and parallel workers never draw alike."""
    return int(np.random.SeedSequence([spec.first_seed, trials_so_far, slot]).generate_state(1)[0])


def create(spec: SweepSpec, url: str) -> optuna.Study:
    """The sweep's study, created or, under the same name, continued; refuses a different definition."""
    study = optuna.create_study(storage=storage(url), study_name=spec.name, direction="maximize",
                                load_if_exists=True)
    kept = study.user_attrs.get(SPEC_ATTR)
    wanted = json.loads(json.dumps(spec.to_dict()))  # as the storage gives it back: a choice tuple is a list there
    if kept is None:
        study.set_user_attr(SPEC_ATTR, wanted)
    elif kept != wanted:
        changed = sorted(k for k, v in wanted.items() if kept.get(k) != v)
        raise ConfigError(f"--name {spec.name}: a sweep of that name exists with other settings "
                          f"({', '.join(changed)}); give another --name, or the same settings to resume it")
    return study


def open_sweep(spec: SweepSpec, n_trials: int, url: str) -> tuple[optuna.Study, int]:
    """The sweep's study, created or continued, and the trials it should hold: ``n_trials``, or fewer when a grid
    has fewer points. Refuses a budget in which no validation evaluation falls."""
    eval_every = base_config(spec).train.eval_every
    if eval_every > spec.steps:
        raise ConfigError(f"train.eval_every must be at most --steps ({spec.steps}) for a trial to be judged on its "
                          f"validation curve, got {eval_every}")
    n_trials = min(n_trials, grid_size(spec.params)) if spec.sampler == "grid" else n_trials
    study = create(spec, url)
    study.set_user_attr(TRIALS_ATTR, n_trials)
    return study, n_trials


def load(name: str, url: str) -> tuple[optuna.Study, SweepSpec]:
    """An existing sweep's study and definition."""
    try:
        study = optuna.load_study(study_name=name, storage=storage(url))
    except KeyError:
        raise ConfigError(f"no sweep named {name!r} in {url}") from None
    if SPEC_ATTR not in study.user_attrs:  # another tool's study, or one being created this instant
        raise ConfigError(f"the study {name!r} in {url} is not a dqn_sim sweep")
    return study, SweepSpec.from_dict(study.user_attrs[SPEC_ATTR])


def for_worker(study: optuna.Study, spec: SweepSpec, url: str, slot: int, eval_every: int) -> optuna.Study:
    """The study as a worker uses it: sampling and pruning as the sweep says."""
    seed = worker_seed(spec, len(study.get_trials(deepcopy=False)), slot)
    return optuna.load_study(study_name=spec.name, storage=storage(url), sampler=sampler(spec, seed),
                             pruner=pruner(spec, eval_every))


@contextmanager
def heartbeat(url: str, trial_id: int) -> Iterator[None]:
    """Record the trial's heartbeat every ``HEARTBEAT_S`` while the block runs (on a thread of its own)."""
    store, done = storage(url), threading.Event()

    def beat() -> None:
        while True:
            store.record_heartbeat(trial_id)
            if done.wait(HEARTBEAT_S):
                return

    thread = threading.Thread(target=beat, name=f"sweep-heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def requeue(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queue a trial's parameters again (as a stale trial is), recording which trial it retries."""
    RetryHeartbeatStaleTrialCallback()(study, trial)


def retried(trials: list[FrozenTrial]) -> set[int]:
    """Numbers of the trials that were queued again (and so do not count as done)."""
    return {n for t in trials for n in RetryHeartbeatStaleTrialCallback.retry_history(t)}


@dataclass(frozen=True)
class Tally:
    """Where a study stands: trials done (finished and not queued again), running, waiting; the best value."""

    done: int
    running: int
    waiting: int
    best: float | None


def tally(study: optuna.Study) -> Tally:
    trials = study.get_trials(deepcopy=False)
    again = retried(trials)
    done = sum(t.state in FINISHED and t.number not in again for t in trials)
    complete = [t.value for t in trials if t.state == TrialState.COMPLETE]
    return Tally(done=done, running=sum(t.state == TrialState.RUNNING for t in trials),
                 waiting=sum(t.state == TrialState.WAITING for t in trials), best=max(complete, default=None))


def state_name(state: TrialState) -> str:
    return state.name.lower()


def trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """Every trial as ``{"number", "params", "value", "state", "run_ids"}``."""
    return [{"number": t.number, "params": t.params, "value": t.value, "state": state_name(t.state),
             "run_ids": list(t.user_attrs.get("run_ids", []))} for t in study.get_trials(deepcopy=False)]


def best(study: optuna.Study) -> dict[str, Any] | None:
    """``{"params", "value"}`` of the best complete trial; None before one completes."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return None
    top = max(complete, key=lambda t: t.value)
    return {"params": top.params, "value": top.value}


def list_sweeps(url: str) -> list[dict[str, Any]]:
    """The sweeps kept in a storage, oldest first: name, preset, objective, trials by state, the best."""
    out = []
    for summary in optuna.get_all_study_summaries(storage(url), include_best_trial=False):
        study = optuna.load_study(study_name=summary.study_name, storage=storage(url))
        spec = study.user_attrs.get(SPEC_ATTR, {})
        states = [state_name(t.state) for t in study.get_trials(deepcopy=False)]
        out.append({"name": summary.study_name, "preset": spec.get("preset"), "objective": spec.get("objective"),
                    "params": [Param.from_dict(p).text() for p in spec.get("params", [])],
                    "target": study.user_attrs.get(TRIALS_ATTR),
                    "created": summary.datetime_start.isoformat(timespec="seconds") if summary.datetime_start else None,
                    "trials": len(states), **{s: states.count(s) for s in ("complete", "pruned", "fail", "running")},
                    "best": best(study)})
    return out
