"""One row of the runs table as the run list shows it, whatever the row holds.

Rows written before today's checks, or edited by hand, may hold anything: every value is checked, one that breaks
a rule is left empty, and the row's ``problem`` says what was wrong, so one bad row never hides the others.
"""

from __future__ import annotations

import json
import math
from typing import Any

from dqn_sim import policies
from dqn_sim.store import validate
from dqn_sim.store.errors import short
from dqn_sim.store.rows import INT64_MAX, INT64_MIN
from dqn_sim.vocab import STORED_STATES

# Agent hyperparameters worth a column in the run list.
AGENT_KEYS = ("lr", "gamma", "batch_size", "n_step", "double_dqn", "prioritized", "dueling", "network")
COLUMNS = ("id", "name", "status", "preset", "created", "updated", "seed", "source", "started_by", "agent_json",
           "train_json", "summary_json", "notes")
# the run's own learner and its final result, whichever learner it trained (a rival's summary has no dqn_return)
LEARNER_KEYS = ("learner", "learner_return", "learner_ctr")
BASE = ["id", "name", "status", "preset", "created", "updated", "seed", "source", "started_by", *LEARNER_KEYS,
        *AGENT_KEYS]


def record(row: tuple) -> dict[str, Any]:
    """The run list's record of a runs-table row (its columns in ``COLUMNS`` order)."""
    raw = dict(zip(COLUMNS, row, strict=True))
    problems: list[str] = []
    rec: dict[str, Any] = {k: _text(raw[k]) for k in ("id", "name", "status", "preset", "source", "started_by")}
    if rec["status"] not in STORED_STATES:
        problems.append(f"unknown status {short(raw['status'])}")
    for key in ("created", "updated"):
        try:
            rec[key] = validate.created(raw[key], key)
        except validate.Problem as e:
            rec[key] = math.nan
            problems.append(str(e))
    seed = raw["seed"]
    rec["seed"] = seed if isinstance(seed, int) and INT64_MIN <= seed <= INT64_MAX else None
    agent = _json_object(raw["agent_json"], "agent_json", problems) or {}
    rec.update({k: v if _scalar(v) else None for k, v in ((k, agent.get(k)) for k in AGENT_KEYS)})
    summary = _summary(raw["summary_json"], problems)
    rec.update(_learner_result(raw["train_json"], summary or {}))
    rec.update({k: v for k, v in (summary or {}).items() if _scalar(v) and k not in rec and k != "problem"})
    rec["problem"] = "; ".join(problems) or None
    rec["notes"] = _text(raw["notes"])
    return rec


def _learner_result(train_json: Any, summary: dict[str, Any]) -> dict[str, Any]:
    """The learner the run trained (its training settings' ``algo``; else the one its summary reports) and that
    learner's final return and CTR, so a list of runs reads every learner's result from the same columns."""
    algo = (_json_object(train_json, "train_json", []) or {}).get("algo")
    learner = algo if algo in policies.learners() else policies.trained_in(summary)
    values = {key: summary.get(f"{learner}_{key}") for key in ("return", "ctr")}
    return {"learner": learner, **{f"learner_{k}": v if _scalar(v) else None for k, v in values.items()}}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _scalar(value: Any) -> bool:
    return isinstance(value, (int, float, str))


def summary(summary_json: Any) -> dict[str, Any] | None:
    """A run's stored summary, parsed, with the values that break the store's rules left out."""
    return _summary(summary_json, [])


def _summary(summary_json: Any, problems: list[str]) -> dict[str, Any] | None:
    clean, found = validate.summary(_json_object(summary_json, "summary_json", problems))
    problems += found
    return clean


def _json_object(text: Any, column: str, problems: list[str]) -> dict | None:
    """A column holding a JSON object, parsed; None (and a problem) if it holds something else."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        problems.append(f"{column} is not a JSON object")
        return None
    return value
