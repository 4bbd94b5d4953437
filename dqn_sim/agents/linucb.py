"""LinUCB (Li et al. 2010, "A contextual-bandit approach to personalized news article recommendation"): what
production teams run instead of RL. Myopic, but it explores where its estimate is uncertain."""

from __future__ import annotations

import numpy as np

from dqn_sim.agents.linear import LinearBandit
from dqn_sim.config import LinUCBConfig


class LinUCBAgent(LinearBandit):
    """Ranks items by the upper confidence bound ``theta_i . x + alpha * scale * sqrt(x^T A_i^-1 x)`` while training
    (Li et al.'s Algorithm 1, disjoint model), by the predicted reward alone when evaluated."""

    name = "linucb"
    config_type = LinUCBConfig

    @property
    def ridge(self) -> float:
        return self.config.ridge

    def explore_scores(self, mean_UI: np.ndarray, var_UI: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return mean_UI + self.config.alpha * self.scale * np.sqrt(var_UI)
