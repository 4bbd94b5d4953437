"""The fitted world under a logging-like policy: what a log of it would look like, to set beside the data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dqn_sim.agents.policy import Policy
from dqn_sim.config import ScenarioConfig
from dqn_sim.sim.env import VecRecEnv

ROUND_USERS = 512  # sessions simulated side by side


class LoggingPolicy(Policy):
    """Shows each user items drawn from their segment's exposure in the log (``exposure_SI``, rows summing to 1),
    as the system that made the log did; it reads the user's segment, as that system knew its users. An item
    outside a user's mask counts as an empty slot."""

    name = "logging"

    def __init__(self, exposure_SI: np.ndarray, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        n_segments, self.n_items = exposure_SI.shape
        # one cumulative curve over all segments, segment s spanning (s, s + 1]: one searchsorted for everyone
        self.cdf = (np.cumsum(exposure_SI, axis=1) / exposure_SI.sum(1, keepdims=True)
                    + np.arange(n_segments)[:, None]).ravel()

    def act(self, env: VecRecEnv) -> np.ndarray:
        segment_U1 = env.segment_U[:, None]
        draws_US = segment_U1 + self.rng.random((env.n_envs, env.slate_size))
        flat_US = np.minimum(np.searchsorted(self.cdf, draws_US, side="right"), self.cdf.size - 1)
        return flat_US - segment_U1 * self.n_items


@dataclass(frozen=True)
class SimLog:
    """Counts from simulated sessions, shaped like the data profile they are compared with."""

    impressions_I: np.ndarray
    clicks_I: np.ndarray
    clicks_SK: np.ndarray  # segment x topic (clicked items' topic mix)
    session_lengths: np.ndarray  # steps per session

    @property
    def ctr(self) -> float:
        return float(self.clicks_I.sum() / max(self.impressions_I.sum(), 1))


def simulate(scenario: ScenarioConfig, exposure_SI: np.ndarray, sessions: int, seed: int = 0) -> SimLog:
    """Run ``sessions`` whole sessions (rounds of users without auto-reset, so long sessions are not cut short
    and short ones not over-counted) under the logging policy of ``exposure_SI``."""
    policy = LoggingPolicy(exposure_SI, seed)
    impressions = clicks = clicks_SK = None
    lengths: list[np.ndarray] = []
    done_sessions, round_seed = 0, seed
    while done_sessions < sessions:
        env = VecRecEnv(scenario, min(ROUND_USERS, sessions - done_sessions), round_seed, autoreset=False)
        n_items, topics_IK = env.n_items, env.catalogue.topics_IK
        if impressions is None:
            impressions, clicks = np.zeros(n_items), np.zeros(n_items)
            clicks_SK = np.zeros((env.audience.n_segments, env.catalogue.n_topics))
        while env.active_U.any():
            active = env.active_U.copy()
            slate_US = policy.act(env)
            result = env.step(slate_US)
            impressions += np.bincount(slate_US[active].reshape(-1), minlength=n_items)
            clicked = result.clicked_item_U[result.clicked_item_U >= 0]
            clicks += np.bincount(clicked, minlength=n_items)
            np.add.at(clicks_SK, result.segment_U[result.clicked_item_U >= 0], topics_IK[clicked])
            lengths.append(result.episode_len_U[result.done_U])
        done_sessions += env.n_envs
        round_seed += 1
    return SimLog(impressions, clicks, clicks_SK, np.concatenate(lengths))
