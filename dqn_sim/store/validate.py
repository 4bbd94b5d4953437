"""Rules for a run's own fields (name, notes, who started it, seed, creation time, summary), shared by imports and
readers.

An import refuses a field that breaks a rule (``RunImportError`` names it); a reader meets rows written before these
rules, or by hand, and shows what it can: each check returns the clean value together with what was wrong.
"""

from __future__ import annotations

import math
from typing import Any

from dqn_sim.store.errors import short
from dqn_sim.store.rows import INT64_MAX, INT64_MIN

CREATED_MIN, CREATED_MAX = 946684800.0, 4102444800.0  # 2000-01-01 and 2100-01-01 UTC: dates every tool can show
MAX_NAME = 200
MAX_NOTES = 20_000
MAX_SUMMARY_KEYS = 200  # each scalar becomes a column of the runs table
MAX_DEPTH = 4  # nesting of a summary value (the trainer writes at most a list in a dict)
DIVISORS = ("best_baseline_return",)  # callers divide by it (the DQN's lift over the best baseline)
# Callers read these as one (the Runs page: the DQN's return, its interval, and its lift over the best baseline):
# when one of them breaks a rule, the others are left out with it.
TOGETHER = ("dqn_return", "dqn_return_ci", "best_baseline", "best_baseline_return")
TEXT_KEYS = ("best_baseline",)  # summary keys whose value is a name; every other scalar is a number


class Problem(ValueError):
    """A field that breaks a rule; the message names the field and the value."""


def created(value: Any, field: str = "created") -> float:
    """A Unix time between 2000 and 2100."""
    if not _number(value) or not CREATED_MIN <= value < CREATED_MAX:
        raise Problem(f"{field} must be a Unix time between 2000 and 2100, got {short(value)}")
    return float(value)


def seed(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT64_MAX:
        raise Problem(f"seed must be an integer in [0, 2**63), got {short(value)}")
    return value


def name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise Problem(f"name must be a non-empty string of at most {MAX_NAME} characters, got {short(value)}")
    return value


def started_by(value: Any) -> str | None:
    """Who started a run: a name as short as a run's, or nobody known."""
    if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME):
        raise Problem(f"started_by must be a non-empty string of at most {MAX_NAME} characters or null, "
                      f"got {short(value)}")
    return value


def notes(value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or len(value) > MAX_NOTES):
        raise Problem(f"notes must be a string of at most {MAX_NOTES} characters, got {short(value)}")
    return value


def summary(value: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """The summary with every value that breaks a rule left out, and one line per value left out."""
    if value is None:
        return None, []
    if not isinstance(value, dict):
        return None, [f"summary must be an object, got {short(value)}"]
    if len(value) > MAX_SUMMARY_KEYS:
        return None, [f"summary has {len(value)} keys (at most {MAX_SUMMARY_KEYS})"]
    clean, problems = {}, []
    for key, v in value.items():
        try:
            clean[key] = _summary_value(key, v)
        except Problem as e:
            problems.append(str(e))
    if any(k in value and k not in clean for k in TOGETHER):
        clean = {k: v for k, v in clean.items() if k not in TOGETHER}
    return clean, problems


def _summary_value(key: str, value: Any) -> Any:
    if len(key) > MAX_NAME:
        raise Problem(f"summary key {short(key)} is longer than {MAX_NAME} characters")
    if value is None and key not in TOGETHER:  # e.g. a time to beat the baselines that never came
        return None
    if key in TEXT_KEYS:
        if not isinstance(value, str) or len(value) > MAX_NAME:
            raise Problem(f"summary.{key} must be a name, got {short(value)}")
        return value
    if key.endswith("_ci"):
        if not (isinstance(value, list) and len(value) == 2 and all(map(_number, value)) and value[0] <= value[1]):
            raise Problem(f"summary.{key} must be an interval [lo, hi] of finite numbers, got {short(value)}")
        return [float(v) for v in value]
    if isinstance(value, (dict, list)):
        if not _plain(value, MAX_DEPTH):
            raise Problem(f"summary.{key} must hold finite numbers, names and null, at most {MAX_DEPTH} levels deep")
        return value
    if not _number(value) or (key in DIVISORS and value == 0):
        qualifier = " other than 0" if key in DIVISORS else ""
        raise Problem(f"summary.{key} must be a finite number{qualifier}, got {short(value)}")
    return value


def _number(value: Any) -> bool:
    """A finite float, or an integer that fits 64 bits (not a bool)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return INT64_MIN <= value <= INT64_MAX
    return isinstance(value, float) and math.isfinite(value)


def _plain(value: Any, depth: int) -> bool:
    """JSON made of finite numbers, short strings, null, and lists/objects no deeper than ``depth``."""
    if isinstance(value, (dict, list)):
        items = value.values() if isinstance(value, dict) else value
        return depth > 0 and all(_plain(v, depth - 1) for v in items)
    return value is None or _number(value) or (isinstance(value, str) and len(value) <= MAX_NAME)
