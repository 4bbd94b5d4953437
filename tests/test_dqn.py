"""The DQN agent and its Q-networks: targets, masking, schedules, checkpoints and a learning sanity check."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dqn_sim.agents.dqn import CheckpointError, DQNAgent, resolve_network
from dqn_sim.agents.qnet import ItemQNet, MLPQNet
from dqn_sim.agents.replay import PrioritizedReplayBuffer, ReplayBatch
from dqn_sim.config import AgentConfig, TrainConfig
from dqn_sim.presets import get_preset
from dqn_sim.sim.env import make_vec_env
from dqn_sim.train.trainer import Trainer

torch.set_num_threads(1)


def make_agent(network: str = "mlp", n_items: int = 5, obs_dim: int = 3, slate_size: int = 1,
               seed: int = 0, **config) -> DQNAgent:
    features_IF = np.random.default_rng(seed).normal(size=(n_items, 4)).astype(np.float32)
    cfg = AgentConfig(network=network, hidden_sizes=[16, 16], embedding_dim=8, **config)
    return DQNAgent(obs_dim=obs_dim, n_items=n_items, item_features_IF=features_IF, slate_size=slate_size,
                    config=cfg, seed=seed)


def random_batch(rng: np.random.Generator, b: int, obs_dim: int, n_items: int, slate_size: int) -> ReplayBatch:
    return ReplayBatch(
        obs_BO=rng.normal(size=(b, obs_dim)).astype(np.float32),
        slate_BS=np.stack([rng.choice(n_items, slate_size, replace=False) for _ in range(b)]),
        reward_BS=rng.normal(size=(b, slate_size)).astype(np.float32),
        next_obs_BO=rng.normal(size=(b, obs_dim)).astype(np.float32),
        next_mask_BI=np.ones((b, n_items), dtype=bool),
        terminated_B=np.arange(b) % 3 == 0,
        discount_B=np.where(np.arange(b) % 4 == 1, 0.0, 0.9 ** (1 + np.arange(b) % 3)).astype(np.float32),
        weight_B=np.ones(b, dtype=np.float32),
        index_B=np.arange(b),
    )


def q_np(net: torch.nn.Module, obs_BO: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net(torch.from_numpy(obs_BO)).numpy().astype(np.float64)


# ------------------------------------------------------------------------------------------- targets


@pytest.mark.parametrize("network", ["mlp", "item"])
@pytest.mark.parametrize("double", [True, False])
@pytest.mark.parametrize("value_norm", ["none", "popart"])
def test_td_target_by_hand(network: str, double: bool, value_norm: str) -> None:
    """MSE loss before the update equals one computed by hand from the two networks' Q-values,
    with masked next items excluded, terminated rows not bootstrapped, reward_scale applied; under PopArt in
    units of the targets' spread (after one batch: this batch's, bias correction included)."""
    agent = make_agent(network, slate_size=2, double_dqn=double, loss="mse", reward_scale=2.0, value_norm=value_norm)
    with torch.no_grad():  # make the target net differ from the online net
        for p in agent.target.parameters():
            p.add_(0.5 * torch.randn_like(p))
    agent.target.invalidate_cache()
    batch = random_batch(np.random.default_rng(1), 12, 3, 5, 2)
    q_now = q_np(agent.online, batch.obs_BO)
    q_on, q_tg = q_np(agent.online, batch.next_obs_BO), q_np(agent.target, batch.next_obs_BO)
    rows = np.arange(12)
    # mask out the item each net prefers, so that ignoring the mask would change the target
    batch.next_mask_BI[rows, q_on.argmax(1)] = False
    batch.next_mask_BI[rows, q_tg.argmax(1)] = False

    def hand_loss(mask_BI: np.ndarray) -> float:
        if double:
            value_B = q_tg[rows, np.where(mask_BI, q_on, -np.inf).argmax(1)]
        else:
            value_B = np.where(mask_BI, q_tg, -np.inf).max(1)
        boot_B = batch.discount_B * ~batch.terminated_B * value_B
        target_BS = 2.0 * batch.reward_BS + boot_B[:, None]
        return float(((np.take_along_axis(q_now, batch.slate_BS, 1) - target_BS) ** 2).mean())

    expected = hand_loss(batch.next_mask_BI)
    assert hand_loss(np.ones((12, 5), bool)) != pytest.approx(expected, rel=1e-3)  # the mask matters here
    stats = agent.learn(batch, progress=0.0)
    assert stats["loss"] == pytest.approx(expected / float(agent.online.out_std) ** 2, rel=1e-4)
    assert (float(agent.online.out_std) == 1.0) == (value_norm == "none")
    assert set(stats) == {"loss", "q_mean", "td_abs_mean"}


def test_double_and_plain_targets_differ() -> None:
    losses = []
    for double in (True, False):
        agent = make_agent(double_dqn=double, loss="mse")
        with torch.no_grad():
            for p in agent.target.parameters():
                p.add_(0.5 * torch.randn(p.shape, generator=torch.Generator().manual_seed(3)))
        losses.append(agent.learn(random_batch(np.random.default_rng(2), 16, 3, 5, 1), 0.0)["loss"])
    assert losses[0] != pytest.approx(losses[1], rel=1e-3)


def test_myopic_target_is_the_reward_even_with_empty_next_masks() -> None:
    agent = make_agent(loss="mse", gamma=0.0, value_norm="none")
    batch = random_batch(np.random.default_rng(3), 8, 3, 5, 1)
    batch.discount_B[:] = 0.0
    batch.next_mask_BI[:] = False  # -inf bootstrap values must not turn into nan
    q_BS = np.take_along_axis(q_np(agent.online, batch.obs_BO), batch.slate_BS, 1)
    assert agent.learn(batch, 0.0)["loss"] == pytest.approx(((q_BS - batch.reward_BS) ** 2).mean(), rel=1e-4)


def test_learn_updates_per_priorities() -> None:
    agent = make_agent(prioritized=True, per_alpha=0.5, per_eps=0.01, batch_size=8)
    buf = agent.make_buffer(capacity_override=64)
    assert isinstance(buf, PrioritizedReplayBuffer)
    b = random_batch(np.random.default_rng(4), 8, 3, 5, 1)
    buf.add(b.obs_BO, b.slate_BS, b.reward_BS, b.next_obs_BO, b.next_mask_BI, b.terminated_B, b.discount_B)
    batch = agent.sample_batch(progress=0.0)
    stats = agent.learn(batch, 0.0)
    prio = buf.tree.get(np.unique(batch.index_B))
    assert not np.allclose(prio, 1.0)  # no longer the initial max priority
    assert prio.min() >= 0.01 ** 0.5
    assert stats["td_abs_mean"] > 0


def test_item_net_cache_is_invalidated_by_updates() -> None:
    agent = make_agent("item", lr=0.05)
    obs_BO = np.random.default_rng(5).normal(size=(4, 3)).astype(np.float32)
    before = agent.q_values(obs_BO)  # fills the no-grad item cache
    agent.learn(random_batch(np.random.default_rng(6), 16, 3, 5, 1), 0.0)
    after = agent.q_values(obs_BO)
    with torch.enable_grad():  # grad mode never reads the cache
        fresh = agent.online(torch.from_numpy(obs_BO)).detach().numpy()
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, fresh, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------- networks


def test_dueling_mlp_centres_advantages_on_the_mean() -> None:
    net = MLPQNet(3, 6, [8], dueling=True)
    obs_BO = torch.randn(5, 3)
    with torch.no_grad():
        q_BI = net(obs_BO)
        np.testing.assert_allclose(q_BI.mean(1), net.value(net.trunk(obs_BO))[:, 0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dueling", [False, True])
def test_item_net_sparse_masks_match_dense_scoring(dueling: bool) -> None:
    rng = np.random.default_rng(7)
    net = ItemQNet(3, rng.normal(size=(40, 4)).astype(np.float32), [16], 8, dueling)
    obs_BO = torch.randn(6, 3)
    mask_BI = torch.zeros(6, 40, dtype=torch.bool)
    for b, count in enumerate([1, 10, 1, 2, 1, 3]):  # rows with few items get many padding slots
        mask_BI[b, rng.choice(40, count, replace=False)] = True
    with torch.no_grad():
        value_B, item_B = net.best_allowed(obs_BO, mask_BI)
        dense_BI = net(obs_BO).masked_fill(~mask_BI, -torch.inf)
        q_of_B = net.q_of(obs_BO, item_B[:, None])[:, 0]
    np.testing.assert_allclose(value_B, dense_BI.max(1).values, rtol=1e-5)
    np.testing.assert_array_equal(item_B, dense_BI.argmax(1))
    np.testing.assert_allclose(q_of_B, value_B, rtol=1e-5)


@pytest.mark.parametrize("network", ["mlp", "item"])
@pytest.mark.parametrize("dueling", [False, True])
def test_new_output_stats_preserve_every_q(network: str, dueling: bool) -> None:
    """PopArt's rescaling changes what the head learns in, never the Q values (acting, targets, checkpoints)."""
    features_IF = np.random.default_rng(13).normal(size=(7, 4)).astype(np.float32)
    net = ItemQNet(3, features_IF, [16], 8, dueling) if network == "item" else MLPQNet(3, 7, [16], dueling)
    obs_BO = torch.randn(5, 3)
    with torch.no_grad():
        before = net(obs_BO).numpy()
        net.set_output_stats(40.0, 250.0)
        net.set_output_stats(-3.0, 0.5)
        np.testing.assert_allclose(net(obs_BO).numpy(), before, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(net.q_of(obs_BO, torch.tensor([[2, 5]] * 5)).numpy(), before[:, [2, 5]],
                                   rtol=1e-4, atol=1e-4)
    assert (float(net.out_mean), float(net.out_std)) == (-3.0, 0.5)


def test_item_net_catalogue_can_change() -> None:
    net = ItemQNet(3, np.ones((7, 4), np.float32), [16], 8, dueling=False)
    with torch.no_grad():
        assert net(torch.randn(2, 3)).shape == (2, 7)
        net.set_item_features(np.ones((11, 4), np.float32))
        assert net(torch.randn(2, 3)).shape == (2, 11)
    with pytest.raises(ValueError, match="shape"):
        net.set_item_features(np.ones((11, 5), np.float32))


def test_auto_network_choice() -> None:
    assert resolve_network("auto", 200, 0) == "mlp"
    assert resolve_network("auto", 200, 10) == "item"
    assert resolve_network("auto", 5000, 0) == "item"
    assert resolve_network("mlp", 5000, 10) == "mlp"
    assert make_agent("auto").network == "mlp"


# ------------------------------------------------------------------------------------------- acting


@pytest.mark.parametrize("network", ["mlp", "item"])
def test_masked_items_are_never_chosen(network: str) -> None:
    agent = make_agent(network, n_items=6, slate_size=2)
    obs_BO = np.random.default_rng(8).normal(size=(50, 3)).astype(np.float32)
    favourite_B = agent.q_values(obs_BO).argmax(1)
    mask_BI = np.ones((50, 6), dtype=bool)
    mask_BI[np.arange(50), favourite_B] = False
    mask_BI[:, 5] = False
    slate_BS = agent.greedy(obs_BO, mask_BI)
    assert np.take_along_axis(mask_BI, slate_BS, 1).all()
    q_BI = agent.q_values(obs_BO, mask_BI)
    assert np.isneginf(q_BI[~mask_BI]).all() and np.isfinite(q_BI[mask_BI]).all()
    np.testing.assert_array_equal(slate_BS[:, 0], q_BI.argmax(1))
    for eps in (0.5, 1.0):
        slate_BS, _ = agent.act_explore(obs_BO, mask_BI, eps, np.random.default_rng(9))
        assert np.take_along_axis(mask_BI, slate_BS, 1).all()
        assert (slate_BS[:, 0] != slate_BS[:, 1]).all()


def test_huge_masked_q_is_ignored_in_acting() -> None:
    agent = make_agent("mlp")
    with torch.no_grad():
        agent.online.head.bias[2] = 1e6
    obs_BO = np.zeros((4, 3), np.float32)
    assert (agent.greedy(obs_BO, np.ones((4, 5), bool))[:, 0] == 2).all()
    mask_BI = np.ones((4, 5), bool)
    mask_BI[:, 2] = False
    assert (agent.greedy(obs_BO, mask_BI) != 2).all()


def test_sparse_candidate_acting_picks_the_best_allowed_items() -> None:
    agent = make_agent("item", n_items=60, slate_size=3)
    rng = np.random.default_rng(10)
    obs_BO = rng.normal(size=(20, 3)).astype(np.float32)
    mask_BI = np.zeros((20, 60), bool)
    for b in range(20):
        mask_BI[b, rng.choice(60, 3 + b % 10, replace=False)] = True  # 4 * 12 <= 60: the sparse path
    expected_BS = np.argsort(-agent.q_values(obs_BO, mask_BI), axis=1)[:, :3]
    np.testing.assert_array_equal(agent.greedy(obs_BO, mask_BI), expected_BS)


def test_act_on_a_real_env_and_exploration_rates() -> None:
    scenario = get_preset("video")
    env = make_vec_env(scenario, 16, seed=0)
    agent = DQNAgent(obs_dim=env.obs_dim, n_items=env.n_items, item_features_IF=env.item_features_IF,
                     slate_size=env.slate_size, config=AgentConfig(hidden_sizes=[32]), seed=0)
    slate_US = agent.act(env)
    assert slate_US.shape == (16, env.slate_size)
    assert np.take_along_axis(env.mask_UI, slate_US, 1).all()
    greedy_US = agent.greedy(env.obs_UO, env.mask_UI)
    explored = [(agent.act_explore(env.obs_UO, env.mask_UI, 0.5, np.random.default_rng(s))[0] != greedy_US).any()
                for s in range(5)]
    assert any(explored)
    np.testing.assert_array_equal(agent.act_explore(env.obs_UO, env.mask_UI, 0.0, np.random.default_rng(0))[0],
                                  greedy_US)


def test_epsilon_schedules() -> None:
    lin = make_agent(eps_start=1.0, eps_end=0.1, eps_decay_fraction=0.5)
    assert [lin.epsilon(s, 1000) for s in (0, 250, 500, 900)] == pytest.approx([1.0, 0.55, 0.1, 0.1])
    assert make_agent(eps_decay_fraction=0.0, eps_end=0.05).epsilon(0, 1000) == pytest.approx(0.05)
    exp = make_agent(eps_schedule="exponential", eps_start=1.0, eps_end=0.1, eps_decay_rate=0.5,
                     eps_decay_period=10)
    assert [exp.epsilon(s, 1000) for s in (0, 9, 10, 25, 100)] == pytest.approx([1.0, 1.0, 0.5, 0.25, 0.1])


def test_learning_rate_schedules() -> None:
    assert make_agent(lr=1e-3, lr_schedule="constant").learning_rate(0.7) == pytest.approx(1e-3)
    lin = make_agent(lr=1e-3, lr_schedule="linear", lr_end_fraction=0.1)
    assert [lin.learning_rate(p) for p in (0.0, 0.5, 1.0, 2.0)] == pytest.approx([1e-3, 5.5e-4, 1e-4, 1e-4])
    cos = make_agent(lr=1e-3, lr_schedule="cosine", lr_end_fraction=0.0)
    assert [cos.learning_rate(p) for p in (0.0, 0.5, 1.0)] == pytest.approx([1e-3, 5e-4, 0.0])
    lin.learn(random_batch(np.random.default_rng(15), 8, 3, 5, 1), progress=0.5)
    assert lin.optimizer.param_groups[0]["lr"] == pytest.approx(5.5e-4)


# ------------------------------------------------------------------------------------------- checkpoints


@pytest.mark.parametrize("network,dueling", [("mlp", False), ("item", True)])
def test_save_load_round_trip(tmp_path, network: str, dueling: bool) -> None:
    agent = make_agent(network, slate_size=2, dueling=dueling, seed=3)
    agent.learn(random_batch(np.random.default_rng(11), 16, 3, 5, 2), 0.0)
    scenario = get_preset("video")
    agent.save(tmp_path / "model.pt", scenario)
    loaded, scenario_dict = DQNAgent.load(tmp_path / "model.pt")
    obs_BO = np.random.default_rng(12).normal(size=(9, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.q_values(obs_BO), agent.q_values(obs_BO))
    np.testing.assert_array_equal(loaded.item_features_IF, agent.item_features_IF)
    assert loaded.config == agent.config and loaded.network == network
    assert (loaded.slate_size, loaded.n_items, loaded.obs_dim) == (2, 5, 3)
    assert scenario_dict == scenario.to_dict()

    agent.save(tmp_path / "bare.pt")
    assert DQNAgent.load(tmp_path / "bare.pt")[1] is None


class NotACheckpoint:
    pass


def tamper(payload: dict, case: str) -> object:
    if case == "version":
        payload["format_version"] = 99
    elif case == "shape":
        payload["weights"]["head.weight"] = torch.zeros(3, 3)
    elif case == "missing":
        del payload["shapes"]
    elif case == "config":
        payload["agent_config"] = '{"lr": -1}'
    elif case == "foreign":
        return {"state_dict": payload["weights"]}
    elif case == "object":
        return NotACheckpoint()
    return payload


@pytest.mark.parametrize("case", ["garbage", "cut", "missing_file", "version", "shape", "missing", "config",
                                  "foreign", "object"])
def test_bad_checkpoints_are_refused(tmp_path, case: str) -> None:
    good = tmp_path / "good.pt"
    make_agent().save(good)
    bad = tmp_path / "bad.pt"
    if case == "garbage":
        bad.write_bytes(b"this is not a checkpoint" * 10)
    elif case == "cut":
        bad.write_bytes(good.read_bytes()[:300])
    elif case != "missing_file":
        torch.save(tamper(torch.load(good, weights_only=True), case), bad)
    with pytest.raises(CheckpointError) as info:
        DQNAgent.load(bad)
    message = str(info.value)
    assert "bad.pt" in message and "\n" not in message and len(message) < 300


# ------------------------------------------------------------------------------------------- learning


CHAIN_A, CHAIN_B = [1.0, 0.0], [0.0, 1.0]


def chain_transitions(gamma: float) -> tuple[np.ndarray, ...]:
    """From A: item 0 pays 1 and ends, item 1 pays 0 and leads to B. From B: item 0 pays 10, item 1 pays 0;
    both end. With gamma = 0.9, Q(A) = [1, 9] and Q(B) = [10, 0]: waiting beats the quick win."""
    obs = np.array([CHAIN_A, CHAIN_A, CHAIN_B, CHAIN_B], np.float32)
    next_obs = np.array([CHAIN_A, CHAIN_B, CHAIN_B, CHAIN_B], np.float32)
    return (obs, np.array([[0], [1], [0], [1]]), np.array([[1.0], [0.0], [10.0], [0.0]], np.float32),
            next_obs, np.ones((4, 2), bool), np.array([True, False, True, True]), np.full(4, gamma, np.float32))


@pytest.mark.parametrize("network,gamma,prioritized", [("mlp", 0.9, False), ("item", 0.9, True), ("mlp", 0.0, False)])
def test_learns_a_deterministic_chain(network: str, gamma: float, prioritized: bool) -> None:
    agent = make_agent(network, n_items=2, obs_dim=2, gamma=gamma, lr=1e-2, batch_size=32, prioritized=prioritized,
                       target_update_interval=25, seed=1)
    buf = agent.make_buffer(capacity_override=100)
    for _ in range(8):
        buf.add(*chain_transitions(gamma))
    for i in range(400):
        agent.learn(agent.sample_batch(i / 400), i / 400)
    q_AI, q_BI = agent.q_values(np.array([CHAIN_A, CHAIN_B], np.float32))
    expected_A = [1.0, 9.0] if gamma else [1.0, 0.0]
    np.testing.assert_allclose(q_AI, expected_A, atol=0.5)
    np.testing.assert_allclose(q_BI, [10.0, 0.0], atol=0.5)
    assert agent.greedy(np.array([CHAIN_A], np.float32), np.ones((1, 2), bool))[0, 0] == (1 if gamma else 0)


@pytest.mark.parametrize("network", ["mlp", "item"])
def test_popart_learns_the_chain_in_any_reward_units(network: str) -> None:
    """With rewards 1000x larger the normalised learner takes the same steps: Q is the chain's, times 1000."""
    agent = make_agent(network, n_items=2, obs_dim=2, gamma=0.9, lr=1e-2, batch_size=32, value_norm="popart",
                       target_update_interval=25, seed=1)
    buf = agent.make_buffer(capacity_override=100)
    obs, slate, reward, *rest = chain_transitions(0.9)
    for _ in range(8):
        buf.add(obs, slate, 1000.0 * reward, *rest)
    for i in range(400):
        agent.learn(agent.sample_batch(i / 400), i / 400)
    q_AI, q_BI = agent.q_values(np.array([CHAIN_A, CHAIN_B], np.float32))
    np.testing.assert_allclose(q_AI, [1000.0, 9000.0], atol=500.0)
    np.testing.assert_allclose(q_BI, [10000.0, 0.0], atol=500.0)
    assert 1000.0 < float(agent.online.out_std) < 10000.0  # the targets' spread, in reward units


def test_checkpoints_without_output_stats_still_load(tmp_path) -> None:
    """Checkpoints written before value normalisation existed hold plain reward-unit weights."""
    agent = make_agent(seed=4)
    agent.save(tmp_path / "model.pt")
    payload = torch.load(tmp_path / "model.pt", weights_only=True)
    del payload["weights"]["out_mean"], payload["weights"]["out_std"]
    torch.save(payload, tmp_path / "old.pt")
    loaded, _ = DQNAgent.load(tmp_path / "old.pt")
    obs_BO = np.random.default_rng(14).normal(size=(3, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.q_values(obs_BO), agent.q_values(obs_BO))


def test_warm_start_continues_from_a_checkpoint_and_refuses_another_shape(tmp_path):
    scenario = get_preset("video").with_overrides({"audience.n_users": 200})
    cfg = AgentConfig(hidden_sizes=[16])
    first = Trainer(scenario, cfg, TrainConfig(total_steps=2000, n_envs=16, learning_starts=100, seed=1))
    while not first.done:
        first.step()
    first.agent.save(tmp_path / "model.pt", scenario)
    resumed = Trainer(scenario, cfg.with_overrides({"lr": 1e-4}), TrainConfig(seed=2), init_from=tmp_path / "model.pt")
    obs, mask = first.env.obs_UO, first.env.mask_UI
    np.testing.assert_array_equal(resumed.agent.q_values(obs, mask), first.agent.q_values(obs, mask))
    assert resumed.agent.config.lr == 1e-4
    with pytest.raises(CheckpointError, match="cannot seed this run"):
        DQNAgent(obs_dim=first.env.obs_dim, n_items=first.env.n_items, item_features_IF=first.env.item_features_IF,
                 slate_size=1, config=AgentConfig(hidden_sizes=[32]), seed=0).warm_start(tmp_path / "model.pt")
