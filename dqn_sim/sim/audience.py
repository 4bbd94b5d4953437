"""The audience: segments (interest profiles) and a fixed population of users drawn from them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dqn_sim.config import AudienceConfig


@dataclass(frozen=True)
class Audience:
    """A population of users (``_N`` = per user of the population, ``_SK`` = segment x topic)."""

    profile_SK: np.ndarray  # segment interest profiles in [-1, 1]
    share_S: np.ndarray  # segment shares, sum to 1
    names: list[str]
    segment_N: np.ndarray  # int segment of each user
    interest_NK: np.ndarray  # float32 initial interests in [-1, 1]
    budget_N: np.ndarray  # float32 session budget (patience)

    @property
    def n_users(self) -> int:
        return int(self.segment_N.shape[0])

    @property
    def n_segments(self) -> int:
        return int(self.profile_SK.shape[0])


def build_audience(cfg: AudienceConfig, n_topics: int, budget_mean: float, rng: np.random.Generator) -> Audience:
    """Draw segment profiles (unless fitted ones are given) and the population; each drawn segment likes
    ``segment_focus`` topics."""
    s, k = cfg.n_segments, n_topics
    if cfg.segment_profiles:  # fitted profiles replace the draws (a world without them draws as before)
        profile = np.asarray(cfg.segment_profiles, dtype=np.float32).reshape(s, k)
    else:
        profile = np.full((s, k), -0.5, dtype=np.float32)
        for i in range(s):
            liked = rng.choice(k, size=cfg.segment_focus, replace=False)
            profile[i, liked] = rng.uniform(0.6, 1.0, cfg.segment_focus)
    share = np.asarray(cfg.segment_shares, dtype=np.float64) if cfg.segment_shares else np.ones(s)
    share = share / share.sum()
    names = list(cfg.segment_names) or [f"Segment {i + 1}" for i in range(s)]

    n = cfg.n_users
    segment = rng.choice(s, size=n, p=share)
    if cfg.interest_init == "uniform":
        interest = rng.uniform(-1.0, 1.0, (n, k))
    else:
        interest = profile[segment] + rng.normal(0.0, cfg.interest_spread, (n, k))
    interest = np.clip(interest, -1.0, 1.0).astype(np.float32)
    budget = budget_mean * rng.lognormal(-0.5 * cfg.budget_spread**2, cfg.budget_spread, n)
    return Audience(
        profile_SK=profile,
        share_S=share.astype(np.float32),
        names=names,
        segment_N=segment.astype(np.int64),
        interest_NK=interest,
        budget_N=budget.astype(np.float32),
    )
