"""Statistics the dashboards and the CLI report: confidence intervals, chart smoothing and results over seeds."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import numpy as np
from scipy import stats
from scipy.signal import lfilter


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t interval of a sample (the interval is the mean itself for fewer than 2 values)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(x.mean())
    if x.size < 2 or x.std() == 0:
        return m, m, m
    lo, hi = stats.t.interval(level, x.size - 1, loc=m, scale=stats.sem(x))
    return m, float(lo), float(hi)


def rate_ci(successes: int, trials: int, level: float = 0.95) -> tuple[float, float, float]:
    """A rate with the equal-tailed Beta(successes + 1, failures + 1) interval."""
    if trials <= 0:
        return float("nan"), float("nan"), float("nan")
    a, b = successes + 1, trials - successes + 1
    lo, hi = stats.beta.ppf([(1 - level) / 2, (1 + level) / 2], a, b)
    return successes / trials, float(lo), float(hi)


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard/W&B debiased exponential moving average (``weight`` in [0, 1); 0 = no smoothing).

    Non-finite values are skipped (NaN in the output, the average carries on). One ``lfilter`` call, so
    the live dashboards can smooth long series every second without holding the GIL in a Python loop.
    """
    x = np.asarray(values, dtype=np.float64)
    if weight <= 0 or x.size == 0:
        return x.copy()
    finite = np.isfinite(x)
    out = np.full_like(x, np.nan)
    kept = x[finite]
    last = lfilter([1.0 - weight], [1.0, -weight], kept)
    out[finite] = last / (1.0 - weight ** np.arange(1, kept.size + 1))
    return out


# --- Results over several training seeds (Agarwal et al. 2021, "Deep RL at the edge of the statistical precipice") ---
#
# A handful of seeds is the usual budget, so point estimates alone mislead. Following the paper and its ``rliable``
# library (not a dependency here): the interquartile mean (robust to one lucky or crashed seed, less noisy than the
# median), percentile-bootstrap intervals over seeds, the probability of improvement and run-score profiles.
# Non-finite scores (a diverged run reporting NaN) are dropped before anything is computed: a NaN says "no score",
# not "a score of zero"; callers that want to count such runs as failures should substitute a number themselves.
# Bootstraps are seeded (``numpy.random.default_rng(seed)``) and vectorised: one index array for all resamples.


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64).ravel()
    return x[np.isfinite(x)]


def _percentile_interval(boot: np.ndarray, level: float) -> tuple[float, float]:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    lo, hi = np.quantile(boot, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(lo), float(hi)


def _resample(x: np.ndarray, rng: np.random.Generator, n_resamples: int) -> np.ndarray:
    """``n_resamples`` bootstrap samples of ``x`` as the rows of one array (drawn with replacement)."""
    return x[rng.integers(0, x.size, size=(n_resamples, x.size))]


def iqm(values: Sequence[float] | np.ndarray) -> float:
    """Interquartile mean: the mean of the middle half, ``trim_mean(x, 0.25)`` as in ``rliable``.

    ``floor(n / 4)`` values are cut from each end, so for fewer than 4 values nothing is cut and the IQM is the plain
    mean (``rliable`` does the same). Non-finite values are dropped; NaN when nothing is left.
    """
    x = _finite(values)
    return float(stats.trim_mean(x, 0.25)) if x.size else float("nan")


_STATISTICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "iqm": lambda rows: stats.trim_mean(rows, 0.25, axis=-1),
    "mean": lambda rows: rows.mean(axis=-1),
}


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    statistic: Literal["iqm", "mean"] = "iqm",
    *,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(point, lo, hi)``: the statistic over seeds and its percentile-bootstrap interval.

    Resamples the seeds, not the episodes inside a run, because the seed-to-seed spread is what a rerun would show.
    Non-finite values are dropped; no value left gives NaNs, a single value gives ``(x, x, x)``.
    """
    if statistic not in _STATISTICS:
        raise ValueError(f"statistic must be one of {sorted(_STATISTICS)}, got {statistic!r}")
    fn = _STATISTICS[statistic]
    x = _finite(values)
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    point = float(fn(x))
    if x.size < 2:
        return point, point, point
    lo, hi = _percentile_interval(fn(_resample(x, np.random.default_rng(seed), n_resamples)), level)
    return point, lo, hi


def probability_of_improvement(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(P, lo, hi)`` with ``P = P(X > Y) + P(X == Y) / 2``, X a seed's score of ``a`` and Y one of ``b``.

    The share of (a-seed, b-seed) pairs that ``a`` wins, a tie counting half: the Mann-Whitney U over ``n * m``.
    Unlike a difference of means it says how often ``a`` is better, whatever the scale. The interval resamples
    ``a`` and ``b`` independently (``rliable``'s stratified bootstrap, with one task). Non-finite values are
    dropped; NaNs when either side is left empty.
    """
    x, y = _finite(a), _finite(b)
    if x.size == 0 or y.size == 0:
        return float("nan"), float("nan"), float("nan")
    # wins[i, j] = 1, 0.5 or 0 as x[i] beats, ties or loses to y[j]; a resample only reweights this matrix.
    wins = (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])
    point = float(wins.mean())
    rng = np.random.default_rng(seed)
    ca = rng.multinomial(x.size, np.full(x.size, 1.0 / x.size), size=n_resamples)  # how often each a-seed is drawn
    cb = rng.multinomial(y.size, np.full(y.size, 1.0 / y.size), size=n_resamples)
    boot = ((ca @ wins) * cb).sum(axis=1) / (x.size * y.size)
    lo, hi = _percentile_interval(boot, level)
    return point, lo, hi


def iqm_difference(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(IQM(a) - IQM(b), lo, hi)``: the gap in the policies' own units, ``a`` and ``b`` resampled independently.

    Non-finite values are dropped; NaNs when either side is left empty.
    """
    x, y = _finite(a), _finite(b)
    if x.size == 0 or y.size == 0:
        return float("nan"), float("nan"), float("nan")
    iqm_rows = _STATISTICS["iqm"]
    point = float(iqm_rows(x) - iqm_rows(y))
    rng = np.random.default_rng(seed)
    boot = iqm_rows(_resample(x, rng, n_resamples)) - iqm_rows(_resample(y, rng, n_resamples))
    lo, hi = _percentile_interval(boot, level)
    return point, lo, hi


def _json_number(v: float) -> float | None:
    """A plain float, or None where JSON has no number (NaN, infinities)."""
    v = float(v)
    return v if np.isfinite(v) else None


def aggregate(per_seed: Mapping[str, Sequence[float]], *, seed: int = 0, n_resamples: int = 2000) -> dict[str, dict]:
    """Per policy: IQM and mean with 95% bootstrap intervals, spread and the scores themselves, ready for JSON.

    Every number is a plain float; a non-finite score shows as None in ``per_seed`` and is left out of the rest
    (``n`` counts the finite ones), and statistics of an empty policy are None. ``std`` is the sample standard
    deviation (``ddof=1``; 0 for one seed). Each policy is bootstrapped with the same ``seed``, so a policy's
    interval does not depend on which other policies are in the mapping.
    """
    out: dict[str, dict] = {}
    for name, values in per_seed.items():
        raw = np.asarray(values, dtype=np.float64).ravel()
        x = raw[np.isfinite(raw)]
        i, i_lo, i_hi = bootstrap_ci(x, "iqm", n_resamples=n_resamples, seed=seed)
        m, m_lo, m_hi = bootstrap_ci(x, "mean", n_resamples=n_resamples, seed=seed)
        empty = x.size == 0
        out[str(name)] = {
            "iqm": _json_number(i),
            "iqm_ci": [_json_number(i_lo), _json_number(i_hi)],
            "mean": _json_number(m),
            "mean_ci": [_json_number(m_lo), _json_number(m_hi)],
            "per_seed": [_json_number(v) for v in raw],
            "std": None if empty else (float(x.std(ddof=1)) if x.size > 1 else 0.0),
            "min": None if empty else float(x.min()),
            "max": None if empty else float(x.max()),
            "n": int(x.size),
        }
    return out


def improvement_sentence(name_a: str, name_b: str, poi: tuple[float, float, float], *, unit: str = "seed") -> str:
    """One honest line for a probability of improvement ``(P, lo, hi)`` of ``name_a`` over ``name_b``.

    Names the winner first when the interval excludes 50%; says so plainly when it does not. ``unit`` names what
    was paired ("seed"; "session" when two single runs are compared over their evaluation sessions).
    """
    p, lo, hi = poi
    if not all(np.isfinite([p, lo, hi])):
        return f"{name_a} vs {name_b}: no finite scores to compare"
    if lo > 0.5:
        return f"{name_a} beats {name_b} in {p:.0%} of {unit} pairs [{lo:.0%}, {hi:.0%}]"
    if hi < 0.5:  # P(b beats a) = 1 - P(a beats b), and the bootstrap interval flips with it
        return f"{name_b} beats {name_a} in {1 - p:.0%} of {unit} pairs [{1 - hi:.0%}, {1 - lo:.0%}]"
    return (
        f"{name_a} beats {name_b} in {p:.0%} of {unit} pairs [{lo:.0%}, {hi:.0%}]: "
        f"not distinguishable from a coin flip with these {unit}s"
    )


def performance_profile(scores: Sequence[float] | np.ndarray, thresholds: Sequence[float] | np.ndarray) -> np.ndarray:
    """Share of runs scoring above each threshold ``tau`` (``rliable``'s run-score distribution).

    The whole distribution over seeds, so a policy that is good on average but sometimes collapses shows it.
    Non-increasing in ``tau``; non-finite scores are dropped, and no score left gives NaNs.
    """
    x = np.sort(_finite(scores))
    tau = np.asarray(thresholds, dtype=np.float64)
    if x.size == 0:
        return np.full(tau.shape, np.nan)
    return (x.size - np.searchsorted(x, tau, side="right")) / x.size


def lift(value: float, reference: float) -> float:
    """``value`` relative to ``reference`` (+0.25 = 25% more); NaN when the reference is 0 or not a number, so a
    page shows "—" instead of dividing by zero (a live run's summary is not checked the way an import is)."""
    if not (math.isfinite(value) and math.isfinite(reference)) or reference == 0:
        return float("nan")
    return value / reference - 1.0
