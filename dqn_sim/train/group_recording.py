"""Persisting a run group into the store while it trains, and resuming one from what the store kept."""

from __future__ import annotations

from typing import Any

from dqn_sim.store import RunStore
from dqn_sim.store.groups import GroupStore
from dqn_sim.train.groups import GroupJob, GroupRecorder
from dqn_sim.train.job import JobObserver
from dqn_sim.train.recording import StoreObserver


class StoreGroupRecorder(GroupRecorder):
    """Stores the group before any member starts (each seed linked to its member's run, which takes the member
    job's id), every member as a run as a single run is stored (``StoreObserver``, each saying who started the
    group), pauses and resumes, and at the end the group's state and summary."""

    def __init__(self, store: RunStore, source: str = "app", started_by: str | None = None) -> None:
        self.store, self.source, self.started_by = store, source, started_by
        self.groups = GroupStore(store)

    def started(self, group: GroupJob) -> str:
        return self.groups.create_group(
            name=group.name, scenario=group.scenario, agent=group.agent_cfg, train=group.train_cfg,
            members={seed: job.id for seed, job in zip(group.seeds, group.members, strict=True)},
            source=self.source, group_id=group.id)

    def member(self, group: GroupJob, seed: int) -> JobObserver:
        return StoreObserver(self.store, source=self.source, started_by=self.started_by)

    def state_changed(self, group: GroupJob, state: str) -> None:
        if group.group_id is not None:
            self.groups.set_status(group.group_id, state)

    def ended(self, group: GroupJob, summary: dict) -> None:
        if group.group_id is None:
            return
        status = group.status()
        self.groups.set_summary(group.group_id, summary)
        self.groups.set_status(group.group_id, status.state, error=status.error)


def resume_group(store: RunStore, group_id: str, *, source: str = "app", **group: Any) -> GroupJob:
    """A new group (not started yet) that trains a stored group's configuration on its seeds again, each member
    from its stored member's checkpoint (a seed whose run left none starts afresh). ``group``: more ``GroupJob``
    arguments (``max_parallel``, ``niceness``)."""
    groups = GroupStore(store)
    stored = groups.get_group(group_id)
    return GroupJob(stored["scenario"], stored["agent"], stored["train"], stored["seeds"],
                    name=f"{stored['name']} · resumed", recorder=StoreGroupRecorder(store, source=source),
                    init_from=groups.checkpoints(group_id), **group)
