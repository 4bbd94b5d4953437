"""The files a finished run leaves in its output folder (the CLI's ``--out`` contract)."""

from __future__ import annotations

import json
from pathlib import Path

from dqn_sim.agents.dqn import DQNAgent
from dqn_sim.train.job import JobSnapshot


def write_run_dir(out: Path, snap: JobSnapshot, agent: DQNAgent | None) -> None:
    """config.json, metrics.csv, evals.csv, segments.csv, summary.json and model.pt."""
    out.mkdir(parents=True, exist_ok=True)
    config = {"scenario": snap.scenario.to_dict(), "agent": snap.agent.to_dict(), "train": snap.train.to_dict()}
    (out / "config.json").write_text(json.dumps(config, indent=2))
    snap.metrics.to_csv(out / "metrics.csv", index=False)
    snap.evals.to_csv(out / "evals.csv", index=False)
    snap.segments.to_csv(out / "segments.csv", index=False)
    summary = {"name": snap.name, "state": snap.state, "error": snap.error, **snap.summary}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    if agent is not None:
        agent.save(out / "model.pt", snap.scenario)
