"""Memory a piece of work will hold, estimated from its configuration before anything is allocated, and the limit it
must stay under: a share of this machine's memory, or ``DQN_SIM_MEMORY_LIMIT_MB``.

Why before: numpy and torch allocate a configuration's arrays in one go, so a run that does not fit is killed by the
kernel (or drags the machine into swap) long after the user could have been told. ``evaluate --episodes 10000000``
grew to 7.8 GB and died; a checkpoint naming 40 layers of 4096 took 5.5 GB before it was refused. An estimate is
cheap, and one line naming its biggest part says what to shrink.

The coefficients were measured with ``tracemalloc`` (numpy's allocations) on the video, news and live presets: a
simulated user costs 48 to 137 bytes per catalogue item in a training or evaluation step (availability and candidate
masks, click scores, choice probabilities, Q-values) and about 2 KB besides. The estimate errs high.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig

LIMIT_ENV = "DQN_SIM_MEMORY_LIMIT_MB"
MACHINE_SHARE = 0.5  # of the machine's memory (or the container's), when LIMIT_ENV is not set
MB = 2**20
CGROUP_MAX = Path("/sys/fs/cgroup/memory.max")  # a container's own limit (cgroup v2), when it has one
BYTES_PER_USER_ITEM = 128  # a simulated user's arrays over the catalogue during a step (measured 48-137)
BYTES_PER_USER = 2048  # a simulated user's own state, returns and session tallies
BYTES_PER_OBSERVED = 32  # per observation feature of a user: the state rows and their copies
TRACKED_STEPS_BYTES = 2 * 4 * 512  # per training user: Q estimates and rewards kept to compare with returns
NETWORK_COPIES = 6  # online, target, gradient, two Adam moments, and the kept best checkpoint
LOADED_COPIES = 3  # a checkpoint being loaded: its stored weights, the online and the target network
BANDIT_LOADED_COPIES = 6  # (d x d) matrices per item of a linear bandit being loaded (``bandit_statistics``)


class MemoryLimitError(ValueError):
    """Work refused because its estimate is above the limit; the message names its biggest part and the limit."""


def machine_bytes() -> int:
    """Physical memory, or the container's limit when that is lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        return min(total, int(CGROUP_MAX.read_text()))
    except (OSError, ValueError):  # no cgroup v2, or "max"
        return total


def limit_bytes() -> int:
    """The most a piece of work may ask for: ``DQN_SIM_MEMORY_LIMIT_MB`` if set, else a share of the machine's."""
    raw = os.environ.get(LIMIT_ENV)
    if not raw:
        return int(machine_bytes() * MACHINE_SHARE)
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise MemoryLimitError(f"{LIMIT_ENV} must be a positive number of megabytes, got {raw[:40]!r}")
    return int(value * MB)


def megabytes(n: float) -> str:
    """``512 MB``, ``7.3 GB``: as the limit's variable counts, and short."""
    return f"{n / MB:,.0f} MB" if n < 2**30 else f"{n / 2**30:,.1f} GB"


@dataclass(frozen=True)
class Estimate:
    """Bytes a piece of work will hold at its peak, by part (each part named as the user would change it)."""

    what: str
    parts: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.parts.values())

    def check(self) -> None:
        """Raise ``MemoryLimitError`` if the work would need more than the limit."""
        limit = limit_bytes()
        if self.total > limit:
            part, size = max(self.parts.items(), key=lambda kv: kv[1])
            raise MemoryLimitError(
                f"{self.what} would need about {megabytes(self.total)} of memory, above the limit of "
                f"{megabytes(limit)} ({LIMIT_ENV}); the biggest part is {part}: {megabytes(size)}"
            )


def shapes(scenario: ScenarioConfig) -> tuple[int, int, int]:
    """Upper bounds of (observation features, items, item features), read from the config without building the
    world (``VecRecEnv._obs_names`` and ``Catalogue.features_IF`` have the exact lists)."""
    k = scenario.catalogue.n_topics
    return 3 * k + scenario.audience.n_segments + 7, scenario.catalogue.n_items, k + 4


def world_bytes(scenario: ScenarioConfig) -> float:
    """The catalogue's and the audience's arrays (``World.nbytes`` counts them once built)."""
    k = scenario.catalogue.n_topics
    return scenario.audience.n_users * (4 * k + 16) + scenario.catalogue.n_items * (4 * k + 96)


def batch_bytes(scenario: ScenarioConfig, users: int) -> float:
    """A batch of ``users`` simulated at once (a training env, or an evaluation's sessions)."""
    obs_dim, n_items, _ = shapes(scenario)
    return users * (n_items * BYTES_PER_USER_ITEM + BYTES_PER_USER + obs_dim * BYTES_PER_OBSERVED)


def mlp_parameters(widths: list[int]) -> int:
    """Weights and biases of linear layers of these widths (``dqn_sim.agents.qnet.mlp``)."""
    return sum((n_in + 1) * n_out for n_in, n_out in zip(widths, widths[1:], strict=False))


def network_parameters(obs_dim: int, n_items: int, n_features: int, agent: AgentConfig, n_candidates: int) -> int:
    """Parameters of the Q-network ``agent`` describes (``dqn_sim.agents.qnet``; a test checks the count)."""
    from dqn_sim.agents.dqn import resolve_network

    widths = [obs_dim, *agent.hidden_sizes]
    trunk = mlp_parameters(widths)
    h, e = widths[-1], agent.embedding_dim
    if resolve_network(agent.network, n_items, n_candidates) == "item":  # state embedding, item tower, pair MLP
        head = (h + 1) * e + (n_features + 1) * h + (h + 1) * e + 3 * e * e + e + e + 1
    else:
        head = (h + 1) * n_items
    return trunk + head + (h + 1 if agent.dueling else 0)


@dataclass(frozen=True)
class Sizing:
    """How a learner's model parts are counted and named: a checkpoint being loaded holds a network's weights and
    names the sizes it stores (``shapes.n_items``); a training run also holds gradients, Adam's moments and the kept
    best copy, learns from batches, and names the config's fields, which are what the user would shrink."""

    owner: str  # "its" (the checkpoint's) or "the LinUCB" (the run's learner)
    fields: dict[str, str]  # each size a part's name mentions -> the field that sets it
    network_copies: int
    learns: bool

    def part(self, template: str) -> str:
        """``template`` ("per-item statistics ({n_items} x ...)") named for this owner and these fields."""
        return f"{self.owner} {template.format(**self.fields)}"


LOADING = Sizing("its", {"n_items": "shapes.n_items", "obs_dim": "shapes.obs_dim", "n_envs": "shapes.n_envs"},
                 LOADED_COPIES, learns=False)


def training_sizing(label: str) -> Sizing:
    """A training run of the learner ``label`` names ("LinUCB")."""
    return Sizing(f"the {label}", {"n_items": "catalogue.n_items", "obs_dim": "catalogue.n_topics",
                                   "n_envs": "train.n_envs"}, NETWORK_COPIES, learns=True)


def config_dims(scenario: ScenarioConfig, train: TrainConfig) -> dict[str, int]:
    """The sizes a learner's checkpoint would store (``checked_shapes``), as bounded by the config before any world
    is built: what ``model_bytes`` sizes a training run's model by."""
    obs_dim, n_items, n_features = shapes(scenario)
    return {"obs_dim": obs_dim, "n_items": n_items, "n_features": n_features, "n_envs": train.n_envs,
            "slate_size": scenario.dynamics.slate_size, "max_steps": scenario.dynamics.max_steps}


def simulation_parts(scenario: ScenarioConfig, train: TrainConfig) -> dict[str, float]:
    """What every training run holds whatever it trains: the world and its simulated users."""
    return {
        "the world (catalogue.n_items, audience.n_users)": world_bytes(scenario),
        "the training batch (train.n_envs users x catalogue.n_items)":
            batch_bytes(scenario, train.n_envs) + train.n_envs * TRACKED_STEPS_BYTES,
        "the evaluation batch (train.eval_episodes x catalogue.n_items)": batch_bytes(scenario, train.eval_episodes),
    }


def dqn_parts(scenario: ScenarioConfig, agent: AgentConfig) -> dict[str, float]:
    """The DQN's own: its replay buffer and its Q-networks as they learn (``DQNLearner.training_bytes``)."""
    obs_dim, n_items, n_features = shapes(scenario)
    params = network_parameters(obs_dim, n_items, n_features, agent, scenario.dynamics.n_candidates)
    learning = agent.batch_size * (sum(agent.hidden_sizes) + n_items) * 4 * 4  # activations and their gradients
    slate = scenario.dynamics.slate_size
    transition = 2 * 4 * obs_dim + 12 * slate + (n_items + 7) // 8 + 5 + (32 if agent.prioritized else 0)
    return {
        "the replay buffer (agent.buffer_size transitions)": agent.buffer_size * transition,
        "the Q-networks (agent.hidden_sizes)": params * 4 * NETWORK_COPIES + learning,
    }


def training(scenario: ScenarioConfig, agent: AgentConfig, train: TrainConfig, runs: int = 1) -> Estimate:
    """A training run's peak (each run is a process of its own: ``runs`` of them at once hold ``runs`` times it):
    the world and users every run simulates, and the model of the learner it trains (``train.algo``)."""
    from dqn_sim.policies import learner_class

    model = learner_class(train.algo).training_bytes(scenario, agent, train)
    parts = {**simulation_parts(scenario, train), **model}
    return Estimate(runs_label(runs), {name: size * runs for name, size in parts.items()})


def lineup(scenario: ScenarioConfig, agent: AgentConfig, train: TrainConfig, learners: Sequence[str],
           runs: int = 1) -> Estimate:
    """``learners`` trained side by side, ``runs`` processes each (seeds): their estimates added part by part, as
    each learner holds its own model (a LinUCB beside a DQN holds its statistics, not a second replay buffer)."""
    parts: dict[str, float] = {}
    for learner in learners:
        for name, size in training(scenario, agent, train.with_overrides({"algo": learner}), runs).parts.items():
            parts[name] = parts.get(name, 0.0) + size
    return Estimate(runs_label(len(learners) * runs), parts)


def runs_label(runs: int) -> str:
    """What an estimate of ``runs`` training processes is said to be for."""
    return "this training run" if runs == 1 else f"{runs} training runs at once"


def evaluation(scenario: ScenarioConfig, episodes: int) -> Estimate:
    """An evaluation of ``episodes`` sessions, run as one batch."""
    return Estimate(f"evaluating {episodes:,} episodes", {
        "the world (catalogue.n_items, audience.n_users)": world_bytes(scenario),
        "the evaluation batch (--episodes x catalogue.n_items)": batch_bytes(scenario, episodes),
    })


def loaded(source: str, model: dict[str, float], n_items: int, n_features: int) -> Estimate:
    """A checkpoint's model as loading builds it: its ``model`` parts (each naming the field that sizes it), and
    the item features every learner keeps."""
    return Estimate(f"loading {source}", {**model, "its item features": n_items * n_features * 4})


def loaded_network(source: str, obs_dim: int, n_items: int, n_features: int, agent: AgentConfig,
                   n_candidates: int) -> Estimate:
    """A DQN checkpoint's networks as loading builds them."""
    params = network_parameters(obs_dim, n_items, n_features, agent, n_candidates)
    return loaded(source, {"its Q-networks (agent.hidden_sizes)": params * 4 * LOADED_COPIES}, n_items, n_features)


def bandit_statistics(obs_dim: int, n_items: int, n_features: int) -> float:
    """A linear bandit's per-item float64 matrices as loading holds them (``linear.DisjointRidge``): at the peak
    six (d x d) per item (d = observation + item features + 1; A and A^-1, the stored A, the inverse being formed,
    its refreshed copy and numpy's work; measured with ``tracemalloc``), and the (obs x obs) block it scores by."""
    d = obs_dim + n_features + 1
    return 8 * n_items * (BANDIT_LOADED_COPIES * d * d + obs_dim * obs_dim)
