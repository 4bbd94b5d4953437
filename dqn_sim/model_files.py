"""A DQN checkpoint file taken up for use (``evaluate --policy dqn:DIR``, Inspect, resuming a run): its networks are
bounded before they are built, and it is checked against the scenario it will act in.

Why: a checkpoint's networks are built from the configuration it carries, before its weights can be found not to
fit; a small file naming 40 layers of 4096 took 5.5 GB that way. Its header (configuration, shapes) is read with the
weights memory-mapped, so the estimate costs no allocation. And a model of the right shapes can still come from
another world (another ``world_seed``): it runs, and its return says little, so the user is warned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from dqn_sim import memory, policies
from dqn_sim.agents.dqn import CHECKPOINT_FORMAT, CheckpointError, DQNAgent
from dqn_sim.agents.policy import Policy
from dqn_sim.config import AgentConfig, ConfigError, ScenarioConfig


def check_size(path: Path) -> None:
    """Raise ``MemoryLimitError`` if building the networks ``path`` describes would pass the memory limit, and
    ``CheckpointError`` if it has no readable header. Nothing the size of its networks is allocated."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as e:  # torch raises many types for bad files; all mean "not readable"
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(e).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        return  # not a DQN checkpoint: loading says so
    try:
        agent = AgentConfig.from_json(data["agent_config"])
        shapes = data["shapes"]
        dims = int(shapes["obs_dim"]), int(shapes["n_items"]), int(data["item_features_IF"].shape[1])
        n_candidates = int(shapes["n_candidates"])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as e:
        reason = e if isinstance(e, ConfigError) else type(e).__name__
        raise CheckpointError(f"{path} is a damaged checkpoint: {reason}") from None
    memory.loaded_network(str(path), *dims, agent, n_candidates).check()


def load(path: Path) -> tuple[DQNAgent, dict[str, Any] | None]:
    """The agent at ``path`` and the scenario it was trained on (a dict; None if saved without one), refused before
    it is built if it would not fit in memory."""
    check_size(path)
    return DQNAgent.load(path)


def load_learner(learner: str, path: Path) -> tuple[Policy, dict[str, Any] | None]:
    """The trained policy of ``learner`` (``TrainConfig.algo``) at ``path`` and the scenario it was trained on: the
    DQN's networks are bounded in memory first (``load``); a rival's parameters are a few arrays its class reads."""
    return load(path) if learner == "dqn" else policies.learner_class(learner).load(path)


def shape_problem(agent: Any, obs_dim: int, n_items: int, source: str, slate_size: int | None = None) -> str | None:
    """Why the trained policy (the DQN or a rival, each with ``obs_dim``, ``n_items`` and ``slate_size``) cannot act
    in a scenario of these shapes, or None if it can (``slate_size`` None: not compared)."""
    if (agent.obs_dim, agent.n_items) != (obs_dim, n_items):
        return (f"{source} was trained with obs_dim={agent.obs_dim}, n_items={agent.n_items}; this scenario has "
                f"obs_dim={obs_dim}, n_items={n_items}")
    theirs = getattr(agent, "slate_size", None)
    if slate_size is not None and theirs is not None and theirs != slate_size:
        return f"{source} recommends slates of {theirs} items; this scenario's dynamics.slate_size is {slate_size}"
    return None


def world_warning(trained_on: dict[str, Any] | None, scenario: ScenarioConfig, source: str) -> str | None:
    """A warning when the model was trained in another world of the same shapes (another ``world_seed``)."""
    seed = trained_on.get("world_seed") if isinstance(trained_on, dict) else None
    if seed is None or seed == scenario.world_seed:
        return None
    return (f"{source} was trained on world_seed {str(seed)[:20]}, this scenario has world_seed {scenario.world_seed}: "
            "the same shapes but another catalogue and audience, so its return here says little about what it learned")
