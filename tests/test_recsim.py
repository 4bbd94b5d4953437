"""recsim-ie reproduces Google RecSim's interest_evolution formulas."""

import numpy as np

from dqn_sim.agents.baselines import RandomPolicy
from dqn_sim.presets import get_preset
from dqn_sim.sim.dynamics import choice_probs, drift_interests
from dqn_sim.sim.env import VecRecEnv, build_world
from dqn_sim.sim.reference import ReferenceRecSimIE
from dqn_sim.stats import mean_ci

SCENARIO = get_preset("recsim-ie")


def test_catalogue_has_recsim_topic_quality_means():
    cat = build_world(SCENARIO).catalogue
    assert cat.n_topics == 20 and np.all(cat.topics_IK.sum(axis=1) == 1) and np.all(cat.topics_IK.max(1) == 1)
    means = np.concatenate([np.linspace(-3, 0, 14), np.linspace(0, 3, 6)])
    topic = cat.topics_IK.argmax(axis=1)
    residual = cat.quality_I - means[topic]
    assert abs(residual.mean()) < 0.03 and 0.08 < residual.std() < 0.12
    assert np.all(cat.length_I == 4.0)


def test_users_uniform_interests_fully_observed_budget_200():
    aud = build_world(SCENARIO).audience
    assert aud.interest_NK.min() >= -1 and aud.interest_NK.max() <= 1
    assert abs(aud.interest_NK.mean()) < 0.01 and abs(aud.interest_NK.std() - 2 / np.sqrt(12)) < 0.01
    assert np.all(aud.budget_N == 200.0)


def test_proportional_choice_formula():
    dyn = SCENARIO.dynamics
    affinity = np.array([[0.5, -0.2]], dtype=np.float32)
    p = choice_probs(dyn, affinity, np.zeros_like(affinity), np.ones_like(affinity, dtype=bool))
    expected = (affinity + 1) / ((affinity + 1).sum() + 2)
    np.testing.assert_allclose(p, expected, rtol=1e-6)


def test_interest_drift_formula_both_directions():
    u = np.array([[0.2, -0.6, 0.9]], dtype=np.float32)
    d = np.array([[0.0, 1.0, 0.0]], dtype=np.float32)
    alpha = 0.3 - 0.3 * np.abs(u)
    delta = alpha * d * (d - u)
    p_toward = float((((u + 1) / 2) @ d.T)[0, 0])  # 0.2
    toward = drift_interests(u, d, 0.3, np.array([p_toward - 1e-3]))
    away = drift_interests(u, d, 0.3, np.array([p_toward + 1e-3]))
    np.testing.assert_allclose(toward, np.clip(u + delta, -1, 1), rtol=1e-6)
    np.testing.assert_allclose(away, np.clip(u - delta, -1, 1), rtol=1e-6)


def test_budget_and_reward_on_a_click_and_on_no_click():
    env = VecRecEnv(SCENARIO, 512, 0)
    budget0 = env.budget_U.copy()
    slate = RandomPolicy(0).act(env)
    r = env.step(slate)
    clicked = r.clicked_item_U >= 0
    item = r.clicked_item_U[clicked]
    q = env.catalogue.quality_I[item]
    np.testing.assert_allclose(r.reward_U[clicked], 4.0)
    np.testing.assert_allclose(env.budget_U[clicked], budget0[clicked] - 4.0 + 0.9 / 3.4 * 4.0 * q, rtol=1e-5)
    np.testing.assert_allclose(env.budget_U[~clicked], budget0[~clicked] - 0.5)
    assert 0.3 < clicked.mean() < 0.6


def test_vectorised_env_agrees_with_the_one_at_a_time_reference():
    """Same dynamics: mean random-policy return of both implementations agree within their intervals."""
    vec = _vec_random_returns(300)
    ref = []
    sim = ReferenceRecSimIE(SCENARIO, seed=4)
    while len(ref) < 300:
        total, done = 0.0, False
        while not done:
            reward, done = sim.step(sim.random_slate())
            total += reward
        ref.append(total)
        sim.reset()
    m1, lo1, hi1 = mean_ci(np.array(vec))
    m2, lo2, hi2 = mean_ci(np.array(ref))
    assert lo1 < hi2 and lo2 < hi1, (m1, m2)


def _vec_random_returns(episodes: int) -> list[float]:
    from dqn_sim.train.evaluate import evaluate_policy

    return evaluate_policy(RandomPolicy(2), SCENARIO, episodes, seed=9).returns
