"""The rival learners: each update on small cases worked by hand, checkpoints, the registry, and the shared loop."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from dqn_sim import policies
from dqn_sim.agents.dqn import CheckpointError
from dqn_sim.agents.linucb import LinUCBAgent
from dqn_sim.agents.reinforce import ReinforceAgent, ReturnWindow, correction, horizon
from dqn_sim.agents.thompson import ThompsonAgent
from dqn_sim.config import LEARNERS, AgentConfig, LinUCBConfig, ReinforceConfig, ThompsonConfig, TrainConfig
from dqn_sim.presets import get_preset
from dqn_sim.train.trainer import Trainer

torch.set_num_threads(1)
FEATURES_IF = np.array([[2.0], [-1.0], [0.5]])  # three items, one feature each


def step(clicked: list[int], reward: list[float], done: list[bool] | None = None) -> SimpleNamespace:
    """The part of a StepResult the learners read."""
    n = len(clicked)
    done = done or [False] * n
    return SimpleNamespace(clicked_item_U=np.array(clicked), reward_U=np.array(reward, dtype=float),
                           done_U=np.array(done))


def context(obs: list[float], item: int) -> np.ndarray:
    return np.array([*obs, *FEATURES_IF[item], 1.0])


# ------------------------------------------------------------------------------------------- LinUCB


def test_linucb_statistics_after_two_observations_by_hand() -> None:
    agent = LinUCBAgent(obs_dim=2, item_features_IF=FEATURES_IF, slate_size=1, config=LinUCBConfig(alpha=0.7),
                        seed=0)
    agent.store(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0], [0]]), step([0, -1], [3.0, 0.0]))
    x1, x2 = context([1, 0], 0), context([0, 1], 0)
    np.testing.assert_allclose(agent.model.A_IDD[0], np.eye(4) + np.outer(x1, x1) + np.outer(x2, x2))
    np.testing.assert_allclose(agent.model.b_ID[0], 3.0 * x1)
    np.testing.assert_allclose(agent.model.A_IDD[1:], np.broadcast_to(np.eye(4), (2, 4, 4)))  # never shown
    assert agent.learn(0.0) == pytest.approx(4.5)  # squared errors (0 - 3)^2 and 0 of the predictions before
    assert agent.learn(0.0) is None  # nothing new: no update

    obs = np.array([0.5, -2.0])
    A_inv = np.linalg.inv(agent.model.A_IDD[0])
    mean, var = A_inv @ agent.model.b_ID[0] @ context(obs, 0), context(obs, 0) @ A_inv @ context(obs, 0)
    got_mean, got_var = agent.model.mean_var(obs[None])
    assert got_mean[0, 0] == pytest.approx(mean) and got_var[0, 0] == pytest.approx(var)
    # an unseen item: A = I, so the mean is 0 and the spread is |x|^2
    assert got_mean[0, 1] == 0.0 and got_var[0, 1] == pytest.approx(context(obs, 1) @ context(obs, 1))
    score = agent.explore_scores(got_mean, got_var, np.random.default_rng(0))
    assert agent.scale == 3.0  # the largest reward seen
    assert score[0, 0] == pytest.approx(mean + 0.7 * 3.0 * np.sqrt(var))


def test_linucb_explores_the_uncertain_item_and_evaluates_on_the_mean() -> None:
    agent = LinUCBAgent(obs_dim=2, item_features_IF=FEATURES_IF, slate_size=1, config=LinUCBConfig(alpha=5.0),
                        seed=0)
    obs = np.tile([[1.0, 0.0]], (20, 1))
    agent.store(obs, np.zeros((20, 1), dtype=int), step([0] * 20, [1.0] * 20))  # item 0 pays 1, often tried
    agent.learn(0.0)
    mask = np.ones((1, 3), dtype=bool)
    slate, value = agent.act_explore(obs[:1], mask, 0.0, np.random.default_rng(0))
    assert slate[0, 0] != 0 and np.isnan(value).all()  # the optimistic bound favours an item never tried
    env = SimpleNamespace(obs_UO=obs[:1], mask_UI=mask)
    assert agent.act(env)[0, 0] == 0  # evaluated greedily on the predicted reward


def test_the_spread_is_the_same_scored_over_all_items_or_over_the_allowed_ones_only() -> None:
    """RecSim allows 10 candidates of 500: the spread is then formed pair by pair, and must equal the full form."""
    rng = np.random.default_rng(3)
    features_IF = rng.normal(size=(40, 3))
    agent = LinUCBAgent(obs_dim=5, item_features_IF=features_IF, slate_size=2, config=LinUCBConfig(), seed=0)
    obs_NO = rng.normal(size=(300, 5))
    agent.store(obs_NO[:150], rng.integers(0, 40, size=(150, 2)), step(list(rng.integers(0, 40, 150)),
                                                                         list(rng.normal(size=150))))
    agent.learn(0.0)
    mean, var = agent.model.mean_var(obs_NO[150:])
    sparse_mask = rng.random((150, 40)) < 0.05  # below 1 in 8: the pair-by-pair form
    got_mean, got_var = agent.model.mean_var(obs_NO[150:], sparse_mask)
    np.testing.assert_allclose(got_mean, mean)
    np.testing.assert_allclose(got_var[sparse_mask], var[sparse_mask])
    assert (got_var[~sparse_mask] == 0).all()
    for u, i in zip(*np.nonzero(sparse_mask[:5]), strict=True):  # against A^-1 itself
        x = np.concatenate([obs_NO[150 + u], features_IF[i], [1.0]])
        assert got_var[u, i] == pytest.approx(x @ np.linalg.solve(agent.model.A_IDD[i], x))


# ------------------------------------------------------------------------------------------- Thompson


def test_thompson_posterior_is_bayesian_linear_regression() -> None:
    cfg = ThompsonConfig(prior_var=2.0, noise=0.5)
    agent = ThompsonAgent(obs_dim=2, item_features_IF=FEATURES_IF, slate_size=1, config=cfg, seed=0)
    rng = np.random.default_rng(1)
    obs = rng.normal(size=(30, 2))
    reward = obs @ [1.0, -2.0] + 0.3
    agent.store(obs, np.full((30, 1), 2), step([2] * 30, list(reward)))
    agent.learn(0.0)
    X = np.stack([context(list(o), 2) for o in obs])
    precision = X.T @ X + (cfg.noise / cfg.prior_var) * np.eye(4)
    theta = np.linalg.solve(precision, X.T @ reward)  # posterior mean
    new = np.array([[0.3, 0.7]])
    mean, var = agent.model.mean_var(new)
    assert mean[0, 2] == pytest.approx(theta @ context([0.3, 0.7], 2))
    # the draws: normal around the mean with variance noise * scale^2 * x^T A^-1 x
    draws = np.stack([agent.explore_scores(mean, var, rng)[0, 2] for _ in range(4000)])
    expected_sd = agent.scale * np.sqrt(cfg.noise * context([0.3, 0.7], 2) @ np.linalg.solve(
        precision, context([0.3, 0.7], 2)))
    assert draws.mean() == pytest.approx(mean[0, 2], abs=4 * expected_sd / np.sqrt(4000))
    assert draws.std() == pytest.approx(expected_sd, rel=0.05)


# ------------------------------------------------------------------------------------------- REINFORCE


def test_return_window_sums_discounted_rewards_until_the_session_ends_or_the_horizon() -> None:
    window = ReturnWindow(n_envs=2, horizon=3, gamma=0.5)
    out = []
    for t, (reward, done) in enumerate([([1, 10], [0, 0]), ([2, 20], [0, 1]), ([4, 40], [0, 0]), ([8, 80], [0, 0])]):
        out.append(window.push([np.array([t, t])], np.array(reward, dtype=float), np.array(done, dtype=bool)))
    # step 1 ends user 1's session: its steps 0 and 1 are final (10 + 0.5 * 20 and 20)
    assert sorted(zip(out[1][0].tolist(), out[1][1].tolist(), strict=True)) == [(0, 20.0), (1, 20.0)]
    # user 0's step 0 is final once 3 rewards followed it (the horizon): 1 + 0.5 * 2 + 0.25 * 4
    assert (out[2][0].tolist(), out[2][1].tolist()) == ([0], [3.0])
    assert (out[3][0].tolist(), out[3][1].tolist()) == ([1], [2 + 0.5 * 4 + 0.25 * 8])  # user 1's step 2 waits
    assert horizon(0.95, 100) == 90 and horizon(0.0, 100) == 1 and horizon(0.9999, 50) == 50


def test_correction_caps_the_importance_weight_and_applies_the_top_k_multiplier() -> None:
    logp = torch.log(torch.tensor([0.5, 0.5, 0.2]))
    beta = torch.log(torch.tensor([0.25, 0.01, 0.2]))
    # pi / beta = 2, 50 (capped at 10), 1; top-K multiplier K (1 - pi)^(K - 1) with K = 3
    expected = torch.tensor([2 * 3 * 0.5**2, 10 * 3 * 0.5**2, 1 * 3 * 0.8**2])
    torch.testing.assert_close(correction(logp, beta, k=3, cap=10.0), expected)
    torch.testing.assert_close(correction(logp, beta, k=1, cap=10.0), torch.tensor([2.0, 10.0, 1.0]))


def _reinforce(**config) -> ReinforceAgent:
    settings = {"batch_size": 2, "buffer_size": 8, "entropy": 0.0, **config}
    return ReinforceAgent(obs_dim=2, item_features_IF=FEATURES_IF.astype(np.float32), slate_size=1, n_envs=2,
                          max_steps=10, config=ReinforceConfig(**settings), seed=0)


def test_reinforce_moves_probability_toward_the_item_with_the_higher_return() -> None:
    agent = _reinforce(lr=0.05, gamma=0.0)
    obs = np.array([[1.0, -1.0], [1.0, -1.0]])
    mask = np.ones((2, 3), dtype=bool)
    before = agent.log_probs(obs[:1], mask[:1])[0]
    agent.act_explore(obs, mask, 0.0, np.random.default_rng(0))
    agent.store(obs, np.array([[0], [1]]), step([0, 1], [5.0, 1.0], [True, True]))  # item 0 earns more
    assert agent.size == 2 and agent.can_learn()
    np.testing.assert_allclose(agent.return_C[:2], [5.0, 1.0])
    agent.learn(0.0)
    after = agent.log_probs(obs[:1], mask[:1])[0]
    assert after[0] > before[0] and after[1] < before[1]


def test_reinforce_learns_with_masked_items_and_its_entropy_bonus_without_nan() -> None:
    """Masked items have log p = -inf; the entropy bonus made their gradient NaN (news and live diverged at the
    first update: live catalogues mask items)."""
    agent = _reinforce(lr=0.05, gamma=0.0, entropy=0.01)
    obs = np.array([[1.0, -1.0], [1.0, -1.0]])
    mask = np.array([[True, False, True], [True, True, False]])
    agent.act_explore(obs, mask, 0.0, np.random.default_rng(0))
    agent.store(obs, np.array([[0], [1]]), step([0, 1], [5.0, 1.0], [True, True]))
    assert np.isfinite(agent.learn(0.0))
    assert all(torch.isfinite(p).all() for p in agent.net.parameters())


def test_reinforce_samples_only_allowed_items_and_evaluates_its_most_probable() -> None:
    agent = _reinforce()
    obs = np.zeros((2, 2))
    mask = np.array([[True, False, True], [False, True, False]])
    rng = np.random.default_rng(0)
    for _ in range(20):
        slate, _ = agent.act_explore(obs, mask, 0.0, rng)
        assert mask[np.arange(2), slate[:, 0]].all()
    logp = agent.log_probs(obs, mask)
    assert np.isneginf(logp[~mask]).all() and np.allclose(np.exp(logp).sum(axis=1), 1.0)
    env = SimpleNamespace(obs_UO=obs, mask_UI=mask)
    np.testing.assert_array_equal(agent.act(env)[:, 0], np.where(mask, logp, -np.inf).argmax(axis=1))


# ------------------------------------------------------------------------------------------- all rivals


def test_the_registry_and_the_config_name_the_same_learners() -> None:
    assert tuple(policies.learners()) == LEARNERS
    for name in LEARNERS:
        assert policies.learner_class(name).name == name
        assert policies.spec(name).kind == "learner" and name not in policies.rivals()
    assert policies.trained_in({"linucb_return": 1.0, "greedy_return": 0.5, "best_baseline_return": 0.5}) == "linucb"
    assert policies.trained_in({"greedy_return": 0.5}) == "dqn"


SCENARIO = get_preset("video").with_overrides({"catalogue.n_items": 30, "dynamics.max_steps": 20})


@pytest.fixture(scope="module", params=["linucb", "thompson", "reinforce"])
def trained(request) -> Trainer:
    trainer = Trainer(SCENARIO, AgentConfig(), TrainConfig(total_steps=1600, n_envs=16, learning_starts=160,
                                                           log_every=400, eval_every=800, eval_episodes=16,
                                                           algo=request.param, seed=4))
    trainer.evaluate_baselines()
    while not trainer.done:
        trainer.step()
    trainer.finish()
    return trainer


def test_a_rival_trains_in_the_same_loop_and_reports_under_its_name(trained: Trainer) -> None:
    algo, s = trained.cfg.algo, trained.summary()
    assert trained.updates > 0 and np.isfinite(trained.last_loss)
    assert {f"{algo}_return", f"{algo}_return_ci", f"{algo}_ctr", f"{algo}_test_returns"} <= set(s)
    assert "dqn_return" not in s and s["best_baseline"] in policies.rivals()
    assert policies.trained_in(s) == algo
    assert {e["policy"] for e in trained.evals} == {algo, *policies.evaluated_in_training()}
    assert all(np.isnan(row["epsilon"]) and np.isnan(row["q_mean"]) for row in trained.metrics)


def test_a_rival_checkpoint_acts_as_the_trained_policy(trained: Trainer, tmp_path) -> None:
    cls = policies.learner_class(trained.cfg.algo)
    trained.learner.save(tmp_path / "model.pt", SCENARIO)
    data = torch.load(tmp_path / "model.pt", weights_only=True)  # plain tensors and text only
    assert data["format"] == f"dqn_sim.{trained.cfg.algo}"
    policy, scenario = cls.load(tmp_path / "model.pt")
    assert scenario["name"] == SCENARIO.name
    env = trained.env
    np.testing.assert_array_equal(policy.act(env), trained.agent.act(env))
    with pytest.raises(CheckpointError, match="not a dqn_sim"):
        policies.learner_class("linucb" if trained.cfg.algo != "linucb" else "thompson").load(tmp_path / "model.pt")


def test_same_seed_gives_the_same_rival_run() -> None:
    def run() -> list[dict]:
        t = Trainer(SCENARIO, AgentConfig(), TrainConfig(total_steps=800, n_envs=16, learning_starts=160,
                                                         log_every=400, eval_every=400, eval_episodes=8,
                                                         algo="thompson", seed=2))
        while not t.done:
            t.step()
        return [{k: v for k, v in e.items() if k != "wall_time"} for e in t.evals]
    assert run() == run()


def test_cli_trains_a_rival_and_evaluates_its_checkpoint(tmp_path, capsys) -> None:
    from dqn_sim.cli import main

    out = tmp_path / "run"
    small = ["--set", "audience.n_users=500", "--set", "train.n_envs=16", "--set", "train.eval_episodes=20",
             "--set", "train.log_every=500", "--set", "train.eval_every=1000", "--set", "train.learning_starts=200"]
    assert main(["train", "--algo", "linucb", "--steps", "1500", "--out", str(out), "--json", *small]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["state"] == "finished" and "linucb_return" in result
    assert json.loads((out / "config.json").read_text())["train"]["algo"] == "linucb"
    assert main(["evaluate", "--set", "audience.n_users=500", "--policy", f"linucb:{out}", "--episodes", "20",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["policy"] == f"linucb:{out}"
    assert main(["evaluate", "--policy", f"thompson:{out}", "--episodes", "5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a dqn_sim thompson checkpoint" in err and err.count("\n") == 1
    assert main(["report", result["run_id"], "--out", str(tmp_path / "report.html")]) == 0
    assert "LinUCB return per session" in (tmp_path / "report.html").read_text()
