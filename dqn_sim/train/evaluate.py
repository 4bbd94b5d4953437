"""Evaluate any policy on fixed seeds: every policy meets the same users (common random numbers)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from dqn_sim.agents.policy import Policy
from dqn_sim.config import ScenarioConfig
from dqn_sim.policies import make_policy
from dqn_sim.sim.env import VecRecEnv
from dqn_sim.stats import mean_ci, rate_ci


@dataclass
class EvalResult:
    """Episode-level results of one policy, with 95% intervals (the CLI's ``evaluate --json`` object)."""

    policy: str
    episodes: int
    return_mean: float
    return_ci: tuple[float, float]
    ctr: float
    ctr_ci: tuple[float, float]
    episode_len_mean: float
    returns: list[float] = field(default_factory=list, repr=False)
    segments: list[int] = field(default_factory=list, repr=False)

    def summary(self) -> dict:
        d = asdict(self)
        d.pop("returns")
        d.pop("segments")
        d["return_ci"], d["ctr_ci"] = list(self.return_ci), list(self.ctr_ci)
        return d


def evaluate_policy(
    policy: Policy,
    scenario: ScenarioConfig,
    episodes: int,
    seed: int,
    learn: bool = True,
    progress: Callable[[float], None] | None = None,
) -> EvalResult:
    """Run ``episodes`` sessions as one batch until all end. ``learn`` lets online baselines adapt."""
    env = VecRecEnv(scenario, episodes, seed, autoreset=False)
    returns = np.zeros(episodes)
    lengths = np.zeros(episodes)
    clicks = np.zeros(episodes)
    segments = env.segment_U.copy()
    max_steps = scenario.dynamics.max_steps
    while env.active_U.any():
        obs = env.obs_UO
        slate = policy.act(env)
        result = env.step(slate)
        if learn:
            policy.observe(env, obs, slate, result)
        done = result.done_U
        returns[done] = result.episode_return_U[done]
        lengths[done] = result.episode_len_U[done]
        clicks[done] = result.episode_clicks_U[done]
        if progress is not None:
            progress(max(1.0 - env.active_U.mean(), float(env.t_U.max()) / max_steps))
    m, lo, hi = mean_ci(returns)
    ctr, clo, chi = rate_ci(int(clicks.sum()), int(lengths.sum()))
    return EvalResult(
        policy=policy.name, episodes=episodes, return_mean=m, return_ci=(lo, hi), ctr=ctr,
        ctr_ci=(clo, chi), episode_len_mean=float(lengths.mean()), returns=returns.tolist(),
        segments=segments.tolist(),
    )


WARMUP_SEED_OFFSET = 2_000_003  # online baselines learn on other users before they are judged


def warm_baseline(name: str, scenario: ScenarioConfig, episodes: int, seed: int) -> Policy:
    """A named baseline whose online learners (popularity, greedy) have first learned from ``episodes``
    sessions of other users, as a production ranker would have."""
    policy = make_policy(name, seed=seed)
    evaluate_policy(policy, scenario, episodes, seed + WARMUP_SEED_OFFSET)
    return policy


def evaluate_baseline(name: str, scenario: ScenarioConfig, episodes: int, seed: int) -> EvalResult:
    """Evaluate a warmed-up baseline; it keeps learning online while it is judged."""
    return evaluate_policy(warm_baseline(name, scenario, episodes, seed), scenario, episodes, seed)
