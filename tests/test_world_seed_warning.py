"""A checkpoint of the right shapes from another world (another ``world_seed``) is evaluated, with a warning: it acts,
but its return says little (18 against 54 on video)."""

from __future__ import annotations

from pathlib import Path

from dqn_sim.agents.dqn import DQNAgent
from dqn_sim.cli import main
from dqn_sim.config import AgentConfig
from dqn_sim.presets import get_preset
from dqn_sim.sim.env import VecRecEnv


def checkpoint(path: Path, world_seed: int) -> Path:
    scenario = get_preset("video").with_overrides({"world_seed": world_seed})
    env = VecRecEnv(scenario, 1, 0)
    agent = DQNAgent(obs_dim=env.obs_dim, n_items=env.n_items, item_features_IF=env.item_features_IF,
                     slate_size=env.slate_size, config=AgentConfig(hidden_sizes=[16]), seed=0)
    agent.save(path, scenario)
    return path


def test_another_world_seed_is_evaluated_with_a_warning(tmp_path: Path, capsys) -> None:
    path = checkpoint(tmp_path / "model.pt", world_seed=0)
    assert main(["evaluate", "--policy", f"dqn:{path}", "--set", "world_seed=7", "--episodes", "10", "--json"]) == 0
    out, err = capsys.readouterr()
    [warning] = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert f"checkpoint {path} was trained on world_seed 0, this scenario has world_seed 7" in warning
    assert '"return_mean"' in out


def test_the_same_world_gives_no_warning(tmp_path: Path, capsys) -> None:
    path = checkpoint(tmp_path / "model.pt", world_seed=7)
    assert main(["evaluate", "--policy", f"dqn:{path}", "--set", "world_seed=7", "--episodes", "10", "--json"]) == 0
    assert "warning" not in capsys.readouterr().err
