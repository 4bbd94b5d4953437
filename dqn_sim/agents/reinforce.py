"""REINFORCE with the top-K off-policy correction (Chen et al. 2019, "Top-K off-policy correction for a REINFORCE
recommender system", the YouTube recommender): the policy-gradient answer to the long-term problem the DQN solves.

A softmax policy over item scores is trained on the discounted return that followed each recommendation. Returns
are known only once later rewards have come, so what the policy learns from was recommended by an older version of
it: each step is weighted by the capped importance weight ``min(pi / beta, cap)`` (``beta``: the probability the
acting policy gave the item) and by the top-K multiplier ``K (1 - pi)^(K-1)``, which accounts for the policy
recommending K items at once.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dqn_sim import memory
from dqn_sim.agents import checkpoint
from dqn_sim.agents.learner import Learner
from dqn_sim.agents.policy import Policy, top_k_masked
from dqn_sim.agents.qnet import mlp
from dqn_sim.config import AgentConfig, ReinforceConfig, ScenarioConfig, TrainConfig
from dqn_sim.sim.env import StepResult, VecRecEnv

HORIZON_CAP = 512  # most rewards summed into one return (memory: horizon x users x observation)
TRUNCATION = 0.01  # a return stops once gamma^steps falls below this
LOGIT_COPIES = 8  # (batch x items) floats one update holds: logits, masked, log-softmax, exp, entropy, gradients


def horizon(gamma: float, max_steps: int) -> int:
    """Rewards summed into a return: until ``gamma^h < TRUNCATION``, within a session and ``HORIZON_CAP``."""
    needed = 1 if gamma == 0 else math.ceil(math.log(TRUNCATION) / math.log(gamma))
    return max(1, min(needed, max_steps, HORIZON_CAP))


def correction(logp_B: torch.Tensor, logp_beta_B: torch.Tensor, k: int, cap: float) -> torch.Tensor:
    """Chen et al.'s weight of each step's gradient: ``min(pi / beta, cap) * K (1 - pi)^(K-1)`` (no gradient)."""
    logp_B = logp_B.detach()
    p_B = logp_B.exp()
    return (logp_B - logp_beta_B).exp().clamp(max=cap) * k * (1.0 - p_B) ** (k - 1)


class PolicyNet(nn.Module):
    """Item scores ``state(obs) . item(features) + bias``: two towers and a per-item bias, softmaxed by the agent."""

    def __init__(self, obs_dim: int, item_features_IF: np.ndarray, hidden: int, embedding_dim: int) -> None:
        super().__init__()
        self.state = mlp([obs_dim, hidden, embedding_dim])
        self.item = mlp([item_features_IF.shape[1], hidden, embedding_dim])
        self.bias = nn.Parameter(torch.zeros(item_features_IF.shape[0]))
        self.register_buffer("item_features_IF", torch.from_numpy(item_features_IF), persistent=False)

    def forward(self, obs_BO: torch.Tensor) -> torch.Tensor:
        return self.state(obs_BO) @ self.item(self.item_features_IF).T + self.bias


class ReturnWindow:
    """The last ``horizon`` steps of every user, each summing the discounted rewards that follow it as they come.
    A step's return is final when its session ends or ``horizon`` rewards have followed; ``push`` hands those out.
    Users step together, so one time ring serves all of them (as ``replay.NStepAccumulator``)."""

    def __init__(self, n_envs: int, horizon: int, gamma: float) -> None:
        self.n_envs, self.horizon, self.gamma = n_envs, horizon, gamma
        self.t = 0
        self.step_H = np.full(horizon, -1)  # the batch step each slot holds
        self.pending_HU = np.zeros((horizon, n_envs), dtype=bool)
        self.return_HU = np.zeros((horizon, n_envs))
        self.rows: list[np.ndarray] | None = None  # each of shape (horizon, n_envs, ...)

    def push(self, rows_U: list[np.ndarray], reward_U: np.ndarray, done_U: np.ndarray) -> list[np.ndarray]:
        """Record one step (``rows_U``: what to hand out with the return, one entry per user) and its reward;
        return the final ones as ``[*rows_N, return_N]``."""
        if self.rows is None:
            self.rows = [np.zeros((self.horizon, *r.shape), dtype=r.dtype) for r in rows_U]
        s = self.t % self.horizon
        for ring, row in zip(self.rows, rows_U, strict=True):
            ring[s] = row
        self.step_H[s], self.pending_HU[s], self.return_HU[s] = self.t, True, 0.0
        age_H = self.t - self.step_H
        self.return_HU += np.where(self.pending_HU, (self.gamma ** age_H)[:, None] * reward_U[None, :], 0.0)
        final_HU = self.pending_HU & (done_U[None, :] | (age_H == self.horizon - 1)[:, None])
        h, u = np.nonzero(final_HU)
        self.pending_HU[h, u] = False
        self.t += 1
        return [ring[h, u] for ring in self.rows] + [self.return_HU[h, u]]


class ReinforceAgent(checkpoint.Packed, Learner, Policy):
    """Samples slates from the softmax policy while training (K items without replacement, by Gumbel top-k), and
    recommends its K most probable items when evaluated. Learns from a ring of the latest steps whose return is
    known, in batches, with standardised returns as advantages and an entropy bonus."""

    name = "reinforce"
    config_type = ReinforceConfig
    SHAPE_MIN: ClassVar[dict[str, int]] = {"obs_dim": 1, "n_items": 1, "slate_size": 1, "n_envs": 1, "max_steps": 1}

    def __init__(self, *, obs_dim: int, item_features_IF: np.ndarray, slate_size: int, n_envs: int, max_steps: int,
                 config: ReinforceConfig, seed: int) -> None:
        self.config, self.seed, self.slate_size = config, seed, slate_size
        self.obs_dim, self.n_envs, self.max_steps = obs_dim, n_envs, max_steps
        self.item_features_IF = np.asarray(item_features_IF, dtype=np.float32)
        self.n_items = len(self.item_features_IF)
        self.k = config.top_k or slate_size
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the global torch RNG
            torch.manual_seed(seed)
            self.net = PolicyNet(obs_dim, self.item_features_IF, config.hidden, config.embedding_dim)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.lr, fused=True)
        self.window = ReturnWindow(n_envs, horizon(config.gamma, max_steps), config.gamma)
        self.rng = np.random.default_rng(seed + 1)
        c, m = config.buffer_size, (self.n_items + 7) // 8
        self.obs_CO = np.zeros((c, obs_dim), dtype=np.float32)
        self.item_C = np.zeros(c, dtype=np.int64)
        self.logp_beta_C = np.zeros(c, dtype=np.float32)
        self.mask_bits_CM = np.zeros((c, m), dtype=np.uint8)  # the allowed items when it was recommended
        self.return_C = np.zeros(c, dtype=np.float32)
        self.pos = self.size = 0
        self._acted: tuple[np.ndarray, np.ndarray] | None = None  # log pi of the slate, mask bits: for store()

    @classmethod
    def build(cls, env: VecRecEnv, scenario: ScenarioConfig, agent: AgentConfig, train: TrainConfig) -> Learner:
        return cls(obs_dim=env.obs_dim, item_features_IF=env.item_features_IF, slate_size=env.slate_size,
                   n_envs=env.n_envs, max_steps=scenario.dynamics.max_steps, config=train.reinforce, seed=train.seed)

    @classmethod
    def model_bytes(cls, dims: dict[str, int], config: ReinforceConfig,
                    sizing: memory.Sizing = memory.LOADING) -> dict[str, float]:
        """The policy network (its parameters; training adds gradients, Adam's moments, the kept best copy and a
        batch's logits over the items), the ring of recommendations to learn from, and the return window
        (``__init__`` allocates them)."""
        o, n, f = dims["obs_dim"], dims["n_items"], dims["n_features"]
        params = (memory.mlp_parameters([o, config.hidden, config.embedding_dim])
                  + memory.mlp_parameters([f, config.hidden, config.embedding_dim]) + n)
        learning = config.batch_size * n * 4 * LOGIT_COPIES if sizing.learns else 0
        window = horizon(config.gamma, dims["max_steps"]) * (dims["n_envs"] * 9 + 8)  # pending flags, returns
        return {
            sizing.part("policy network (reinforce.hidden, reinforce.embedding_dim)"):
                params * 4 * sizing.network_copies + learning,
            sizing.part("recommendations kept (reinforce.buffer_size)"):
                config.buffer_size * (4 * o + (n + 7) // 8 + 16),
            sizing.part("return window ({n_envs})"): window,
        }

    @property
    def policy(self) -> Policy:
        return self

    def log_probs(self, obs_BO: np.ndarray, mask_BI: np.ndarray) -> np.ndarray:
        """``log pi(item | obs)`` over the allowed items (``-inf`` elsewhere), ``(B, I)``."""
        with torch.inference_mode():
            logits_BI = self.net(torch.from_numpy(np.asarray(obs_BO, dtype=np.float32)))
            logits_BI = logits_BI.masked_fill(~torch.from_numpy(np.array(mask_BI, dtype=bool)), -torch.inf)
            return F.log_softmax(logits_BI, dim=1).numpy()

    def act(self, env: VecRecEnv) -> np.ndarray:
        return top_k_masked(self.log_probs(env.obs_UO, env.mask_UI), env.mask_UI, self.slate_size)

    def act_explore(self, obs_BO: np.ndarray, mask_BI: np.ndarray, epsilon: float,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        mask_BI = np.asarray(mask_BI, dtype=bool)
        logp_BI = self.log_probs(obs_BO, mask_BI)
        slate_BS = top_k_masked(logp_BI + rng.gumbel(size=logp_BI.shape), mask_BI, self.slate_size)
        self._acted = (np.take_along_axis(logp_BI, slate_BS, axis=1), np.packbits(mask_BI, axis=1))
        return slate_BS, np.full(len(obs_BO), np.nan)

    def store(self, obs_UO: np.ndarray, slate_US: np.ndarray, result: StepResult) -> None:
        """The step credits the clicked item, or the first one shown when nothing was clicked."""
        if self._acted is None:
            raise RuntimeError("store() follows act_explore()")
        logp_US, bits_UM = self._acted
        hit_US = slate_US == result.clicked_item_U[:, None]
        pos_U = np.where(hit_US.any(axis=1), hit_US.argmax(axis=1), 0)[:, None]
        rows = [np.asarray(obs_UO, dtype=np.float32), np.take_along_axis(slate_US, pos_U, axis=1)[:, 0],
                np.take_along_axis(logp_US, pos_U, axis=1)[:, 0], bits_UM]
        self._add(*self.window.push(rows, np.asarray(result.reward_U, dtype=np.float64), result.done_U))

    def _add(self, obs_NO: np.ndarray, item_N: np.ndarray, logp_N: np.ndarray, bits_NM: np.ndarray,
             return_N: np.ndarray) -> None:
        cap = len(self.item_C)
        slots = (self.pos + np.arange(len(item_N))) % cap
        keep = slice(max(0, len(item_N) - cap), None)  # more rows than the ring holds: the newest
        slots = slots[keep]
        self.obs_CO[slots], self.item_C[slots], self.logp_beta_C[slots] = obs_NO[keep], item_N[keep], logp_N[keep]
        self.mask_bits_CM[slots], self.return_C[slots] = bits_NM[keep], return_N[keep]
        self.pos = (self.pos + len(item_N)) % cap
        self.size = min(cap, self.size + len(item_N))

    def can_learn(self) -> bool:
        return self.size >= min(self.config.batch_size, len(self.item_C))

    def learn(self, progress: float) -> float | None:
        c = self.config
        i = self.rng.integers(0, self.size, min(c.batch_size, self.size))
        mask_BI = torch.from_numpy(np.unpackbits(self.mask_bits_CM[i], axis=1, count=self.n_items).astype(bool))
        logp_BI = F.log_softmax(self.net(torch.from_numpy(self.obs_CO[i])).masked_fill(~mask_BI, -torch.inf), dim=1)
        logp_B = logp_BI.gather(1, torch.from_numpy(self.item_C[i])[:, None])[:, 0]
        g_B = torch.from_numpy(self.return_C[i])
        advantage_B = (g_B - g_B.mean()) / (g_B.std(correction=0) + 1e-8)
        weight_B = correction(logp_B, torch.from_numpy(self.logp_beta_C[i]), self.k, c.weight_cap)
        # masked items have log p = -inf: exp(-inf) * -inf would be a NaN, and its gradient one even behind a where
        entropy_B = -(logp_BI.exp() * logp_BI.masked_fill(~mask_BI, 0.0)).sum(dim=1)
        loss = -(weight_B * advantage_B * logp_B).mean() - c.entropy * entropy_B.mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def copy_weights(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.net.state_dict().items()}

    def load_weights(self, weights: dict[str, torch.Tensor]) -> None:
        self.net.load_state_dict(weights)
