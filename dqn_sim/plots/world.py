"""Figures that show a scenario before training: topic mix, quality, popularity, segment interests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from dqn_sim import policies
from dqn_sim.describe import topic_names
from dqn_sim.plots.base import (
    base_layout,
    heatmap_trace,
    line_trace,
    to_figure,
)


def topic_mix_chart(topics_IK: np.ndarray, clickbait_I: np.ndarray, topic_labels: Sequence[str] = ()) -> go.Figure:
    """How much of the catalogue each topic covers, split into regular items and clickbait."""
    names = topic_names(topics_IK.shape[1], topic_labels)
    share = topics_IK / max(topics_IK.shape[0], 1)
    traces = [
        {"type": "bar", "x": names, "y": share[~clickbait_I].sum(axis=0), "name": "Regular",
         "marker": {"color": policies.color("dqn")}},
        {"type": "bar", "x": names, "y": share[clickbait_I].sum(axis=0), "name": "Clickbait",
         "marker": {"color": policies.color("oracle")}},
    ]
    return to_figure(traces, base_layout(title="Topic mix of the catalogue", y_title="Share of items", height=300,
                                   barmode="stack", yaxis={"tickformat": ".0%"}))


def quality_chart(quality_I: np.ndarray, clickbait_I: np.ndarray) -> go.Figure:
    """Quality distribution: what refills a user's session budget (clickbait sits in the low tail)."""
    traces = [
        {"type": "histogram", "x": quality_I[mask], "name": name, "opacity": 0.75,
         "marker": {"color": policies.color(color)}}
        for mask, name, color in ((~clickbait_I, "Regular", "dqn"), (clickbait_I, "Clickbait", "oracle"))
    ]
    return to_figure(traces, base_layout(title="Item quality", x_title="Quality", y_title="Items", height=300,
                                   barmode="overlay", hovermode="closest"))


def popularity_chart(popularity_I: np.ndarray) -> go.Figure:
    """The popularity prior by rank on log-log axes: a straight line is a Zipf law."""
    pop = np.sort(np.asarray(popularity_I, dtype=np.float64))[::-1]
    top = max(pop.size // 10, 1)
    trace = line_trace(np.arange(1, pop.size + 1), pop, name="Popularity", color=policies.color("popularity"),
                  mode="lines+markers", marker={"size": 4})
    note = {"xref": "paper", "yref": "paper", "x": 1.0, "y": 1.0, "showarrow": False, "xanchor": "right",
            "yanchor": "bottom", "font": {"size": 11},
            "text": f"top 10% of items hold {pop[:top].sum():.0%} of the prior"}
    spans_decades = pop[-1] > 0 and pop[0] / pop[-1] > 10  # a flat prior (Zipf 0) reads better on a linear axis
    return to_figure([trace], base_layout(title="Popularity curve", x_title="Rank", y_title="Popularity prior",
                                    height=300, showlegend=False, hovermode="closest", annotations=[note],
                                    xaxis={"type": "log", "dtick": 1},
                                    yaxis={"type": "log", "dtick": 1} if spans_decades else None))


def interest_heatmap(profile_SK: np.ndarray, segment_names: Sequence[str], share_S: np.ndarray,
                     topic_labels: Sequence[str] = ()) -> go.Figure:
    """Each segment's interest in each topic (-1 dislikes, +1 loves)."""
    labels = [f"{n} ({s:.0%})" for n, s in zip(segment_names, share_S, strict=True)]
    trace = heatmap_trace(profile_SK, topic_names(profile_SK.shape[1], topic_labels), labels,
                          "%{y}<br>%{x}: %{z:.2f}<extra></extra>")
    return to_figure([trace], base_layout(title="Segment interests", height=max(220, 60 + 36 * len(labels)),
                                    hovermode="closest", yaxis={"autorange": "reversed"}))


