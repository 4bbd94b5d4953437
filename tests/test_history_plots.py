"""Stored-run comparison figures and the tables they draw, from known data, without Streamlit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dqn_sim import plots, policies
from dqn_sim.plots import history as hp
from tests.test_plots import BASELINES, make_evals, make_metrics, valid

SEGMENTS = ("Gamers", "Foodies")


def shifted(evals: pd.DataFrame, by: float) -> pd.DataFrame:
    """The same evaluations with every return moved: another scenario or seed, other baseline numbers."""
    cols = ["return_mean", "return_lo", "return_hi"]
    return evals.assign(**{c: evals[c] + by for c in cols})


def segments(policies: tuple[str, ...] = ("dqn", *BASELINES), by: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame([
        {"policy": p, "segment": s, "segment_name": name, "episodes": 50, "return_mean": 10.0 + s + by,
         "return_lo": 8.0 + s + by, "return_hi": 12.0 + s + by}
        for p in policies for s, name in enumerate(SEGMENTS)
    ])


def test_final_table_has_each_runs_last_dqn_result_and_shared_baselines_once() -> None:
    table = hp.final_table({"run A": make_evals(3), "run B": make_evals(2)}, ["greedy", "oracle"])
    assert list(table["series"]) == ["run A", "run B", "Greedy ranker", "Myopic oracle"]
    assert list(table["return_mean"][:2]) == [32.0, 31.0]  # the latest DQN evaluation of each run
    assert list(table["run_index"][:2]) == [0, 1] and list(table["variant"]) == [0, 0, 0, 0]
    assert table["vs_best_baseline"].iloc[0] == 32.0 / 23.0 - 1  # against the best of all four baselines
    assert table["vs_best_baseline"].iloc[2:].isna().all()


def test_baselines_that_differ_between_runs_are_named_by_run() -> None:
    table = hp.final_table({"run A": make_evals(), "run B": shifted(make_evals(), 5.0)}, ["greedy"])
    assert list(table["series"]) == ["run A", "run B", "Greedy ranker · run A", "Greedy ranker · run B"]
    assert list(table["variant"]) == [0, 0, 0, 1]


def test_run_without_evaluations_yet_is_left_out() -> None:
    assert hp.final_table({"new": make_evals(0).iloc[:0]}, ["greedy"]).empty
    table = hp.final_table({"new": make_evals(0), "old": make_evals(1)}, [])
    assert list(table["series"]) == ["old"] and list(table["run_index"]) == [1]


def test_curves_chart_draws_runs_in_their_colours_beside_baselines_across_the_chart() -> None:
    runs = {"run A": (make_metrics(40), make_evals(3)), "run B": (make_metrics(40), shifted(make_evals(3), 5.0))}
    table = hp.final_table({name: e for name, (_, e) in runs.items()}, ["oracle"])
    fig = valid(hp.curves_chart(runs, table, metric="return", x="step"))
    assert all(isinstance(t, go.Scatter) for t in fig.data)
    for i, name in enumerate(runs):
        line = next(t for t in fig.data if t.name == name and t.fill != "toself")
        assert line.line.color == hp.run_color(i) == plots.RUN_PALETTE[i]
    a, b = (next(t for t in fig.data if t.name == f"Myopic oracle · {run}") for run in runs)
    assert a.y[0] == a.y[1] == 23.0 and b.y[0] == 28.0
    assert (a.x[0], a.x[1]) == (0.0, 3000.0)  # from the start to the last evaluation
    assert a.line.dash != b.line.dash and a.line.color == b.line.color == policies.color("oracle")


def test_final_chart_puts_each_series_on_its_own_row_with_intervals() -> None:
    table = hp.final_table({"run A": make_evals(), "run B": make_evals()}, ["random"])
    fig = valid(hp.final_chart(table))
    assert len(fig.data) == 2 * len(table)  # return and click-through rate
    dqn_b = next(t for t in fig.data if t.name == "run B")
    assert dqn_b.marker.color == hp.run_color(1) and dqn_b.marker.symbol == "circle"
    assert list(dqn_b.error_x.array) == [3.0] and list(dqn_b.error_x.arrayminus) == [2.0]
    baseline = next(t for t in fig.data if t.name == "Random")
    assert baseline.marker.symbol == "diamond" and baseline.marker.color == policies.color("random")
    assert fig.layout.yaxis.autorange == "reversed" and fig.layout.yaxis.type == "category"


def hyperparameters() -> pd.DataFrame:
    runs = {"slow": make_evals(1), "fast": shifted(make_evals(1), 8.0), "fastest": shifted(make_evals(1), 2.0)}
    finals = hp.final_table(runs, [])
    params = pd.DataFrame.from_dict({
        "slow": {"preset": "video", "lr": 1e-4, "gamma": 0.9, "dueling": False, "hidden_sizes": [64, 64]},
        "fast": {"preset": "video", "lr": 1e-3, "gamma": 0.9, "dueling": True, "hidden_sizes": [64, 64]},
        "fastest": {"preset": "video", "lr": 1e-2, "gamma": 0.9, "dueling": True, "hidden_sizes": [128]},
        "not evaluated": {"preset": "news", "lr": 1.0, "gamma": 0.5, "dueling": False, "hidden_sizes": [8]},
    }, orient="index")
    return hp.hyperparameter_table(params, finals)


def test_hyperparameter_table_keeps_evaluated_runs_and_finds_what_varies() -> None:
    table = hyperparameters()
    assert list(table["run"]) == ["slow", "fast", "fastest"]
    assert list(table["learner_return"]) == [30.0, 38.0, 32.0] and list(table["run_index"]) == [0, 1, 2]
    assert list(table["hidden_sizes"]) == ["64, 64", "64, 64", "128"]
    assert hp.varying(table, ["preset", "lr", "gamma", "dueling", "hidden_sizes", "unknown"]) == [
        "lr", "dueling", "hidden_sizes"]


def test_hyperparameter_scatter_picks_the_axis_from_the_values() -> None:
    table = hyperparameters()
    lr = valid(hp.hyperparameter_scatter(table, "lr", label="Learning rate"))
    assert lr.layout.xaxis.type == "log" and lr.layout.title.text == "Final DQN return against learning rate"
    assert [t.x[0] for t in lr.data] == [1e-4, 1e-3, 1e-2] and [t.name for t in lr.data] == list(table["run"])
    assert lr.data[1].marker.color == hp.run_color(1) and list(lr.data[1].error_y.array) == [3.0]
    dueling = valid(hp.hyperparameter_scatter(table, "dueling", label="Dueling"))
    assert dueling.layout.xaxis.type == "category" and [t.x[0] for t in dueling.data] == ["off", "on", "on"]
    gamma = valid(hp.hyperparameter_scatter(table, "gamma", label="Discount γ"))
    assert gamma.layout.xaxis.type == "linear"


def test_parallel_coordinates_has_an_axis_per_setting_then_the_return() -> None:
    table = hyperparameters()
    fig = valid(hp.hyperparameter_parcoords(table, ["lr", "dueling", "hidden_sizes"], {"lr": "Learning rate"}))
    (trace,) = fig.data
    lr, dueling, hidden, final = trace.dimensions
    assert lr.label == "Learning rate" and np.allclose(lr.values, [-4, -3, -2]) and lr.ticktext == ("0.0001",
                                                                                                      "0.001", "0.01")
    assert list(dueling.values) == [0, 1, 1] and dueling.ticktext == ("off", "on")
    assert hidden.label == "hidden_sizes" and hidden.ticktext == ("128", "64, 64") and list(hidden.values) == [1, 1, 0]
    assert final.label == "Final DQN return" and list(trace.line.color) == [30.0, 38.0, 32.0]


def test_segments_chart_groups_series_by_segment_and_hatches_repeated_baselines() -> None:
    table = hp.segment_table({"run A": segments(), "run B": segments(by=1.0)}, ["greedy"])
    assert list(dict.fromkeys(table["series"])) == ["run A", "run B", "Greedy ranker · run A",
                                                    "Greedy ranker · run B"]
    fig = valid(hp.segments_chart(table))
    assert [t.name for t in fig.data] == list(dict.fromkeys(table["series"]))
    assert all(list(t.x) == list(SEGMENTS) for t in fig.data)
    assert fig.data[0].marker.color == hp.run_color(0) and fig.data[2].marker.color == policies.color("greedy")
    assert fig.data[2].marker.pattern.shape != fig.data[3].marker.pattern.shape
    shared = hp.segment_table({"run A": segments(), "run B": segments()}, ["greedy"])
    assert list(dict.fromkeys(shared["series"])) == ["run A", "run B", "Greedy ranker"]


def test_parallel_coordinates_ticks_few_values_at_themselves_and_many_at_decades() -> None:
    n = 12
    finals = hp.final_table({f"run {i}": shifted(make_evals(1), i) for i in range(n)}, [])
    params = pd.DataFrame({"n_step": [3, 5] * (n // 2), "lr": np.geomspace(2e-5, 3e-2, n)},
                          index=[f"run {i}" for i in range(n)])
    fig = valid(hp.hyperparameter_parcoords(hp.hyperparameter_table(params, finals), ["n_step", "lr"], {}))
    n_step, lr, _ = fig.data[0].dimensions
    assert list(n_step.tickvals) == [3, 5] and n_step.ticktext == ("3", "5")
    assert list(lr.tickvals) == [-5, -4, -3, -2, -1] and lr.ticktext == ("1e-05", "0.0001", "0.001", "0.01", "0.1")


def test_a_young_run_without_a_dqn_evaluation_and_no_baseline_chosen_gives_empty_tables_not_an_error() -> None:
    """Regression: Compare crashed for every user (KeyError 'return_mean') while any chosen run was young."""
    young = make_evals()
    final = hp.final_table({"young run": young[young.policy != "dqn"]}, [])
    table = hp.hyperparameter_table(pd.DataFrame({"lr": [1e-3]}, index=["young run"]), final)
    assert final.empty and table.empty and "learner_return" in table


def trained_by(learner: str, evals: pd.DataFrame) -> pd.DataFrame:
    """The same evaluations from a run that trained ``learner`` instead of the DQN (its rows carry its name)."""
    return evals.assign(policy=evals["policy"].replace("dqn", learner))


def test_each_run_shows_its_own_learner_whichever_it_trained() -> None:
    """Regression: only 'dqn' rows were kept, so a LinUCB or REINFORCE run had no result, curve point or segment."""
    evals = {"dqn run": make_evals(2), "linucb run": trained_by("linucb", shifted(make_evals(3), 5.0)),
             "reinforce run": trained_by("reinforce", make_evals(1))}
    table = hp.final_table(evals, ["greedy"])
    assert list(table["series"][:3]) == list(evals) and list(table["policy"][:3]) == ["dqn", "linucb", "reinforce"]
    assert list(table["return_mean"][:3]) == [31.0, 37.0, 30.0]  # each run's latest result of its own learner
    assert table["vs_best_baseline"][:3].notna().all() and table["vs_best_baseline"][3:].isna().all()
    fig = valid(hp.final_chart(table))
    assert {t.name: t.marker.symbol for t in fig.data if t.name in evals} == dict.fromkeys(evals, "circle")
    assert next(t for t in fig.data if t.name == "linucb run").marker.color == hp.run_color(1)
    segs = hp.segment_table({"dqn run": segments(), "linucb run": segments(("linucb", *BASELINES))}, [])
    assert list(dict.fromkeys(segs["series"])) == ["dqn run", "linucb run"]


def test_curves_and_settings_of_runs_of_different_learners_name_the_return_they_show() -> None:
    runs = {"dqn run": (make_metrics(40), make_evals(3)),
            "linucb run": (make_metrics(40), trained_by("linucb", shifted(make_evals(3), 5.0)))}
    finals = hp.final_table({name: e for name, (_, e) in runs.items()}, ["oracle"])
    curves = valid(hp.curves_chart(runs, finals))
    assert list(next(t for t in curves.data if t.name == "linucb run" and t.fill != "toself").y) == [35.0, 36.0, 37.0]
    params = pd.DataFrame({"algo": ["DQN", "LinUCB"]}, index=list(runs))
    table = hp.hyperparameter_table(params, finals)
    assert list(table["learner"]) == ["dqn", "linucb"] and list(table["learner_return"]) == [32.0, 37.0]
    scatter = valid(hp.hyperparameter_scatter(table, "algo", label="Learner"))
    assert scatter.layout.yaxis.title.text == "Final learner return" and [t.x[0] for t in scatter.data] == [
        "DQN", "LinUCB"]
    assert "LinUCB return" in scatter.data[1].hovertemplate
    only_linucb = hp.hyperparameter_table(params.assign(seed=[0, 1]).iloc[1:], finals)
    assert valid(hp.hyperparameter_parcoords(only_linucb, ["seed"], {})).data[0].dimensions[-1].label == \
        "Final LinUCB return"
