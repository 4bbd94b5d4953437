"""Experience replay: a preallocated ring buffer, proportional prioritized replay, and n-step returns.

Everything is stored in fixed numpy arrays allocated once (no deques of tuples), and every operation
works on whole batches, because the vectorised simulator hands over ``n_envs`` transitions per step.

Slate transitions are stored item-wise (SlateQ-style): ``reward_BS[:, i]`` is the return credited to
the item in slate position ``i``. The clicked item gets the immediate reward plus the discounted future;
the others get only the discounted future, since what happens next follows from the whole slate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


@dataclass
class ReplayBatch:
    """A sampled minibatch. The target of slate position ``i`` is
    ``reward_BS[:, i] + discount_B * (1 - terminated_B) * V(next_obs_BO)``."""

    obs_BO: np.ndarray  # float32
    slate_BS: np.ndarray  # int64 item indices
    reward_BS: np.ndarray  # float32 n-step return credited to each slate position
    next_obs_BO: np.ndarray  # float32 state to bootstrap from (the final obs when the episode ended)
    next_mask_BI: np.ndarray  # bool items allowed in next_obs
    terminated_B: np.ndarray  # bool: no bootstrap (true end of the session, not a time limit)
    discount_B: np.ndarray  # float32 gamma**k, k = rewards actually summed
    weight_B: np.ndarray  # float32 importance-sampling weights (ones for uniform replay)
    index_B: np.ndarray  # int64 buffer slots, for priority updates


class Transitions(NamedTuple):
    """Transitions ready for storage, in the argument order of :meth:`ReplayBuffer.add`."""

    obs_BO: np.ndarray
    slate_BS: np.ndarray
    reward_BS: np.ndarray
    next_obs_BO: np.ndarray
    next_mask_BI: np.ndarray
    terminated_B: np.ndarray
    discount_B: np.ndarray


class ReplayBuffer:
    """Uniform replay over a preallocated ring of ``capacity`` transitions.

    Next-state masks are bit-packed (8 items per byte): with large catalogues they would otherwise be
    the biggest array by far.
    """

    def __init__(self, capacity: int, obs_dim: int, n_items: int, slate_size: int, seed: int) -> None:
        self.capacity = capacity
        self.n_items = n_items
        self.rng = np.random.default_rng(seed)
        self.obs_CO = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.next_obs_CO = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.slate_CS = np.zeros((capacity, slate_size), dtype=np.int64)
        self.reward_CS = np.zeros((capacity, slate_size), dtype=np.float32)
        self.next_mask_bits_CM = np.zeros((capacity, (n_items + 7) // 8), dtype=np.uint8)
        self.terminated_C = np.zeros(capacity, dtype=bool)
        self.discount_C = np.zeros(capacity, dtype=np.float32)
        self.pos = 0  # next slot to write
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        obs_BO: np.ndarray,
        slate_BS: np.ndarray,
        reward_BS: np.ndarray,
        next_obs_BO: np.ndarray,
        next_mask_BI: np.ndarray,
        terminated_B: np.ndarray,
        discount_B: np.ndarray,
    ) -> np.ndarray:
        """Store a batch (oldest slots are overwritten); returns the slots written."""
        n = len(terminated_B)
        if n > self.capacity:  # only the newest ``capacity`` transitions can survive anyway
            keep = slice(n - self.capacity, n)
            obs_BO, slate_BS, reward_BS = obs_BO[keep], slate_BS[keep], reward_BS[keep]
            next_obs_BO, next_mask_BI = next_obs_BO[keep], next_mask_BI[keep]
            terminated_B, discount_B = terminated_B[keep], discount_B[keep]
            n = self.capacity
        slot_B = (self.pos + np.arange(n)) % self.capacity
        self.obs_CO[slot_B] = obs_BO
        self.slate_CS[slot_B] = slate_BS
        self.reward_CS[slot_B] = reward_BS
        self.next_obs_CO[slot_B] = next_obs_BO
        self.next_mask_bits_CM[slot_B] = np.packbits(np.asarray(next_mask_BI, dtype=bool), axis=1)
        self.terminated_C[slot_B] = terminated_B
        self.discount_C[slot_B] = discount_B
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)
        self._written(slot_B)
        return slot_B

    def _written(self, slot_B: np.ndarray) -> None:
        """Hook for subclasses that keep per-slot state (priorities)."""

    def sample(self, batch_size: int) -> ReplayBatch:
        """``batch_size`` transitions drawn uniformly with replacement."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        index_B = self.rng.integers(0, self.size, batch_size)
        return self._gather(index_B, np.ones(batch_size, dtype=np.float32))

    def _gather(self, index_B: np.ndarray, weight_B: np.ndarray) -> ReplayBatch:
        mask_BI = np.unpackbits(self.next_mask_bits_CM[index_B], axis=1, count=self.n_items).view(bool)
        return ReplayBatch(
            obs_BO=self.obs_CO[index_B],
            slate_BS=self.slate_CS[index_B],
            reward_BS=self.reward_CS[index_B],
            next_obs_BO=self.next_obs_CO[index_B],
            next_mask_BI=mask_BI,
            terminated_B=self.terminated_C[index_B],
            discount_B=self.discount_C[index_B],
            weight_B=weight_B,
            index_B=index_B,
        )


class SumTree:
    """Binary tree of sums over ``capacity`` leaf priorities, stored in one float64 array.

    Node ``j`` has children ``2j`` and ``2j + 1``; the root is node 1 and leaf ``i`` is node
    ``leaf0 + i``. Updates and prefix-sum searches walk all queries one level at a time, so a batch
    costs ``log2(capacity)`` numpy operations instead of a Python loop per transition.
    """

    def __init__(self, capacity: int) -> None:
        self.depth = max(1, int(np.ceil(np.log2(capacity))))
        self.leaf0 = 1 << self.depth
        self.tree = np.zeros(2 * self.leaf0, dtype=np.float64)

    @property
    def total(self) -> float:
        return float(self.tree[1])

    def get(self, index_B: np.ndarray) -> np.ndarray:
        return self.tree[self.leaf0 + index_B]

    def set(self, index_B: np.ndarray, priority_B: np.ndarray) -> None:
        node = self.leaf0 + np.asarray(index_B, dtype=np.int64)
        self.tree[node] = priority_B
        for _ in range(self.depth):  # repeated parents just write the same sum twice
            node = node // 2
            self.tree[node] = self.tree[2 * node] + self.tree[2 * node + 1]

    def find(self, value_B: np.ndarray) -> np.ndarray:
        """Leaf ``i`` with ``cumsum[i-1] <= value < cumsum[i]`` for every value (zero leaves are skipped)."""
        value_B = np.array(value_B, dtype=np.float64)
        node = np.ones(len(value_B), dtype=np.int64)
        for _ in range(self.depth):
            left = 2 * node
            left_sum = self.tree[left]
            right = value_B >= left_sum
            value_B -= np.where(right, left_sum, 0.0)
            node = left + right
        return node - self.leaf0


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritized replay (Schaul et al. 2016): P(i) = p_i / sum_j p_j, p_i = (|td_i| + eps)^alpha.

    Sampling is stratified: the total priority is cut into ``batch_size`` equal segments and one value is
    drawn uniformly in each. New transitions enter at the largest priority seen so far, so every
    transition is replayed at least about once before its TD error is known.

    Importance weights are ``w_i = (N * P(i))^-beta / max_j w_j`` with the max taken over the *sampled
    batch* (as most implementations do), not over the whole buffer as in the paper: weights then lie in
    (0, 1] without a second (min) tree, and only the scale of the step size differs.
    """

    def __init__(
        self,
        capacity: int,
        obs_dim: int,
        n_items: int,
        slate_size: int,
        seed: int,
        alpha: float = 0.6,
        beta0: float = 0.4,
        eps: float = 1e-3,
    ) -> None:
        super().__init__(capacity, obs_dim, n_items, slate_size, seed)
        self.alpha = alpha
        self.beta0 = beta0
        self.eps = eps
        self.tree = SumTree(capacity)
        self.max_priority = 1.0

    def beta_at(self, progress: float) -> float:
        """Importance-sampling exponent annealed linearly from ``beta0`` to 1 over training."""
        return self.beta0 + (1.0 - self.beta0) * min(max(progress, 0.0), 1.0)

    def _written(self, slot_B: np.ndarray) -> None:
        self.tree.set(slot_B, np.full(len(slot_B), self.max_priority))

    def sample(self, batch_size: int, beta: float | None = None) -> ReplayBatch:
        """``batch_size`` transitions drawn in proportion to priority; ``beta`` defaults to ``beta0``."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        beta = self.beta0 if beta is None else beta
        total = self.tree.total
        value_B = (np.arange(batch_size) + self.rng.random(batch_size)) * (total / batch_size)
        # float rounding at the right edge can walk into an empty leaf: clip to the last stored slot
        index_B = np.minimum(self.tree.find(value_B), self.size - 1)
        prob_B = self.tree.get(index_B) / total
        weight_B = (self.size * prob_B) ** -beta
        return self._gather(index_B, (weight_B / weight_B.max()).astype(np.float32))

    def update_priorities(self, index_B: np.ndarray, td_abs_B: np.ndarray) -> None:
        """Set priorities from fresh absolute TD errors of sampled transitions."""
        priority_B = (np.abs(np.asarray(td_abs_B, dtype=np.float64)) + self.eps) ** self.alpha
        self.tree.set(index_B, priority_B)
        self.max_priority = max(self.max_priority, float(priority_B.max(initial=0.0)))


class NStepAccumulator:
    """Turns per-step transitions of ``n_envs`` parallel sessions into n-step transitions.

    Every env slot keeps its last ``n`` steps in a time ring shared by all slots (they step together),
    plus a count of steps still waiting for their n-step return. A step's transition is emitted once
    ``n`` rewards have followed it, or when its episode ends:

    * terminated: all pending steps are emitted with ``terminated=True`` and only the rewards that
      really happened (no bootstrap);
    * truncated (time limit): all pending steps are emitted with ``terminated=False``, bootstrapping
      from the final observation with ``discount = gamma**k`` for the ``k`` rewards summed.

    The caller passes, for every slot, the state the step led to: ``StepResult.final_obs_UO`` is exactly
    that (the pre-reset observation for finished sessions, the current one for the others).
    """

    def __init__(self, n_envs: int, n: int, gamma: float) -> None:
        self.n_envs = n_envs
        self.n = n
        self.gamma = gamma
        self.t = 0
        self.count_U = np.zeros(n_envs, dtype=np.int64)
        self._ring: tuple[np.ndarray, ...] | None = None  # obs_NUO, slate_NUS, reward_NU, clicked_pos_NU

    def push(
        self,
        obs_UO: np.ndarray,
        slate_US: np.ndarray,
        reward_U: np.ndarray,
        clicked_pos_U: np.ndarray,
        next_obs_UO: np.ndarray,
        next_mask_UI: np.ndarray,
        terminated_U: np.ndarray,
        truncated_U: np.ndarray,
    ) -> Transitions:
        """Record one batch step; return the transitions that became ready (possibly none)."""
        reward_U = np.asarray(reward_U, dtype=np.float32)
        clicked_pos_U = np.asarray(clicked_pos_U, dtype=np.int64)
        terminated_U = np.asarray(terminated_U, dtype=bool)
        if self.n == 1:
            return Transitions(
                obs_UO, slate_US, _credit_clicked(np.zeros_like(reward_U), reward_U, clicked_pos_U, slate_US),
                next_obs_UO, next_mask_UI, terminated_U,
                np.full(len(reward_U), self.gamma, dtype=np.float32),
            )
        obs_NUO, slate_NUS, reward_NU, pos_NU = self._buffers(obs_UO, slate_US)
        slot = self.t % self.n
        obs_NUO[slot], slate_NUS[slot], reward_NU[slot], pos_NU[slot] = obs_UO, slate_US, reward_U, clicked_pos_U
        count_U = self.count_U + 1
        done_U = terminated_U | np.asarray(truncated_U, dtype=bool)

        chunks: list[Transitions] = []
        return_U = np.zeros(self.n_envs, dtype=np.float32)  # discounted reward sum from step t-d to t
        for d in range(int(count_U.max())):  # d: how many steps back the transition starts
            s = (self.t - d) % self.n
            future_U = self.gamma * return_U
            return_U = reward_NU[s] + future_U
            full = (count_U == self.n) if d == self.n - 1 else np.zeros(self.n_envs, dtype=bool)
            rows = np.flatnonzero((count_U > d) & (done_U | full))
            if rows.size:
                chunks.append(Transitions(
                    obs_NUO[s, rows],
                    slate_NUS[s, rows],
                    _credit_clicked(future_U[rows], reward_NU[s, rows], pos_NU[s, rows], slate_NUS[s, rows]),
                    next_obs_UO[rows],
                    next_mask_UI[rows],
                    terminated_U[rows],
                    np.full(rows.size, self.gamma ** (d + 1), dtype=np.float32),
                ))
        self.count_U = np.where(done_U, 0, np.minimum(count_U, self.n - 1))
        self.t += 1
        if not chunks:
            return self._empty(obs_UO, slate_US, next_mask_UI)
        return Transitions(*(np.concatenate(parts) for parts in zip(*chunks, strict=True)))

    def _buffers(self, obs_UO: np.ndarray, slate_US: np.ndarray) -> tuple[np.ndarray, ...]:
        if self._ring is None:
            n, u = self.n, self.n_envs
            self._ring = (
                np.zeros((n, u, obs_UO.shape[1]), dtype=np.float32),
                np.zeros((n, u, slate_US.shape[1]), dtype=np.int64),
                np.zeros((n, u), dtype=np.float32),
                np.zeros((n, u), dtype=np.int64),
            )
        return self._ring

    @staticmethod
    def _empty(obs_UO: np.ndarray, slate_US: np.ndarray, next_mask_UI: np.ndarray) -> Transitions:
        return Transitions(
            np.zeros((0, obs_UO.shape[1]), dtype=np.float32),
            np.zeros((0, slate_US.shape[1]), dtype=np.int64),
            np.zeros((0, slate_US.shape[1]), dtype=np.float32),
            np.zeros((0, obs_UO.shape[1]), dtype=np.float32),
            np.zeros((0, next_mask_UI.shape[1]), dtype=bool),
            np.zeros(0, dtype=bool),
            np.zeros(0, dtype=np.float32),
        )


def _credit_clicked(
    future_B: np.ndarray, reward_B: np.ndarray, clicked_pos_B: np.ndarray, slate_BS: np.ndarray
) -> np.ndarray:
    """Per-position returns: every position gets ``future_B``; the clicked one (``>= 0``) also ``reward_B``."""
    clicked_BS = np.arange(slate_BS.shape[1])[None, :] == clicked_pos_B[:, None]
    return (future_B[:, None] + clicked_BS * reward_B[:, None]).astype(np.float32)
