"""Estimators of the fitted quantities: pure functions of count and rating arrays."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

ZIPF_RANGE = (0.0, 3.0)  # catalogue.popularity_zipf's allowed range


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
    """Interactions per session, a session ending where a user's next interaction is more than a gap later."""
    order = np.lexsort((time_R, user_R))
    start = np.empty(order.size, dtype=bool)
    start[0] = True
    user = user_R[order]
    np.not_equal(user[1:], user[:-1], out=start[1:])
    del user  # one sorted copy at a time: a 25M-row log stays within its memory budget
    start[1:] |= np.diff(time_R[order]) > gap_seconds
    return np.diff(np.append(np.flatnonzero(start), order.size))


def wls_slope(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Weighted least-squares slope of y on x."""
    xm, ym = np.average(x, weights=w), np.average(y, weights=w)
    var = float(np.average((x - xm) ** 2, weights=w))
    return float(np.average((x - xm) * (y - ym), weights=w) / var) if var > 0 else 0.0


def logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)
