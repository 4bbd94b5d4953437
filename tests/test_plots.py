"""The figures are pure functions: check what they draw from known data, without Streamlit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dqn_sim import plots, policies
from dqn_sim.presets import get_preset
from dqn_sim.sim.env import build_world
from dqn_sim.vocab import TRAINING, Metric

BASELINES = ("random", "popularity", "greedy", "oracle")


def make_metrics(n: int, seed: int = 0) -> pd.DataFrame:
    """Training rows as the trainer logs them (loss is NaN before learning starts)."""
    rng = np.random.default_rng(seed)
    step = np.arange(1, n + 1) * 100
    loss = rng.random(n)
    loss[:3] = np.nan
    return pd.DataFrame({
        "step": step, "episode": step // 50, "episode_return": np.linspace(10, 50, n) + rng.normal(0, 5, n),
        "ctr": rng.random(n), "q_mean": np.linspace(5, 30, n), "disc_return": np.linspace(4, 25, n),
        "epsilon": np.linspace(1, 0.01, n), "loss": loss, "sps": rng.random(n) * 1e4,
        "updates_per_s": rng.random(n) * 100, "wall_time": step / 1000.0,
    })


def make_evals(n_dqn: int = 3) -> pd.DataFrame:
    rows = [{"step": 0, "wall_time": 0.0, "policy": p, "return_mean": 20.0 + i, "return_lo": 18.0 + i,
             "return_hi": 22.0 + i, "ctr": 0.2, "ctr_lo": 0.18, "ctr_hi": 0.22, "episode_len_mean": 30.0}
            for i, p in enumerate(BASELINES)]
    rows += [{"step": 1000 * (k + 1), "wall_time": float(k + 1), "policy": "dqn", "return_mean": 30.0 + k,
              "return_lo": 28.0 + k, "return_hi": 33.0 + k, "ctr": 0.3, "ctr_lo": 0.28, "ctr_hi": 0.32,
              "episode_len_mean": 40.0} for k in range(n_dqn)]
    return pd.DataFrame(rows)


def valid(fig: go.Figure) -> go.Figure:
    """plots.py skips Plotly's validation for speed; re-validating here catches any misspelt property."""
    go.Figure(fig.to_dict())
    return fig


def named(fig: go.Figure, name: str) -> go.Scatter:
    return next(t for t in fig.data if t.name == name)


def test_downsample_keeps_extremes_in_order_and_bounds_points() -> None:
    y = np.sin(np.linspace(0, 50, 100_000))
    y[31_337] = 9.0
    y[77_001] = -9.0
    idx = plots.downsample_index(y, 1500)
    assert len(idx) <= 1500
    assert np.all(np.diff(idx) > 0)
    assert {31_337, 77_001} <= set(idx.tolist())
    assert np.array_equal(plots.downsample_index(y[:10], 1500), np.arange(10))


def test_smooth_is_identity_at_zero_and_band_is_spread() -> None:
    y = np.array([1.0, 3.0, 1.0, 3.0, 1.0, 3.0])
    mean, spread = plots.smooth(y, 0.0)
    assert np.array_equal(mean, y) and spread is None
    mean, spread = plots.smooth(np.full(20, 4.0), 0.9)
    assert np.allclose(mean, 4.0) and np.allclose(spread, 0.0)
    mean, spread = plots.smooth(y, 0.6)
    assert spread is not None and np.all(spread >= 0) and spread[-1] > 0.5
    assert 1.0 < mean[-1] < 3.0


def test_series_traces_drop_nans_downsample_and_band_only_when_smoothed() -> None:
    m = make_metrics(10_000)
    raw = plots.series_traces(m["step"], m["loss"], name="loss", color="#000000", smoothing=0.0)
    assert len(raw) == 1 and len(raw[0]["x"]) <= plots.MAX_POINTS
    assert np.all(np.isfinite(raw[0]["y"]))
    band, line = plots.series_traces(m["step"], m["loss"], name="loss", color="#000000", smoothing=0.9)
    assert band["fill"] == "toself" and line["name"] == "loss"
    assert len(band["x"]) == 2 * len(line["x"]) <= 2 * plots.MAX_POINTS


@pytest.mark.parametrize("x", list(plots.X_AXES))
@pytest.mark.parametrize("metric", list(plots.METRICS))
def test_learning_curve_draws_dqn_beside_every_baseline_band(x: str, metric: str) -> None:
    fig = valid(plots.learning_curve(make_metrics(50), make_evals(), metric=metric, x=x, smoothing=0.6))
    for p in BASELINES:
        line = named(fig, policies.label(p))
        assert line.y[0] == line.y[1], "a baseline is a horizontal line"
    held_out = named(fig, "DQN held-out")
    assert len(held_out.x) == 3 and held_out.error_y.array is not None
    assert all(isinstance(t, (go.Scatter, go.Bar, go.Heatmap)) for t in fig.data)
    assert fig.layout.uirevision == f"{metric}-{x}"
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(bands) == len(BASELINES) + 1  # each baseline's interval + the training spread


def test_learning_curve_reads_episode_axis_off_training_rows() -> None:
    m, e = make_metrics(50), make_evals()
    fig = valid(plots.learning_curve(m, e, x="episode"))
    held_out = named(fig, "DQN held-out")
    assert list(held_out.x) == [20.0, 40.0, 60.0]  # step 1000 <-> episode 1000 // 50


def test_learning_curve_before_any_metric_shows_only_baselines() -> None:
    empty = make_metrics(0)
    fig = valid(plots.learning_curve(empty, make_evals(0)))
    assert {t.name for t in fig.data if t.showlegend is not False} >= {policies.label(p) for p in BASELINES}


def test_q_vs_return_and_metric_charts() -> None:
    m = make_metrics(30)
    fig = valid(plots.q_vs_return(m, smoothing=0.0))
    assert list(named(fig, "Q estimate (max over slate)").y) == list(m["q_mean"])
    loss = valid(plots.metric_chart(m, "loss"))
    assert loss.layout.yaxis.type == "log" and len(loss.data[0].x) == 27


def test_scenario_previews_describe_the_world() -> None:
    world = build_world(get_preset("video"))
    cat, aud = world.catalogue, world.audience
    mix = valid(plots.topic_mix_chart(cat.topics_IK, cat.clickbait_I))
    assert np.isclose(sum(np.sum(t.y) for t in mix.data), 1.0)
    quality = valid(plots.quality_chart(cat.quality_I, cat.clickbait_I))
    assert sum(len(t.x) for t in quality.data) == cat.n_items
    pop = valid(plots.popularity_chart(cat.popularity_I))
    assert np.all(np.diff(pop.data[0].y) <= 0) and pop.layout.xaxis.type == "log"
    heat = valid(plots.interest_heatmap(aud.profile_SK, aud.names, aud.share_S))
    assert np.asarray(heat.data[0].z).shape == (4, 10) and heat.data[0].y[0].startswith("Gamers")
    assert heat.data[0].colorscale[0][1] == "rgb(103,0,31)"  # dislikes are red, spelled out for plotly.js


def test_inspect_charts() -> None:
    steps = pd.DataFrame({"step": [1, 2, 3], "clicked": [True, False, True], "cum_reward": [1.0, 1.0, 3.0],
                          "budget_after": [9.0, 8.0, 7.0]})
    fig = valid(plots.session_chart({"DQN": steps, "Greedy ranker": steps}))
    assert len(fig.data) == 6 and list(fig.data[1].x) == [1, 3]
    drift = valid(plots.interest_drift_chart(np.zeros((4, 3)), title="drift"))
    assert np.asarray(drift.data[0].z).shape == (3, 4)
    q = np.array([0.1, np.nan, 0.9, 0.5, 0.3])
    p = np.array([0.5, np.nan, 0.2, 0.4, 0.1])
    fig = valid(plots.candidates_chart(q, p, slate=[2], clicked_item=2, top=3))
    assert [s.text for s in fig.layout.annotations] == ["Q-value", "True click chance"]
    bars = fig.data[0]
    assert list(bars.y) == ["#2", "#3", "#4"]  # best Q first; the masked item is left out
    assert bars.marker.color[0] == policies.color("dqn") and bars.marker.line.color[0] == "#111827"
    only_truth = valid(plots.candidates_chart(None, p, slate=[0], clicked_item=-1))
    assert len(only_truth.data) == 1 and list(only_truth.data[0].y)[0] == "#0"


def test_compare_charts() -> None:
    e = make_evals(1)
    fig = valid(plots.final_metrics_chart(e))
    assert len(fig.data) == 2 and list(fig.data[0].x)[-1] == "DQN"
    assert np.allclose(fig.data[0].error_y.array, 2.0 + (np.arange(5) == 4))
    seg = pd.DataFrame({"policy": ["dqn", "dqn", "random", "random"], "segment": [0, 1, 0, 1],
                        "segment_name": ["A", "B", "A", "B"], "episodes": [5] * 4,
                        "return_mean": [3.0, 4.0, 1.0, 2.0], "return_lo": [2.0, 3.0, 0.0, 1.0],
                        "return_hi": [4.0, 5.0, 2.0, 3.0]})
    assert [t.name for t in valid(plots.segment_chart(seg)).data] == ["DQN", "Random"]
    runs = {"run a": (make_metrics(20), make_evals()), "run b": (make_metrics(20, 1), make_evals(2))}
    evals_fig = valid(plots.runs_chart(runs, source="eval"))
    assert len(named(evals_fig, "run b").x) == 2
    train_fig = valid(plots.runs_chart(runs, source="train", smoothing=0.0))
    assert [t.name for t in train_fig.data] == ["run a", "run b"]


def test_stack_puts_two_charts_in_one_figure_with_their_own_axes_and_titles() -> None:
    m, e = make_metrics(30), make_evals()
    top_panel = plots.learning_curve_panel(m, e)
    bottom_panel = plots.metric_panel(m, "loss")
    top, bottom = plots.learning_curve(m, e), plots.metric_chart(m, "loss")
    fig = valid(plots.stack(top_panel, bottom_panel))
    assert len(fig.data) == len(top.data) + len(bottom.data)
    assert {t.yaxis for t in fig.data[len(top.data):]} == {"y2"}
    assert fig.layout.yaxis2.type == "log" and fig.layout.yaxis.domain[0] > fig.layout.yaxis2.domain[1]
    assert {a.text for a in fig.layout.annotations} >= {"<b>Return per session: DQN vs baselines</b>", "<b>TD loss</b>"}
    assert fig.layout.height == top.layout.height + bottom.layout.height
    assert not any(t.showlegend for t in fig.data[len(top.data):])  # the TD-loss chart has no legend
    ctr = valid(plots.stack(top_panel, plots.learning_curve_panel(m, e, metric="ctr")))
    legend = [t.name for t in ctr.data if t.showlegend is not False]
    assert len(legend) == len(set(legend))  # CTR repeats the return chart's series: one legend entry each
    # a zoom of the lower panel is kept per diagnostic: another diagnostic starts unzoomed
    assert fig.layout.yaxis2.uirevision != ctr.layout.yaxis2.uirevision
    assert fig.layout.uirevision == ctr.layout.uirevision


def test_grid4_draws_the_four_live_plots_in_one_figure_with_linked_x_axes() -> None:
    m, e = make_metrics(30), make_evals()
    fig = valid(plots.grid4(m, e, height=520))
    assert {a.text for a in fig.layout.annotations} == {
        "<b>Return per session</b>", "<b>Q-values vs realised return</b>", "<b>Click-through rate</b>",
        f"<b>{TRAINING['epsilon'].label}</b>"}
    assert {t.xaxis or "x" for t in fig.data} == {"x", "x2", "x3", "x4"} and fig.layout.height == 520
    assert fig.layout.xaxis2.matches == fig.layout.xaxis3.matches == fig.layout.xaxis4.matches == "x"
    # two columns, two rows: each panel in its own cell, titles over their panel
    assert fig.layout.xaxis.domain[1] < fig.layout.xaxis2.domain[0]
    assert fig.layout.yaxis3.domain[1] < fig.layout.yaxis.domain[0]
    assert not fig.layout.xaxis.showticklabels and not fig.layout.xaxis.title.text
    assert fig.layout.xaxis3.showticklabels is not False and fig.layout.xaxis3.title.text == "User-steps"
    # one legend entry per series: CTR repeats the return panel's policies
    legend = [t.name for t in fig.data if t.showlegend is not False]
    assert len(legend) == len(set(legend)) and "DQN held-out" in legend
    assert len(named(fig, TRAINING["epsilon"].label).x) == 30


def test_runs_chart_draws_each_runs_own_learner() -> None:
    runs = {"dqn run": (make_metrics(20), make_evals()),
            "linucb run": (make_metrics(20), make_evals(2).replace({"policy": {"dqn": "linucb"}}))}
    fig = valid(plots.runs_chart(runs, source="eval"))
    assert len(named(fig, "dqn run").x) == 3 and len(named(fig, "linucb run").x) == 2


def test_a_rival_learners_curves_carry_its_name_and_colour() -> None:
    e = make_evals().replace({"policy": {"dqn": "linucb"}})
    m = make_metrics(20).assign(epsilon=np.nan, q_mean=np.nan)
    fig = valid(plots.grid4(m, e, learner="linucb"))
    held_out = named(fig, "LinUCB held-out")
    assert held_out.line.color == policies.color("linucb") and len(held_out.x) == 3
    assert named(fig, "LinUCB training (exploring)")
    assert not any(t.name and t.name.startswith("DQN") for t in fig.data)


def test_a_metric_declared_in_the_schema_reaches_a_figure_with_its_label_unit_and_format(monkeypatch) -> None:
    new = Metric("slate_novelty", "Slate novelty", "Mean -log2 popularity of the recommended items", unit="bits",
                 fmt=".2f", log_y=True)
    monkeypatch.setattr(TRAINING, "columns", (*TRAINING.columns, new))
    m = make_metrics(20).assign(slate_novelty=np.linspace(1, 3, 20))
    fig = valid(plots.metric_chart(m, "slate_novelty"))
    assert fig.layout.title.text == "Slate novelty" and fig.layout.yaxis.title.text == "Slate novelty (bits)"
    assert fig.layout.yaxis.type == "log" and "%{y:.2f}" in fig.data[-1].hovertemplate


def test_drift_shows_the_change_since_the_start_on_a_scale_of_this_sessions_change() -> None:
    interest_TK = np.array([[0.5, -0.2], [0.51, -0.2], [0.53, -0.21]])
    trace = valid(plots.interest_drift_chart(interest_TK, title="drift")).data[0]
    assert np.allclose(np.asarray(trace.z), [[0, 0.01, 0.03], [0, 0, -0.01]])
    assert trace.zmax == pytest.approx(0.03) and trace.zmin == pytest.approx(-0.03)  # not -1…1


def test_candidate_q_values_get_an_axis_around_them_and_clickbait_is_marked() -> None:
    q = np.array([40.1, 40.5, 39.8, -np.inf])
    fig = valid(plots.candidates_chart(q, np.array([0.2, 0.1, 0.3, 0.4]), slate=[1], clicked_item=-1,
                                       clickbait_I=np.array([False, True, False, False])))
    lo, hi = fig.layout.xaxis.range
    assert 39 < lo < 39.8 and 40.5 < hi < 41
    assert "#1 ⚠ clickbait" in list(fig.data[0].y)


@pytest.mark.parametrize("preset", ["video", "news", "live", "shop", "ads", "recsim-ie"])
def test_every_preset_names_its_topics_and_the_previews_use_the_names(preset: str) -> None:
    from dqn_sim.describe import items_frame

    scenario = get_preset(preset)
    names = scenario.catalogue.topic_names
    assert len(names) == scenario.catalogue.n_topics and "Topic 1" not in names
    world = build_world(scenario)
    assert set(items_frame(world, range(20))["main topic"]) <= set(names)
    fig = valid(plots.topic_mix_chart(world.catalogue.topics_IK, world.catalogue.clickbait_I, names))
    assert list(fig.data[0].x) == list(names)


def test_the_toolbar_stands_in_its_own_margin_and_does_not_cover_the_legend() -> None:
    fig = valid(plots.learning_curve(make_metrics(10), make_evals()))
    assert fig.layout.modebar.orientation == "v" and fig.layout.margin.r >= 30
    assert fig.layout.legend.x == 1.0 and fig.layout.legend.xanchor == "right"  # the legend ends where the plot does
