"""The files a finished run or group leaves in its output folder (the CLI's ``--out`` contract)."""

from __future__ import annotations

import json
from pathlib import Path

from dqn_sim.agents.policy import Policy
from dqn_sim.train.groups import GroupJob
from dqn_sim.train.job import JobSnapshot


def write_run_dir(out: Path, snap: JobSnapshot, agent: Policy | None) -> None:
    """config.json, metrics.csv, evals.csv, segments.csv, summary.json and model.pt (the learner's checkpoint)."""
    out.mkdir(parents=True, exist_ok=True)
    config = {"scenario": snap.scenario.to_dict(), "agent": snap.agent.to_dict(), "train": snap.train.to_dict()}
    (out / "config.json").write_text(json.dumps(config, indent=2))
    snap.metrics.to_csv(out / "metrics.csv", index=False)
    snap.evals.to_csv(out / "evals.csv", index=False)
    snap.segments.to_csv(out / "segments.csv", index=False)
    summary = {"name": snap.name, "state": snap.state, "error": snap.error, **snap.summary}
    _write_summary(out, summary)
    if agent is not None:
        agent.save(out / "model.pt", snap.scenario)


def write_group_dir(out: Path, group: GroupJob) -> dict:
    """Each member that ran in ``seed_<s>/`` (a run folder each) and the group's summary.json; returns it."""
    for seed, job in zip(group.seeds, group.members, strict=True):
        if job.join(0):  # it ran and ended (a member still waiting when the group stopped never started)
            write_run_dir(out / member_dir(seed), job.snapshot(), job.policy())
    status = group.status()
    summary = {"kind": "group", "name": status.name, "state": status.state, "error": status.error,
               "group_id": group.group_id, **group.aggregate()}
    _write_summary(out, summary)
    return summary


def member_dir(seed: int) -> str:
    """The sub-folder of a group's member."""
    return f"seed_{seed}"


def _write_summary(out: Path, summary: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
