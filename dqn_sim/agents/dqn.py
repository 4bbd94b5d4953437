"""The DQN agent: acting (greedy / epsilon-greedy top-k slates), learning (one gradient update at a time)
and checkpoints.

Acting and learning are separate calls (Tianshou-style): the trainer collects with :meth:`act_explore`,
feeds :class:`NStepAccumulator` output into the agent's buffer, and calls :meth:`learn` on sampled
batches. Slates are learned item-wise (SlateQ-style decomposition): every slate position has its own
target ``reward_BS[:, i] + discount_B * (1 - terminated_B) * V(next)``. For the bootstrap value ``V`` we
use the best *single* allowed item of the next state (exact for one-item slates; for larger slates it
stands in for the value of the next slate, as in item-wise Q-learning, and avoids a slate-level max).
"""

from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from dqn_sim.agents.policy import Policy, random_slates, top_k_masked
from dqn_sim.agents.qnet import ItemQNet, MLPQNet, QNet
from dqn_sim.agents.replay import NStepAccumulator, PrioritizedReplayBuffer, ReplayBatch, ReplayBuffer
from dqn_sim.config import AgentConfig, ScenarioConfig
from dqn_sim.sim.env import VecRecEnv


def format_of(kind: str) -> str:
    """The ``format`` a ``kind`` learner's checkpoint carries ("dqn_sim.linucb"): written once, checked alike."""
    return f"dqn_sim.{kind}"


CHECKPOINT_FORMAT = format_of("dqn")
CHECKPOINT_VERSION = 1
LARGE_CATALOGUE = 1000  # network="auto" switches to the item-feature network above this many items
POPART_STD_RANGE = (1e-3, 1e6)  # bounds of the target spread PopArt divides by (van Hasselt et al. 2016)


class CheckpointError(ValueError):
    """A file that cannot be loaded as a DQN checkpoint; the message says why, in plain words."""


SHAPE_MAX = 10**9  # far above any size a world of dqn_sim has; a forged one beyond would overflow the estimate


def checked_shapes(header: Any, minimums: dict[str, int]) -> dict[str, int]:
    """A checkpoint's stored shapes (the keys of ``minimums``, each's least value) as integers in range, and
    ``n_features``, the width of its item features, which must have a row per item; ValueError naming the first
    that is not. Every learner's model is built from these sizes: a negative width fails deep in torch, a slate of 0
    items fails while acting, and a forged size would be allocated before its weights are found not to fit."""
    shapes = header["shapes"]
    dims = {key: int(shapes[key]) for key in minimums}
    for key, lo in minimums.items():
        if not lo <= dims[key] <= SHAPE_MAX:
            raise ValueError(f"shapes.{key} must be an integer in [{lo}, {SHAPE_MAX}], got {dims[key]}")
    if dims["slate_size"] > dims["n_items"]:
        raise ValueError(f"shapes.slate_size must be at most n_items ({dims['n_items']}), got {dims['slate_size']}")
    rows, n_features = header["item_features_IF"].shape
    if rows != dims["n_items"]:
        raise ValueError(f"item_features_IF has {rows} rows, not one per item (shapes.n_items={dims['n_items']})")
    return {**dims, "n_features": int(n_features)}


def _tensor(array: np.ndarray, dtype: type) -> torch.Tensor:
    """A CPU tensor sharing memory with ``array`` when possible; read-only arrays (e.g. the env's
    broadcast masks) are copied, since torch tensors cannot be read-only."""
    array = np.asarray(array, dtype=dtype)
    return torch.from_numpy(array if array.flags.writeable else array.copy())


def resolve_network(network: str, n_items: int, n_candidates: int) -> str:
    """``"auto"`` -> ``"item"`` when candidates are sampled or the catalogue is large, else ``"mlp"``."""
    if network != "auto":
        return network
    return "item" if n_candidates > 0 or n_items > LARGE_CATALOGUE else "mlp"


class DQNAgent(Policy):
    """Deep Q-learning over a catalogue with double DQN, dueling, n-step, PER and target networks."""

    name = "dqn"
    SHAPE_MIN: ClassVar[dict[str, int]] = {"obs_dim": 1, "n_items": 1, "slate_size": 1, "n_candidates": 0}

    def __init__(
        self,
        *,
        obs_dim: int,
        n_items: int,
        item_features_IF: np.ndarray,
        slate_size: int,
        config: AgentConfig,
        seed: int,
        n_candidates: int = 0,
    ) -> None:
        item_features_IF = np.asarray(item_features_IF, dtype=np.float32)
        if item_features_IF.ndim != 2 or item_features_IF.shape[0] != n_items:
            raise ValueError(f"item_features_IF must have shape ({n_items}, F), got {item_features_IF.shape}")
        self.obs_dim = obs_dim
        self.n_items = n_items
        self.item_features_IF = item_features_IF
        self.slate_size = slate_size
        self.n_candidates = n_candidates
        self.config = config
        self.seed = seed
        self.network = resolve_network(config.network, n_items, n_candidates)
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the global torch RNG
            torch.manual_seed(seed)
            self.online = self._build_net()
            self.target = self._build_net()
        self.target.load_state_dict(self.online.state_dict())
        self.target.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.online.parameters(), lr=config.lr, fused=True)
        self.updates = 0
        self.buffer: ReplayBuffer | None = None
        self._target_moments = np.zeros(2)  # PopArt: running E[target], E[target^2] before bias correction
        self._stat_updates = 0

    def _build_net(self) -> QNet:
        c = self.config
        if self.network == "item":
            return ItemQNet(self.obs_dim, self.item_features_IF, c.hidden_sizes, c.embedding_dim, c.dueling)
        return MLPQNet(self.obs_dim, self.n_items, c.hidden_sizes, c.dueling)

    # ------------------------------------------------------------------ acting
    def q_values(self, obs_BO: np.ndarray, mask_BI: np.ndarray | None = None) -> np.ndarray:
        """Online-network Q of every item in reward units, ``(B, I)`` float32; masked items are ``-inf``."""
        with torch.inference_mode():
            q_BI = self.online(_tensor(obs_BO, np.float32)) / self.config.reward_scale
            if mask_BI is not None:
                q_BI = q_BI.masked_fill(~_tensor(mask_BI, np.bool_), -torch.inf)
        return q_BI.numpy()

    def act(self, env: VecRecEnv) -> np.ndarray:
        """Greedy top-k slate for the env's users (evaluation)."""
        return self.greedy(env.obs_UO, env.mask_UI)

    def greedy(self, obs_BO: np.ndarray, mask_BI: np.ndarray) -> np.ndarray:
        """The ``slate_size`` allowed items of highest Q per user, best first: ``slate_BS``."""
        return self.greedy_with_value(obs_BO, mask_BI)[0]

    def greedy_with_value(self, obs_BO: np.ndarray, mask_BI: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Greedy ``slate_BS`` and each user's max allowed Q in reward units, ``q_max_B`` (the trainer logs
        it as q_mean beside the realised discounted return)."""
        mask_BI = np.asarray(mask_BI, dtype=bool)
        with torch.inference_mode():
            q_BK, item_BK = self.online.allowed_q(_tensor(obs_BO, np.float32), _tensor(mask_BI, np.bool_))
        q_BK = q_BK.numpy() / self.config.reward_scale
        if item_BK is None:
            slate_BS = top_k_masked(q_BK, mask_BI, self.slate_size)
            return slate_BS, np.take_along_axis(q_BK, slate_BS[:, :1], axis=1)[:, 0]
        item_BK = item_BK.numpy()
        pos_BS = top_k_masked(q_BK, np.take_along_axis(mask_BI, item_BK, axis=1), self.slate_size)
        return np.take_along_axis(item_BK, pos_BS, axis=1), np.take_along_axis(q_BK, pos_BS[:, :1], axis=1)[:, 0]

    def act_explore(
        self, obs_BO: np.ndarray, mask_BI: np.ndarray, epsilon: float, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Epsilon-greedy per user: with probability ``epsilon`` a random slate of distinct allowed items,
        else the greedy slate. Returns ``(slate_BS, q_max_B)``: the max Q of every acted state is kept so
        the trainer can compare Q estimates with the returns that followed."""
        mask_BI = np.asarray(mask_BI, dtype=bool)
        slate_BS, q_max_B = self.greedy_with_value(obs_BO, mask_BI)
        explore_B = rng.random(len(mask_BI)) < epsilon
        if explore_B.any():
            slate_BS[explore_B] = random_slates(mask_BI[explore_B], self.slate_size, rng)
        return slate_BS, q_max_B

    def epsilon(self, step: int, total_steps: int) -> float:
        """Exploration rate at env user-step ``step`` of ``total_steps``."""
        c = self.config
        if c.eps_schedule == "exponential":
            return max(c.eps_end, c.eps_start * c.eps_decay_rate ** (step // c.eps_decay_period))
        decay_steps = c.eps_decay_fraction * total_steps
        frac = min(1.0, step / decay_steps) if decay_steps > 0 else 1.0
        return c.eps_start + frac * (c.eps_end - c.eps_start)

    def learning_rate(self, progress: float) -> float:
        """Adam's step size at ``progress`` (share of training done) under ``lr_schedule``."""
        c = self.config
        p = min(max(progress, 0.0), 1.0)
        if c.lr_schedule == "linear":
            return c.lr * (1.0 - (1.0 - c.lr_end_fraction) * p)
        if c.lr_schedule == "cosine":
            return c.lr * (c.lr_end_fraction + (1.0 - c.lr_end_fraction) * 0.5 * (1.0 + math.cos(math.pi * p)))
        return c.lr

    # ------------------------------------------------------------------ replay
    def make_buffer(self, capacity_override: int | None = None) -> ReplayBuffer:
        """The replay buffer the config asks for; kept as ``self.buffer`` (PER priorities are updated there)."""
        c = self.config
        capacity = capacity_override or c.buffer_size
        args = (capacity, self.obs_dim, self.n_items, self.slate_size, self.seed + 1)
        if c.prioritized:
            self.buffer = PrioritizedReplayBuffer(*args, alpha=c.per_alpha, beta0=c.per_beta0, eps=c.per_eps)
        else:
            self.buffer = ReplayBuffer(*args)
        return self.buffer

    def make_nstep(self, n_envs: int) -> NStepAccumulator:
        """The n-step accumulator matching the config (``n_step``, ``gamma``)."""
        return NStepAccumulator(n_envs, self.config.n_step, self.config.gamma)

    def sample_batch(self, progress: float) -> ReplayBatch:
        """A batch from ``self.buffer``; PER's beta is annealed from ``per_beta0`` to 1 by ``progress``."""
        if self.buffer is None:
            raise RuntimeError("call make_buffer() before sampling")
        if isinstance(self.buffer, PrioritizedReplayBuffer):
            return self.buffer.sample(self.config.batch_size, self.buffer.beta_at(progress))
        return self.buffer.sample(self.config.batch_size)

    # ------------------------------------------------------------------ learning
    def learn(self, batch: ReplayBatch, progress: float) -> dict[str, float]:
        """One gradient update on ``batch``; returns ``{"loss", "q_mean", "td_abs_mean"}`` measured before the
        update: ``q_mean`` (the mean online Q of the replayed slate items) in reward_scale units, the loss and TD
        errors in the units the network learns in (normalised ones under PopArt).

        ``progress`` (share of training done) sets the learning rate of a decayed ``lr_schedule`` (PER's beta is
        applied when sampling, see :meth:`sample_batch`).
        """
        c = self.config
        if c.lr_schedule != "constant":
            for group in self.optimizer.param_groups:
                group["lr"] = self.learning_rate(progress)
        obs_BO = torch.from_numpy(batch.obs_BO)
        slate_BS = torch.from_numpy(batch.slate_BS)
        target_BS = self._target(batch)
        if c.value_norm == "popart":
            self._track_targets(target_BS)
        q_BS = self.online.q_of(obs_BO, slate_BS)
        mean, std = self.online.out_mean, self.online.out_std  # (0, 1) without value normalisation
        loss_fn = F.smooth_l1_loss if c.loss == "huber" else F.mse_loss
        loss_B = loss_fn((q_BS - mean) / std, (target_BS - mean) / std, reduction="none").mean(dim=1)
        loss = (loss_B * torch.from_numpy(batch.weight_B)).mean()

        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if c.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.online.parameters(), c.max_grad_norm)
        self.optimizer.step()
        self.online.invalidate_cache()
        self.updates += 1
        self._update_target()

        td_abs_B = ((target_BS - q_BS.detach()) / std).abs().mean(dim=1)
        if isinstance(self.buffer, PrioritizedReplayBuffer):
            self.buffer.update_priorities(batch.index_B, td_abs_B.numpy())
        return {"loss": loss.item(), "q_mean": q_BS.mean().item(), "td_abs_mean": td_abs_B.mean().item()}

    @torch.no_grad()
    def _target(self, batch: ReplayBatch) -> torch.Tensor:
        """Item-wise TD targets ``target_BS`` (in reward_scale units)."""
        target_BS = torch.from_numpy(batch.reward_BS) * self.config.reward_scale
        bootstrap_B = torch.from_numpy(batch.discount_B) * torch.from_numpy(~batch.terminated_B)
        if not bootstrap_B.any():  # gamma = 0 or all terminal: skip the next-state passes
            return target_BS
        next_obs_BO = torch.from_numpy(batch.next_obs_BO)
        next_mask_BI = torch.from_numpy(batch.next_mask_BI)
        if self.config.double_dqn:  # online net picks, target net evaluates
            _, item_B = self.online.best_allowed(next_obs_BO, next_mask_BI)
            value_B = self.target.q_of(next_obs_BO, item_B[:, None])[:, 0]
        else:
            value_B, _ = self.target.best_allowed(next_obs_BO, next_mask_BI)
        # where() rather than a product: a stored all-false mask gives -inf, and -inf * 0 is nan
        return target_BS + torch.where(bootstrap_B > 0, bootstrap_B * value_B, 0.0)[:, None]

    def _track_targets(self, target_BS: torch.Tensor) -> None:
        """PopArt: move the running mean and spread of the TD targets towards this batch's, and give both networks
        the new statistics (their Q values unchanged). Bias-corrected like Adam's moments, so the first batches set
        the scale instead of the (0, 1) start; kept in float64 so a run is reproducible to the bit."""
        beta = self.config.popart_beta
        batch = np.array([target_BS.mean().item(), target_BS.square().mean().item()])
        self._target_moments += beta * (batch - self._target_moments)
        self._stat_updates += 1
        mean, square = self._target_moments / (1.0 - (1.0 - beta) ** self._stat_updates)
        std = float(np.clip(np.sqrt(max(square - mean * mean, 0.0)), *POPART_STD_RANGE))
        self.online.set_output_stats(mean, std)
        self.target.set_output_stats(mean, std)

    @torch.no_grad()
    def _update_target(self) -> None:
        c = self.config
        if c.target_update == "soft":
            torch._foreach_lerp_(list(self.target.parameters()), list(self.online.parameters()), c.tau)
            self.target.invalidate_cache()
        elif self.updates % c.target_update_interval == 0:
            self.target.load_state_dict(self.online.state_dict())  # ItemQNet drops its cache here

    # ------------------------------------------------------------------ checkpoints
    def to_bytes(self, scenario: ScenarioConfig | None = None) -> bytes:
        """Everything needed to rebuild this agent for acting (no replay or optimizer state): a checkpoint
        file's content, and what a training process sends to the studio for a policy copy. Plain bytes: torch's
        own pickling of tensors between processes shares memory with the sender, which may be gone by then."""
        buffer = io.BytesIO()
        torch.save(self._payload(scenario), buffer)
        return buffer.getvalue()

    def _payload(self, scenario: ScenarioConfig | None) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "format_version": CHECKPOINT_VERSION,
            "agent_config": self.config.to_json(),
            "scenario": scenario.to_json() if scenario is not None else None,
            "shapes": {
                "obs_dim": self.obs_dim,
                "n_items": self.n_items,
                "slate_size": self.slate_size,
                "n_candidates": self.n_candidates,
            },
            "seed": self.seed,
            "updates": self.updates,
            "item_features_IF": torch.from_numpy(self.item_features_IF),
            "weights": self.online.state_dict(),
        }

    def save(self, path: str | Path, scenario: ScenarioConfig | None = None) -> None:
        """One file with weights, configs (as JSON text), shapes and item features; written atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(self.to_bytes(scenario))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> tuple[DQNAgent, dict[str, Any] | None]:
        """The agent stored at ``path`` and its scenario dict (None if saved without one).

        Raises :class:`CheckpointError` for a missing, corrupt, foreign or mismatched file.
        """
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"no checkpoint file at {path}")
        return cls.from_bytes(path.read_bytes(), source=str(path))

    @classmethod
    def from_bytes(cls, content: bytes, source: str = "the checkpoint") -> tuple[DQNAgent, dict[str, Any] | None]:
        """The agent in ``to_bytes``'s content, and its scenario dict; ``source`` names the content in errors."""
        try:
            data = torch.load(io.BytesIO(content), map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises many types for bad files; all mean "not readable"
            raise CheckpointError(f"{source} is not a readable checkpoint ({type(e).__name__})") from None
        if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{source} is not a dqn_sim DQN checkpoint")
        version = data.get("format_version")
        if version != CHECKPOINT_VERSION:
            raise CheckpointError(
                f"{source} has checkpoint format version {version!r}; this version of dqn_sim reads "
                f"version {CHECKPOINT_VERSION}"
            )
        try:
            config = AgentConfig.from_json(data["agent_config"])
            scenario = json.loads(data["scenario"]) if data["scenario"] is not None else None
            dims = checked_shapes(data, cls.SHAPE_MIN)
            agent = cls(
                obs_dim=dims["obs_dim"],
                n_items=dims["n_items"],
                item_features_IF=data["item_features_IF"].numpy(),
                slate_size=dims["slate_size"],
                config=config,
                seed=int(data["seed"]),
                n_candidates=dims["n_candidates"],
            )
            agent.updates = int(data["updates"])
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise CheckpointError(f"{source} is a damaged checkpoint: {e}") from None
        try:
            agent.online.load_state_dict(data["weights"])
        except (RuntimeError, TypeError, AttributeError):
            raise CheckpointError(
                f"{source}: the stored weights do not fit a {agent.network!r} network with "
                f"obs_dim={agent.obs_dim}, n_items={agent.n_items} and hidden_sizes={config.hidden_sizes}"
            ) from None
        agent.target.load_state_dict(agent.online.state_dict())
        return agent, scenario

    def warm_start(self, path: str | Path) -> None:
        """Continue from a checkpoint's weights under this agent's (possibly tweaked) hyperparameters.

        The network shape must match: same observation and catalogue sizes, same network kind and widths.
        """
        other, _ = DQNAgent.load(path)
        ours = (self.obs_dim, self.n_items, self.network, list(self.config.hidden_sizes), self.config.dueling,
                self.config.embedding_dim)
        theirs = (other.obs_dim, other.n_items, other.network, list(other.config.hidden_sizes),
                  other.config.dueling, other.config.embedding_dim)
        if ours != theirs:
            raise CheckpointError(
                f"{path} cannot seed this run: it holds a network (obs_dim, n_items, kind, hidden_sizes, dueling, "
                f"embedding_dim) = {theirs}, this run needs {ours}"
            )
        self.load_weights(other.online.state_dict())
        self.updates = other.updates

    def copy_weights(self) -> dict[str, torch.Tensor]:
        """A detached copy of the online network's weights: cheap enough to keep the best checkpoint in memory."""
        return {k: v.detach().clone() for k, v in self.online.state_dict().items()}

    def load_weights(self, weights: dict[str, torch.Tensor]) -> None:
        """Make ``weights`` (of a network of this shape) the online and the target network's."""
        self.online.load_state_dict(weights)
        self.target.load_state_dict(weights)
        self.online.invalidate_cache()
        self.target.invalidate_cache()
