"""The studio's jobs: a queue, not a refusal, and slots that an idle run gives back.

One server is shared by a team. At most ``max_running`` runs (a single run, or a run group, counts as one) train
at once, by default one per core; a start beyond that waits in a queue, first in first out, and begins when a slot
frees. A sweep started in the studio is admitted the same way (``admit``) and takes one slot per trial it runs at
once (each trial is a run group), all of them from its start to its end: it waits in the queue until that many are
free, and a run queued behind it waits its turn, so a sweep is never starved by a stream of single runs. A run
paused for longer than ``idle_release_s`` gives its slot to the queue (it keeps its state; resuming it waits for a
slot like a start). Each run remembers who started it, so the pages can let only them steer it.

Limits come from the environment: ``DQN_SIM_MAX_JOBS`` (slots, an integer >= 1) and ``DQN_SIM_IDLE_RELEASE_S``
(seconds >= 0); a value that is not one is refused in one line (``warnings``) and the default used instead.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Self

from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig
from dqn_sim.train.groups import GroupJob, GroupRecorder, cores
from dqn_sim.train.job import BACKGROUND_NICENESS, JobObserver, TrainingJob
from dqn_sim.train.trainer import Trainer

log = logging.getLogger(__name__)
DISPATCH_EVERY_S = 0.25  # how soon a freed slot goes to the next in the queue


class SlotStatus(Protocol):
    name: str
    state: str
    eta_s: float | None

    @property
    def active(self) -> bool: ...


class Claim(Protocol):
    """Other work that trains on this server's cores and so holds ``slots`` of them while active: a studio sweep
    (``dqn_sim.sweep.background.SweepJob``; the engine's training package does not import the sweep's)."""

    id: str
    slots: int

    def start(self) -> Self: ...

    def stop(self) -> None: ...

    def join(self, timeout: float | None = None) -> bool: ...

    def status(self) -> SlotStatus: ...


Entry = TrainingJob | GroupJob | Claim  # what holds slots


def env_limit(name: str, parse: Callable[[str], float], rule: str, default: float,
              unit: str) -> tuple[float, str | None]:
    """A limit from the environment, else ``default``; with the one line that says why a value set there was refused
    (``parse`` raised ValueError). A typo in a server's environment must not take every page down, nor queue every
    run for ever: the studio keeps working on the default and tells the admin."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default, None
    try:
        return parse(raw), None
    except ValueError:
        return default, f"{name} must be {rule}, got {raw[:40]!r}: using {default:g} {unit} instead"


def _at_least_one(raw: str) -> int:
    if (n := int(raw)) < 1:
        raise ValueError(n)
    return n


def _seconds(raw: str) -> float:
    if not math.isfinite(x := float(raw)) or x < 0:
        raise ValueError(x)
    return x


def default_slots() -> tuple[float, str | None]:
    """``DQN_SIM_MAX_JOBS`` training slots; one per core by default (and instead of a value that is no integer >= 1)."""
    return env_limit("DQN_SIM_MAX_JOBS", _at_least_one, "an integer >= 1", cores(), "training slots (one per core)")


def default_idle_release_s() -> tuple[float, str | None]:
    """``DQN_SIM_IDLE_RELEASE_S``: how long a paused run keeps its slot; 600 s by default."""
    return env_limit("DQN_SIM_IDLE_RELEASE_S", _seconds, "a number of seconds >= 0", 600.0, "seconds")


@dataclass(frozen=True)
class Ahead:
    """A run that holds a slot or waits before another: what the waiting person is told."""

    name: str
    owner: str | None
    eta_s: float | None
    state: str  # "paused": no end in sight until its owner resumes it (a run just started has no ETA yet either)


@dataclass(frozen=True)
class QueuePlace:
    """Where a waiting run stands: its place (1 = next), the runs holding the slots, and a rough wait."""

    position: int
    holding: list[Ahead]
    waiting_before: list[Ahead]
    eta_s: float | None  # when a slot may free for it: the position-th soonest end of the runs now training


class JobRegistry:
    """Process-wide runs of a server: started now, or queued until a slot frees.

    ``observer_factory`` and ``group_recorder_factory`` make what records a run or a group; each is handed the
    owner of the start, so the record can say who started it after this process is gone. ``warnings``: the limits
    of the environment that were refused (a default is used instead), for the pages to show and the log to keep.
    """

    def __init__(self, max_running: int | None = None,
                 observer_factory: Callable[[str | None], JobObserver] | None = None,
                 niceness: int = BACKGROUND_NICENESS, trainer_factory: Callable[..., Trainer] = Trainer,
                 group_recorder_factory: Callable[[str | None], GroupRecorder] | None = None,
                 idle_release_s: float | None = None) -> None:
        self.warnings: list[str] = []
        self.max_running = int(self._limit(max_running, default_slots))
        self.idle_release_s = self._limit(idle_release_s, default_idle_release_s)
        self.niceness = niceness
        self.trainer_factory = trainer_factory
        self._observer_factory = observer_factory
        self._group_recorder_factory = group_recorder_factory
        self._entries: dict[str, Entry] = {}  # every run this registry made, by id
        self._members: dict[str, TrainingJob] = {}  # group members, by their run id
        self._owners: dict[str, str | None] = {}
        self._started: list[Entry] = []
        self._queue: list[tuple[Entry, str]] = []  # (run, "start" | "resume")
        self._paused_at: dict[str, float] = {}
        self._lock = threading.RLock()
        self._dispatcher: threading.Thread | None = None

    def _limit(self, given: float | None, from_env: Callable[[], tuple[float, str | None]]) -> float:
        """``given``, else the environment's value (a refused one is kept in ``warnings`` and logged)."""
        if given is not None:
            return given
        value, problem = from_env()
        if problem:
            self.warnings.append(problem)
            log.warning(problem)
        return value

    # ------------------------------------------------------------------ starting
    def start(self, scenario: ScenarioConfig, agent_cfg: AgentConfig, train_cfg: TrainConfig, name: str | None = None,
              init_from: Path | None = None, owner: str | None = None) -> TrainingJob:
        """A single run: started now if a slot is free, else queued (``queued(id)`` says where)."""
        observer = self._observer_factory(owner) if self._observer_factory else None
        job = TrainingJob(scenario, agent_cfg, train_cfg, name=name, observer=observer, init_from=init_from,
                          niceness=self.niceness, trainer_factory=self.trainer_factory)
        self._admit(job, owner)
        return job

    def start_group(self, scenario: ScenarioConfig, agent_cfg: AgentConfig, train_cfg: TrainConfig,
                    seeds: Sequence[int], name: str | None = None, owner: str | None = None) -> GroupJob:
        """One configuration on several seeds: one slot, its members in parallel up to the cores."""
        recorder = self._group_recorder_factory(owner) if self._group_recorder_factory else None
        group = GroupJob(scenario, agent_cfg, train_cfg, seeds, name=name, recorder=recorder,
                         trainer_factory=self.trainer_factory, niceness=self.niceness)
        with self._lock:
            self._members.update({job.id: job for job in group.members})
        self._admit(group, owner)
        return group

    def admit(self, claim: Claim, owner: str | None = None) -> None:
        """Work of another kind that takes ``claim.slots`` slots (a sweep): started now if that many are free and
        nobody waits, else queued; ``stop(claim.id)`` takes it out of the queue or stops it."""
        if not 1 <= claim.slots <= self.max_running:
            raise ValueError(f"{claim.status().name} asks for {claim.slots} training slots; this server has "
                             f"{self.max_running} (DQN_SIM_MAX_JOBS)")
        self._admit(claim, owner)

    def _admit(self, entry: Entry, owner: str | None) -> None:
        with self._lock:
            self._entries[entry.id] = entry
            self._owners[entry.id] = owner
            if self._free_slots() >= _slots(entry) and not self._queue:
                self._started.append(entry.start())
            else:
                self._queue.append((entry, "start"))
                self._dispatch_soon()

    # ------------------------------------------------------------------ steering (by id, so idle time is known)
    def pause(self, run_id: str) -> None:
        entry = self._entries.get(run_id)
        if isinstance(entry, TrainingJob | GroupJob):  # a sweep is stopped, never paused
            entry.pause()
            self._paused_at[run_id] = time.monotonic()

    def resume(self, run_id: str) -> None:
        """Resume now if the run still holds its slot or one is free; else wait in the queue for one."""
        with self._lock:
            entry = self._entries.get(run_id)
            if not isinstance(entry, TrainingJob | GroupJob):
                return
            if not self._released(entry) or self._free_slots() > 0:
                self._paused_at.pop(run_id, None)
                entry.resume()
            elif all(e is not entry for e, _ in self._queue):  # still idle (no slot) until its turn comes
                self._queue.append((entry, "resume"))
                self._dispatch_soon()

    def stop(self, run_id: str) -> None:
        """Stop a run, or take it out of the queue if it never started."""
        with self._lock:
            entry = self._entries.get(run_id)
            if entry is None:
                return
            waiting = [(e, kind) for e, kind in self._queue if e is entry]
            for item in waiting:
                self._queue.remove(item)
            if waiting and waiting[0][1] == "start":
                self._entries.pop(run_id)
                self._owners.pop(run_id, None)
                entry.stop()  # it will never start (a sweep then says it stopped; a run stays pending)
                return
        entry.stop()

    def stop_all(self, timeout: float = 30.0) -> None:
        """Empty the queue and stop every run (a server shutting down, a test cleaning up)."""
        with self._lock:
            self._queue.clear()
            started = list(self._started)
        for entry in started:
            entry.stop()
        for entry in started:
            entry.join(timeout)

    # ------------------------------------------------------------------ reading
    def get(self, run_id: str | None) -> TrainingJob | None:
        """A single run or a group's member, by its run id."""
        with self._lock:
            entry = self._entries.get(run_id) if run_id else None
            return entry if isinstance(entry, TrainingJob) else self._members.get(run_id) if run_id else None

    def group(self, group_id: str | None) -> GroupJob | None:
        with self._lock:
            entry = self._entries.get(group_id) if group_id else None
            return entry if isinstance(entry, GroupJob) else None

    def owner(self, run_id: str) -> str | None:
        """Who started the run here (a group's member belongs to whoever started its group)."""
        with self._lock:
            if run_id in self._owners:
                return self._owners[run_id]
            group = next((g for g in self._entries.values()
                          if isinstance(g, GroupJob) and any(m.id == run_id for m in g.members)), None)
            return self._owners.get(group.id) if group else None

    def jobs(self) -> list[TrainingJob]:
        """Single runs and group members started so far (not the queued)."""
        with self._lock:
            started = list(self._started)
        return [job for entry in started for job in (entry.members if isinstance(entry, GroupJob) else [entry])
                if isinstance(job, TrainingJob)]

    def running_count(self) -> int:
        """Slots held now (a run or a group holds one, a sweep one per trial at once; an idle paused run none)."""
        with self._lock:
            return sum(_slots(e) for e in self._started if self._holds_slot(e))

    def position(self, run_id: str) -> int | None:
        """A waiting run's place in the queue (1 = next), as ``QueuePlace.position``; None when it is not waiting.
        Cheap, unlike ``queued``: it asks no run for its status."""
        with self._lock:
            return next((i for i, (e, _) in enumerate(self._queue, start=1) if e.id == run_id), None)

    def queued(self, run_id: str) -> QueuePlace | None:
        """Where a waiting start or resume stands; None when the run is not waiting."""
        with self._lock:
            if (position := self.position(run_id)) is None:
                return None
            holding = [self._ahead(e) for e in self._started if self._holds_slot(e)]
            before = [self._ahead(e) for e, _ in self._queue[:position - 1]]
        etas = sorted(a.eta_s for a in holding if a.eta_s is not None)
        eta = etas[position - 1] if len(etas) >= position else None
        return QueuePlace(position, holding, before, eta)

    # ------------------------------------------------------------------ slots
    def _ahead(self, entry: Entry) -> Ahead:
        status = entry.status()
        return Ahead(status.name, self._owners.get(entry.id), status.eta_s, status.state)

    def _released(self, entry: Entry) -> bool:
        """A paused run idle for longer than ``idle_release_s`` has given its slot back."""
        since = self._paused_at.get(entry.id)
        return since is not None and time.monotonic() - since > self.idle_release_s

    def _holds_slot(self, entry: Entry) -> bool:
        return entry.status().active and not (entry.status().state == "paused" and self._released(entry))

    def _free_slots(self) -> int:
        self._started = [e for e in self._started if e.status().active or not e.join(0)]
        return self.max_running - sum(_slots(e) for e in self._started if self._holds_slot(e))

    def _dispatch_soon(self) -> None:
        if self._dispatcher is None or not self._dispatcher.is_alive():
            self._dispatcher = threading.Thread(target=self._dispatch, name="dqn-registry-queue", daemon=True)
            self._dispatcher.start()

    def _dispatch(self) -> None:
        """Hand freed slots to the queue, in order, until it is empty."""
        while True:
            with self._lock:
                if not self._queue:
                    return
                while self._queue and self._free_slots() >= _slots(self._queue[0][0]):
                    entry, kind = self._queue.pop(0)
                    if kind == "start":
                        self._started.append(entry.start())
                    else:
                        self._paused_at.pop(entry.id, None)
                        entry.resume()
            time.sleep(DISPATCH_EVERY_S)


def _slots(entry: Entry) -> int:
    """Slots an entry holds while active: one for a run or a group, its own count for a sweep."""
    return 1 if isinstance(entry, TrainingJob | GroupJob) else entry.slots
