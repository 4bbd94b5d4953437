"""Q-networks over a catalogue: one output per item (MLP) or item-feature scoring (two towers).

Both return ``q_BI`` for every item of the catalogue and share the helpers the agent needs:
``q_of`` (Q of given items, e.g. the slate), ``allowed_q`` and ``best_allowed`` (masked max/argmax).
Masked items are set to ``-inf`` before any max/argmax, in acting and in bootstrap targets alike.

Every network outputs ``out_std * n + out_mean`` of its head's output ``n``: the identity (0, 1) unless the agent
normalises values (PopArt, van Hasselt et al. 2016), which keeps ``n`` near unit scale whatever the reward's
units and changes the two statistics with :meth:`QNet.set_output_stats`, rescaling the last layers so that no Q
changes. They are buffers, so weight copies, target syncs and checkpoints carry them with the weights.

Dueling heads centre the advantage on its mean over *all* items of the catalogue, not only the allowed
ones: replay stores only the next state's mask, and Q(s, a) in the loss and Q(s', .) in the target
must use the same centering, or the two would be different functions. The argmax is the same either way.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

PAIR_CHUNK = 16384  # (user, item) pairs scored per chunk by the item network


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers of the given widths with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        if i:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


class QNet(nn.Module):
    """Common interface: ``forward(obs_BO) -> q_BI`` plus masked and per-item helpers."""

    n_items: int

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("out_mean", torch.zeros(()))
        self.register_buffer("out_std", torch.ones(()))

    def _denormalise(self, n: torch.Tensor) -> torch.Tensor:
        return n * self.out_std + self.out_mean

    def _output_layers(self) -> tuple[list[nn.Linear], nn.Linear]:
        """The layers whose outputs add up to ``n`` (scaled on a change of statistics), and the one whose
        bias shifts every item's ``n`` alike (the value head when dueling)."""
        raise NotImplementedError

    @torch.no_grad()
    def set_output_stats(self, mean: float, std: float) -> None:
        """New output statistics with every Q preserved (PopArt's "preserve outputs precisely"):
        ``n' = (out_std * n + out_mean - mean) / std`` by rescaling the last layers."""
        ratio = self.out_std / std
        scaled, shifted = self._output_layers()
        for layer in scaled:
            layer.weight.mul_(ratio)
            layer.bias.mul_(ratio)
        shifted.bias.add_((self.out_mean - mean) / std)
        self.out_mean.fill_(mean)
        self.out_std.fill_(std)
        self.invalidate_cache()

    def load_state_dict(self, state_dict, *args, **kwargs):  # type: ignore[override]
        """Weights saved before output statistics existed are in plain reward units: identity statistics."""
        state_dict = {"out_mean": torch.zeros(()), "out_std": torch.ones(()), **state_dict}
        return super().load_state_dict(state_dict, *args, **kwargs)

    def q_of(self, obs_BO: torch.Tensor, item_BK: torch.Tensor) -> torch.Tensor:
        """Q of the given items per state, ``q_BK``."""
        return self(obs_BO).gather(1, item_BK)

    def allowed_q(self, obs_BO: torch.Tensor, mask_BI: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Q over the allowed items as ``(q_BK, item_BK)``; ``item_BK`` None means column k is item k.

        Disallowed entries are ``-inf``. Subclasses may return a narrower K when masks are sparse.
        """
        return self(obs_BO).masked_fill(~mask_BI, -torch.inf), None

    def best_allowed(self, obs_BO: torch.Tensor, mask_BI: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Max Q over allowed items and the item reaching it: ``(value_B, item_B)``."""
        q_BK, item_BK = self.allowed_q(obs_BO, mask_BI)
        value_B, col_B = q_BK.max(dim=1)
        item_B = col_B if item_BK is None else item_BK.gather(1, col_B[:, None])[:, 0]
        return value_B, item_B

    def invalidate_cache(self) -> None:
        """Forget anything derived from the parameters; call after every parameter change."""


class MLPQNet(QNet):
    """State MLP with one output per item: cheapest, but tied to a fixed catalogue."""

    def __init__(self, obs_dim: int, n_items: int, hidden_sizes: list[int], dueling: bool) -> None:
        super().__init__()
        self.n_items = n_items
        self.dueling = dueling
        self.trunk = nn.Sequential(mlp([obs_dim, *hidden_sizes]), nn.ReLU())
        self.head = nn.Linear(hidden_sizes[-1], n_items)  # the advantage head when dueling
        self.value = nn.Linear(hidden_sizes[-1], 1) if dueling else None

    def forward(self, obs_BO: torch.Tensor) -> torch.Tensor:
        h_BH = self.trunk(obs_BO)
        q_BI = self.head(h_BH)
        if self.value is not None:
            q_BI = self.value(h_BH) + q_BI - q_BI.mean(dim=1, keepdim=True)
        return self._denormalise(q_BI)

    def _output_layers(self) -> tuple[list[nn.Linear], nn.Linear]:
        if self.value is None:
            return [self.head], self.head
        return [self.head, self.value], self.value


class ItemQNet(QNet):
    """Two towers scoring (state, item) pairs, so the catalogue can change without a new output layer.

    The state tower maps obs to ``s_e`` (E) and the item tower maps item features to ``i_e`` (E). The
    score of a pair is a small MLP over ``[s_e * i_e, i_e, s_e]`` with one hidden layer of width E:
    the product carries state x item interactions (e.g. fatigue on a topic x the item's topic), the ReLU
    lets them be non-linear (thresholds, saturation), which a plain dot product cannot express. The
    item and state terms of the first layer are computed once per item / per state and broadcast, so
    a pair costs only one E x E matmul, two additions, the ReLU and the output dot.

    Without grad (acting, targets) the item-side tables are cached; ``invalidate_cache`` must follow
    every parameter change (the agent does it after each update and target sync).
    """

    def __init__(
        self,
        obs_dim: int,
        item_features_IF: np.ndarray,
        hidden_sizes: list[int],
        embedding_dim: int,
        dueling: bool,
    ) -> None:
        super().__init__()
        e = embedding_dim
        n_features = item_features_IF.shape[1]
        self.dueling = dueling
        self.trunk = nn.Sequential(mlp([obs_dim, *hidden_sizes]), nn.ReLU())
        self.state_embed = nn.Linear(hidden_sizes[-1], e)
        self.item_tower = mlp([n_features, hidden_sizes[-1], e])
        self.pair_w = nn.Linear(e, e, bias=False)  # acts on s_e * i_e
        self.pair_item = nn.Linear(e, e, bias=False)  # acts on i_e
        self.pair_state = nn.Linear(e, e)  # acts on s_e; carries the hidden bias
        self.pair_out = nn.Linear(e, 1)
        self.value = nn.Linear(hidden_sizes[-1], 1) if dueling else None
        self._cache: tuple[torch.Tensor, torch.Tensor] | None = None
        self.register_buffer("item_features_IF", torch.empty(0, n_features), persistent=False)
        self.set_item_features(item_features_IF)

    def set_item_features(self, item_features_IF: np.ndarray) -> None:
        """Swap the catalogue (same feature columns, any number of items)."""
        features = torch.as_tensor(np.asarray(item_features_IF, dtype=np.float32))
        if features.ndim != 2 or features.shape[1] != self.item_features_IF.shape[1]:
            raise ValueError(
                f"item features must have shape (n_items, {self.item_features_IF.shape[1]}), "
                f"got {tuple(features.shape)}"
            )
        self.item_features_IF = features
        self.n_items = features.shape[0]
        self.invalidate_cache()

    def invalidate_cache(self) -> None:
        self._cache = None

    def load_state_dict(self, *args, **kwargs):  # type: ignore[override]
        self.invalidate_cache()
        return super().load_state_dict(*args, **kwargs)

    def _output_layers(self) -> tuple[list[nn.Linear], nn.Linear]:
        if self.value is None:
            return [self.pair_out], self.pair_out
        return [self.pair_out, self.value], self.value

    def _item_tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(i_e, i_e @ pair_item)`` for every item, cached while grad is off."""
        if self._cache is not None and not torch.is_grad_enabled():
            return self._cache
        item_e_IE = self.item_tower(self.item_features_IF)
        tables = (item_e_IE, self.pair_item(item_e_IE))
        if not torch.is_grad_enabled():
            self._cache = tables
        return tables

    def _pair_scores(self, h_BH: torch.Tensor, item_BK: torch.Tensor | None) -> torch.Tensor:
        """Scores ``a_BK`` of the given items (all items when ``item_BK`` is None) from the trunk output.

        Users are processed in chunks of about ``PAIR_CHUNK`` pairs so the pair-sized tensors stay in
        cache: for 4096 users this is 2-2.5x faster than one big batch, and bounds memory.
        """
        s_BE = self.state_embed(h_BH)
        state_BE = self.pair_state(s_BE)
        item_e_IE, item_b_IE = self._item_tables()
        rows = max(1, PAIR_CHUNK // (self.n_items if item_BK is None else item_BK.shape[1]))
        parts = []
        for lo in range(0, len(h_BH), rows):
            chunk = slice(lo, lo + rows)
            if item_BK is None:
                item_e_xKE, item_b_xKE = item_e_IE[None], item_b_IE[None]
            else:
                item_e_xKE, item_b_xKE = item_e_IE[item_BK[chunk]], item_b_IE[item_BK[chunk]]
            parts.append(self._advantage(s_BE[chunk], state_BE[chunk], item_e_xKE, item_b_xKE))
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def _advantage(
        self, s_BE: torch.Tensor, state_BE: torch.Tensor, item_e_xKE: torch.Tensor, item_b_xKE: torch.Tensor
    ) -> torch.Tensor:
        """Pair scores ``a_BK``; the item tables are ``(1, I, E)`` (all items) or ``(B, K, E)`` (gathered).

        ``(s * i) @ W`` is evaluated in whichever order allocates less: for few items per user (slates,
        candidates) the ``(B, K, E)`` product then a matmul; for many (the whole catalogue) as
        ``i @ (s[:, None] * W)``, a batched matmul straight into the hidden layer that never builds the
        pair-sized product. Either way the additions and the ReLU then work in place.
        """
        if item_e_xKE.shape[1] <= item_e_xKE.shape[2]:
            z_BKE = self.pair_w(s_BE[:, None, :] * item_e_xKE)
        else:
            z_BKE = torch.matmul(item_e_xKE, s_BE[:, :, None] * self.pair_w.weight.T[None])
        z_BKE += item_b_xKE
        z_BKE += state_BE[:, None, :]
        return torch.matmul(z_BKE.relu_(), self.pair_out.weight[0]) + self.pair_out.bias

    def forward(self, obs_BO: torch.Tensor) -> torch.Tensor:
        h_BH = self.trunk(obs_BO)
        a_BI = self._pair_scores(h_BH, None)
        if self.value is None:
            return self._denormalise(a_BI)
        return self._denormalise(self.value(h_BH) + a_BI - a_BI.mean(dim=1, keepdim=True))

    def q_of(self, obs_BO: torch.Tensor, item_BK: torch.Tensor) -> torch.Tensor:
        if self.value is not None:  # the dueling mean needs every item anyway
            return super().q_of(obs_BO, item_BK)
        return self._denormalise(self._pair_scores(self.trunk(obs_BO), item_BK))

    def allowed_q(self, obs_BO: torch.Tensor, mask_BI: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Scores only the allowed items when masks are sparse (sampled candidates): with 10 candidates
        out of 500 that is 50x fewer pairs. Dense masks (and dueling) score the whole catalogue."""
        k = int(mask_BI.sum(dim=1).max())
        if self.value is not None or 4 * k > self.n_items:
            return super().allowed_q(obs_BO, mask_BI)
        allowed_BK, item_BK = mask_BI.to(torch.uint8).topk(k, dim=1)  # allowed items first, then padding
        q_BK = self.q_of(obs_BO, item_BK)
        return q_BK.masked_fill(allowed_BK == 0, -torch.inf), item_BK
