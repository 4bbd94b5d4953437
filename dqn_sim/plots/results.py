"""Result figures: final metrics with intervals, per-segment results, curves of several runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
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
from dqn_sim.vocab import EVALUATION, Metric


def _policy_bars(table: pd.DataFrame, metrics: Sequence[Metric], *, revision: str) -> go.Figure:
    """One panel per evaluation metric: a bar per policy (in ``table``'s order and the policies' colours) with its 95%
    interval, titled and formatted from the metric's declaration."""
    colors = [policies.color(p) for p in table["policy"]]
    labels = [policies.label(p) for p in table["policy"]]
    traces = []
    for col, metric in enumerate(metrics, start=1):
        stem = metric.name.removesuffix("_mean")
        mean = table[metric.name]
        traces.append(({"type": "bar", "x": labels, "y": mean, "marker": {"color": colors}, "showlegend": False,
                        "name": metric.name, "error_y": error_bars(mean, table[f"{stem}_lo"], table[f"{stem}_hi"]),
                        "hovertemplate": f"%{{x}}: %{{y:{metric.fmt}}}<extra></extra>"}, 1, col))
    fig = grid_figure(1, len(metrics), traces, base_layout(height=340, revision=revision, hovermode="closest"),
                      subplot_titles=[metric.title for metric in metrics])
    for col, metric in enumerate(metrics, start=1):
        if metric.fmt.endswith("%"):
            fig.update_yaxes(tickformat=".0%", row=1, col=col)
    return fig


def final_metrics_chart(table: pd.DataFrame) -> go.Figure:
    """Return and click-through rate per policy with 95% intervals (``table`` has the evaluation columns)."""
    return _policy_bars(table, [EVALUATION["return_mean"], EVALUATION["ctr"]], revision="final")


def quality_chart_by_policy(table: pd.DataFrame) -> go.Figure:
    """Clickbait share and mean item quality of what each policy recommended, with 95% intervals: the half of the
    mechanism beside ``survival_chart`` (clickbait wins the click, quality keeps the user)."""
    return _policy_bars(table, [EVALUATION["clickbait_share"], EVALUATION["quality"]], revision="quality")


def survival_chart(survival: Mapping[str, Sequence[float]]) -> go.Figure:
    """Share of held-out users still in their session at each step, per policy (``survival[policy][t]`` is the
    share at step ``t + 1``): where a myopic policy loses its users, across all of them rather than one."""
    traces = [line_trace(np.arange(1, len(shares) + 1), np.asarray(shares, dtype=np.float64),
                         name=policies.label(policy), color=policies.color(policy),
                         hovertemplate=f"{policies.label(policy)}: %{{y:.1%}}<extra></extra>")
              for policy, shares in survival.items()]
    return to_figure(traces, base_layout(title="Users still in session", x_title="Step of the session",
                                         y_title="Share of users", height=340, revision="survival",
                                         yaxis={"tickformat": ".0%", "rangemode": "tozero"}))


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
    x: str = "step", smoothing: float = 0.6, colors: Mapping[str, str] | None = None,
) -> go.Figure:
    """Learning curves of several runs overlaid; ``runs`` maps a run name to its (metrics, evals), ``colors`` a run
    name to its colour (``run_colors``; by default the palette in ``runs``' order).

    ``source="eval"`` draws the held-out evaluations of each run's learner (the DQN or a rival) with their 95% bands,
    ``"train"`` the smoothed training episodes.
    """
    train_col, mean, lo, hi, y_title = METRICS[metric]
    traces: list[Trace] = []
    for i, (name, (metrics, evals)) in enumerate(runs.items()):
        color = colors[name] if colors else RUN_PALETTE[i % len(RUN_PALETTE)]
        if source == "train":
            traces += series_traces(metrics[x] if len(metrics) else [], metrics[train_col], name=name, color=color,
                                    smoothing=smoothing)
            continue
        curve = validation_rows(evals)
        mine = curve[curve["policy"] == policies.trained(curve["policy"])]
        xs = x_values(mine, x, metrics)
        traces += [band_trace(xs, mine[lo].to_numpy(), mine[hi].to_numpy(), color, name),
                   line_trace(xs, mine[mean].to_numpy(), name=name, color=color, mode="lines+markers",
                              marker={"size": 6})]
    return to_figure(traces, base_layout(title="Learning curves", x_title=X_AXES[x], y_title=y_title, height=380,
                                   revision=f"runs-{source}-{metric}-{x}"))
