"""Evaluate any policy on fixed seeds: every policy meets the same users (common random numbers)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields

import numpy as np

from dqn_sim.agents.policy import Policy
from dqn_sim.config import ScenarioConfig
from dqn_sim.policies import make_policy
from dqn_sim.sim.candidates import contains
from dqn_sim.sim.env import VecRecEnv
from dqn_sim.train.sessions import Sessions, SlateTally, left_early, session_metrics


@dataclass
class EvalResult:
    """Session-level results of one policy, with 95% intervals (the CLI's ``evaluate --json`` object); the metrics
    are declared, with their formulas, in ``dqn_sim.vocab.EVALUATION``."""

    policy: str
    episodes: int
    return_mean: float
    return_ci: tuple[float, float]
    ctr: float
    ctr_ci: tuple[float, float]
    episode_len_mean: float
    coverage: float  # no interval: one number for the whole evaluation
    diversity: float
    diversity_ci: tuple[float, float]
    novelty: float
    novelty_ci: tuple[float, float]
    quality: float
    quality_ci: tuple[float, float]
    clickbait_share: float
    clickbait_share_ci: tuple[float, float]
    leave_rate: float
    leave_rate_ci: tuple[float, float]
    survival: list[float]  # [t]: share of sessions still running at step t + 1 (1.0 first)
    sessions: Sessions = field(repr=False)

    @property
    def returns(self) -> list[float]:
        """Each session's return, in session order."""
        return self.sessions.returns.tolist()

    def summary(self) -> dict:
        """Every field but the per-session records, as JSON-ready values."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "sessions"}
        return {name: list(v) if isinstance(v, tuple) else v for name, v in values.items()}


def evaluate_policy(
    policy: Policy,
    scenario: ScenarioConfig,
    episodes: int,
    seed: int,
    learn: bool = True,
    progress: Callable[[float], None] | None = None,
) -> EvalResult:
    """Run ``episodes`` sessions as one batch until all end. ``learn`` lets online baselines adapt.

    Besides returns it tallies what was shown (``SlateTally``) and how many sessions still run at each step; it
    only observes, so the simulated users are the same with or without the tally."""
    env = VecRecEnv(scenario, episodes, seed, autoreset=False)
    returns = np.zeros(episodes)
    lengths = np.zeros(episodes, dtype=np.int64)
    clicks = np.zeros(episodes, dtype=np.int64)
    left = np.zeros(episodes, dtype=bool)
    segments = env.segment_U.copy()
    tally = SlateTally.of(env.catalogue, episodes)
    survival: list[float] = []
    max_steps = scenario.dynamics.max_steps
    while env.active_U.any():
        survival.append(float(env.active_U.mean()))
        obs = env.obs_UO
        slate = policy.act(env)
        slate_US = np.asarray(slate, dtype=np.int64).reshape(episodes, env.slate_size)
        tally.add(slate_US, contains(env.candidates, slate_US) & env.active_U[:, None])
        result = env.step(slate)
        if learn:
            policy.observe(env, obs, slate, result)
        done = result.done_U
        returns[done] = result.episode_return_U[done]
        lengths[done] = result.episode_len_U[done]
        clicks[done] = result.episode_clicks_U[done]
        left[done] = left_early(result.terminated_U[done], result.episode_len_U[done], max_steps)
        if progress is not None:
            progress(max(1.0 - env.active_U.mean(), float(env.t_U.max()) / max_steps))
    sessions = Sessions(segment=segments, returns=returns, length=lengths, clicks=clicks, left=left,
                        **tally.per_session())
    return EvalResult(policy=policy.name, episodes=episodes, coverage=tally.coverage, survival=survival,
                      sessions=sessions, **session_metrics(sessions))


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
