"""Figures of one user's session (Inspect): the session step by step, interest drift, candidates and Q-values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dqn_sim import policies
from dqn_sim.describe import topic_names
from dqn_sim.plots.base import (
    INTEREST_BAR,
    RUN_PALETTE,
    base_layout,
    grid_figure,
    heatmap_trace,
    line_trace,
    to_figure,
)


def session_chart(sessions: Mapping[str, pd.DataFrame]) -> go.Figure:
    """Cumulative reward and remaining session budget, step by step, for several policies on one user.

    ``sessions`` maps a label to a trace's ``steps`` frame; clicks are marked on the reward line.
    """
    traces = []
    for i, (label, steps) in enumerate(sessions.items()):
        color = RUN_PALETTE[i % len(RUN_PALETTE)]
        clicked = steps[steps["clicked"]]
        traces += [
            (line_trace(steps["step"], steps["cum_reward"], name=label, color=color), 1, 1),
            (line_trace(clicked["step"], clicked["cum_reward"], name=f"{label}: click", color=color, mode="markers",
                   legendgroup=label, showlegend=False, marker={"size": 7}), 1, 1),
            (line_trace(steps["step"], steps["budget_after"], name=label, color=color, dash="dot", showlegend=False),
             2, 1),
        ]
    fig = grid_figure(2, 1, traces, base_layout(height=420, revision="session"), shared_xaxes=True,
                    vertical_spacing=0.08, subplot_titles=("Cumulative reward", "Session budget left"))
    fig.update_xaxes(title_text="Step", row=2, col=1)
    return fig


def interest_drift_chart(interest_TK: np.ndarray, *, title: str, topic_labels: Sequence[str] = ()) -> go.Figure:
    """How the session moved the user's interests: the change of each topic's interest since the first step.

    Drift is small beside the -1…1 range of the interests themselves (≤ 0.05 a session on video), so the colour
    scale spans the largest change of this session, not the range: a static-looking map of the raw values
    would hide exactly what the chart is for. Hover gives the value and the change.
    """
    change_KT = (interest_TK - interest_TK[:1]).T
    span = max(float(np.abs(change_KT).max(initial=0.0)), 1e-3)
    trace = {**heatmap_trace(change_KT, np.arange(interest_TK.shape[0]),
                                      topic_names(interest_TK.shape[1], topic_labels),
                        "step %{x}<br>%{y}: %{customdata:.3f} (%{z:+.3f} since the start)<extra></extra>"),
             "customdata": interest_TK.T, "zmin": -span, "zmax": span,
             "colorbar": {**INTEREST_BAR, "title": {"text": "Change", "side": "right"},
                          "tickvals": [-span, 0, span], "ticktext": [f"{-span:+.2g}", "0", f"{span:+.2g}"]}}
    return to_figure([trace], base_layout(title=title, x_title="Step", height=max(240, 80 + 18 * interest_TK.shape[1]),
                                    hovermode="closest", yaxis={"autorange": "reversed"}))


def candidates_chart(
    q_I: np.ndarray | None, p_click_I: np.ndarray, slate: Sequence[int], clicked_item: int, *, top: int = 12,
    clickbait_I: np.ndarray | None = None,
) -> go.Figure:
    """The best candidates of one step: the policy's Q-value (when it has one) beside the true click chance.

    Recommended items are coloured, the clicked one is outlined, clickbait is marked; a DQN that ranks an item
    above one with a higher click chance is betting on the rest of the session. Q-values of one step sit close
    together far from zero, so their axis spans the values shown, not zero to the largest: the gaps between
    the candidates are the reason for the choice.
    """
    score = q_I if q_I is not None else p_click_I
    allowed = np.flatnonzero(np.isfinite(score))
    best = allowed[np.argsort(-score[allowed], kind="stable")][:top]
    keep = np.unique(np.r_[best, np.asarray(slate, dtype=np.int64)])
    keep = keep[np.argsort(-np.nan_to_num(score[keep], nan=-np.inf), kind="stable")]
    bait = clickbait_I[keep] if clickbait_I is not None else np.zeros(len(keep), dtype=bool)
    labels = [f"#{i} ⚠ clickbait" if b else f"#{i}" for i, b in zip(keep, bait, strict=True)]
    marker = {"color": np.where(np.isin(keep, slate), policies.color("dqn"), "#CBD5E1").tolist(),
              "line": {"color": np.where(keep == clicked_item, "#111827", "rgba(0,0,0,0)").tolist(), "width": 2.5}}
    panels = [("Q-value", q_I)] if q_I is not None else []
    panels.append(("True click chance", p_click_I))
    traces = [({"type": "bar", "y": labels, "x": values[keep], "orientation": "h", "name": name,
                "showlegend": False, "marker": marker, "hovertemplate": "%{y}: %{x:.3g}<extra>" + name + "</extra>"},
               1, col) for col, (name, values) in enumerate(panels, start=1)]
    fig = grid_figure(1, len(panels), traces, base_layout(height=max(240, 40 + 22 * len(keep)), revision="candidates",
                                                    hovermode="closest"),
                    shared_yaxes=True, horizontal_spacing=0.04, subplot_titles=[p[0] for p in panels])
    fig.update_yaxes(type="category", autorange="reversed")  # "#12" would otherwise be read as the number 12
    if q_I is not None:
        shown = q_I[keep][np.isfinite(q_I[keep])]
        if shown.size:
            lo, hi = float(shown.min()), float(shown.max())
            pad = max(hi - lo, 1e-6) * 0.15
            fig.update_xaxes(range=[lo - pad, hi + pad], row=1, col=1)
    return fig


