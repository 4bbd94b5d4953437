"""Statistics the dashboards and the CLI report: confidence intervals and chart smoothing."""

from __future__ import annotations

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
