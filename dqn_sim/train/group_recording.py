"""Persisting a run group into the store while it trains, and resuming one from what the store kept.

A group is saved as a single run is (``dqn_sim.train.recording``): its own row, pauses and resumes, and its end
wait in memory for a ``Saver`` that retries with back-off, so a busy store (another process holding its write lock)
puts saving behind but never fails the group or keeps a member from training.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from dqn_sim.store import RunStore, StoreError
from dqn_sim.store.groups import GroupStore
from dqn_sim.train.groups import GroupJob, GroupRecorder
from dqn_sim.train.job import JobObserver
from dqn_sim.train.recording import Saver, StoreObserver


@dataclass
class _GroupEnd:
    """What the end of a group leaves to save."""

    summary: dict
    state: str
    error: str | None


class StoreGroupRecorder(GroupRecorder):
    """Stores the group before any member starts if the store lets it (each seed linked to its member's run, which
    takes the member job's id; later if the store is busy), every member as a run as a single run is stored
    (``StoreObserver``, each saying who started the group, its notes starting with ``notes``: a sweep tags its
    trials there), pauses and resumes, and at the end the group's state and summary."""

    def __init__(self, store: RunStore, source: str = "app", started_by: str | None = None,
                 notes: str | None = None) -> None:
        self.store, self.source, self.started_by, self.notes = store, source, started_by, notes
        self.groups = GroupStore(store)
        self._group: GroupJob | None = None
        self._created = False
        self._state: str | None = None  # a pause or resume not saved yet
        self._end: _GroupEnd | None = None
        self._lock = threading.Lock()
        self._members: list[StoreObserver] = []  # the observers member() handed out, one per seed
        self._saver = Saver(self._write_pending, name="dqn-group-writer")

    # ------------------------------------------------------------------------------------- what the group calls

    def started(self, group: GroupJob) -> str:
        """Create the group under its id; if the store is busy now, the writer creates it later."""
        self._group = group
        try:
            self._create()
        except StoreError as e:
            self._saver.error = str(e)
        self._saver.start()
        return group.id

    def member(self, group: GroupJob, seed: int) -> JobObserver:
        observer = StoreObserver(self.store, source=self.source, notes=self.notes, started_by=self.started_by)
        with self._lock:
            self._members.append(observer)
        return observer

    def state_changed(self, group: GroupJob, state: str) -> None:
        with self._lock:
            self._state = state
        self._saver.wake()

    def ended(self, group: GroupJob, summary: dict) -> None:
        """Hand the end to the writer and wait for it to be saved; raise if it could not be in time."""
        status = group.status()
        with self._lock:
            self._end = _GroupEnd(summary, status.state, status.error)
        self._saver.wake()
        if self._saver.started:  # else the group never started: there is nothing to save
            self._saver.finish(lambda: f"group {group.id}: its row, state or summary")

    # ------------------------------------------------------------------------------------- what the UI reads

    @property
    def pending_rows(self) -> int:
        """Rows not saved yet: the members' metric and eval rows, and the group's own row while it waits."""
        with self._lock:
            own = int(not self._created or self._state is not None or self._end is not None)
        return own + sum(observer.pending_rows for observer in self._member_observers())

    @property
    def behind(self) -> bool:
        """Whether saving the group or any of its members is behind (see ``StoreObserver.behind``)."""
        return self._saver.behind or any(observer.behind for observer in self._member_observers())

    def _member_observers(self) -> list[StoreObserver]:
        with self._lock:
            return list(self._members)

    # ------------------------------------------------------------------------------------- the writer

    def _write_pending(self) -> bool:
        """Save what waits (the group's row first: its members link to it); returns whether the end is saved."""
        if not self._created:
            self._create()
        with self._lock:
            state, end = self._state, self._end
        if end is None:
            if state is not None:
                self.groups.set_status(self._group.id, state)
                with self._lock:
                    self._state = None if self._state == state else self._state
            return False
        self.groups.set_summary(self._group.id, end.summary)
        self.groups.set_status(self._group.id, end.state, error=end.error)
        with self._lock:
            self._end = None
        return True

    def _create(self) -> None:
        group = self._group
        self.groups.create_group(
            name=group.name, scenario=group.scenario, agent=group.agent_cfg, train=group.train_cfg,
            members={seed: job.id for seed, job in zip(group.seeds, group.members, strict=True)},
            source=self.source, group_id=group.id)
        self._created = True


def resume_group(store: RunStore, group_id: str, *, source: str = "app", **group: Any) -> GroupJob:
    """A new group (not started yet) that trains a stored group's configuration on its seeds again, each member
    from its stored member's checkpoint (a seed whose run left none starts afresh). ``group``: more ``GroupJob``
    arguments (``max_parallel``, ``niceness``)."""
    groups = GroupStore(store)
    stored = groups.get_group(group_id)
    return GroupJob(stored["scenario"], stored["agent"], stored["train"], stored["seeds"],
                    name=f"{stored['name']} · resumed", recorder=StoreGroupRecorder(store, source=source),
                    init_from=groups.checkpoints(group_id), **group)
