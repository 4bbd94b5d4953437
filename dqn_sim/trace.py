"""Replay one simulated user's session step by step, recording what a policy saw, chose and caused.

The Inspect page tells its story from these traces: two policies meet the same user with the same seed
(common random numbers: the simulator draws the same uniforms whatever is recommended), so differences in
the sessions come from the recommendations, not from luck.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dqn_sim.agents.policy import Policy
from dqn_sim.config import ScenarioConfig
from dqn_sim.sim.env import VecRecEnv, build_world

WARMUP_EPISODES = 256  # sessions an online baseline learns from before it is shown (as in training)


@dataclass
class SessionTrace:
    """One session: a row per step in ``steps`` plus per-step arrays over items and topics.

    ``q_TI`` is ``None`` for policies without Q-values; items that could not be recommended at a step
    (off air, not a candidate) are NaN in ``q_TI`` and ``p_click_TI``.
    """

    policy: str
    user: int
    segment: int
    segment_name: str
    end: str  # why the session ended, in words
    steps: pd.DataFrame  # step, slate, clicked_item, clicked, reward, cum_reward, budget_before, budget_after
    q_TI: np.ndarray | None
    p_click_TI: np.ndarray  # true P(click) of each item if shown alone (hidden from the policy)
    interest_TK: np.ndarray  # interests before each step, plus after the last: (T + 1, K)

    @property
    def total_return(self) -> float:
        return float(self.steps["reward"].sum())

    @property
    def clicks(self) -> int:
        return int(self.steps["clicked"].sum())

    @property
    def length(self) -> int:
        return len(self.steps)


def pick_user(scenario: ScenarioConfig, seed: int, segment: int | None = None) -> int:
    """A user id drawn with ``seed``, from one segment if given (so 'a Gamer' is reproducible)."""
    audience = build_world(scenario).audience
    pool = np.flatnonzero(audience.segment_N == segment) if segment is not None else np.arange(audience.n_users)
    if pool.size == 0:
        raise ValueError(f"segment {segment} has no users in this audience")
    return int(np.random.default_rng(seed).choice(pool))


def trace_session(
    scenario: ScenarioConfig,
    policy: Policy,
    *,
    seed: int,
    user: int | None = None,
    segment: int | None = None,
    max_steps: int = 200,
) -> SessionTrace:
    """Play one session of ``user`` (or a user of ``segment``, or any user) under ``policy``.

    The policy does not learn during the replay, so the trace shows its behaviour, not its adaptation.
    """
    if user is None:
        user = pick_user(scenario, seed, segment)
    env = VecRecEnv(scenario, 1, seed, autoreset=False)
    env.reset(users_U=np.array([user]))
    segment_id = int(env.segment_U[0])
    has_q = callable(getattr(policy, "q_values", None))
    rows: list[dict] = []
    q_rows: list[np.ndarray] = []
    p_rows: list[np.ndarray] = []
    interests = [env.interest_UK[0].copy()]
    cum, end = 0.0, f"stopped after {max_steps} steps"
    for t in range(max_steps):
        mask_I = env.mask_UI[0].copy()
        p_click_I, _, _ = env.true_model()
        p_rows.append(np.where(mask_I, p_click_I[0], np.nan))
        if has_q:
            q_I = np.asarray(policy.q_values(env.obs_UO, env.mask_UI), dtype=np.float64)[0]
            q_rows.append(np.where(mask_I, q_I, np.nan))
        budget_before = float(env.budget_U[0])
        slate_S = np.asarray(policy.act(env)).reshape(-1)
        result = env.step(slate_S[None, :])
        item = int(result.clicked_item_U[0])
        reward = float(result.reward_U[0])
        cum += reward
        rows.append({
            "step": t + 1, "slate": [int(i) for i in slate_S], "clicked_item": item, "clicked": item >= 0,
            "reward": reward, "cum_reward": cum, "budget_before": budget_before,
            "budget_after": max(float(env.budget_U[0]), 0.0),
        })
        interests.append(env.interest_UK[0].copy())
        if result.terminated_U[0]:
            end = "the session budget ran out" if env.budget_U[0] <= 0 else "the user left (ad fatigue)"
            break
        if result.truncated_U[0]:
            end = f"the session reached its {scenario.dynamics.max_steps}-step limit"
            break
    return SessionTrace(
        policy=policy.name, user=int(user), segment=segment_id,
        segment_name=env.audience.names[segment_id], end=end, steps=pd.DataFrame(rows),
        q_TI=np.stack(q_rows) if q_rows else None, p_click_TI=np.stack(p_rows),
        interest_TK=np.stack(interests),
    )
