"""Live training figures: learning curves against the baselines, Q estimates vs realised return, any metric
of the schema, and two panels stacked in one figure for the Train page."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dqn_sim import policies
from dqn_sim.plots.base import (
    AXIS_LOOK,
    METRICS,
    STUDIO_LOOK,
    X_AXES,
    Panel,
    Trace,
    band_trace,
    base_layout,
    error_bars,
    line_trace,
    series_traces,
    to_figure,
    x_values,
)
from dqn_sim.splits import validation_rows
from dqn_sim.vocab import TRAINING


def _baseline_traces(row: pd.Series, metric: str, x0: float, x1: float) -> list[Trace]:
    """A baseline as a horizontal line at its mean with its 95% interval as a band."""
    _, mean, lo, hi, _ = METRICS[metric]
    color, label = policies.color(row["policy"]), policies.label(row["policy"])
    xs = np.array([x0, x1])
    return [
        band_trace(xs, np.full(2, row[lo]), np.full(2, row[hi]), color, label),
        line_trace(xs, np.full(2, row[mean]), name=label, color=color, dash="dash", width=1.5,
              hovertemplate=f"{label}: %{{y:.3g}} [{row[lo]:.3g}, {row[hi]:.3g}]<extra></extra>"),
    ]


def learning_curve(
    metrics: pd.DataFrame, evals: pd.DataFrame, *, metric: str = "return", x: str = "step",
    smoothing: float = 0.6,
) -> go.Figure:
    """DQN's training episodes (smoothed) and held-out evaluations, against every baseline's 95% band."""
    return to_figure(*learning_curve_panel(metrics, evals, metric=metric, x=x, smoothing=smoothing))


def learning_curve_panel(
    metrics: pd.DataFrame, evals: pd.DataFrame, *, metric: str = "return", x: str = "step",
    smoothing: float = 0.6,
) -> Panel:
    train_col, mean, lo, hi, y_title = METRICS[metric]
    evals = validation_rows(evals)  # the curve; the test rows are the run's result, shown beside it elsewhere
    xs = metrics[x].to_numpy(dtype=np.float64) if len(metrics) else np.array([])
    traces = series_traces(xs, metrics[train_col], name="DQN training (ε-greedy)", color=policies.color("dqn"),
                           smoothing=smoothing)
    dqn = evals[evals["policy"] == "dqn"]
    dqn_x = x_values(dqn, x, metrics)
    x1 = max(float(np.max(xs, initial=0.0)), float(np.max(dqn_x, initial=0.0))) or 1.0
    for _, row in evals[evals["policy"] != "dqn"].iterrows():
        traces += _baseline_traces(row, metric, 0.0, x1)
    if len(dqn):
        traces.append(line_trace(dqn_x, dqn[mean].to_numpy(), name="DQN held-out", color=policies.color("dqn"),
                            dash="dot", width=1, mode="lines+markers", marker={"size": 7},
                            error_y=error_bars(dqn[mean], dqn[lo], dqn[hi], policies.color("dqn"))))
    title = "Return per session" if metric == "return" else "Click-through rate"
    return traces, base_layout(title=f"{title}: DQN vs baselines", x_title=X_AXES[x], y_title=y_title, height=360,
                           revision=f"{metric}-{x}")


def q_vs_return(metrics: pd.DataFrame, *, x: str = "step", smoothing: float = 0.6) -> go.Figure:
    """The agent's Q estimate of the states it visited against the discounted return that followed.

    A Q line above the realised-return line is over-estimation; the gap should close as learning goes on.
    """
    return to_figure(*q_vs_return_panel(metrics, x=x, smoothing=smoothing))


def q_vs_return_panel(metrics: pd.DataFrame, *, x: str = "step", smoothing: float = 0.6) -> Panel:
    xs = metrics[x] if len(metrics) else []
    traces = series_traces(xs, metrics["q_mean"], name="Q estimate (max over slate)", color=policies.color("dqn"),
                           smoothing=smoothing)
    traces += series_traces(xs, metrics["disc_return"], name="Realised discounted return", color="#059669",
                            smoothing=smoothing, dash="dash")
    return traces, base_layout(title="Q-values vs realised return", x_title=X_AXES[x], y_title="Value",
                               revision=f"q-{x}")


def metric_chart(metrics: pd.DataFrame, column: str, *, x: str = "step", smoothing: float = 0.0,
                 color: str | None = None) -> go.Figure:
    """One training metric over time, titled, formatted and scaled as the metric schema declares it."""
    return to_figure(*metric_panel(metrics, column, x=x, smoothing=smoothing, color=color))


def metric_panel(metrics: pd.DataFrame, column: str, *, x: str = "step", smoothing: float = 0.0,
                 color: str | None = None) -> Panel:
    m = TRAINING[column]
    traces = series_traces(metrics[x] if len(metrics) else [], metrics[column], name=m.label,
                           color=color or policies.color("dqn"), smoothing=smoothing if m.smooth else 0.0)
    traces[-1]["hovertemplate"] = f"{m.label}: %{{y:{m.fmt}}}<extra></extra>"
    return traces, base_layout(title=m.label, x_title=X_AXES[x], y_title=m.title, height=260, revision=f"{column}-{x}",
                           showlegend=False, yaxis={"type": "log"} if m.log_y else None)


def stack(top: Panel, bottom: Panel, *, top_share: float = 0.58, gap: float = 0.14) -> go.Figure:
    """Two charts (their panels) as one figure, one above the other, each keeping its title and axes.

    Streamlit mounts a chart afresh whenever its data changes, so on the live Train page the browser's cost
    per refresh is per figure: one figure with two panels costs about half of two figures, which is what
    keeps the page answering clicks while a run trains on the same machine. For the same reason the figure
    is meant to be drawn without Streamlit's theme pass (``theme=None``): it carries the studio's look itself.
    """
    (top_traces, lt), (bottom_traces, lb) = top, bottom
    split = (1.0 - top_share) - gap / 2
    in_top_legend = {trace.get("name") for trace in top_traces}
    bottom_traces = [
        {**trace, "xaxis": "x2", "yaxis": "y2"}
        | ({"showlegend": False} if lb.get("showlegend") is False or trace.get("name") in in_top_legend else {})
        for trace in bottom_traces  # one legend entry per series
    ]
    titles = [
        {"text": f"<b>{layout['title']['text']}</b>", "x": 0.0, "xref": "paper", "xanchor": "left",
         "y": y, "yref": "paper", "yanchor": "bottom", "showarrow": False, "font": {"size": 14}}
        for layout, y in ((lt, 1.0), (lb, split))
    ]
    layout = {
        **lt,
        "title": None,
        "height": lt.get("height", 360) + lb.get("height", 260),
        "margin": {**lt.get("margin", {}), "t": 64},
        "annotations": [*lt.get("annotations", ()), *titles],
        "xaxis": {**lt.get("xaxis", {}), "anchor": "y"},
        "yaxis": {**lt.get("yaxis", {}), "domain": [split + gap, 1.0]},
        # the lower panel keeps its own zoom: picking another diagnostic must not inherit the last one's range
        "xaxis2": {**lb.get("xaxis", {}), "anchor": "y2", "uirevision": lb.get("uirevision")},
        "yaxis2": {**lb.get("yaxis", {}), "domain": [0.0, split], "uirevision": lb.get("uirevision")},
        "legend": {**lt.get("legend", {}), "y": 1.0 + 30 / (lt.get("height", 360) + lb.get("height", 260))},
        **STUDIO_LOOK,
    }
    for axis in ("xaxis", "yaxis", "xaxis2", "yaxis2"):
        layout[axis] = {**AXIS_LOOK, **layout[axis]}
    return to_figure(top_traces + bottom_traces, layout)


