"""Memory bounded before allocation: work whose estimate passes the limit is refused in one line naming its biggest
part and the limit (``evaluate``, ``train``, a checkpoint's networks before they are built), and the world cache
holds at most a share of the limit."""

from __future__ import annotations

import gc
import io
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch

from dqn_sim import memory
from dqn_sim.agents.dqn import DQNAgent
from dqn_sim.cli import main
from dqn_sim.config import AgentConfig, TrainConfig
from dqn_sim.presets import get_preset
from dqn_sim.sim import env as env_module
from dqn_sim.sim.env import VecRecEnv, build_world


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and len(err) <= 310, err
    return err


def test_the_limit_is_half_the_machine_or_the_variable(monkeypatch) -> None:
    monkeypatch.delenv(memory.LIMIT_ENV, raising=False)
    assert memory.limit_bytes() == int(memory.machine_bytes() * memory.MACHINE_SHARE) > 0
    monkeypatch.setenv(memory.LIMIT_ENV, "512")
    assert memory.limit_bytes() == 512 * memory.MB
    monkeypatch.setenv(memory.LIMIT_ENV, "lots")
    with pytest.raises(memory.MemoryLimitError, match="positive number of megabytes, got 'lots'"):
        memory.limit_bytes()


@pytest.mark.parametrize(("network", "dueling"), [("mlp", False), ("mlp", True), ("item", False), ("item", True)])
def test_the_estimate_counts_the_parameters_the_agent_builds(network: str, dueling: bool) -> None:
    scenario = get_preset("news")
    env = VecRecEnv(scenario, 1, 0)
    config = AgentConfig(network=network, dueling=dueling, hidden_sizes=[64, 32])
    agent = DQNAgent(obs_dim=env.obs_dim, n_items=env.n_items, item_features_IF=env.item_features_IF,
                     slate_size=env.slate_size, config=config, seed=0)
    estimated = memory.network_parameters(env.obs_dim, env.n_items, env.item_features_IF.shape[1], config, 0)
    assert estimated == sum(p.numel() for p in agent.online.parameters())
    obs_dim, n_items, n_features = memory.shapes(scenario)
    assert obs_dim >= env.obs_dim and n_items == env.n_items and n_features >= env.item_features_IF.shape[1]


def test_defaults_fit_and_the_largest_config_does_not(monkeypatch) -> None:
    monkeypatch.delenv(memory.LIMIT_ENV, raising=False)
    memory.training(get_preset("video"), AgentConfig(), TrainConfig()).check()
    huge = get_preset("video").with_overrides({"catalogue.n_items": 20000})
    with pytest.raises(memory.MemoryLimitError, match=r"the biggest part is the training batch \(train.n_envs"):
        memory.training(huge, AgentConfig(), TrainConfig(n_envs=65536)).check()
    with pytest.raises(memory.MemoryLimitError, match=r"the biggest part is the Q-networks"):
        memory.training(get_preset("video"), AgentConfig(hidden_sizes=[4096] * 64), TrainConfig()).check()


def test_evaluate_refuses_too_many_episodes_before_simulating(monkeypatch, capsys) -> None:
    monkeypatch.setenv(memory.LIMIT_ENV, "64")
    assert main(["evaluate", "--policy", "random", "--episodes", "20000"]) == 2
    err = one_error_line(capsys)
    assert "evaluating 20,000 episodes would need about" in err and "limit of 64 MB" in err
    assert "the biggest part is the evaluation batch (--episodes x catalogue.n_items)" in err


def test_train_refuses_a_run_too_big_before_it_starts(monkeypatch, capsys, tmp_path: Path,
                                                      isolated_home: Path) -> None:
    monkeypatch.setenv(memory.LIMIT_ENV, "64")
    out = tmp_path / "out"
    assert main(["train", "--steps", "600", "--set", "catalogue.n_items=2000", "--set", "train.n_envs=512",
                 "--out", str(out)]) == 2
    assert "the biggest part is the training batch (train.n_envs users x catalogue.n_items)" in one_error_line(capsys)
    assert not out.exists() and not (isolated_home / "runs.sqlite3").exists()


def oversized_checkpoint(path: Path) -> Path:
    """A small file whose configuration names 40 layers of 4096: its weights are those of a tiny network."""
    scenario = get_preset("video")
    env = VecRecEnv(scenario, 1, 0)
    agent = DQNAgent(obs_dim=env.obs_dim, n_items=env.n_items, item_features_IF=env.item_features_IF,
                     slate_size=env.slate_size, config=AgentConfig(hidden_sizes=[8]), seed=0)
    payload = torch.load(io.BytesIO(agent.to_bytes(scenario)), weights_only=True)
    payload["agent_config"] = AgentConfig(hidden_sizes=[4096] * 40).to_json()
    torch.save(payload, path)
    return path


def test_a_checkpoint_too_big_is_refused_without_building_it(monkeypatch, capsys, tmp_path: Path) -> None:
    path = oversized_checkpoint(tmp_path / "model.pt")
    monkeypatch.setenv(memory.LIMIT_ENV, "1000")

    def never(*args, **kwargs):
        raise AssertionError("the networks were built")

    monkeypatch.setattr(DQNAgent, "__init__", never)
    assert main(["evaluate", "--policy", f"dqn:{path}", "--episodes", "10"]) == 2
    err = one_error_line(capsys)
    assert f"loading {path} would need about" in err and "7.3 GB of memory, above the limit of 1,000 MB" in err
    assert "its Q-networks (agent.hidden_sizes)" in err


def test_the_world_cache_is_bounded_by_bytes(monkeypatch) -> None:
    """Worlds of ~10 MB each under a 20 MB budget (a quarter of 80 MB): the oldest goes as new ones come; a cache
    bounded by count (16 worlds) kept them all, 4.3 GB at the largest sizes."""
    monkeypatch.setenv(memory.LIMIT_ENV, "80")
    big = get_preset("video").with_overrides({"audience.n_users": 200_000})
    first = weakref.ref(build_world(big.with_overrides({"world_seed": 101})))
    worlds = [build_world(big.with_overrides({"world_seed": seed})) for seed in (102, 103)]
    gc.collect()
    assert first() is None
    assert all(w.nbytes > 9 * memory.MB for w in worlds)
    assert env_module._WORLDS.nbytes <= 20 * memory.MB
    assert build_world(big.with_overrides({"world_seed": 103})) is worlds[1]  # still cached
    assert np.shares_memory(VecRecEnv(big.with_overrides({"world_seed": 103}), 2, 0).audience.budget_N,
                            worlds[1].audience.budget_N)
