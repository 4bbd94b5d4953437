"""Result figures: final metrics with intervals, per-segment results, curves of several runs."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from dqn_sim import policies
from dqn_sim.plots.base import (
    METRICS,
    RUN_PALETTE,
    X_AXES,
    Trace,
    band_trace,
    base_layout,
    error_bars,
    grid_figure,
    line_trace,
    series_traces,
    to_figure,
    x_values,
)
from dqn_sim.splits import validation_rows


def final_metrics_chart(table: pd.DataFrame) -> go.Figure:
    """Return and click-through rate per policy with 95% intervals (``table`` has the evaluation columns)."""
    colors = [policies.color(p) for p in table["policy"]]
    labels = [policies.label(p) for p in table["policy"]]
    traces = []
    for col, metric in enumerate(("return", "ctr"), start=1):
        _, mean, lo, hi, _ = METRICS[metric]
        traces.append(({"type": "bar", "x": labels, "y": table[mean], "marker": {"color": colors},
                        "showlegend": False, "name": metric, "error_y": error_bars(table[mean], table[lo], table[hi]),
                        "hovertemplate": "%{x}: %{y:.3g}<extra></extra>"}, 1, col))
    fig = grid_figure(1, 2, traces, base_layout(height=340, revision="final", hovermode="closest"),
                    subplot_titles=("Return per session", "Click-through rate"))
    fig.update_yaxes(tickformat=".0%", row=1, col=2)
    return fig


def segment_chart(segments: pd.DataFrame) -> go.Figure:
    """Mean return per audience segment and policy, with 95% intervals: who gains from the DQN."""
    traces = [
        {"type": "bar", "x": rows["segment_name"], "y": rows["return_mean"], "name": policies.label(str(policy)),
         "marker": {"color": policies.color(str(policy))},
         "error_y": error_bars(rows["return_mean"], rows["return_lo"], rows["return_hi"])}
        for policy, rows in segments.groupby("policy", sort=False)
    ]
    return to_figure(traces, base_layout(title="Return per segment", y_title="Return per session", height=340,
                                   barmode="group", hovermode="closest"))


def runs_chart(
    runs: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]], *, source: str = "eval", metric: str = "return",
    x: str = "step", smoothing: float = 0.6,
) -> go.Figure:
    """Learning curves of several runs overlaid; ``runs`` maps a run name to its (metrics, evals).

    ``source="eval"`` draws the held-out evaluations with their 95% bands, ``"train"`` the smoothed
    training episodes.
    """
    train_col, mean, lo, hi, y_title = METRICS[metric]
    traces: list[Trace] = []
    for i, (name, (metrics, evals)) in enumerate(runs.items()):
        color = RUN_PALETTE[i % len(RUN_PALETTE)]
        if source == "train":
            traces += series_traces(metrics[x] if len(metrics) else [], metrics[train_col], name=name, color=color,
                                    smoothing=smoothing)
            continue
        curve = validation_rows(evals)
        dqn = curve[curve["policy"] == "dqn"]
        xs = x_values(dqn, x, metrics)
        traces += [band_trace(xs, dqn[lo].to_numpy(), dqn[hi].to_numpy(), color, name),
                   line_trace(xs, dqn[mean].to_numpy(), name=name, color=color, mode="lines+markers",
                              marker={"size": 6})]
    return to_figure(traces, base_layout(title="Learning curves", x_title=X_AXES[x], y_title=y_title, height=380,
                                   revision=f"runs-{source}-{metric}-{x}"))
