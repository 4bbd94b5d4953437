"""Session dynamics as pure array functions: choice, reward, interest drift, fatigue, budget.

Shapes: ``U`` users, ``S`` slate positions, ``I`` items, ``K`` topics. Everything here is vectorised over
users so a batch of thousands steps in one numpy call per operation.
"""

from __future__ import annotations

import numpy as np

from dqn_sim.config import DynamicsConfig
from dqn_sim.sim.catalogue import Catalogue


def item_scores(
    cat: Catalogue,
    dyn: DynamicsConfig,
    interest_UK: np.ndarray,
    fatigue_UK: np.ndarray,
    ad_fatigue_U: np.ndarray,
    clock_U: np.ndarray,
    item_US: np.ndarray,
    topic_I: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Affinity (interest . topic) and the remaining click logit of each slate item."""
    if topic_I is not None:  # one topic per item: a gather instead of a dot product
        dot = lambda user_UK: np.take_along_axis(user_UK, topic_I[item_US], axis=1)  # noqa: E731
    else:
        topics_USK = cat.topics_IK[item_US]
        dot = lambda user_UK: np.einsum("uk,usk->us", user_UK, topics_USK)  # noqa: E731
    affinity_US = dot(interest_UK)
    extra_US = cat.static_logit_I[item_US] + cat.fresh_logit_US(clock_U, item_US)
    if dyn.fatigue_gain > 0:
        extra_US = extra_US - dyn.fatigue_weight * dot(fatigue_UK)
    if dyn.ad_fatigue_gain > 0:
        extra_US = extra_US - dyn.fatigue_weight * ad_fatigue_U[:, None] * cat.is_ad_I[item_US]
    return affinity_US.astype(np.float32), extra_US.astype(np.float32)


def choice_probs(
    dyn: DynamicsConfig, affinity_US: np.ndarray, extra_US: np.ndarray, valid_US: np.ndarray
) -> np.ndarray:
    """Probability of clicking each slate item (the remainder is no click)."""
    if dyn.choice_model == "logit":
        z_US = dyn.affinity_weight * affinity_US + extra_US
        z_US = np.where(valid_US, z_US, -np.inf)
        m_U = np.maximum(z_US.max(axis=1), dyn.no_click_score)
        w_US = np.exp(z_US - m_U[:, None])
        w0_U = np.exp(dyn.no_click_score - m_U)
    else:  # RecSim's multinomial-proportional: (s + 1) / (sum (s + 1) + no_click_mass)
        w_US = np.where(valid_US, np.maximum(affinity_US + 1.0 + extra_US, 0.0), 0.0)
        w0_U = np.full(w_US.shape[0], dyn.no_click_mass, dtype=np.float32)
    total_U = w_US.sum(axis=1) + w0_U
    return (w_US / np.maximum(total_U, 1e-12)[:, None]).astype(np.float32)


def sample_choice(p_US: np.ndarray, uniform_U: np.ndarray) -> np.ndarray:
    """Slate position clicked by each user, or -1 for no click (one uniform draw per user)."""
    cum_US = np.cumsum(p_US, axis=1)
    pos_U = (uniform_U[:, None] >= cum_US).sum(axis=1)
    return np.where(pos_U < p_US.shape[1], pos_U, -1)


def purchase_prob(dyn: DynamicsConfig, affinity_U: np.ndarray, price_U: np.ndarray) -> np.ndarray:
    """Shop: chance a click turns into a purchase, from fit and price."""
    logit = dyn.purchase_bias + dyn.purchase_fit * affinity_U - dyn.price_sensitivity * np.log(
        np.maximum(price_U, 1e-6)
    )
    return 1.0 / (1.0 + np.exp(-logit))


def drift_interests(
    interest_UK: np.ndarray, topics_UK: np.ndarray, rate: float, uniform_U: np.ndarray
) -> np.ndarray:
    """RecSim interest evolution after a click on an item with topics ``d``.

    alpha = rate - rate * |u|; delta = alpha * d * (d - u); with probability ((u + 1) / 2) . d the user
    moves toward the item (u += delta), otherwise away (u -= delta); then clip to [-1, 1].
    """
    alpha_UK = rate - rate * np.abs(interest_UK)
    delta_UK = alpha_UK * topics_UK * (topics_UK - interest_UK)
    p_toward_U = np.einsum("uk,uk->u", (interest_UK + 1.0) / 2.0, topics_UK)
    sign_U = np.where(uniform_U < p_toward_U, 1.0, -1.0).astype(np.float32)
    return np.clip(interest_UK + sign_U[:, None] * delta_UK, -1.0, 1.0)
