"""The one interface every policy shares (baselines and the DQN), and slate selection from scores."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from dqn_sim.sim.candidates import CandidateWindows
from dqn_sim.sim.env import StepResult, VecRecEnv


def top_k_masked(score_UI: np.ndarray, mask_UI: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best-scoring allowed items per user, best first (SlateQ-style top-k slate)."""
    s = np.where(mask_UI, score_UI, -np.inf)
    if k == 1:
        return s.argmax(axis=1)[:, None]
    top_UK = np.argpartition(-s, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(s, top_UK, axis=1), axis=1)
    return np.take_along_axis(top_UK, order, axis=1)


RANDOM_CHUNK = 1 << 22  # random scores drawn at once (16 MB of float32)


def random_slates(mask_BI: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` distinct allowed items per row, uniformly at random (top-k of random scores); rows go in
    chunks so that thousands of users x a large catalogue never need one huge score matrix."""
    rows = max(1, RANDOM_CHUNK // mask_BI.shape[1])
    return np.concatenate([
        top_k_masked(rng.random(mask.shape, dtype=np.float32), mask, k)
        for mask in (mask_BI[lo:lo + rows] for lo in range(0, len(mask_BI), rows))
    ])


def random_env_slates(env: VecRecEnv, rng: np.random.Generator) -> np.ndarray:
    """Uniform slates over each user's recommendable items; drawn straight from sampled candidate windows
    when the env has them, without building the (users x items) mask."""
    if isinstance(env.candidates, CandidateWindows):
        return env.candidates.random_slates(env.slate_size, rng)
    return random_slates(env.mask_UI, env.slate_size, rng)


def shown_items(obs_UO: np.ndarray, slate_US: np.ndarray, result: StepResult) -> tuple[np.ndarray, ...]:
    """One row per item shown, as a myopic ranker learns from them: ``(obs_NO, item_N, reward_N)``, where the
    clicked item earns the step's reward and every other item shown earns zero."""
    n_slate = slate_US.shape[1]
    clicked_N = (slate_US == result.clicked_item_U[:, None]).reshape(-1)
    reward_N = np.where(clicked_N, np.repeat(result.reward_U, n_slate), 0.0)
    return np.repeat(obs_UO, n_slate, axis=0), slate_US.reshape(-1), reward_N


class Policy(ABC):
    """Chooses a slate for every user of a batch; may learn online from what it observes."""

    name: str = "policy"

    @abstractmethod
    def act(self, env: VecRecEnv) -> np.ndarray:
        """Slate ``(n_envs, slate_size)`` of item indices for the env's current observations and masks."""

    def observe(self, env: VecRecEnv, obs_UO: np.ndarray, slate_US: np.ndarray, result: StepResult) -> None:
        """Feedback after a step (online learners update here)."""
        return None
