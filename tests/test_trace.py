"""One user's session replayed step by step: what the Inspect page shows must be reproducible and complete."""

from __future__ import annotations

import numpy as np
import pytest

from dqn_sim.agents.baselines import OraclePolicy, RandomPolicy
from dqn_sim.agents.policy import Policy, top_k_masked
from dqn_sim.policies import make_policy
from dqn_sim.presets import get_preset
from dqn_sim.sim.env import VecRecEnv, build_world
from dqn_sim.trace import pick_user, trace_session
from dqn_sim.train.evaluate import warm_baseline


class FakeQPolicy(Policy):
    """A policy with Q-values (like the DQN): Q = true click chance, masked items -inf."""

    name = "fake-q"

    def q_values(self, obs_BO: np.ndarray, mask_BI: np.ndarray) -> np.ndarray:
        self.calls = getattr(self, "calls", 0) + 1
        return np.where(mask_BI, np.linspace(0, 1, mask_BI.shape[1])[None, :], -np.inf)

    def act(self, env: VecRecEnv) -> np.ndarray:
        return top_k_masked(self.q_values(env.obs_UO, env.mask_UI), env.mask_UI, env.slate_size)


def test_same_user_and_seed_replay_identically() -> None:
    scenario = get_preset("video")
    a = trace_session(scenario, RandomPolicy(1), seed=5, user=123)
    b = trace_session(scenario, RandomPolicy(1), seed=5, user=123)
    assert a.user == b.user == 123
    assert a.steps.equals(b.steps)
    assert np.array_equal(a.interest_TK, b.interest_TK)


def test_trace_records_every_step_consistently() -> None:
    scenario = get_preset("video")
    tr = trace_session(scenario, OraclePolicy(), seed=2, segment=1)
    world = build_world(scenario)
    assert tr.segment == 1 and world.audience.segment_N[tr.user] == 1
    assert tr.segment_name == "Foodies"
    steps = tr.steps
    assert list(steps["step"]) == list(range(1, tr.length + 1))
    assert np.isclose(steps["cum_reward"].iloc[-1], tr.total_return)
    assert tr.clicks == int((steps["clicked_item"] >= 0).sum())
    assert np.allclose(steps["budget_before"].iloc[1:].to_numpy(), steps["budget_after"].iloc[:-1].to_numpy())
    assert tr.interest_TK.shape == (tr.length + 1, world.catalogue.n_topics)
    assert tr.p_click_TI.shape == (tr.length, world.catalogue.n_items)
    assert tr.q_TI is None
    assert "budget" in tr.end  # the video preset's sessions end when patience runs out


def test_two_policies_meet_the_same_user() -> None:
    scenario = get_preset("news")
    user = pick_user(scenario, seed=9, segment=2)
    a = trace_session(scenario, RandomPolicy(0), seed=9, segment=2)
    b = trace_session(scenario, OraclePolicy(), seed=9, segment=2)
    assert a.user == b.user == user
    assert np.array_equal(a.interest_TK[0], b.interest_TK[0])


def test_q_values_are_recorded_for_candidates_only_with_slates() -> None:
    scenario = get_preset("recsim-ie")
    policy = FakeQPolicy()
    tr = trace_session(scenario, policy, seed=0, max_steps=5)
    assert tr.length == 5 and tr.end == "stopped after 5 steps"
    assert tr.q_TI is not None and tr.q_TI.shape == (5, 500)
    assert np.all(np.isfinite(tr.q_TI).sum(axis=1) == scenario.dynamics.n_candidates)
    assert all(len(s) == 2 for s in tr.steps["slate"])
    for t, slate in enumerate(tr.steps["slate"]):  # the slate is the top-2 candidates by Q
        finite = np.flatnonzero(np.isfinite(tr.q_TI[t]))
        assert sorted(slate) == sorted(finite[np.argsort(-tr.q_TI[t, finite])[:2]].tolist())


def test_live_preset_masks_off_air_items() -> None:
    tr = trace_session(get_preset("live"), OraclePolicy(), seed=0, max_steps=10)
    available = np.isfinite(tr.p_click_TI).sum(axis=1)
    assert np.all(available < 120) and np.all(available >= 1)


def test_empty_segment_is_refused() -> None:
    scenario = get_preset("video").with_overrides({"audience.n_users": 1})
    world = build_world(scenario)
    other = 1 - int(world.audience.segment_N[0]) if world.audience.segment_N[0] < 2 else 0
    with pytest.raises(ValueError, match="no users"):
        pick_user(scenario, seed=0, segment=other)


def test_warm_baseline_has_learned_before_it_is_shown() -> None:
    scenario = get_preset("video")
    cold, warm = make_policy("popularity"), warm_baseline("popularity", scenario, episodes=16, seed=0)
    assert cold.clicks_I is None and warm.clicks_I.sum() > 0
