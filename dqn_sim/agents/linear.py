"""The linear contextual bandits' shared core: one ridge regression of the next reward per item (Li et al.'s
disjoint model), and a learner that ranks items by the model's mean plus an exploration term.

LinUCB adds an upper confidence bound, Thompson sampling a posterior draw (``linucb``, ``thompson``). Both are
myopic by design: they learn what a recommendation earns at once, as production rankers do, and explore.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
import torch

from dqn_sim import memory
from dqn_sim.agents import checkpoint
from dqn_sim.agents.learner import Learner
from dqn_sim.agents.policy import Policy, shown_items, top_k_masked
from dqn_sim.config import AgentConfig, Config, ScenarioConfig, TrainConfig
from dqn_sim.sim.env import StepResult, VecRecEnv

PAIR_CHUNK = 1 << 21  # (user, item, feature) products formed at once when scoring
SPARSE_SHARE = 8  # score pair by pair when fewer than 1 in SPARSE_SHARE (user, item) pairs are allowed


class DisjointRidge:
    """Per item ``i``: ``A_i = ridge * I + sum x x^T`` and ``b_i = sum r x`` over the times it was shown, with the
    context ``x = [obs, item features, 1]`` (Li et al. 2010's disjoint model: the item's features and the constant
    act as that item's intercept). ``theta_i = A_i^-1 b_i`` predicts the reward, ``x^T A_i^-1 x`` is the spread.

    The (user x item x feature) contexts are never built: ``A_i^-1`` is read as blocks over the observation part
    and the item's constant part, so scoring costs one (users x items x obs) product. ``A_i^-1`` itself follows
    each batch by the Woodbury identity (a solve the size of the item's new rows, not a fresh inverse of A_i: on
    RecSim's 500 items x 88 features the inverses were most of a step). Statistics (``add``) and the model read
    from them (``refresh``, for the items shown since) are separate, as the trainer separates storing from learning.
    """

    def __init__(self, obs_dim: int, item_features_IF: np.ndarray, ridge: float) -> None:
        n_items = item_features_IF.shape[0]
        self.obs_dim, self.ridge = obs_dim, ridge
        self.z_IZ = np.hstack([item_features_IF, np.ones((n_items, 1))]).astype(np.float64)  # each item's constant
        d = obs_dim + self.z_IZ.shape[1]
        self.A_IDD = np.broadcast_to(ridge * np.eye(d), (n_items, d, d)).copy()
        self.inv_IDD = np.broadcast_to(np.eye(d) / ridge, (n_items, d, d)).copy()  # A^-1, kept by Woodbury
        self.b_ID = np.zeros((n_items, d))
        self.stale_I = np.zeros(n_items, dtype=bool)  # shown since the last refresh
        # A^-1 = I / ridge and theta = 0 until an item is shown: its blocks in closed form
        self.theta_IO = np.zeros((n_items, obs_dim))  # theta's observation part
        self.const_I = np.zeros(n_items)  # theta's item part . z_i
        self.P_IOO = np.broadcast_to(np.eye(obs_dim) / ridge, (n_items, obs_dim, obs_dim)).copy()
        self.g_IO = np.zeros((n_items, obs_dim))  # A^-1's cross block . z_i
        self.h_I = (self.z_IZ**2).sum(axis=1) / ridge  # z_i . A^-1's item block . z_i

    def mean(self, obs_UO: np.ndarray) -> np.ndarray:
        """Predicted reward ``theta_i . x_ui`` of every (user, item) pair: all an evaluated bandit ranks by."""
        return np.asarray(obs_UO, dtype=np.float64) @ self.theta_IO.T + self.const_I

    def mean_var(self, obs_UO: np.ndarray, mask_UI: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Predicted reward and spread ``x_ui^T A_i^-1 x_ui`` of every (user, item) pair; with ``mask_UI``, the
        spread only where allowed (zero elsewhere), which is all a slate can use. The quadratic form is the cost:
        over all pairs it is one (users x obs) @ (obs x items*obs) product; where few items are allowed (RecSim's
        10 candidates of 500) it is formed pair by pair, which is items / candidates times less work."""
        obs_UO = np.asarray(obs_UO, dtype=np.float64)
        n_users, n_items, o = len(obs_UO), len(self.h_I), self.obs_dim
        if mask_UI is not None and SPARSE_SHARE * mask_UI.sum() < mask_UI.size:
            user_N, item_N = np.nonzero(mask_UI)
            quad_UI = np.zeros((n_users, n_items))
            rows = max(1, PAIR_CHUNK // (o * o))
            for lo in range(0, len(user_N), rows):
                u, i = user_N[lo:lo + rows], item_N[lo:lo + rows]
                quad_UI[u, i] = np.einsum("no,nop,np->n", obs_UO[u], self.P_IOO[i], obs_UO[u], optimize=True)
        else:
            P_OJ = self.P_IOO.transpose(1, 0, 2).reshape(o, n_items * o)  # x^T P_i for all i in one product
            rows = max(1, PAIR_CHUNK // max(1, n_items * o))
            quad_UI = np.concatenate([
                np.einsum("uip,up->ui", (o_UO @ P_OJ).reshape(len(o_UO), n_items, o), o_UO)
                for o_UO in (obs_UO[lo:lo + rows] for lo in range(0, n_users, rows))
            ]) if n_users else np.zeros((0, n_items))
        var_UI = quad_UI + 2.0 * obs_UO @ self.g_IO.T + self.h_I
        if mask_UI is not None:
            var_UI = np.where(mask_UI, var_UI, 0.0)
        return self.mean(obs_UO), np.maximum(var_UI, 0.0)

    def add(self, obs_NO: np.ndarray, item_N: np.ndarray, reward_N: np.ndarray) -> np.ndarray:
        """Add observations (item ``item_N`` shown in ``obs_NO`` earned ``reward_N``); returns the squared error of
        the predictions made before adding them."""
        x_ND = np.hstack([obs_NO, self.z_IZ[item_N]])
        pred_N = np.einsum("no,no->n", obs_NO, self.theta_IO[item_N]) + self.const_I[item_N]
        items_K, X_KMD, r_KM = by_item(item_N, x_ND, reward_N)
        Xt_KDM = X_KMD.transpose(0, 2, 1)
        inv_KDD = self.inv_IDD[items_K]  # gathered once: (items x d x d) is the bulk of what a step moves
        PXt_KDM = inv_KDD @ Xt_KDM
        S_KMM = np.eye(X_KMD.shape[1]) + X_KMD @ PXt_KDM  # zero rows of the padding add an identity row each
        inv_KDD -= PXt_KDM @ np.linalg.solve(S_KMM, PXt_KDM.transpose(0, 2, 1))
        self.inv_IDD[items_K] = inv_KDD
        self.A_IDD[items_K] += Xt_KDM @ X_KMD
        self.b_ID[items_K] += (Xt_KDM @ r_KM[:, :, None])[:, :, 0]
        self.stale_I[items_K] = True
        return (pred_N - reward_N) ** 2

    def refresh(self) -> bool:
        """Solve again for the items shown since the last refresh; False when there were none."""
        items = np.flatnonzero(self.stale_I)
        if not items.size:
            return False
        o = self.obs_dim
        inv_KDD = self.inv_IDD[items]
        theta_KD = np.einsum("kde,ke->kd", inv_KDD, self.b_ID[items])
        z_KZ = self.z_IZ[items]
        self.theta_IO[items] = theta_KD[:, :o]
        self.const_I[items] = np.einsum("kz,kz->k", theta_KD[:, o:], z_KZ)
        self.P_IOO[items] = inv_KDD[:, :o, :o]
        self.g_IO[items] = np.einsum("koz,kz->ko", inv_KDD[:, :o, o:], z_KZ)
        self.h_I[items] = np.einsum("kz,kzy,ky->k", z_KZ, inv_KDD[:, o:, o:], z_KZ)
        self.stale_I[:] = False
        return True

    def state(self) -> dict[str, torch.Tensor]:
        return {"A": torch.from_numpy(self.A_IDD.copy()), "b": torch.from_numpy(self.b_ID.copy())}

    def set_state(self, state: dict[str, torch.Tensor]) -> None:
        A, b = state["A"].numpy(), state["b"].numpy()
        if A.shape != self.A_IDD.shape or b.shape != self.b_ID.shape:
            raise ValueError(f"statistics of shape {tuple(A.shape)}, {tuple(b.shape)} do not fit a model of "
                             f"{tuple(self.A_IDD.shape)}, {tuple(self.b_ID.shape)}")
        self.A_IDD[:], self.b_ID[:] = A, b
        self.inv_IDD[:] = np.linalg.inv(A)
        self.stale_I[:] = True
        self.refresh()


def by_item(item_N: np.ndarray, x_ND: np.ndarray, reward_N: np.ndarray) -> tuple[np.ndarray, ...]:
    """The rows grouped by item: ``(items_K, X_KMD, r_KM)``, item ``k``'s rows first in ``X`` and zeros after (M, the
    most rows any one item has)."""
    order = np.argsort(item_N, kind="stable")
    items_K, start_K, count_K = np.unique(item_N[order], return_index=True, return_counts=True)
    group_N = np.repeat(np.arange(len(items_K)), count_K)
    slot_N = np.arange(len(order)) - start_K[group_N]
    X_KMD = np.zeros((len(items_K), count_K.max(initial=0), x_ND.shape[1]))
    r_KM = np.zeros(X_KMD.shape[:2])
    X_KMD[group_N, slot_N], r_KM[group_N, slot_N] = x_ND[order], reward_N[order]
    return items_K, X_KMD, r_KM


class LinearBandit(checkpoint.Packed, Learner, Policy):
    """A learner over :class:`DisjointRidge`: explores by ``explore_scores`` while training and recommends the best
    predicted items when evaluated. Rewards are credited item by item as a ranker's are: the clicked item earns
    the step's reward, every other item shown earns zero. ``scale``, the largest reward magnitude seen, puts the
    exploration term in reward units whatever the scenario pays in (minutes, clicks, purchase value)."""

    config_type: ClassVar[type[Config]]
    SHAPE_MIN: ClassVar[dict[str, int]] = {"obs_dim": 1, "n_items": 1, "slate_size": 1}

    def __init__(self, *, obs_dim: int, item_features_IF: np.ndarray, slate_size: int, config: Any,
                 seed: int) -> None:
        self.config, self.seed, self.slate_size = config, seed, slate_size
        self.item_features_IF = np.asarray(item_features_IF, dtype=np.float32)
        self.obs_dim, self.n_items = obs_dim, len(self.item_features_IF)
        self.model = DisjointRidge(obs_dim, self.item_features_IF, self.ridge)
        self.scale = 1.0
        self._errors: list[np.ndarray] = []  # squared errors of the predictions since the last refresh

    @property
    @abstractmethod
    def ridge(self) -> float:
        """The ridge penalty the config implies."""

    @abstractmethod
    def explore_scores(self, mean_UI: np.ndarray, var_UI: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """What to rank by while training."""

    @classmethod
    def build(cls, env: VecRecEnv, scenario: ScenarioConfig, agent: AgentConfig, train: TrainConfig) -> Learner:
        return cls(obs_dim=env.obs_dim, item_features_IF=env.item_features_IF, slate_size=env.slate_size,
                   config=getattr(train, cls.name), seed=train.seed)

    @classmethod
    def model_bytes(cls, dims: dict[str, int], config: Any, sizing: memory.Sizing = memory.LOADING) -> dict[str, float]:
        return {sizing.part("per-item statistics ({n_items} x {obs_dim} squared)"):
                memory.bandit_statistics(dims["obs_dim"], dims["n_items"], dims["n_features"])}

    @property
    def policy(self) -> Policy:
        return self

    def act(self, env: VecRecEnv) -> np.ndarray:
        return top_k_masked(self.model.mean(env.obs_UO), env.mask_UI, self.slate_size)

    def act_explore(self, obs_BO: np.ndarray, mask_BI: np.ndarray, epsilon: float,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        score_BI = self.explore_scores(*self.model.mean_var(obs_BO, mask_BI), rng)
        return top_k_masked(score_BI, mask_BI, self.slate_size), np.full(len(obs_BO), np.nan)

    def store(self, obs_UO: np.ndarray, slate_US: np.ndarray, result: StepResult) -> None:
        obs_NO, item_N, reward_N = shown_items(obs_UO, slate_US, result)
        self.scale = max(self.scale, float(np.abs(reward_N).max(initial=0.0)))
        self._errors.append(self.model.add(obs_NO, item_N, reward_N))

    def can_learn(self) -> bool:
        return bool(self._errors)

    def learn(self, progress: float) -> float | None:
        if not self.model.refresh():
            return None
        loss = float(np.concatenate(self._errors).mean())
        self._errors = []
        return loss

    def copy_weights(self) -> dict[str, torch.Tensor]:
        return {**self.model.state(), "scale": torch.tensor(self.scale, dtype=torch.float64)}

    def load_weights(self, weights: dict[str, torch.Tensor]) -> None:
        self.model.set_state(weights)
        self.scale = float(weights["scale"])
