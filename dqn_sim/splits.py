"""Which evaluation rows answer which question (the ``split`` column of the evaluation table).

Choosing a checkpoint by its score on some users and then reporting that score flatters it: the best of many noisy
evaluations is high partly by luck. So evaluations during training run on validation users, which draw the learning
curve and pick the checkpoint, and the kept checkpoint is judged once, beside every baseline, on test users that
played no part in the choice: that is the run's result. Rows stored before the split existed carry no mark; they
were all validation rows.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

VALIDATION = "validation"
TEST = "test"


def _is_test(evals: pd.DataFrame) -> pd.Series:
    return evals["split"] == TEST if "split" in evals else pd.Series(False, index=evals.index)


def validation_rows(evals: pd.DataFrame) -> pd.DataFrame:
    """The evaluations made during training (the learning curve)."""
    return evals[~_is_test(evals)]


def final_rows(evals: pd.DataFrame) -> pd.DataFrame:
    """One row per policy, its result: the test evaluation once the run has one, else its latest evaluation."""
    test = _is_test(evals)
    rows = evals[test] if test.any() else evals
    return rows.groupby("policy", sort=False).tail(1)


def has_test_result(summary: Mapping) -> bool:
    """Whether a run's summary reports its test evaluation (only then does it say which checkpoint it ``kept``)."""
    return "kept" in summary
