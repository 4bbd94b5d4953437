"""A trained model's file taken up for use (``evaluate --policy LEARNER:DIR``, Inspect, resuming a run), of any
learner: its sizes are checked against the scenario it will act in and its model bounded in memory, before it is
built; and a model from another world is said to be one.

Why before: a checkpoint's model is built from the sizes and configuration it carries, before its weights can be
found not to fit; a small DQN file naming 40 layers of 4096 took 5.5 GB that way, a 2.9 MB LinUCB file naming
obs_dim=1000 1.9 GB. Its header (configuration, sizes) is read with the tensors memory-mapped, so the checks cost
no allocation. And a model of the right shapes can still come from another world (another ``world_seed``): it
runs, and its return says little, so the user is warned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import torch

from dqn_sim import policies
from dqn_sim.agents.dqn import CheckpointError, checked_shapes, format_of
from dqn_sim.agents.policy import Policy
from dqn_sim.config import ScenarioConfig


class Scene(NamedTuple):
    """The sizes a trained policy must have to act in a scenario (``scene``)."""

    obs_dim: int
    n_items: int
    slate_size: int


def scene(scenario: ScenarioConfig) -> Scene:
    from dqn_sim.sim.env import VecRecEnv

    env = VecRecEnv(scenario, 1, 0)
    return Scene(env.obs_dim, env.n_items, env.slate_size)


def header(path: Path) -> Any:
    """What ``torch.load`` reads of a checkpoint, its tensors memory-mapped: sizes and configuration cost nothing."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as e:  # torch raises many types for bad files; all mean "not readable"
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(e).__name__})") from None


def check_size(path: Path, learner: str = "dqn", acts_in: Scene | None = None) -> None:
    """Raise ``CheckpointError`` if ``learner``'s checkpoint at ``path`` is unreadable, names sizes out of range
    or, given ``acts_in``, other than the scenario's; ``MemoryLimitError`` if building its model would pass the
    memory limit. Nothing the size of its model is allocated. A file of another learner passes: loading says so."""
    data = header(path)
    if not isinstance(data, dict) or data.get("format") != format_of(learner):
        return
    cls = policies.learner_class(learner)
    try:
        dims = checked_shapes(data, cls.SHAPE_MIN)
        estimate = cls.loading(str(path), dims, data)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as e:
        reason = e if isinstance(e, ValueError) else f"{type(e).__name__} {e}"
        raise CheckpointError(f"{path} is a damaged checkpoint: {reason}") from None
    trained = Scene(dims["obs_dim"], dims["n_items"], dims["slate_size"])
    if acts_in is not None and (problem := shape_problem(trained, acts_in, f"checkpoint {path}")):
        raise CheckpointError(problem)
    estimate.check()


def load_learner(learner: str, path: Path, acts_in: Scene | None = None) -> tuple[Policy, dict[str, Any] | None]:
    """The trained policy of ``learner`` (``TrainConfig.algo``) at ``path`` and the scenario it was trained on,
    refused before it is built if it would not fit in memory or, given ``acts_in``, not act in that scenario."""
    check_size(path, learner, acts_in)
    return policies.learner_class(learner).load(path)


def shape_problem(trained: Scene, acts_in: Scene, source: str) -> str | None:
    """Why a policy of ``trained`` sizes cannot act in a scenario of ``acts_in`` sizes, or None if it can."""
    if trained[:2] != acts_in[:2]:
        return (f"{source} was trained with obs_dim={trained.obs_dim}, n_items={trained.n_items}; this scenario "
                f"has obs_dim={acts_in.obs_dim}, n_items={acts_in.n_items}")
    if trained.slate_size != acts_in.slate_size:
        return (f"{source} recommends slates of {trained.slate_size} items; this scenario's dynamics.slate_size is "
                f"{acts_in.slate_size}")
    return None


def world_warning(trained_on: dict[str, Any] | None, scenario: ScenarioConfig, source: str) -> str | None:
    """A warning when the model was trained in another world of the same shapes (another ``world_seed``)."""
    seed = trained_on.get("world_seed") if isinstance(trained_on, dict) else None
    if seed is None or seed == scenario.world_seed:
        return None
    return (f"{source} was trained on world_seed {str(seed)[:20]}, this scenario has world_seed {scenario.world_seed}: "
            "the same shapes but another catalogue and audience, so its return here says little about what it learned")
