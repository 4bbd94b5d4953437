"""What an evaluation saw, per held-out session, and the metrics computed from it (for all sessions or a segment).

The evaluation loop tallies each step's slates as per-session sums (``SlateTally``: numpy over the batch, nothing per
user), so the slates themselves are never kept; ``Sessions`` holds one value per session and ``session_metrics``
turns any subset of them into the metrics the schema declares (``dqn_sim.vocab.EVALUATION``), with their intervals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from dqn_sim.sim.catalogue import Catalogue
from dqn_sim.stats import mean_ci, rate_ci


def left_early(terminated_U: np.ndarray, length_U: np.ndarray, max_steps: int) -> np.ndarray:
    """Sessions the user ended before the step budget. The env marks a session that reaches ``max_steps``
    ``truncated`` unless the user leaves on that very step (``terminated`` wins): that user saw the whole session,
    so only a ``terminated`` session shorter than ``max_steps`` counts as an early leave."""
    return np.asarray(terminated_U, dtype=bool) & (np.asarray(length_U) < max_steps)


class SlateTally:
    """Running per-session sums of the items shown, enough for coverage, diversity, novelty, quality and clickbait
    share without keeping any slate.

    Diversity needs every pair of items a session showed; with unit topic vectors ``v`` the sum of the cosines over
    pairs ``i != j`` is ``|sum v|^2 - n``, so one running sum of unit vectors per session gives the mean pairwise
    cosine at the end: ``(|sum v|^2 - n) / (n (n - 1))``.
    """

    def __init__(self, topics_IK: np.ndarray, popularity_I: np.ndarray, quality_I: np.ndarray,
                 clickbait_I: np.ndarray, n_sessions: int) -> None:
        topics = np.asarray(topics_IK, dtype=np.float64)
        self._unit_IK = topics / np.linalg.norm(topics, axis=1, keepdims=True)
        popularity = np.asarray(popularity_I, dtype=np.float64)
        self._surprisal_I = -np.log2(popularity / popularity.sum())  # bits: 1 for an item with half of all views
        self._quality_I = np.asarray(quality_I, dtype=np.float64)
        self._clickbait_I = np.asarray(clickbait_I, dtype=bool)
        self.recommended_I = np.zeros(len(popularity), dtype=bool)
        self.shown_U = np.zeros(n_sessions, dtype=np.int64)
        self.clickbait_U = np.zeros(n_sessions, dtype=np.int64)
        self._quality_U = np.zeros(n_sessions)
        self._surprisal_U = np.zeros(n_sessions)
        self._topics_UK = np.zeros((n_sessions, topics.shape[1]))

    @classmethod
    def of(cls, catalogue: Catalogue, n_sessions: int) -> SlateTally:
        return cls(catalogue.topics_IK, catalogue.popularity_I, catalogue.quality_I, catalogue.clickbait_I, n_sessions)

    def add(self, slate_US: np.ndarray, shown_US: np.ndarray) -> None:
        """One step: ``slate_US`` item ids, ``shown_US`` which of them reached a user (a running session, an item
        the user could be shown). Only the rows of sessions shown something are touched: late in an evaluation most
        sessions have ended."""
        rows = np.flatnonzero(shown_US.any(axis=1))
        slate, shown = slate_US[rows], shown_US[rows]
        self.recommended_I[slate[shown]] = True
        w = shown.astype(np.float64)
        self.shown_U[rows] += shown.sum(axis=1)
        self.clickbait_U[rows] += (self._clickbait_I[slate] & shown).sum(axis=1)
        self._quality_U[rows] += (self._quality_I[slate] * w).sum(axis=1)
        self._surprisal_U[rows] += (self._surprisal_I[slate] * w).sum(axis=1)
        self._topics_UK[rows] += np.einsum("us,usk->uk", w, self._unit_IK[slate])

    @property
    def coverage(self) -> float:
        return float(self.recommended_I.mean())

    def per_session(self) -> dict[str, np.ndarray]:
        """Each session's item count, clickbait count, mean quality, mean novelty and diversity (NaN where it
        showed too few items to have one)."""
        n = self.shown_U.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_cos = ((self._topics_UK ** 2).sum(axis=1) - n) / (n * (n - 1))
            return {
                "shown": self.shown_U.copy(), "clickbait": self.clickbait_U.copy(),
                "quality": np.where(n > 0, self._quality_U / n, np.nan),
                "novelty": np.where(n > 0, self._surprisal_U / n, np.nan),
                # topic mixes are non-negative, so cosines lie in [0, 1]; the clip only removes rounding
                "diversity": np.where(n > 1, np.clip(1.0 - mean_cos, 0.0, 1.0), np.nan),
            }


@dataclass
class Sessions:
    """One value per held-out session of an evaluation."""

    segment: np.ndarray
    returns: np.ndarray
    length: np.ndarray  # steps
    clicks: np.ndarray
    left: np.ndarray  # the user left before the step budget (``left_early``)
    shown: np.ndarray  # items shown
    clickbait: np.ndarray  # clickbait items among them
    quality: np.ndarray  # mean true quality of the items shown
    novelty: np.ndarray  # mean -log2(popularity share) of the items shown
    diversity: np.ndarray  # mean pairwise topic distance of the items shown

    @property
    def size(self) -> int:
        return len(self.returns)

    def subset(self, keep: np.ndarray) -> Sessions:
        return Sessions(**{f.name: getattr(self, f.name)[keep] for f in fields(self)})


def _estimate(name: str, estimate: tuple[float, float, float], stem: str | None = None) -> dict[str, Any]:
    """``{name: point, <stem>_ci: (lo, hi)}``."""
    point, lo, hi = estimate
    return {name: point, f"{stem or name}_ci": (lo, hi)}


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def session_metrics(s: Sessions) -> dict[str, Any]:
    """The per-session metrics of ``s`` with 95% intervals (``<stem>_ci``): Student-t over sessions for means of
    per-session values, Beta for shares. Coverage is not here: it is one number for the whole evaluation."""
    return {
        **_estimate("return_mean", mean_ci(s.returns), "return"),
        **_estimate("ctr", rate_ci(int(s.clicks.sum()), int(s.length.sum()))),
        "episode_len_mean": float(s.length.mean()) if s.size else float("nan"),
        **_estimate("diversity", mean_ci(_finite(s.diversity))),
        **_estimate("novelty", mean_ci(_finite(s.novelty))),
        **_estimate("quality", mean_ci(_finite(s.quality))),
        **_estimate("clickbait_share", rate_ci(int(s.clickbait.sum()), int(s.shown.sum()))),
        **_estimate("leave_rate", rate_ci(int(s.left.sum()), s.size)),
    }


def interval_columns(values: Mapping[str, Any]) -> dict[str, Any]:
    """Metric values as table columns: each ``<stem>_ci`` interval becomes ``<stem>_lo`` and ``<stem>_hi``."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name.endswith("_ci") and isinstance(value, Sequence):
            out[f"{name[:-3]}_lo"], out[f"{name[:-3]}_hi"] = value
        else:
            out[name] = value
    return out
