"""Estimators of the fitted quantities: pure functions of count and rating arrays."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

ZIPF_RANGE = (0.0, 3.0)  # catalogue.popularity_zipf's allowed range
BLOCK_ROWS = 1 << 22


def zipf_exponent(counts: np.ndarray) -> float:
    """Maximum-likelihood exponent s of a discrete Zipf law p(r) ~ r^-s over the ranks of ``counts``.

    Each interaction is a draw of an item rank; the log-likelihood is -s sum c_r log r - N log H(n, s)."""
    c = np.sort(np.asarray(counts, dtype=np.float64))[::-1]
    log_r = np.log(np.arange(1, c.size + 1))
    weighted, total = float(c @ log_r), float(c.sum())

    def nll(s: float) -> float:
        return s * weighted + total * float(np.log(np.exp(-s * log_r).sum()))

    return float(minimize_scalar(nll, bounds=ZIPF_RANGE, method="bounded", options={"xatol": 1e-4}).x)


def shrunk_means(sum_I: np.ndarray, sq_I: np.ndarray, n_I: np.ndarray) -> tuple[np.ndarray, float]:
    """Item means shrunk toward the overall mean (empirical Bayes): m = (sum + k mu) / (n + k).

    The prior strength k = within-item variance / between-item variance (method of moments), so items with
    few ratings sit near the overall mean and well-rated-by-many items keep their own."""
    n, total = n_I.astype(np.float64), float(n_I.sum())
    mu = float(sum_I.sum()) / total
    rated = n > 0
    mean_I = np.where(rated, sum_I / np.maximum(n, 1), mu)
    within = float((sq_I.sum() - (n * mean_I**2).sum()) / max(total - rated.sum(), 1.0))
    between = float(np.average((mean_I[rated] - mu) ** 2, weights=n[rated]))
    between -= within * rated.sum() / total  # sampling noise of the item means, weighted alike
    k = float(np.clip(within / between, 1.0, 1000.0)) if between > 0 else 1000.0
    return (sum_I + k * mu) / (n + k), k


def session_lengths(user_R: np.ndarray, time_R: np.ndarray, gap_seconds: float) -> np.ndarray:
    """Interactions per session, a session ending where a user's next interaction is more than a gap later.

    Users and times are packed into one int64 key (user << 32 | time since the first) and sorted in place:
    a 25M-row log needs two int64 arrays, not an index, its gathers and their copies. Between users the key
    jumps by at least 2^32 - the time range, far beyond any gap."""
    t0, span = int(time_R.min()), int(time_R.max()) - int(time_R.min())
    if span >= 1 << 31:
        raise ValueError(f"timestamps span {span / 3.15576e7:.0f} years; expected seconds or milliseconds")
    key = user_R.astype(np.int64)
    key <<= 32
    key += time_R
    key -= t0
    key.sort()
    start = np.diff(key) > gap_seconds
    del key
    return np.diff(np.concatenate([[0], np.flatnonzero(start) + 1, [start.size + 1]]))


def row_blocks(n_rows: int, block: int = BLOCK_ROWS) -> list[slice]:
    """Slices of ``block`` rows: per-row temporaries (float64 weights of a bincount) stay a few MB."""
    return [slice(lo, min(lo + block, n_rows)) for lo in range(0, n_rows, block)]


def wls_slope(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Weighted least-squares slope of y on x."""
    xm, ym = np.average(x, weights=w), np.average(y, weights=w)
    var = float(np.average((x - xm) ** 2, weights=w))
    return float(np.average((x - xm) * (y - ym), weights=w) / var) if var > 0 else 0.0


def logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)
