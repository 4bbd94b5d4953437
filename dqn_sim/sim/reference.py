"""A straightforward one-user-at-a-time implementation of RecSim's interest_evolution dynamics.

It exists for two reasons: the benchmark measures the vectorised simulator against it in the same run,
and the tests check that both implementations agree on the same scenario (same formulas, same returns).
It is written the way RecSim itself is: one user, one step, small per-document numpy operations.
"""

from __future__ import annotations

import numpy as np

from dqn_sim.config import ScenarioConfig
from dqn_sim.sim.env import build_world


class ReferenceRecSimIE:
    """One user session of recsim-ie, stepped in plain Python."""

    def __init__(self, scenario: ScenarioConfig, seed: int) -> None:
        world = build_world(scenario)
        self.topics = world.catalogue.topics_IK
        self.quality = world.catalogue.quality_I
        self.length = world.catalogue.length_I
        self.audience = world.audience
        self.dyn = scenario.dynamics
        self.rng = np.random.default_rng(seed)
        self.reset()

    def reset(self) -> None:
        user = self.rng.integers(0, self.audience.n_users)
        self.interest = self.audience.interest_NK[user].astype(np.float64).copy()
        self.budget = float(self.audience.budget_N[user])
        self.candidates = self._sample_candidates()

    def _sample_candidates(self) -> np.ndarray:
        return self.rng.choice(len(self.quality), size=self.dyn.n_candidates, replace=False)

    def step(self, slate: list[int]) -> tuple[float, bool]:
        """Show ``slate`` (item ids among the candidates); return (reward, episode ended)."""
        scores = [float(np.dot(self.interest, self.topics[i])) + 1.0 for i in slate]
        total = sum(scores) + self.dyn.no_click_mass
        u = self.rng.random()
        chosen = None
        acc = 0.0
        for item, s in zip(slate, scores, strict=True):
            acc += s / total
            if u < acc:
                chosen = item
                break
        reward = 0.0
        if chosen is None:
            self.budget -= self.dyn.no_click_cost
        else:
            watch = min(self.budget, float(self.length[chosen]))
            reward = watch
            self.budget -= watch
            self.budget += self.dyn.budget_refill * watch * float(self.quality[chosen])
            d = self.topics[chosen]
            alpha = self.dyn.drift_rate - self.dyn.drift_rate * np.abs(self.interest)
            delta = alpha * d * (d - self.interest)
            if self.rng.random() < float(np.dot((self.interest + 1.0) / 2.0, d)):
                self.interest = self.interest + delta
            else:
                self.interest = self.interest - delta
            self.interest = np.clip(self.interest, -1.0, 1.0)
        self.candidates = self._sample_candidates()
        return reward, self.budget <= 0

    def random_slate(self) -> list[int]:
        return [int(i) for i in self.rng.choice(self.candidates, size=self.dyn.slate_size, replace=False)]
