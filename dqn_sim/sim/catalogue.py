"""The item catalogue: static item attributes as arrays (``_I`` = per item, ``_IK`` = item x topic)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dqn_sim.config import CatalogueConfig


@dataclass(frozen=True)
class Catalogue:
    """Items of one scenario. Hidden truths (quality, appeal) sit next to what a recommender may observe."""

    topics_IK: np.ndarray  # float32, rows sum to 1
    quality_I: np.ndarray  # true quality: drives budget refill
    quality_signal_I: np.ndarray  # noisy observable estimate of quality
    appeal_I: np.ndarray  # extra click logit (clickbait)
    clickbait_I: np.ndarray  # bool
    length_I: np.ndarray  # minutes if fully consumed
    popularity_I: np.ndarray  # Zipf-like prior, sums to 1
    log_pop_I: np.ndarray  # log(popularity * n_items), centred: 0 for an average item
    static_logit_I: np.ndarray  # appeal + popularity_weight * log_pop: the item's own pull on clicks
    value_I: np.ndarray  # price (shop) or bid (ads); 0 for organic items
    start_I: np.ndarray  # int: start of the on-air window within the schedule period
    duration: int  # on-air window length in steps (== period when always on)
    period: int
    fresh_boost: float
    fresh_decay: float

    @property
    def n_items(self) -> int:
        return int(self.topics_IK.shape[0])

    @property
    def n_topics(self) -> int:
        return int(self.topics_IK.shape[1])

    @property
    def always_on(self) -> bool:
        return self.duration >= self.period

    @property
    def onehot(self) -> bool:
        """One topic per item: affinities are then gathers instead of dot products (the fast path)."""
        return bool(np.all(self.topics_IK.max(axis=1) == 1.0))

    @property
    def topic_I(self) -> np.ndarray:
        return self.topics_IK.argmax(axis=1)

    @property
    def is_ad_I(self) -> np.ndarray:
        return self.value_I > 0

    def age_UI(self, clock_U: np.ndarray) -> np.ndarray:
        """Steps since each item last went on air, at each user's clock (>= duration means off air)."""
        return (clock_U[:, None] - self.start_I[None, :]) % self.period

    def available_UI(self, clock_U: np.ndarray) -> np.ndarray:
        if self.always_on:
            return np.ones((clock_U.shape[0], self.n_items), dtype=bool)
        return self.age_UI(clock_U) < self.duration

    def fresh_logit_US(self, clock_U: np.ndarray, item_US: np.ndarray) -> np.ndarray:
        """Live spike / news freshness: a boost when an item goes on air that decays with its age."""
        if self.fresh_boost == 0.0:
            return np.zeros(item_US.shape, dtype=np.float32)
        age = (clock_U[:, None] - self.start_I[item_US]) % self.period
        return (self.fresh_boost * np.exp(-age / self.fresh_decay)).astype(np.float32)

    def features_IF(self, quality_observed: bool) -> np.ndarray:
        """What a recommender knows of each item: topics, length, popularity, value, quality signal."""
        cols = [
            self.topics_IK,
            (self.length_I / max(float(self.length_I.mean()), 1e-9))[:, None],
            self.log_pop_I[:, None],
            (np.log1p(self.value_I) / max(float(np.log1p(self.value_I).max()), 1e-9))[:, None],
        ]
        if quality_observed:
            cols.append(self.quality_signal_I[:, None])
        return np.concatenate(cols, axis=1).astype(np.float32)


def topic_table(item_topics: list[str], topic_names: list[str]) -> np.ndarray:
    """Items x topics mix from ``"Comedy|Drama"`` style entries: an equal share of each named topic."""
    column = {name: j for j, name in enumerate(topic_names)}
    topics = np.zeros((len(item_topics), len(topic_names)), dtype=np.float32)
    for i, entry in enumerate(item_topics):
        names = entry.split("|")
        topics[i, [column[t] for t in names]] = 1.0 / len(names)
    return topics


def build_catalogue(cfg: CatalogueConfig, rng: np.random.Generator) -> Catalogue:
    """Draw a catalogue from its config; the same generator state gives the same catalogue."""
    n, k = cfg.n_items, cfg.n_topics
    if cfg.item_topics:  # fitted tables replace their draws (so a world without them draws exactly as before)
        topics = topic_table(cfg.item_topics, cfg.topic_names)
    elif cfg.topic_mix == "onehot":
        topic_I = rng.integers(0, k, n)
        topics = np.zeros((n, k), dtype=np.float32)
        topics[np.arange(n), topic_I] = 1.0
    else:
        topics = rng.dirichlet(np.full(k, cfg.dirichlet_alpha), n).astype(np.float32)

    if cfg.item_quality_z:
        quality = cfg.quality_mean + cfg.quality_std * np.asarray(cfg.item_quality_z)
    else:
        quality = rng.normal(cfg.quality_mean, cfg.quality_std, n)
    if cfg.topic_quality_range > 0:
        r = cfg.topic_quality_range
        topic_means = np.concatenate(
            [np.linspace(-r, 0.0, cfg.trashy_topics), np.linspace(0.0, r, k - cfg.trashy_topics)]
        )
        quality = quality + topics @ topic_means
    clickbait = rng.random(n) < cfg.clickbait_share
    quality = quality - clickbait * cfg.clickbait_quality_penalty
    appeal = clickbait * cfg.clickbait_appeal
    quality_signal = quality + rng.normal(0.0, 0.25 * max(cfg.quality_std, 0.1), n)

    length = np.maximum(rng.normal(cfg.length_mean, cfg.length_std, n), 0.1 * cfg.length_mean)

    ranks = np.asarray(cfg.item_popularity_rank, dtype=np.float64) if cfg.item_popularity_rank else (
        rng.permutation(n) + 1.0
    )
    pop = ranks ** -cfg.popularity_zipf
    pop = pop / pop.sum()
    log_pop = np.log(pop * n)
    log_pop = log_pop - log_pop.mean()

    value = np.zeros(n)
    if cfg.value_mean > 0:
        value = cfg.value_mean * rng.lognormal(-0.5 * cfg.value_spread**2, cfg.value_spread, n)
        value = value * (rng.random(n) < cfg.ad_share)

    period = cfg.schedule_period
    duration = max(1, int(round(cfg.on_air_share * period)))
    start = rng.integers(0, period, n)
    return Catalogue(
        topics_IK=topics,
        quality_I=quality.astype(np.float32),
        quality_signal_I=quality_signal.astype(np.float32),
        appeal_I=appeal.astype(np.float32),
        clickbait_I=clickbait,
        length_I=length.astype(np.float32),
        popularity_I=pop.astype(np.float32),
        log_pop_I=log_pop.astype(np.float32),
        static_logit_I=(appeal + cfg.popularity_weight * log_pop).astype(np.float32),
        value_I=value.astype(np.float32),
        start_I=start.astype(np.int64),
        duration=duration,
        period=period,
        fresh_boost=cfg.fresh_boost,
        fresh_decay=cfg.fresh_decay,
    )
