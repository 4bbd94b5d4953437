"""Fit versus data, side by side: each compared quantity with the data's and the simulation's values and a
distance (Kolmogorov-Smirnov for curves and distributions over ordered values, total variation for mixes)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dqn_sim.calibrate.fit import DataProfile
from dqn_sim.calibrate.simulate import SimLog
from dqn_sim.config import ScenarioConfig
from dqn_sim.sim.env import build_world

LENGTH_BINS = (1, 2, 3, 4, 5, 6, 11, 21, 51, 101, 201, 501)  # left edges of the session-length histogram


@dataclass(frozen=True)
class Comparison:
    """One quantity: what the data shows, what the fitted world shows under the logging policy, how far apart."""

    quantity: str
    title: str
    metric: str  # "KS" or "TV"
    distance: float
    data: list
    sim: list
    labels: list  # x values (ranks, topics, bins); for segments, "segment: topics" rows
    note: str

    def to_json(self) -> dict:
        return {"data": self.data, "sim": self.sim, "distance": round(self.distance, 4), "metric": self.metric}


@dataclass(frozen=True)
class Report:
    comparisons: list[Comparison]

    def to_json(self) -> dict:
        return {c.quantity: c.to_json() for c in self.comparisons}

    def __getitem__(self, quantity: str) -> Comparison:
        return next(c for c in self.comparisons if c.quantity == quantity)


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Half the L1 distance between two (normalised) distributions: the most any event's share differs."""
    return 0.5 * float(np.abs(_normalise(p) - _normalise(q)).sum())


def ks_distance(cdf_a: np.ndarray, cdf_b: np.ndarray) -> float:
    """Kolmogorov-Smirnov: the largest gap between two cumulative curves over the same ordered support."""
    return float(np.abs(cdf_a - cdf_b).max())


def compare(profile: DataProfile, sim: SimLog, scenario: ScenarioConfig) -> Report:
    """Popularity curve, genre mix, session lengths, per-segment genre affinity and click rate, data vs fit."""
    cat, aud = scenario.catalogue, scenario.audience
    topics = list(cat.topic_names)  # a fitted scenario names its topics
    topics_IK = build_world(scenario).catalogue.topics_IK
    return Report([
        _popularity(profile, sim),
        _genre_mix(profile, sim, topics_IK, topics),
        _sessions(profile, sim, scenario.dynamics.max_steps),
        _segments(profile, sim, topics, list(aud.segment_names), np.asarray(aud.segment_shares)),
        Comparison("click_rate", "Click rate", "TV", abs(profile.ctr - sim.ctr), [round(profile.ctr, 4)],
                   [round(sim.ctr, 4)], ["click rate"], "share of steps with a click"),
    ])


def _popularity(profile: DataProfile, sim: SimLog) -> Comparison:
    order = np.argsort(-profile.impressions_I, kind="stable")
    data = np.cumsum(profile.impressions_I[order]) / profile.impressions_I.sum()
    fitted = np.cumsum(sim.impressions_I[order]) / max(sim.impressions_I.sum(), 1)
    ranks = np.unique(np.round(np.geomspace(1, order.size, 30)).astype(int))
    return Comparison(
        "popularity", "Popularity curve: share of interactions on the top-r items", "KS",
        ks_distance(data, fitted), _rounded(data[ranks - 1]), _rounded(fitted[ranks - 1]), ranks.tolist(),
        "items ordered by their data popularity; simulated impressions of the same items",
    )


def _genre_mix(profile: DataProfile, sim: SimLog, topics_IK: np.ndarray, topics: list[str]) -> Comparison:
    data, fitted = _normalise(profile.impressions_I @ topics_IK), _normalise(sim.impressions_I @ topics_IK)
    return Comparison("genre_mix", "Genre mix of interactions", "TV", total_variation(data, fitted),
                      _rounded(data), _rounded(fitted), topics, "share of interactions per genre (topic)")


def _sessions(profile: DataProfile, sim: SimLog, max_steps: int) -> Comparison:
    data_L, sim_L = np.minimum(profile.session_lengths, max_steps), sim.session_lengths
    cdf = [np.cumsum(np.bincount(x, minlength=max_steps + 1)) / x.size for x in (data_L, sim_L)]
    edges = [b for b in LENGTH_BINS if b <= max_steps]
    hist = [np.diff(np.append(c[np.array(edges) - 1], 1.0)) for c in cdf]
    labels = [f"{a}" if b - a == 1 else f"{a}-{b - 1}" for a, b in zip(edges, edges[1:], strict=False)]
    return Comparison(
        "session_length", "Session length (interactions)", "KS", ks_distance(*cdf), _rounded(hist[0]),
        _rounded(hist[1]), labels + [f"{edges[-1]}+"],
        f"mean {data_L.mean():.2f} in the data (cut at {max_steps}) vs {sim_L.mean():.2f} simulated",
    )


def _segments(profile: DataProfile, sim: SimLog, topics: list[str], names: list[str],
              shares: np.ndarray) -> Comparison:
    """Each segment's click share per topic; the distance is the share-weighted mean of the segments' TVs."""
    s = profile.clicks_SK.shape[0]
    names = names or [f"Segment {i + 1}" for i in range(s)]
    weights = _normalise(shares) if shares.size == s else np.full(s, 1.0 / s)
    tvs = [total_variation(profile.clicks_SK[i], sim.clicks_SK[i]) for i in range(s)]
    return Comparison(
        "segment_affinity", "Genre affinity per segment (share of each segment's clicks per genre)", "TV",
        float(np.dot(weights, tvs)), [_rounded(_normalise(r)) for r in profile.clicks_SK],
        [_rounded(_normalise(r)) for r in sim.clicks_SK], [names, topics],
        "per segment: " + ", ".join(f"{n} {tv:.3f}" for n, tv in zip(names, tvs, strict=True)),
    )


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / x.sum() if x.sum() > 0 else x


def _rounded(x: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in x]
