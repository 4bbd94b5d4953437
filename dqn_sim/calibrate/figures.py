"""Fit-vs-data figures for the studio: one Plotly figure per compared quantity (pure: Comparison -> Figure)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dqn_sim.calibrate.report import Comparison
from dqn_sim.plots.base import AXIS_LOOK, STUDIO_LOOK

DATA_COLOR, SIM_COLOR = "#374151", "#6D28D9"


def comparison_figure(c: Comparison) -> go.Figure:
    """Data beside the fitted world: lines for the popularity curve, heatmaps per segment, bars otherwise."""
    title = f"{c.title} · {c.metric} {c.distance:.3f}"
    if c.quantity == "segment_affinity":
        return _segments(c, title)
    if c.quantity == "popularity":
        traces = [go.Scatter(x=c.labels, y=values, name=name, mode="lines+markers", line={"color": color})
                  for values, name, color in ((c.data, "data", DATA_COLOR), (c.sim, "fitted world", SIM_COLOR))]
        fig = go.Figure(traces)
        fig.update_xaxes(type="log", title="Top-r items")
        fig.update_yaxes(tickformat=".0%", title="Share of interactions")
    else:
        fig = go.Figure([go.Bar(x=c.labels, y=values, name=name, marker={"color": color})
                         for values, name, color in ((c.data, "data", DATA_COLOR), (c.sim, "fitted world", SIM_COLOR))])
        fig.update_yaxes(tickformat=".0%", title="Share")
    return _look(fig, title, height=320)


def _segments(c: Comparison, title: str) -> go.Figure:
    names, topics = c.labels
    fig = make_subplots(rows=1, cols=2, subplot_titles=("data", "fitted world"), shared_yaxes=True,
                        horizontal_spacing=0.04)
    top = max(max(max(row) for row in c.data), max(max(row) for row in c.sim))
    for col, z in ((1, c.data), (2, c.sim)):
        fig.add_trace(go.Heatmap(z=z, x=topics, y=names, zmin=0, zmax=top, colorscale="Purples",
                                 showscale=col == 2, hovertemplate="%{y}<br>%{x}: %{z:.1%}<extra></extra>"),
                      row=1, col=col)
    fig.update_yaxes(autorange="reversed")
    return _look(fig, title, height=max(260, 90 + 40 * len(names)))


def _look(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(title=title, height=height, barmode="group", margin={"l": 10, "r": 10, "t": 60, "b": 10},
                      legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
                      **STUDIO_LOOK)
    fig.update_xaxes(**AXIS_LOOK)
    fig.update_yaxes(**AXIS_LOOK)
    return fig
