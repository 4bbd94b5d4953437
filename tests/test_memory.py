"""Memory bounded before allocation: work whose estimate passes the limit is refused in one line naming its biggest
part and the limit (``evaluate``, ``train``, a checkpoint's networks before they are built), and the world cache
holds at most a share of the limit."""

from __future__ import annotations

import gc
import io
import tracemalloc
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch

from dqn_sim import memory, model_files, policies
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


@pytest.mark.parametrize(("algo", "label"), [("linucb", "LinUCB"), ("thompson", "Thompson sampling")])
def test_train_counts_the_rival_it_trains_not_the_dqn(monkeypatch, capsys, tmp_path: Path, isolated_home: Path,
                                                      algo: str, label: str) -> None:
    """A bandit's per-item statistics (20,000 items on the video preset: about 3.1 GB) were not counted: the
    estimate was the DQN's (about 1 GB) whatever ``--algo`` said, so a run above the limit started."""
    monkeypatch.setenv(memory.LIMIT_ENV, "2000")
    scenario = get_preset("video").with_overrides({"catalogue.n_items": 20000})
    memory.training(scenario, AgentConfig(), TrainConfig()).check()  # the DQN's run fits
    out = tmp_path / "out"
    assert main(["train", "--algo", algo, "--steps", "600", "--set", "catalogue.n_items=20000",
                 "--out", str(out)]) == 2
    err = one_error_line(capsys)
    assert "above the limit of 2.0 GB" in err
    part = f"the {label} per-item statistics (catalogue.n_items x catalogue.n_topics squared)"
    assert f"the biggest part is {part}" in err
    assert not out.exists() and not (isolated_home / "runs.sqlite3").exists()


def test_a_rival_is_estimated_by_the_model_its_checkpoints_are_bounded_by() -> None:
    """Training and loading count a rival's model with the same ``model_bytes``; only the names and the copies a
    learning network holds differ. The DQN's run keeps its own parts (replay buffer, Q-networks)."""
    scenario, train = get_preset("news"), TrainConfig(algo="reinforce")
    parts = memory.training(scenario, AgentConfig(), train).parts
    assert "the REINFORCE top-K return window (train.n_envs)" in parts and not any("Q-networks" in p for p in parts)
    loading = policies.learner_class("reinforce").model_bytes(memory.config_dims(scenario, train), train.reinforce)
    assert parts["the REINFORCE top-K return window (train.n_envs)"] == loading["its return window (shapes.n_envs)"]
    dqn = memory.training(scenario, AgentConfig(), TrainConfig()).parts
    assert set(dqn) == {*memory.simulation_parts(scenario, TrainConfig()), *memory.dqn_parts(scenario, AgentConfig())}


def test_a_lineup_holds_each_learners_own_model() -> None:
    """Learners side by side were counted as copies of ``train.algo``'s run: a LinUCB beside a DQN holds its
    statistics, not a second replay buffer."""
    scenario, agent, train = get_preset("video"), AgentConfig(), TrainConfig()
    together = memory.lineup(scenario, agent, train, ["dqn", "linucb"], runs=2)
    alone = [memory.training(scenario, agent, TrainConfig(algo=algo), runs=2) for algo in ("dqn", "linucb")]
    assert together.total == pytest.approx(sum(e.total for e in alone)) and together.what == "4 training runs at once"
    assert "the replay buffer (agent.buffer_size transitions)" in together.parts
    assert any(name.startswith("the LinUCB per-item statistics") for name in together.parts)
    assert memory.lineup(scenario, agent, train, ["dqn"]) == memory.training(scenario, agent, train)


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


def forged_checkpoint(path: Path, learner: str = "dqn", **shapes: int) -> Path:
    """A small checkpoint of ``learner`` on the video preset whose stored sizes say ``shapes`` (its statistics
    and weights stay those of the small model)."""
    scenario = get_preset("video")
    env = VecRecEnv(scenario, 4, 0)
    cls = policies.learner_class(learner)
    model = cls.build(env, scenario, AgentConfig(hidden_sizes=[8]), TrainConfig(algo=learner))
    payload = torch.load(io.BytesIO(model.to_bytes(scenario)), weights_only=True)
    payload["shapes"].update(shapes)
    torch.save(payload, path)
    return path


@pytest.mark.parametrize(("learner", "shapes", "part"), [
    ("linucb", {"obs_dim": 2000}, "its per-item statistics (shapes.n_items x shapes.obs_dim squared)"),
    ("thompson", {"obs_dim": 2000}, "its per-item statistics (shapes.n_items x shapes.obs_dim squared)"),
    ("reinforce", {"n_envs": 10**8}, "its return window (shapes.n_envs)"),
])
def test_a_rival_checkpoint_naming_a_huge_model_is_refused_without_building_it(
        monkeypatch, tmp_path: Path, learner: str, shapes: dict, part: str) -> None:
    """A 2.9 MB LinUCB file naming obs_dim=1000 reached 1.9 GB before numpy refused: rivals were built from the
    sizes in their file before anything was checked."""
    path = forged_checkpoint(tmp_path / "model.pt", learner, **shapes)
    monkeypatch.setenv(memory.LIMIT_ENV, "1000")

    def never(*args, **kwargs):
        raise AssertionError("the model was built")

    monkeypatch.setattr(policies.learner_class(learner), "__init__", never)
    tracemalloc.start()
    try:
        with pytest.raises(memory.MemoryLimitError) as refused:
            model_files.load_learner(learner, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 * memory.MB
    assert f"loading {path} would need about" in str(refused.value) and "above the limit of 1,000 MB" in str(
        refused.value)
    assert f"the biggest part is {part}" in str(refused.value)


def test_evaluate_refuses_a_forged_rival_checkpoint_in_one_line(monkeypatch, capsys, tmp_path: Path) -> None:
    path = forged_checkpoint(tmp_path / "model.pt", "linucb", obs_dim=2000)
    monkeypatch.setattr(policies.learner_class("linucb"), "__init__", lambda *a, **k: pytest.fail("built"))
    assert main(["evaluate", "--policy", f"linucb:{tmp_path}", "--episodes", "10"]) == 2
    err = one_error_line(capsys)
    assert f"checkpoint {path} was trained with obs_dim=2000, n_items=200; this scenario has obs_dim=27" in err


@pytest.mark.parametrize(("shapes", "says"), [
    ({"obs_dim": -5}, "shapes.obs_dim must be an integer in [1, 1000000000], got -5"),
    ({"n_items": 10**30}, "shapes.n_items must be an integer in [1, 1000000000], got 1000000000000000000000000000000"),
    ({"n_items": 300}, "item_features_IF has 200 rows, not one per item (shapes.n_items=300)"),
    ({"slate_size": 201}, "shapes.slate_size must be at most n_items (200), got 201"),
], ids=["negative", "beyond any world", "other than its item features", "a slate beyond the catalogue"])
def test_a_rival_checkpoint_with_odd_sizes_names_the_file_and_the_field(capsys, tmp_path: Path, shapes: dict,
                                                                         says: str) -> None:
    path = forged_checkpoint(tmp_path / "model.pt", "linucb", **shapes)
    assert main(["evaluate", "--policy", f"linucb:{path}", "--episodes", "10"]) == 2
    assert f"{path} is a damaged checkpoint: {says}" in one_error_line(capsys)


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
