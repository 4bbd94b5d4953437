"""Seed-level statistics (IQM, bootstrap intervals, probability of improvement, profiles): exact small cases,
reproducibility and the coverage of the bootstrap intervals on normal samples."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from dqn_sim.stats import (
    aggregate,
    bootstrap_ci,
    improvement_sentence,
    iqm,
    iqm_difference,
    performance_profile,
    probability_of_improvement,
)


def test_iqm_by_hand() -> None:
    assert iqm(np.arange(1, 9)) == pytest.approx(4.5)  # 1..8: cut 1, 2 and 7, 8, mean of 3..6
    assert iqm([5.0, 1.0, 100.0, 2.0, 3.0, 4.0, -50.0, 6.0]) == pytest.approx(3.5)  # order and outliers don't matter
    assert iqm([1.0, 2.0, 9.0]) == pytest.approx(4.0)  # fewer than 4 values: nothing cut, the plain mean
    assert iqm([1.0, np.nan, 2.0, np.inf, 3.0, 4.0]) == pytest.approx(2.5)  # non-finite dropped
    assert np.isnan(iqm([]))


def test_iqm_of_a_symmetric_sample_is_its_centre() -> None:
    x = np.array([-3.0, -2.0, -1.5, -0.5, 0.5, 1.5, 2.0, 3.0]) + 7.0
    assert iqm(x) == pytest.approx(7.0)
    point, lo, hi = bootstrap_ci(x, "iqm")
    assert point == pytest.approx(7.0)
    assert lo < 7.0 < hi


def test_bootstrap_ci_reproducible_and_seeded() -> None:
    x = np.random.default_rng(1).normal(size=12)
    assert bootstrap_ci(x, seed=3) == bootstrap_ci(x, seed=3)
    assert bootstrap_ci(x, seed=3) != bootstrap_ci(x, seed=4)
    point, lo, hi = bootstrap_ci(x, "mean")
    assert point == pytest.approx(x.mean())
    assert lo < point < hi


def test_bootstrap_ci_edge_cases() -> None:
    assert bootstrap_ci([2.5]) == (2.5, 2.5, 2.5)
    assert bootstrap_ci([2.5, np.nan]) == (2.5, 2.5, 2.5)
    assert all(np.isnan(bootstrap_ci([])))
    assert bootstrap_ci([4.0, 4.0, 4.0], "mean") == (4.0, 4.0, 4.0)
    with pytest.raises(ValueError):
        bootstrap_ci([1.0, 2.0], "median")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        bootstrap_ci([1.0, 2.0], level=1.5)


@pytest.mark.parametrize("statistic", ["mean", "iqm"])
def test_bootstrap_ci_coverage_on_normal_samples(statistic: str) -> None:
    """Percentile intervals on n = 10 seeds cover the true centre (0) roughly 95% of the time (a bit less, the
    percentile bootstrap is known to run narrow on small samples)."""
    rng = np.random.default_rng(2021)
    samples = rng.normal(size=(300, 10))
    covered = [
        lo <= 0.0 <= hi
        for lo, hi in (bootstrap_ci(s, statistic, n_resamples=1000, seed=i)[1:] for i, s in enumerate(samples))
    ]
    assert 0.88 <= np.mean(covered) <= 0.99


def test_probability_of_improvement_exact_cases() -> None:
    assert probability_of_improvement([5.0, 6.0, 7.0], [1.0, 2.0]) == (1.0, 1.0, 1.0)
    assert probability_of_improvement([1.0, 2.0], [5.0, 6.0, 7.0]) == (0.0, 0.0, 0.0)
    x = np.random.default_rng(0).normal(size=9)
    p, lo, hi = probability_of_improvement(x, x.copy())
    assert p == 0.5
    assert lo < 0.5 < hi
    # by hand: pairs (1,2) 0, (1,0) 1, (2,2) 1/2, (2,0) 1, (3,2) 1, (3,0) 1 -> 4.5 / 6
    p, lo, hi = probability_of_improvement([1.0, 2.0, 3.0], [2.0, 0.0])
    assert p == pytest.approx(0.75)
    assert 0.0 <= lo <= p <= hi <= 1.0


def test_probability_of_improvement_is_mann_whitney_and_antisymmetric() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, 6, size=8).astype(float), rng.integers(0, 6, size=11).astype(float)  # many ties
    p_ab, lo_ab, hi_ab = probability_of_improvement(a, b, seed=7)
    u = stats.mannwhitneyu(a, b, alternative="greater").statistic
    assert p_ab == pytest.approx(u / (a.size * b.size))
    p_ba, _, _ = probability_of_improvement(b, a, seed=7)
    assert p_ab + p_ba == pytest.approx(1.0)
    assert probability_of_improvement(a, b, seed=7) == (p_ab, lo_ab, hi_ab)
    assert all(np.isnan(probability_of_improvement([np.nan], b)))


def test_iqm_difference() -> None:
    rng = np.random.default_rng(9)
    b = rng.normal(size=10)
    a = b + 3.0
    d, lo, hi = iqm_difference(a, b)
    assert d == pytest.approx(3.0)
    assert 0.0 < lo < 3.0 < hi
    d, lo, hi = iqm_difference(b, b)
    assert d == 0.0
    assert lo < 0.0 < hi
    assert iqm_difference(a, b, seed=1) == iqm_difference(a, b, seed=1)


def test_aggregate_keys_and_json() -> None:
    per_seed = {"dqn": [3.0, 4.0, 5.0, 6.0, np.nan], "random": [1.0], "broken": [np.nan]}
    out = aggregate(per_seed, n_resamples=200)
    assert set(out) == {"dqn", "random", "broken"}
    keys = {"iqm", "iqm_ci", "mean", "mean_ci", "per_seed", "std", "min", "max", "n"}
    assert all(set(v) == keys for v in out.values())
    json.loads(json.dumps(out, allow_nan=False))  # strict JSON: no NaN
    dqn = out["dqn"]
    assert dqn["n"] == 4
    assert dqn["per_seed"] == [3.0, 4.0, 5.0, 6.0, None]
    assert dqn["iqm"] == pytest.approx(4.5)
    assert dqn["mean"] == pytest.approx(4.5)
    assert dqn["iqm_ci"][0] <= dqn["iqm"] <= dqn["iqm_ci"][1]
    assert dqn["std"] == pytest.approx(np.std([3, 4, 5, 6], ddof=1))
    assert (dqn["min"], dqn["max"]) == (3.0, 6.0)
    assert out["random"]["iqm_ci"] == [1.0, 1.0]
    assert out["random"]["std"] == 0.0
    assert out["broken"]["n"] == 0 and out["broken"]["iqm"] is None
    assert type(dqn["iqm"]) is float and type(dqn["mean_ci"][0]) is float
    # a policy's interval does not depend on the other policies in the mapping
    assert aggregate({"dqn": per_seed["dqn"]}, n_resamples=200)["dqn"] == dqn


def test_improvement_sentence() -> None:
    assert (
        improvement_sentence("DQN", "oracle", (0.94, 0.86, 0.99)) == "DQN beats oracle in 94% of seed pairs [86%, 99%]"
    )
    assert improvement_sentence("DQN", "oracle", (0.1, 0.02, 0.3)) == "oracle beats DQN in 90% of seed pairs [70%, 98%]"
    s = improvement_sentence("DQN", "oracle", (0.6, 0.35, 0.82))
    assert s.startswith("DQN beats oracle in 60% of seed pairs [35%, 82%]")
    assert "coin flip" in s
    assert "no finite" in improvement_sentence("a", "b", (np.nan, np.nan, np.nan))


def test_performance_profile() -> None:
    scores = np.random.default_rng(3).normal(size=20)
    tau = np.linspace(-5.0, 5.0, 101)
    prof = performance_profile(scores, tau)
    assert prof.shape == tau.shape
    assert np.all(np.diff(prof) <= 0)
    assert prof[0] == 1.0 and prof[-1] == 0.0
    np.testing.assert_allclose(prof, (scores[:, None] > tau[None, :]).mean(axis=0))
    np.testing.assert_array_equal(performance_profile([1.0, 2.0, 2.0, np.nan], [0.0, 1.0, 2.0]), [1.0, 2 / 3, 0.0])
    assert np.all(np.isnan(performance_profile([], [0.0, 1.0])))
