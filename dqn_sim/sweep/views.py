"""What the studio shows of a sweep, read from its study: the trials as a table and Optuna's own figures.

Each figure needs enough finished trials to say anything; ``figures`` hands back, in their place, the sentence
that says what is missing, so a page shows that instead of an empty or misleading chart.
"""

from __future__ import annotations

from collections.abc import Callable

import optuna
import optuna.visualization as vis
import pandas as pd
import plotly.graph_objects as go
from optuna.trial import TrialState

from dqn_sim.sweep.study import state_name

CURVES, HISTORY, PARALLEL, IMPORTANCE = ("Learning curves", "Optimisation history", "Parallel coordinates",
                                         "Parameter importance")


def trial_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, state, value, each parameter, where it was pruned, its runs, its error.

    A trial queued again (a worker died, or the sweep was stopped) is a new trial holding a copy of the failed one's
    attributes, so its row shows the runs, the pruning step and the error only where its own state has them: a
    waiting trial has no runs yet, and a retry that completes is not "interrupted"."""
    def row(t: optuna.trial.FrozenTrial) -> dict:
        attrs = t.user_attrs if t.state != TrialState.WAITING else {}
        return {"trial": t.number, "state": state_name(t.state), "value": t.value, **t.params,
                "pruned at step": attrs.get("pruned_at") if t.state == TrialState.PRUNED else None,
                "runs": ", ".join(attrs.get("run_ids", [])),
                "error": attrs.get("error") if t.state == TrialState.FAIL else None}

    rows = [row(t) for t in study.get_trials(deepcopy=False)]
    return pd.DataFrame(rows, columns=None if rows else ["trial", "state", "value"])


def _needs(study: optuna.Study, complete: int, what: str, figure: Callable[[optuna.Study], go.Figure]
           ) -> go.Figure | str:
    done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    if done < complete:
        return f"{what} once {complete} trial{'s' if complete > 1 else ''} have completed ({done} so far)."
    return figure(study)


def figures(study: optuna.Study, objective: str) -> dict[str, go.Figure | str]:
    """The validation curves of the trials overlaid (the IQM over seeds the pruner judged), the best value over
    trials, parameters against the objective, and fANOVA importance of each parameter."""
    name = f"validation {objective} (IQM over seeds)"
    with_values = [t for t in study.get_trials(deepcopy=False) if t.intermediate_values]
    curves = vis.plot_intermediate_values(study) if with_values else "Learning curves once a trial has been evaluated."
    if not isinstance(curves, str):
        curves.update_layout(xaxis_title="user-steps", yaxis_title=name)
    return {
        CURVES: curves,
        HISTORY: _needs(study, 1, "The optimisation history",
                        lambda s: vis.plot_optimization_history(s, target_name=name)),
        PARALLEL: _needs(study, 2, "Parallel coordinates", lambda s: vis.plot_parallel_coordinate(s, target_name=name)),
        IMPORTANCE: _needs(study, 3, "Parameter importance",
                           lambda s: vis.plot_param_importances(s, target_name=name)),
    }
