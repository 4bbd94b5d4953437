"""Linear Thompson sampling (Agrawal & Goyal 2013, "Thompson sampling for contextual bandits with linear
payoffs"): explores by acting on a plausible model drawn from the posterior, not on an optimistic one."""

from __future__ import annotations

import numpy as np

from dqn_sim.agents.linear import LinearBandit
from dqn_sim.config import ThompsonConfig


class ThompsonAgent(LinearBandit):
    """Bayesian linear regression per item: prior ``theta ~ N(0, prior_var I)``, reward noise of variance ``noise``
    (both in units of the largest reward seen, ``scale``). The posterior is ``N(A^-1 b, noise A^-1)`` with
    ``A = (noise / prior_var) I + sum x x^T``; each user's step ranks one draw per item, whose score
    ``theta~ . x`` is normal with mean ``theta_i . x`` and variance ``noise x^T A_i^-1 x``. Evaluated, it ranks by
    the posterior mean."""

    name = "thompson"
    config_type = ThompsonConfig

    @property
    def ridge(self) -> float:
        return self.config.noise / self.config.prior_var

    def explore_scores(self, mean_UI: np.ndarray, var_UI: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        spread_UI = self.scale * np.sqrt(self.config.noise * var_UI)
        return mean_UI + spread_UI * rng.standard_normal(mean_UI.shape)
