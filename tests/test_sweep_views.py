"""What the Sweep page's trial table says of a trial queued again (stopped, or its worker died): the retry is a new
trial holding a copy of the failed one's attributes, and its row must not show them as its own."""

from __future__ import annotations

import optuna
import pandas as pd
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from dqn_sim.sweep import study as studies
from dqn_sim.sweep.views import trial_table
from tests.test_sweep import pytestmark  # noqa: F401  (the sweep's warning filters)

SPACE = {"agent.gamma": FloatDistribution(0.8, 0.99)}


def test_a_retried_trial_shows_neither_the_failed_trials_error_nor_its_runs() -> None:
    study = optuna.create_study(direction="maximize")
    first = study.ask(SPACE)
    first.set_user_attr("run_ids", ["run-of-the-first"])
    first.set_user_attr("error", "interrupted: queued again")
    study.tell(first, state=TrialState.FAIL)
    studies.requeue(study, study.get_trials(deepcopy=False)[0])

    table = trial_table(study).set_index("trial")
    assert list(table.state) == ["fail", "waiting"]
    assert table.loc[0, "error"] == "interrupted: queued again" and table.loc[0, "runs"] == "run-of-the-first"
    assert pd.isna(table.loc[1, "error"]) and table.loc[1, "runs"] == ""  # waiting: no runs, no error yet
    assert table.loc[1, "agent.gamma"] == table.loc[0, "agent.gamma"]  # the same values, tried again

    retry = study.ask(SPACE)
    retry.set_user_attr("run_ids", ["run-of-the-retry"])  # as a worker does when it starts a trial
    study.tell(retry, 50.0)
    table = trial_table(study).set_index("trial")
    assert table.loc[1, "state"] == "complete" and table.loc[1, "value"] == 50.0
    assert pd.isna(table.loc[1, "error"]) and table.loc[1, "runs"] == "run-of-the-retry"
