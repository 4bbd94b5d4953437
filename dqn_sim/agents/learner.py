"""What the trainer trains: one interface for the DQN and its rivals, so all of them meet the same batched loop,
users, budget and seeds.

A learner acts with its own exploration on the batch of users (``act_explore``), takes each batch step's
transitions (``store``), learns when the trainer says so (``learn``), and hands over ``policy``: what evaluations
act with, greedily. Weights copy in memory (the kept checkpoint) and travel as checkpoint bytes (``to_bytes``,
read back by ``from_bytes`` with ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from dqn_sim.agents.policy import Policy
from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig
from dqn_sim.memory import Estimate
from dqn_sim.sim.env import StepResult, VecRecEnv


class Learner(ABC):
    """A policy being trained in the batched loop (see the module's docstring)."""

    name: str = "learner"
    SHAPE_MIN: ClassVar[dict[str, int]]  # the sizes its checkpoints store (``checked_shapes``), each's least value

    @classmethod
    @abstractmethod
    def build(cls, env: VecRecEnv, scenario: ScenarioConfig, agent: AgentConfig, train: TrainConfig) -> Learner:
        """A fresh learner for ``env``'s users and catalogue, seeded by ``train.seed``."""

    @classmethod
    @abstractmethod
    def from_bytes(cls, content: bytes, source: str = "the checkpoint") -> tuple[Policy, dict[str, Any] | None]:
        """The trained policy in ``to_bytes``'s content and its scenario dict (raises ``CheckpointError``)."""

    @classmethod
    @abstractmethod
    def loading(cls, source: str, dims: dict[str, int], header: dict[str, Any]) -> Estimate:
        """The memory that building the policy of a checkpoint takes, from its header (read with its tensors
        memory-mapped) and its checked sizes ``dims``: a forged file can name any size, and is refused before
        it is built (``dqn_sim.model_files``)."""

    @classmethod
    @abstractmethod
    def training_bytes(cls, scenario: ScenarioConfig, agent: AgentConfig, train: TrainConfig) -> dict[str, float]:
        """The memory this learner's own model takes while a run of this config trains it, by part, each naming
        the field that sizes it (``memory.training`` adds the world and users): checked before anything is built."""

    @classmethod
    def load(cls, path: str | Path) -> tuple[Policy, dict[str, Any] | None]:
        """The policy stored at ``path`` and its scenario dict."""
        from dqn_sim.agents.dqn import CheckpointError

        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"no checkpoint file at {path}")
        return cls.from_bytes(path.read_bytes(), source=str(path))

    @property
    @abstractmethod
    def policy(self) -> Policy:
        """What evaluations act with (greedy: no exploration, no learning)."""

    def epsilon(self, step: int, total_steps: int) -> float:
        """The ε-greedy rate at ``step`` (NaN: this learner explores otherwise)."""
        return math.nan

    @abstractmethod
    def act_explore(
        self, obs_BO: np.ndarray, mask_BI: np.ndarray, epsilon: float, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exploring slates ``slate_BS`` and the value the learner expects of each state, ``value_B`` (NaN where
        it estimates none): the trainer compares it with the discounted return that followed."""

    @abstractmethod
    def store(self, obs_UO: np.ndarray, slate_US: np.ndarray, result: StepResult) -> None:
        """Take one batch step's transitions: ``slate_US`` shown in ``obs_UO``, and what followed."""

    @abstractmethod
    def can_learn(self) -> bool:
        """Whether it has what ``learn`` needs."""

    @abstractmethod
    def learn(self, progress: float) -> float | None:
        """One update; its loss, or None when there was nothing new to learn from. ``progress``: share of
        training done."""

    @abstractmethod
    def copy_weights(self) -> dict[str, torch.Tensor]:
        """A detached copy of what ``policy`` acts on (the kept checkpoint, held in memory)."""

    @abstractmethod
    def load_weights(self, weights: dict[str, torch.Tensor]) -> None:
        """Act on ``weights`` (from ``copy_weights`` of a learner of this shape)."""

    @abstractmethod
    def to_bytes(self, scenario: ScenarioConfig | None = None) -> bytes:
        """A checkpoint file's content: enough to rebuild ``policy`` for acting."""

    def warm_start(self, path: str | Path) -> None:
        """Continue from a checkpoint of this learner (resume a stored run)."""
        other, _ = self.load(path)
        self.load_weights(other.copy_weights())  # type: ignore[attr-defined]

    def save(self, path: str | Path, scenario: ScenarioConfig | None = None) -> None:
        """``to_bytes`` in one file, written atomically."""
        write_atomic(Path(path), self.to_bytes(scenario))


def write_atomic(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)
