"""Fit a scenario to interaction logs: every fitted quantity lands on a scenario knob or fitted table, and
every one is explained (``Explanation``) for the report, the CLI and the studio.

The model the fit assumes: a row of the log is one recommendation step (an impression), a click is a rating at
or above the threshold (or the click column), a session is one user's run of rows without an inactivity gap, and
every step costs one unit of session budget. The log's exposure (what users were shown) followed item popularity,
tilted per segment toward the genres the segment watched: ``logging_SI`` is that policy, so the fitted world can
be simulated the way the log was made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dqn_sim.calibrate.errors import DataError
from dqn_sim.calibrate.estimators import (
    logit,
    row_blocks,
    session_lengths,
    shrunk_means,
    wls_slope,
    zipf_exponent,
)
from dqn_sim.calibrate.items import NO_GENRE
from dqn_sim.calibrate.readers import Interactions
from dqn_sim.calibrate.segments import GAP_TOLERANCE, Clustering, kmeans, suggest_segments
from dqn_sim.calibrate.simulate import simulate
from dqn_sim.config import AudienceConfig, CatalogueConfig, DynamicsConfig, ScenarioConfig

MAX_TOPICS = 64  # catalogue.n_topics' upper bound: rarer genres merge into one
MAX_POPULATION = 100_000  # simulated users (audience.n_users): more only cost memory, all come from the segments
MAX_SESSION_STEPS = 1000  # longer sessions are cut (dynamics.max_steps)
SHARE_PRIOR = 5.0  # pseudo-interactions pulling a user's topic shares toward everyone's (clustering)
RATE_PRIOR = 5.0  # pseudo-impressions pulling a click rate toward its segment's (or everyone's)
PILOT_SESSIONS = 1500  # simulated sessions per budget refinement
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class FitOptions:
    """What the user decides: segment count (None = the suggestion), session gap, click threshold, catalogue cap."""

    segments: int | None = None
    gap_minutes: float = 30.0
    threshold: float = 4.0
    max_items: int = 2000
    seed: int = 0
    name: str = "calibrated"


@dataclass(frozen=True)
class Explanation:
    """One fitted quantity: where it went (a config path, or a name), its value, and how it was fitted."""

    quantity: str
    value: str
    how: str


@dataclass(frozen=True)
class DataProfile:
    """The data as the report compares it with a simulation, on the scenario's items, topics and segments."""

    impressions_I: np.ndarray
    clicks_I: np.ndarray
    clicks_SK: np.ndarray
    session_lengths: np.ndarray

    @property
    def ctr(self) -> float:
        return float(self.clicks_I.sum() / max(self.impressions_I.sum(), 1))


@dataclass(frozen=True)
class Fit:
    scenario: ScenarioConfig
    profile: DataProfile
    logging_SI: np.ndarray  # the log's exposure per segment: the logging-like policy that simulates the fit
    explanations: list[Explanation]
    suggested_segments: int
    gaps: dict[int, float]  # gap statistic per segment count (the suggestion's evidence)


@dataclass(frozen=True)
class _Catalogue:
    """The kept items (scenario order = file order), their topics, and the scenario item of every data row."""

    kept_I: np.ndarray  # indices into the data's items
    code_I: np.ndarray  # scenario item of each data item, -1 when not kept
    topics_IK: np.ndarray
    topic_names: list[str]
    item_topics: list[str]


@dataclass(frozen=True)
class _Popularity:
    counts_I: np.ndarray
    clicks_I: np.ndarray
    zipf: float
    rank_I: np.ndarray
    prior_I: np.ndarray  # rank^-zipf, normalised: the scenario's popularity prior
    log_pop_I: np.ndarray  # centred log prior, as the simulator's click logit takes it
    weight: float  # catalogue.popularity_weight


@dataclass(frozen=True)
class _Segments:
    clustering: Clustering
    suggested: int
    gaps: dict[int, float]
    impressions_SK: np.ndarray
    clicks_SK: np.ndarray
    logging_SI: np.ndarray
    profile_SK: np.ndarray
    affinity_weight: float
    no_click_score: float
    spread: float
    names: list[str]


def fit_scenario(data: Interactions, options: FitOptions, progress: Progress | None = None) -> Fit:
    """The scenario that reproduces ``data`` under the log's exposure, explained quantity by quantity."""
    say = progress or (lambda fraction, detail: None)
    click_R = _clicks(data, options.threshold)
    cat = _catalogue(data, options.max_items)
    on = cat.code_I[data.item_R] >= 0
    coverage = float(on.mean())
    item_R, user_R, clicked_R = cat.code_I[data.item_R[on]], data.user_R[on], click_R[on]
    score_R = clicked_R if data.rating_R is None else data.rating_R[on]
    del on
    say(0.1, "popularity")
    pop = _popularity(item_R, clicked_R, cat.kept_I.size)
    say(0.2, "quality")
    quality_I, quality_note = _quality(score_R, item_R, cat.kept_I.size, data.rating_R is not None)
    del score_R
    say(0.3, "sessions")
    try:
        lengths = session_lengths(data.user_R, data.time_R, 60.0 * options.gap_minutes)
    except ValueError as e:
        raise DataError(data.path, str(e)) from None
    max_steps = int(np.clip(np.ceil(np.quantile(lengths, 0.999)), 10, MAX_SESSION_STEPS))
    say(0.4, "segments")
    seg = _segments(user_R, item_R, clicked_R, cat, pop, data, options)
    say(0.6, "session budget")
    scenario = _scenario(options, data, cat, pop, quality_I, seg, lengths, max_steps)
    target = float(np.minimum(lengths, max_steps).mean())
    scenario = _fit_budget(scenario, target, seg.logging_SI, options.seed,
                           lambda f: say(0.6 + 0.4 * f, "session budget"))
    notes = _explain(data, options, cat, pop, quality_note, seg, scenario, lengths, target, coverage)
    profile = DataProfile(pop.counts_I, pop.clicks_I, seg.clicks_SK, lengths)
    return Fit(scenario, profile, seg.logging_SI, notes, seg.suggested, seg.gaps)


def _clicks(data: Interactions, threshold: float) -> np.ndarray:
    if data.click_R is not None:
        return data.click_R
    click = data.rating_R >= threshold
    if not click.any() or click.all():
        raise DataError(data.path, f"click threshold {threshold:g} leaves {'no' if not click.any() else 'only'} "
                                   f"clicks (ratings range {data.rating_R.min():g}-{data.rating_R.max():g}); "
                                   "set --threshold")
    return click


def _catalogue(data: Interactions, max_items: int) -> _Catalogue:
    """The ``max_items`` most-interacted items (kept in file order) and their topic mixes."""
    counts = np.bincount(data.item_R, minlength=data.n_items)
    kept = np.sort(np.argsort(-counts, kind="stable")[:max_items])
    if kept.size < 2:
        raise DataError(data.path, "fewer than 2 items: nothing to recommend")
    code = np.full(data.n_items, -1, dtype=np.int32)
    code[kept] = np.arange(kept.size)
    flags = data.items.genres_IG[kept]
    names = list(data.items.genre_names)
    used = np.flatnonzero(flags.any(0))
    if used.size >= MAX_TOPICS:  # the rarest genres become one
        used = used[np.argsort(-(flags.T @ counts[kept])[used], kind="stable")]
        rare = flags[:, used[MAX_TOPICS - 1:]].any(1)
        flags = np.column_stack([flags[:, used[:MAX_TOPICS - 1]], rare])
        names = [names[j] for j in used[:MAX_TOPICS - 1]] + ["(other genres)"]
    else:
        flags, names = flags[:, used], [names[j] for j in used]
    none = ~flags.any(1)
    if none.any():
        flags, names = np.column_stack([flags, none]), names + [NO_GENRE]
    topics = (flags / flags.sum(1, keepdims=True)).astype(np.float32)
    item_topics = ["|".join(names[j] for j in np.flatnonzero(row)) for row in flags]
    return _Catalogue(kept, code, topics, names, item_topics)


def _popularity(item_R: np.ndarray, clicked_R: np.ndarray, n: int) -> _Popularity:
    """Zipf exponent of the interaction counts, items ranked by them, and how popularity sways clicks."""
    counts = np.bincount(item_R, minlength=n).astype(np.float64)
    clicks = sum(np.bincount(item_R[rows], clicked_R[rows], n) for rows in row_blocks(item_R.size))
    zipf = zipf_exponent(counts)
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(-counts, kind="stable")] = np.arange(1, n + 1)
    prior = rank.astype(np.float64) ** -zipf
    prior /= prior.sum()
    log_pop = np.log(prior * n) - np.log(prior * n).mean()
    ctr = clicks.sum() / counts.sum()
    rate = (clicks + RATE_PRIOR * ctr) / (counts + RATE_PRIOR)
    weight = float(np.clip(wls_slope(log_pop, logit(rate), counts + 1.0), 0.0, 5.0))
    return _Popularity(counts, clicks, zipf, rank, prior, log_pop, round(weight, 4))


def _quality(score_R: np.ndarray, item_R: np.ndarray, n: int, rated: bool) -> tuple[np.ndarray, Explanation]:
    """Item quality: the shrunk mean rating (or click rate) mapped from its scale onto [-1, 1]."""
    sum_I, sq_I = np.zeros(n), np.zeros(n)
    for rows in row_blocks(item_R.size):
        s, item = score_R[rows].astype(np.float64), item_R[rows]
        sum_I += np.bincount(item, s, n)
        sq_I += np.bincount(item, s * s, n)
    m_I, k = shrunk_means(sum_I, sq_I, np.bincount(item_R, minlength=n))
    lo, hi = float(score_R.min()), float(score_R.max())
    q_I = 2.0 * (m_I - lo) / (hi - lo) - 1.0 if hi > lo else np.zeros(n)
    what = "rating" if rated else "click rate"
    return q_I, Explanation(
        "catalogue.item_quality_z", f"quality mean {q_I.mean():.3f}, spread {q_I.std():.3f}",
        f"each item's mean {what} shrunk toward the overall mean (empirical-Bayes prior of {k:.1f} interactions), "
        f"mapped from [{lo:g}, {hi:g}] onto [-1, 1]; catalogue.quality_mean and quality_std hold its mean and spread",
    )


def _per_user(user_R: np.ndarray, item_R: np.ndarray, topics_IK: np.ndarray, n_users: int,
              only_R: np.ndarray | None = None) -> np.ndarray:
    """Users x topics counts of rows (those where ``only_R``, when given), each row split over its item's
    topic mix; by blocks of rows and one topic at a time, so temporaries stay small on a 25M-row log."""
    out = np.zeros((n_users, topics_IK.shape[1]))
    for rows in row_blocks(user_R.size):
        user, item = user_R[rows], item_R[rows]
        for j in range(topics_IK.shape[1]):
            share = topics_IK[item, j] if only_R is None else topics_IK[item, j] * only_R[rows]
            out[:, j] += np.bincount(user, share, n_users)
    return out


def _affinity(counts_UK: np.ndarray) -> np.ndarray:
    """Users' topic affinity: a topic's share of the user's interactions (shrunk toward everyone's by a few
    pseudo-interactions) over its share of everyone's; 1 = like everyone, 2 = twice as keen."""
    global_K = counts_UK.sum(0) / counts_UK.sum()
    affinity_UK = counts_UK + SHARE_PRIOR * global_K
    affinity_UK /= counts_UK.sum(1, keepdims=True) + SHARE_PRIOR
    affinity_UK /= np.maximum(global_K, 1e-12)
    return affinity_UK


def _segments(user_R: np.ndarray, item_R: np.ndarray, clicked_R: np.ndarray, cat: _Catalogue, pop: _Popularity,
              data: Interactions, options: FitOptions) -> _Segments:
    """Segments by k-means on topic affinity; per segment, the log's exposure and the interests that give each
    topic the segment's click rate on it (p = sigmoid(w u - c + popularity term))."""
    shows_UK = _per_user(user_R, item_R, cat.topics_IK, data.n_users)
    clicks_UK = _per_user(user_R, item_R, cat.topics_IK, data.n_users, clicked_R)
    affinity_UK = _affinity(shows_UK)
    suggested, gaps = suggest_segments(affinity_UK, options.seed)
    k = options.segments or suggested
    if k > data.n_users:
        raise DataError(data.path, f"{k} segments asked for but only {data.n_users} users")
    clustering = kmeans(affinity_UK, k, options.seed)
    label = clustering.label_U
    shows_SK = np.stack([shows_UK[label == s].sum(0) for s in range(k)])
    clicks_SK = np.stack([clicks_UK[label == s].sum(0) for s in range(k)])
    logging_SI = np.stack([_tilted(pop.prior_I, cat.topics_IK, row / row.sum()) for row in shows_SK])
    ctr_S = clicks_SK.sum(1) / np.maximum(shows_SK.sum(1), 1e-12)
    p_SK = np.clip((clicks_SK + RATE_PRIOR * ctr_S[:, None]) / (shows_SK + RATE_PRIOR), 0.005, 0.995)
    target_SK = logit(p_SK) - (pop.weight * logging_SI @ pop.log_pop_I)[:, None]
    lo, hi = float(target_SK.min()), float(target_SK.max())
    weight = float(np.clip((hi - lo) / 1.8, 0.05, 20.0))  # profiles in [-0.9, 0.9], room for the spread
    no_click = float(np.clip(-(hi + lo) / 2.0, -20.0, 20.0))
    profile_SK = np.clip((target_SK + no_click) / weight, -1.0, 1.0)
    spread = _interest_spread(shows_UK, clicks_UK, label, p_SK, weight)
    lift_SK = (shows_SK / shows_SK.sum(1, keepdims=True)) / (shows_SK.sum(0) / shows_SK.sum())
    return _Segments(clustering, suggested, gaps, shows_SK, clicks_SK, logging_SI, profile_SK, round(weight, 4),
                     round(no_click, 4), spread, _segment_names(lift_SK, cat.topic_names))


def _tilted(prior_I: np.ndarray, topics_IK: np.ndarray, target_K: np.ndarray, rounds: int = 100) -> np.ndarray:
    """The log's exposure of one segment: the popularity prior tilted by exp(topics . theta), theta fitted so
    that the exposure's topic mix is ``target_K`` (generalised iterative scaling: topic mixes sum to 1)."""
    theta_K = np.zeros(topics_IK.shape[1])
    target_K = np.maximum(target_K, 1e-9)
    for _ in range(rounds):
        w_I = prior_I * np.exp(topics_IK @ theta_K)
        w_I /= w_I.sum()
        theta_K += np.log(target_K / np.maximum(w_I @ topics_IK, 1e-12))
    w_I = prior_I * np.exp(topics_IK @ theta_K)
    return w_I / w_I.sum()


def _interest_spread(shows_UK: np.ndarray, clicks_UK: np.ndarray, label_U: np.ndarray, p_SK: np.ndarray,
                     weight: float) -> float:
    """How much users' click rates on a topic differ within their segment beyond binomial noise, in interest
    units (d u / d p = 1 / (w p (1 - p))): over users, n (p_hat - p)^2 - p (1 - p) sums to n tau^2."""
    tau2_SK = np.zeros_like(p_SK)
    for s, p_K in enumerate(p_SK):  # segment by segment: temporaries of one segment's users only
        mine = label_U == s
        shows, clicks = shows_UK[mine], clicks_UK[mine]
        seen = shows > 0
        rate = np.divide(clicks, shows, out=np.zeros_like(clicks), where=seen)
        tau2_SK[s] = np.where(seen, shows * (rate - p_K) ** 2 - p_K * (1 - p_K), 0.0).sum(0)
    var = (tau2_SK / (weight * p_SK * (1 - p_SK)) ** 2).sum() / max(shows_UK.sum(), 1e-12)
    return float(np.clip(np.sqrt(max(var, 0.0)), 0.0, 2.0).round(4))


def _segment_names(lift_SK: np.ndarray, topics: list[str]) -> list[str]:
    """A segment is named after the two topics it watches most above everyone's share."""
    if len(topics) < 2:
        return [f"Segment {s + 1}" for s in range(lift_SK.shape[0])]
    names: list[str] = []
    for row in lift_SK:
        a, b = np.argsort(-row, kind="stable")[:2]
        name = f"{topics[a]} & {topics[b]}"
        names.append(name if name not in names else f"{name} ({len(names) + 1})")
    return names


def _scenario(options: FitOptions, data: Interactions, cat: _Catalogue, pop: _Popularity, quality_I: np.ndarray,
              seg: _Segments, lengths: np.ndarray, max_steps: int) -> ScenarioConfig:
    """The fitted quantities on the scenario's knobs and tables (the budget is refined by simulation next)."""
    k = seg.profile_SK.shape[0]
    q_mean, q_std = float(quality_I.mean()), float(quality_I.std())
    return ScenarioConfig(
        name=options.name, world_seed=options.seed, reward="click",
        catalogue=CatalogueConfig(
            n_items=cat.kept_I.size, n_topics=len(cat.topic_names), topic_names=cat.topic_names,
            item_topics=cat.item_topics, item_popularity_rank=pop.rank_I.tolist(), popularity_zipf=round(pop.zipf, 4),
            popularity_weight=pop.weight, quality_mean=round(q_mean, 4), quality_std=round(q_std, 4),
            item_quality_z=np.clip((quality_I - q_mean) / max(q_std, 1e-9), -10, 10).round(4).tolist(),
            clickbait_share=0.0, length_mean=1.0, length_std=0.0,
        ),
        audience=AudienceConfig(
            n_users=min(data.n_users, MAX_POPULATION), n_segments=k, segment_names=seg.names,
            segment_shares=(np.bincount(seg.clustering.label_U, minlength=k) / data.n_users).round(6).tolist(),
            segment_focus=min(2, len(cat.topic_names)), segment_profiles=seg.profile_SK.round(4).ravel().tolist(),
            interest_spread=seg.spread, budget_mean=1.0,
            budget_spread=round(float(np.clip(np.log(lengths).std(), 0.0, 2.0)), 4),
        ),
        dynamics=DynamicsConfig(
            affinity_weight=seg.affinity_weight, no_click_score=seg.no_click_score, fatigue_gain=0.0, drift_rate=0.0,
            no_click_cost=1.0, max_steps=max_steps,
        ),
    )


def _fit_budget(scenario: ScenarioConfig, target_mean: float, logging_SI: np.ndarray, seed: int,
                progress: Callable[[float], None], rounds: int = 3) -> ScenarioConfig:
    """Rescale the session budget until simulated sessions have the data's mean length (fixed-point steps:
    sessions last about budget / cost-per-step steps)."""
    budget = max(target_mean - 0.5, 0.5)
    for i in range(rounds):
        scenario = scenario.with_overrides({"audience.budget_mean": round(budget, 4)})
        simulated = float(simulate(scenario, logging_SI, PILOT_SESSIONS, seed + 7919).session_lengths.mean())
        budget = float(np.clip(budget * target_mean / simulated, 0.1, 100000.0))
        progress((i + 1) / rounds)
    return scenario.with_overrides({"audience.budget_mean": round(budget, 4)})


def _explain(data: Interactions, options: FitOptions, cat: _Catalogue, pop: _Popularity, quality: Explanation,
             seg: _Segments, scenario: ScenarioConfig, lengths: np.ndarray, target: float,
             coverage: float) -> list[Explanation]:
    n, a, d = cat.kept_I.size, scenario.audience, scenario.dynamics
    ctr = pop.clicks_I.sum() / pop.counts_I.sum()
    gaps = ", ".join(f"k={j} {v:.3f}" for j, v in seg.gaps.items())
    return [
        Explanation("catalogue.n_items", str(n), f"the {n} most-interacted items of {data.n_items}, which hold "
                    f"{coverage:.1%} of the {data.n_ratings:,} interactions"),
        Explanation("catalogue.topic_names", ", ".join(cat.topic_names), "the genres (categories) of the kept "
                    "items; catalogue.item_topics gives each item an equal mix of its genres"),
        Explanation("catalogue.popularity_zipf", f"{pop.zipf:.3f}", "discrete Zipf maximum likelihood over the "
                    "items' interaction counts; catalogue.item_popularity_rank ranks the items by those counts"),
        Explanation("catalogue.popularity_weight", f"{pop.weight:.3f}", "weighted least-squares slope of the "
                    "items' (shrunk) click logit on their centred log popularity prior"),
        Explanation("click", f"{ctr:.1%} of interactions", "the click column" if data.click_R is not None
                    else f"a rating at or above the threshold {options.threshold:g}"),
        quality,
        Explanation("audience.n_segments", str(a.n_segments), "k-means over users' topic affinity (each topic's "
                    "share of the user's interactions over its share of everyone's); suggested "
                    f"{seg.suggested}, the largest k whose last segment raised the gap statistic by >= "
                    f"{GAP_TOLERANCE} ({gaps})"),
        Explanation("audience.segment_shares", ", ".join(f"{s:.1%}" for s in a.segment_shares),
                    "share of users per segment"),
        Explanation("audience.n_users", f"{a.n_users:,}", f"the data's users, at most {MAX_POPULATION:,}: "
                    "simulated users are drawn from the fitted segments, so more would only cost memory"),
        Explanation("audience.segment_profiles", f"{a.n_segments} x {len(cat.topic_names)}", "per segment and "
                    "topic, the interest whose click chance is the segment's click rate on that topic (shrunk), on "
                    f"the logit scale; dynamics.affinity_weight {d.affinity_weight:g} and no_click_score "
                    f"{d.no_click_score:g} map the rates onto interests in [-0.9, 0.9]"),
        Explanation("audience.interest_spread", f"{a.interest_spread:.3f}", "how much users' click rates on a "
                    "topic differ within their segment beyond binomial noise, in interest units"),
        Explanation("audience.budget_mean", f"{a.budget_mean:.2f}", f"sessions split at {options.gap_minutes:g} "
                    f"min of inactivity: {lengths.size:,} sessions, mean {lengths.mean():.2f} interactions; the "
                    f"budget is rescaled by simulation until simulated sessions have the mean {target:.2f} (cut at "
                    f"dynamics.max_steps = {d.max_steps}, the 99.9th percentile)"),
        Explanation("audience.budget_spread", f"{a.budget_spread:.3f}", "standard deviation of log session length"),
        Explanation("one step", "one interaction", "reward = click; every item has length 1 and a step without "
                    "a click costs 1 (dynamics.no_click_cost), so the budget counts steps; quality refills it"),
        Explanation("not fitted", "dynamics.budget_refill, fatigue, drift", "a log of ratings cannot tell them; "
                    "budget_refill keeps its default, topic fatigue and interest drift are off"),
    ]
