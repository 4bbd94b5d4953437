"""Run groups: one configuration trained on several seeds, because one seed is an anecdote.

Between training seeds the same configuration ends far apart (issue 11 measured 49.9 to 60.2 on video), further
than any one run's interval over evaluation sessions suggests. A ``GroupJob`` trains a configuration on seeds
``seed, seed + 1, …``: each member is an ordinary ``TrainingJob`` (its own process, its own stored run through
its observer), at most ``max_parallel`` train at once and the rest wait their turn. Pause, resume and stop apply to
every member; ``status()`` is a cheap read; ``aggregate()`` sums the members' test results up with the seed-level
statistics of ``dqn_sim.stats`` (IQM and mean with seeded bootstrap intervals over seeds).

Where a group is kept is its ``GroupRecorder``'s business (the store's, see ``dqn_sim.train.recording``), so this
module trains and aggregates without knowing the store.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dqn_sim import stats
from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig
from dqn_sim.policies import evaluated_in_training, rivals
from dqn_sim.splits import has_test_result
from dqn_sim.train.job import JobObserver, JobStatus, TrainingJob, new_job_id
from dqn_sim.train.trainer import Trainer
from dqn_sim.vocab import ACTIVE_STATES, FAILURE_STATES

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0  # the same group always gets the same intervals
SCHEDULE_EVERY_S = 0.1  # how soon a waiting member takes a slot that has come free


def cores() -> int:
    """Cores this process may run on (its affinity, which a container or ``taskset`` may narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def members_at_once(n: int, n_cores: int | None = None) -> int:
    """How many of a group's ``n`` members train at once: as few waves as whole cores allow (``n // cores``), the
    members spread evenly over them. Five seeds on two cores run 3 then 2 (2.5 runs' worth of wall time) rather
    than 2, 2, 1 (3 runs' worth, the last wave leaving a core idle); at most one member more than cores per wave."""
    n_cores = n_cores or cores()
    waves = max(1, n // n_cores)
    return -(-n // waves)


def seed_range(first: int, n: int) -> list[int]:
    """The seeds of an ``n``-seed group: ``first, first + 1, …``."""
    return list(range(first, first + n))


class GroupRecorder:
    """Where a group is kept; all no-ops by default (a group that nobody stores)."""

    def started(self, group: GroupJob) -> str | None:
        """Called once before any member starts; may return the stored group's id."""
        return None

    def member(self, group: GroupJob, seed: int) -> JobObserver:
        """The observer of the member that trains ``seed`` (e.g. one that stores its run in the group)."""
        return JobObserver()

    def state_changed(self, group: GroupJob, state: str) -> None:
        """Called on pause and resume (from the caller's thread)."""

    def ended(self, group: GroupJob, summary: dict) -> None:
        """Called once when every member has ended (or will never start), with ``group.aggregate()``."""


@dataclass(frozen=True)
class GroupStatus:
    """State and progress of a group and of each member, cheap to read."""

    id: str
    name: str
    state: str
    progress: float  # mean over the members; a waiting member counts 0
    elapsed_s: float
    eta_s: float | None
    error: str | None
    seeds: tuple[int, ...]
    members: tuple[JobStatus, ...]

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def ended(self) -> int:
        """Members that have ended (a member that never started is not counted)."""
        return sum(m.state not in ACTIVE_STATES for m in self.members)


class GroupJob:
    """One configuration trained on several seeds by ``TrainingJob`` members, ``max_parallel`` at a time."""

    def __init__(
        self,
        scenario: ScenarioConfig,
        agent_cfg: AgentConfig,
        train_cfg: TrainConfig,
        seeds: Sequence[int],
        *,
        name: str | None = None,
        recorder: GroupRecorder | None = None,
        max_parallel: int | None = None,
        init_from: Mapping[int, Path] | None = None,
        trainer_factory: Callable[..., Trainer] = Trainer,
        niceness: int = 0,
        hold_at_evaluations: bool = False,
    ) -> None:
        """``init_from``: a checkpoint per seed to start that member from (a group resumed from its stored
        members); ``max_parallel``: members training at once (default: ``members_at_once``);
        ``hold_at_evaluations``: each member waits after each validation evaluation (``TrainingJob``)."""
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"a group needs distinct seeds, got {list(seeds)}")
        self.id = new_job_id()
        self.name = name or f"{scenario.name} · {len(seeds)} seeds from {seeds[0]} · {self.id[:4]}"
        self.scenario, self.agent_cfg, self.train_cfg = scenario, agent_cfg, train_cfg
        self.seeds = list(seeds)
        self.recorder = recorder or GroupRecorder()
        self.max_parallel = max_parallel or members_at_once(len(seeds))
        self.group_id: str | None = None
        self.members = [
            TrainingJob(scenario, agent_cfg, train_cfg.with_overrides({"seed": seed}),
                        name=f"{self.name} · seed {seed}", observer=self.recorder.member(self, seed),
                        trainer_factory=trainer_factory, init_from=(init_from or {}).get(seed), niceness=niceness,
                        hold_at_evaluations=hold_at_evaluations)
            for seed in self.seeds
        ]
        self._started: list[TrainingJob] = []
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self._done = threading.Event()
        self._lock = threading.Lock()  # a member starts, or the members are paused, never both at once
        self._t0: float | None = None
        self._elapsed: float | None = None  # frozen at the end
        self._error: str | None = None  # the group's own (its members report theirs)
        self._thread = threading.Thread(target=self._run, name=f"dqn-group-{self.id}", daemon=True)

    # ------------------------------------------------------------------ control
    def start(self) -> GroupJob:
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def pause(self) -> None:
        """Pause every training member; waiting members stay waiting until ``resume``."""
        if self._elapsed is not None:  # ended
            return
        with self._lock:
            self._resume.clear()
            for job in self._started:
                job.pause()
        self.recorder.state_changed(self, "paused")

    def resume(self) -> None:
        if self._elapsed is not None:
            return
        with self._lock:
            self._resume.set()
            for job in self._started:
                job.resume()
        self.recorder.state_changed(self, "running")

    def stop(self) -> None:
        """Stop every training member (each keeps its rows and is judged on its test users); waiting members
        never start."""
        with self._lock:
            self._stop.set()
            self._resume.set()
            for job in self._started:
                job.stop()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every member has ended and the group's end is recorded."""
        return self._done.wait(timeout)

    # ------------------------------------------------------------------ reading
    def status(self) -> GroupStatus:
        members = tuple(job.status() for job in self.members)
        progress = sum(m.progress for m in members) / len(members)
        elapsed = self._elapsed if self._elapsed is not None else (
            time.monotonic() - self._t0 if self._t0 is not None else 0.0)
        state = self._state(members)
        eta = elapsed * (1 - progress) / progress if state == "running" and progress > 0 else None
        errors = [f"seed {seed}: {m.error}" for seed, m in zip(self.seeds, members, strict=True) if m.error]
        errors += [self._error] if self._error else []
        return GroupStatus(id=self.id, name=self.name, state=state, progress=progress, elapsed_s=elapsed, eta_s=eta,
                           error="; ".join(errors) or None, seeds=tuple(self.seeds), members=members)

    def _state(self, members: tuple[JobStatus, ...]) -> str:
        """A running group is paused when asked to be, running once a member trains; an ended one finished when
        every member did, failed when one failed or diverged (or the group could not start), stopped otherwise."""
        if self._elapsed is None:  # some member may still train
            if not self._resume.is_set():
                return "paused"
            return "running" if any(m.state == "running" for m in members) else "pending"
        states = {m.state for m in members}
        if states == {"finished"}:
            return "finished"
        failed = states & set(FAILURE_STATES) or (self._error and not self._started)
        return "failed" if failed else "stopped"

    def aggregate(self) -> dict:
        """The group's summary: seeds, each member's test results, and their aggregate over seeds."""
        return group_summary([(seed, snap.run_id, snap.summary)
                              for seed, snap in zip(self.seeds, (job.snapshot() for job in self.members),
                                                    strict=True)], learner=self.train_cfg.algo)

    # ------------------------------------------------------------------ the scheduling thread
    def _run(self) -> None:
        """Record the group, start members as slots come free, wait for them all, record the group's end."""
        try:
            self.group_id = self.recorder.started(self)
            self._schedule()
        except Exception as e:  # the group could not be recorded: nothing more starts
            self._error = f"{type(e).__name__}: {e}"
        for job in self._started:
            job.join()
        self._elapsed = time.monotonic() - (self._t0 or time.monotonic())
        try:
            self.recorder.ended(self, self.aggregate())
        except Exception as e:  # keeping the group must never hide how its members ended
            self._error = f"saving the group failed: {type(e).__name__}: {e}"
        self._done.set()

    def _schedule(self) -> None:
        waiting = list(self.members)
        while waiting and not self._stop.is_set():
            with self._lock:
                free = self._resume.is_set() and not self._stop.is_set() and (
                    sum(not job.join(0) for job in self._started) < self.max_parallel)
                if free:
                    self._started.append(waiting.pop(0).start())
            if not free:
                self._stop.wait(SCHEDULE_EVERY_S)


Member = tuple[int, str | None, Mapping]  # (seed, run id, the run's summary)


def _test_value(summary: Mapping, key: str) -> float | None:
    """A member's number from its test evaluation; None for a run that was never judged on test users."""
    value = summary.get(key) if has_test_result(summary) else None
    return None if value is None else float(value)


def group_summary(members: Sequence[Member], learner: str = "dqn") -> dict:
    """``{"seeds", "per_seed", "aggregate", "aggregate_ctr", "best_baseline", …}`` from the members' test results
    (``learner``: what the members trained, ``TrainConfig.algo``).

    ``aggregate[policy]`` is ``stats.aggregate`` of the policy's test return over seeds (IQM and mean, each with a
    seeded percentile-bootstrap 95% interval over seeds, the spread and the values); ``aggregate_ctr`` the same
    of the click-through rate. A member without a test result (it failed, or never started) is listed with None
    and left out of the statistics. ``best_baseline`` is the rival with the highest IQM.
    """
    policies = [learner, *evaluated_in_training()]
    per_seed = [{"seed": seed, "run_id": run_id, **{f"{p}_return": _test_value(s, f"{p}_return") for p in policies}}
                for seed, run_id, s in members]

    def over_seeds(metric: str) -> dict:
        return stats.aggregate({p: [_test_value(s, f"{p}_{metric}") for _, _, s in members] for p in policies},
                               seed=BOOTSTRAP_SEED, n_resamples=BOOTSTRAP_RESAMPLES)

    aggregate = over_seeds("return")
    scored = [p for p in rivals() if p in aggregate and aggregate[p]["iqm"] is not None]
    return {
        "seeds": [seed for seed, _, _ in members],
        "per_seed": per_seed,
        "aggregate": aggregate,
        "aggregate_ctr": over_seeds("ctr"),
        "best_baseline": max(scored, key=lambda p: aggregate[p]["iqm"]) if scored else None,
        "variation": "training seeds",  # what every interval here resamples
        "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED, "level": 0.95},
    }
