"""The DQN as a :class:`Learner`: the agent with its replay buffer and n-step accumulator, which the trainer used to
hold itself. Kept apart from ``dqn.DQNAgent`` so the agent stays a policy with a learning step, usable alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from dqn_sim import memory
from dqn_sim.agents.dqn import DQNAgent
from dqn_sim.agents.learner import Learner
from dqn_sim.agents.policy import Policy
from dqn_sim.config import AgentConfig, ScenarioConfig, TrainConfig
from dqn_sim.sim.env import StepResult, VecRecEnv


class DQNLearner(Learner):
    """Collects n-step transitions into replay and learns from sampled batches (``AgentConfig`` says how)."""

    name = "dqn"
    SHAPE_MIN = DQNAgent.SHAPE_MIN

    def __init__(self, agent: DQNAgent, n_envs: int) -> None:
        self.agent = agent
        self.buffer = agent.make_buffer()
        self.nstep = agent.make_nstep(n_envs)

    @classmethod
    def build(cls, env: VecRecEnv, scenario: ScenarioConfig, agent: AgentConfig, train: TrainConfig) -> Learner:
        return cls(DQNAgent(obs_dim=env.obs_dim, n_items=env.n_items, item_features_IF=env.item_features_IF,
                            slate_size=env.slate_size, config=agent, seed=train.seed,
                            n_candidates=scenario.dynamics.n_candidates), env.n_envs)

    @classmethod
    def from_bytes(cls, content: bytes, source: str = "the checkpoint") -> tuple[Policy, dict[str, Any] | None]:
        return DQNAgent.from_bytes(content, source)

    @classmethod
    def loading(cls, source: str, dims: dict[str, int], header: dict[str, Any]) -> memory.Estimate:
        return memory.loaded_network(source, dims["obs_dim"], dims["n_items"], dims["n_features"],
                                     AgentConfig.from_json(header["agent_config"]), dims["n_candidates"])

    @classmethod
    def training_bytes(cls, scenario: ScenarioConfig, agent: AgentConfig, train: TrainConfig) -> dict[str, float]:
        return memory.dqn_parts(scenario, agent)

    @property
    def policy(self) -> Policy:
        return self.agent

    def epsilon(self, step: int, total_steps: int) -> float:
        return self.agent.epsilon(step, total_steps)

    def act_explore(self, obs_BO: np.ndarray, mask_BI: np.ndarray, epsilon: float,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return self.agent.act_explore(obs_BO, mask_BI, epsilon, rng)

    def store(self, obs_UO: np.ndarray, slate_US: np.ndarray, result: StepResult) -> None:
        done_U, slate_size = result.done_U, slate_US.shape[1]
        next_obs = np.where(done_U[:, None], result.final_obs_UO, result.obs_UO)
        next_mask = np.where(done_U[:, None], result.final_mask_UI, result.mask_UI)
        clicked_pos_U = np.where(
            result.clicked_item_U[:, None] == slate_US, np.arange(slate_size)[None, :], slate_size
        ).min(axis=1)
        clicked_pos_U = np.where(clicked_pos_U < slate_size, clicked_pos_U, -1)
        ready = self.nstep.push(obs_UO, slate_US, result.reward_U, clicked_pos_U, next_obs, next_mask,
                                result.terminated_U, result.truncated_U)
        if len(ready.obs_BO):
            self.buffer.add(*ready)

    def can_learn(self) -> bool:
        return len(self.buffer) >= self.agent.config.batch_size

    def learn(self, progress: float) -> float | None:
        return self.agent.learn(self.agent.sample_batch(progress), progress)["loss"]

    def copy_weights(self) -> dict[str, torch.Tensor]:
        return self.agent.copy_weights()

    def load_weights(self, weights: dict[str, torch.Tensor]) -> None:
        self.agent.load_weights(weights)

    def to_bytes(self, scenario: ScenarioConfig | None = None) -> bytes:
        return self.agent.to_bytes(scenario)

    def warm_start(self, path: str | Path) -> None:
        self.agent.warm_start(path)  # checks that the stored network has this one's shape
