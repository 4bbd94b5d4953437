"""A or B, with a number: how often A's DQN beats B's, and by how much, saying which variation the intervals cover.

Each side is a stored run or group, or a CLI ``--out`` folder of one. What is compared is the DQN's return on its
test users (``dqn_sim.splits``). With several training seeds on a side, the statistics resample training seeds:
what a rerun with another seed would show. Two single runs have one seed each, so nothing can be said about seeds;
they are compared over their test sessions instead, which covers only the luck of the users drawn for evaluation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dqn_sim import policies, stats
from dqn_sim.splits import has_test_result
from dqn_sim.store import RunNotFound, RunStore
from dqn_sim.store.groups import GroupNotFound, GroupStore

RESAMPLES = 2000
BOOTSTRAP_SEED = 0
SEEDS, SESSIONS = "training seeds", "evaluation sessions"


class NotComparable(ValueError):
    """A side that is not there, or has no test result to compare; the message says which and why."""


@dataclass(frozen=True)
class Side:
    """One side of a comparison: what it is, its learner's test return per training seed and, for a single run, per
    test session (two sides may have trained different learners: the DQN against LinUCB)."""

    ref: str  # as the user named it
    kind: str  # run | group
    name: str
    seeds: list[float]
    sessions: list[float] = field(default_factory=list)
    learner: str = "dqn"

    def describe(self) -> dict:
        return {"ref": self.ref, "kind": self.kind, "name": self.name, "seeds": len(self.seeds),
                "learner": self.learner}


def side(ref: str, kind: str, name: str, summary: Mapping) -> Side:
    """A side from a run's summary or a group's (``dqn_sim.train.groups.group_summary``)."""
    if kind == "group":
        learner = policies.trained(summary.get("aggregate") or {})
        values = [row.get(f"{learner}_return") for row in summary.get("per_seed", [])]
        return Side(ref, kind, name, [float(v) for v in values if v is not None], learner=learner)
    if not has_test_result(summary):
        raise NotComparable(f"{ref}: run has no test result (it ended before its final evaluation, or was trained "
                            "before runs were judged on test users)")
    learner = policies.trained_in(summary)
    return Side(ref, kind, name, [float(summary[f"{learner}_return"])],
                [float(v) for v in summary[f"{learner}_test_returns"]], learner)


def side_from_folder(ref: str, folder: Path) -> Side:
    """A side from a CLI ``--out`` folder: its summary.json is a run's, or a group's (with ``per_seed``)."""
    try:
        summary = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError) as e:
        raise NotComparable(f"{ref}: unreadable summary.json ({e})") from None
    if not isinstance(summary, dict):
        raise NotComparable(f"{ref}: summary.json is not an object")
    kind = "group" if "per_seed" in summary else "run"
    return side(ref, kind, str(summary.get("name") or folder.name), summary)


def resolve(ref: str, store: RunStore) -> Side:
    """``ref`` as a folder with a summary.json, else as the id of a stored run or group (a group stored while it
    trains has no summary until it ends, and so nothing to compare yet)."""
    folder = Path(ref)
    if (folder / "summary.json").is_file():
        return side_from_folder(ref, folder)
    try:
        run = store.get_run(ref)
        return side(ref, "run", run["name"], run["summary"] or {})
    except RunNotFound:
        pass
    try:
        group = GroupStore(store).get_group(ref)
    except GroupNotFound:
        raise NotComparable(f"{ref}: no stored run or group has this id, and it is not a folder with a "
                            "summary.json") from None
    return side(ref, "group", group["name"], group["summary"] or {})


def compare(a: Side, b: Side, *, n_resamples: int = RESAMPLES, seed: int = BOOTSTRAP_SEED) -> dict:
    """P(A > B) and the IQM difference A - B with 95% percentile-bootstrap intervals, over training seeds when
    either side has several, else over the two runs' test sessions; ``variation`` and ``note`` say which."""
    by_seed = len(a.seeds) > 1 or len(b.seeds) > 1
    x, y = (a.seeds, b.seeds) if by_seed else (a.sessions, b.sessions)
    for s, values in ((a, x), (b, y)):
        if not values:
            raise NotComparable(f"{s.ref}: no DQN test return to compare")
    kw = {"n_resamples": n_resamples, "seed": seed}
    poi = stats.probability_of_improvement(x, y, **kw)
    diff = stats.iqm_difference(x, y, **kw)
    return {
        "a": a.describe(),
        "b": b.describe(),
        "probability_of_improvement": poi[0],
        "probability_of_improvement_ci": [poi[1], poi[2]],
        "iqm_difference": diff[0],
        "iqm_difference_ci": [diff[1], diff[2]],
        "iqm_a": stats.iqm(x),
        "iqm_b": stats.iqm(y),
        "sentence": stats.improvement_sentence("A", "B", poi, unit="seed" if by_seed else "session"),
        "n_a": len(x),
        "n_b": len(y),
        "variation": SEEDS if by_seed else SESSIONS,
        "note": _note(a, b, by_seed, len(x), len(y), n_resamples),
        "bootstrap": {"resamples": n_resamples, "seed": seed, "level": 0.95},
    }


def _note(a: Side, b: Side, by_seed: bool, n_a: int, n_b: int, n_resamples: int) -> str:
    """What the intervals cover, in words."""
    how = f"95% percentile-bootstrap intervals ({n_resamples} resamples)"
    if not by_seed:
        return (f"{how} over evaluation sessions only ({n_a} and {n_b} test sessions): A and B have one training seed "
                "each, so the intervals say nothing about what another training seed would do")
    text = f"{how} over training seeds ({n_a} and {n_b} seeds): what a rerun with other seeds would show"
    single = [s for s, n in (("A", n_a), ("B", n_b)) if n == 1]
    if single:
        text += f"; {single[0]} has one seed, so its seed-to-seed spread is not in them"
    return text


def standings(sides: Sequence[Side], *, n_resamples: int = RESAMPLES, seed: int = BOOTSTRAP_SEED) -> dict:
    """Several learners trained side by side (same scenario, budget, users and seeds) ranked by the IQM of their test
    return, best first, each with its 95% percentile-bootstrap interval; the leader against the runner-up
    (``compare``); ``variation`` and ``note`` say what the intervals cover.

    Over training seeds when every side has several (what a rerun with other seeds would show), else over
    evaluation sessions (one seed each: the luck of the users drawn for evaluation only). ``clear`` is True when the
    leader's interval lies wholly above the runner-up's.
    """
    by_seed = all(len(s.seeds) > 1 for s in sides)
    scored = []
    for s in sides:
        values = s.seeds if by_seed else s.sessions
        if not values:
            raise NotComparable(f"{s.ref}: no test return to rank")
        _, lo, hi = stats.bootstrap_ci(values, "iqm", n_resamples=n_resamples, seed=seed)
        scored.append((s, {**s.describe(), "iqm": stats.iqm(values), "iqm_ci": [lo, hi], "n": len(values)}))
    scored.sort(key=lambda pair: -pair[1]["iqm"])
    ranked, rows = [s for s, _ in scored], [row for _, row in scored]
    versus = compare(ranked[0], ranked[1], n_resamples=n_resamples, seed=seed) if len(ranked) > 1 else None
    return {
        "rows": rows,
        "leader": rows[0]["learner"] if rows else None,
        "clear": bool(versus) and rows[0]["iqm_ci"][0] > rows[1]["iqm_ci"][1],
        "versus": versus,
        "variation": SEEDS if by_seed else SESSIONS,
        "note": (f"95% percentile-bootstrap intervals ({n_resamples} resamples) over "
                 + ("training seeds: what a rerun with other seeds would show" if by_seed else
                    "evaluation sessions only: each learner has one training seed, so the intervals say nothing about "
                    "what another training seed would do")),
    }
