"""Per-step candidate sets (RecSim's "10 documents sampled each step") without a users x items mask.

A candidate set is a window of ``n_candidates`` consecutive items in one of a few fixed random orders of the
catalogue, so each user's set is two integers (which order, where the window starts). Drawing the sets and
testing a slate against them cost O(users x slate); the (users x items) boolean mask that a Q-network over
the whole catalogue needs is only built when someone asks for it (at 4,096 users x 500 items, building it
every step was a fifth of the simulator's time).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from dqn_sim.sim.dynamics import cells

N_ORDERS = 8  # random catalogue orders that candidate windows are cut from


class CandidateSampler:
    """The fixed random orders of one env, and the draws of per-user windows from them."""

    def __init__(self, n_items: int, n_candidates: int, rng: np.random.Generator) -> None:
        self.n_items, self.n_candidates = n_items, n_candidates
        order_PI = np.stack([rng.permutation(n_items) for _ in range(N_ORDERS)])
        # each order wraps around by n_candidates, so every window is one contiguous run: no modulo per item
        self.order_flat = np.concatenate([order_PI, order_PI[:, :n_candidates]], axis=1).reshape(-1)
        rank_PI = np.empty_like(order_PI)
        np.put_along_axis(rank_PI, order_PI, np.arange(n_items)[None, :], axis=1)
        self.rank_flat = rank_PI.reshape(-1)  # position of each item in each order

    def draw(self, rng: np.random.Generator, n_users: int) -> CandidateWindows:
        which_U = rng.integers(0, N_ORDERS, n_users)
        start_U = rng.integers(0, self.n_items, n_users)
        return CandidateWindows(self, which_U, start_U)


class CandidateWindows:
    """This step's candidates of every user of a batch."""

    def __init__(self, sampler: CandidateSampler, which_U: np.ndarray, start_U: np.ndarray) -> None:
        self.sampler, self.which_U, self.start_U = sampler, which_U, start_U

    def items_UC(self) -> np.ndarray:
        """The candidate item ids of each user."""
        s = self.sampler
        first_U = self.which_U * (s.n_items + s.n_candidates) + self.start_U
        return s.order_flat[first_U[:, None] + np.arange(s.n_candidates)]

    def contains(self, item_US: np.ndarray) -> np.ndarray:
        """Whether each item is among its user's candidates: its rank in the user's order falls in the window."""
        s = self.sampler
        offset_US = s.rank_flat[(self.which_U * s.n_items)[:, None] + item_US] - self.start_U[:, None]
        # offset mod n_items < n_candidates, without the (slow) integer modulo: a window may wrap around
        return ((offset_US >= 0) & (offset_US < s.n_candidates)) | (offset_US < s.n_candidates - s.n_items)

    def random_slates(self, k: int, rng: np.random.Generator) -> np.ndarray:
        """``k`` distinct candidates per user, uniformly at random (k random ranks among the window)."""
        n, c = self.which_U.shape[0], self.sampler.n_candidates
        pick_UK = np.argpartition(rng.random((n, c), dtype=np.float32), k - 1, axis=1)[:, :k]
        return np.take_along_axis(self.items_UC(), pick_UK, axis=1)

    @cached_property
    def mask_UI(self) -> np.ndarray:
        """The same sets as a (users x items) boolean mask, built once, on first use."""
        mask = np.zeros((self.which_U.shape[0], self.sampler.n_items), dtype=bool)
        mask.reshape(-1)[cells(self.sampler.n_items, self.items_UC())] = True
        return mask


Candidates = np.ndarray | CandidateWindows  # an explicit mask, or windows whose mask is built on demand


def mask_of(candidates: Candidates) -> np.ndarray:
    return candidates if isinstance(candidates, np.ndarray) else candidates.mask_UI


def contains(candidates: Candidates, item_US: np.ndarray) -> np.ndarray:
    """Whether each slate item may be recommended to its user."""
    if isinstance(candidates, CandidateWindows):
        return candidates.contains(item_US)
    return candidates.reshape(-1)[cells(candidates.shape[1], item_US)]
