"""Live training figures: learning curves against the baselines, Q estimates vs realised return, any metric
of the schema, and several panels in one figure for the Train page (``grid4``, ``stack``).

A run trains one learner (the DQN or a rival): ``learner`` names it, for its label and colour."""

from __future__ import annotations

from collections.abc import Sequence

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
    smoothing: float = 0.6, learner: str = "dqn",
) -> go.Figure:
    """The learner's training episodes (smoothed) and held-out evaluations, against every baseline's 95% band."""
    return to_figure(*learning_curve_panel(metrics, evals, metric=metric, x=x, smoothing=smoothing, learner=learner))


def learning_curve_panel(
    metrics: pd.DataFrame, evals: pd.DataFrame, *, metric: str = "return", x: str = "step",
    smoothing: float = 0.6, learner: str = "dqn",
) -> Panel:
    train_col, mean, lo, hi, y_title = METRICS[metric]
    name, color = policies.label(learner), policies.color(learner)
    evals = validation_rows(evals)  # the curve; the test rows are the run's result, shown beside it elsewhere
    xs = metrics[x].to_numpy(dtype=np.float64) if len(metrics) else np.array([])
    exploring = "ε-greedy" if learner == "dqn" else "exploring"
    traces = series_traces(xs, metrics[train_col], name=f"{name} training ({exploring})", color=color,
                           smoothing=smoothing)
    mine = evals[evals["policy"] == learner]
    mine_x = x_values(mine, x, metrics)
    x1 = max(float(np.max(xs, initial=0.0)), float(np.max(mine_x, initial=0.0))) or 1.0
    for _, row in evals[evals["policy"] != learner].iterrows():
        traces += _baseline_traces(row, metric, 0.0, x1)
    if len(mine):
        traces.append(line_trace(mine_x, mine[mean].to_numpy(), name=f"{name} held-out", color=color,
                            dash="dot", width=1, mode="lines+markers", marker={"size": 7},
                            error_y=error_bars(mine[mean], mine[lo], mine[hi], color)))
    title = "Return per session" if metric == "return" else "Click-through rate"
    return traces, base_layout(title=f"{title}: {name} vs baselines", x_title=X_AXES[x], y_title=y_title,
                               height=360, revision=f"{metric}-{x}")


def q_vs_return(metrics: pd.DataFrame, *, x: str = "step", smoothing: float = 0.6, learner: str = "dqn") -> go.Figure:
    """The agent's Q estimate of the states it visited against the discounted return that followed.

    A Q line above the realised-return line is over-estimation; the gap should close as learning goes on. A learner
    without value estimates (the rivals) shows the realised return alone.
    """
    return to_figure(*q_vs_return_panel(metrics, x=x, smoothing=smoothing, learner=learner))


def q_vs_return_panel(metrics: pd.DataFrame, *, x: str = "step", smoothing: float = 0.6,
                      learner: str = "dqn") -> Panel:
    xs = metrics[x] if len(metrics) else []
    traces = series_traces(xs, metrics["q_mean"], name="Q estimate (max over slate)", color=policies.color(learner),
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
    """Two charts (their panels) as one figure, one above the other, each keeping its title and axes; the lower one
    keeps its own zoom (picking another diagnostic must not inherit the last one's range).

    Streamlit mounts a chart afresh whenever its data changes, so on the live Train page the browser's cost
    per refresh is per figure: one figure with two panels costs about half of two figures, which is what
    keeps the page answering clicks while a run trains on the same machine. For the same reason the figure
    is meant to be drawn without Streamlit's theme pass (``theme=None``): it carries the studio's look itself.
    """
    split = (1.0 - top_share) - gap / 2
    height = top[1].get("height", 360) + bottom[1].get("height", 260)
    return _compose([top, bottom], [([0.0, 1.0], [split + gap, 1.0]), ([0.0, 1.0], [0.0, split])], height)


def grid4(
    metrics: pd.DataFrame, evals: pd.DataFrame, *, x: str = "step", smoothing: float = 0.6, learner: str = "dqn",
    height: int = 400,
) -> go.Figure:
    """The four live plots the studio promises, at once: return and CTR beside the baselines, Q estimates vs the
    realised return, and the exploration rate, as a 2 x 2 grid in one figure with linked x-axes (a zoom on one
    panel zooms all four). One figure, for the reason ``stack`` gives."""
    q_traces, q_layout = q_vs_return_panel(metrics, x=x, smoothing=smoothing, learner=learner)
    short = {"Q estimate (max over slate)": "Q estimate", "Realised discounted return": "Realised return"}
    q_panel = [{**t, "name": short.get(t.get("name"), t.get("name")), "legendgroup": short.get(
        t.get("legendgroup"), t.get("legendgroup"))} for t in q_traces], q_layout
    panels = [  # short titles and names, as four panels share the width; the lower row's ticks serve both rows
        _titled(learning_curve_panel(metrics, evals, metric="return", x=x, smoothing=smoothing, learner=learner),
                "Return per session", ticks=False),
        _titled(q_panel, None, ticks=False),
        _titled(learning_curve_panel(metrics, evals, metric="ctr", x=x, smoothing=smoothing, learner=learner),
                "Click-through rate"),
        metric_panel(metrics, "epsilon", x=x, color=policies.color(learner)),
    ]
    left, right, top, bottom = [0.0, 0.46], [0.54, 1.0], [0.56, 1.0], [0.0, 0.44]
    fig = _compose(panels, [(left, top), (right, top), (left, bottom), (right, bottom)], height, link_x=True)
    fig.layout.legend.font = {"size": 11}  # eleven series on one line above four panels
    return fig


def _titled(panel: Panel, title: str | None, *, ticks: bool = True) -> Panel:
    """``panel`` with another title (None: its own) and, unless ``ticks``, no x-axis title or tick labels (the panel
    below shows them for both)."""
    traces, layout = panel
    return traces, {**layout, "title": {**layout["title"], **({"text": title} if title else {})},
                    "xaxis": {**layout["xaxis"], **({} if ticks else {"title": None, "showticklabels": False})}}


def _compose(panels: Sequence[Panel], cells: Sequence[tuple[list[float], list[float]]], height: int, *,
             link_x: bool = False) -> go.Figure:
    """Panels in one figure: panel ``i`` drawn on its own axes in ``cells[i]`` (x and y domains), its title above
    it, the first panel's legend for all (one entry per series), each later panel zoomed on its own unless
    ``link_x`` ties every x-axis to the first."""
    first = panels[0][1]
    traces: list[Trace] = list(panels[0][0])
    layout = {
        **first, "title": None, "height": height, "margin": {**first.get("margin", {}), "t": 64},
        "legend": {**first.get("legend", {}), "y": 1.0 + 30 / height}, **STUDIO_LOOK,
    }
    titles = []
    in_legend = {trace.get("name") for trace in traces}
    for i, ((panel_traces, panel), (x_domain, y_domain)) in enumerate(zip(panels, cells, strict=True)):
        n = "" if i == 0 else str(i + 1)
        own = {} if i == 0 else {"uirevision": panel.get("uirevision")}
        layout[f"xaxis{n}"] = {**AXIS_LOOK, **panel.get("xaxis", {}), "anchor": f"y{n}", "domain": x_domain, **own,
                               **({"matches": "x"} if link_x and i else {})}
        layout[f"yaxis{n}"] = {**AXIS_LOOK, **panel.get("yaxis", {}), "anchor": f"x{n}", "domain": y_domain, **own}
        titles.append({"text": f"<b>{panel['title']['text']}</b>", "x": x_domain[0], "xref": "paper",
                       "xanchor": "left", "y": y_domain[1], "yref": "paper", "yanchor": "bottom", "showarrow": False,
                       "font": {"size": 14}})
        if i:
            traces += [{**trace, "xaxis": f"x{n}", "yaxis": f"y{n}"}
                       | ({"showlegend": False} if panel.get("showlegend") is False or trace.get("name") in in_legend
                          else {}) for trace in panel_traces]
            in_legend |= {trace.get("name") for trace in panel_traces}
    layout["annotations"] = [*first.get("annotations", ()), *titles]
    return to_figure(traces, layout)


