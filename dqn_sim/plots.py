"""Figures of the studio: pure functions from arrays and DataFrames to Plotly figures (no Streamlit).

Conventions every chart follows, so that pages stay thin and live charts stay cheap:
- SVG ``scatter`` traces only (WebGL fails in headless browsers and is costly to remount on each refresh);
- at most ``MAX_POINTS`` points per trace, picked by min/max per bucket so spikes survive;
- optional TensorBoard-style debiased EMA smoothing with a band of the smoothed spread;
- a fixed ``uirevision`` so that a zoom survives a refresh whenever the browser keeps the chart;
- one colour per policy across all pages.

Traces and layouts are plain dicts assembled into a figure without Plotly's per-property validation,
which is 15x faster; the live Train page rebuilds its chart every second in the web server, on the cores
that training uses too. The unit tests validate every figure instead. Labels, units, number formats and log
axes of metrics come from the metric schema (``dqn_sim.vocab``), colours and names of policies from the
registry (``dqn_sim.policies``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import get_colorscale, qualitative
from plotly.subplots import make_subplots

from dqn_sim import policies
from dqn_sim.describe import topic_names
from dqn_sim.splits import validation_rows
from dqn_sim.stats import ema
from dqn_sim.vocab import TRAINING

MAX_POINTS = 1500  # per trace, like W&B
X_AXES = {"step": "User-steps", "episode": "Episodes", "wall_time": "Wall time (s)"}
METRICS = {  # metric -> (training column, evaluation mean, low, high, axis title)
    "return": ("episode_return", "return_mean", "return_lo", "return_hi", "Return per session"),
    "ctr": ("ctr", "ctr", "ctr_lo", "ctr_hi", "Click-through rate"),
}
# the look of Streamlit's chart theme, for figures drawn without it (see ``stack``)
STUDIO_LOOK = {"font": {"family": '"Source Sans", "Source Sans Pro", sans-serif', "color": "#1F2937", "size": 13},
               "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)"}
AXIS_LOOK = {"gridcolor": "#E5E7EB", "zerolinecolor": "#D1D5DB", "linecolor": "#D1D5DB", "automargin": True}
RUN_PALETTE = [c if c.startswith("#") else "#" + "".join(f"{int(v):02x}" for v in c[4:-1].split(","))
               for c in qualitative.Bold]
INTEREST_BAR = {"title": {"text": "Interest", "side": "right"}, "thickness": 12, "tickvals": [-1, 0, 1]}
# red = dislikes, blue = likes; spelled out, as plotly.js reads the name "RdBu" the other way round
INTEREST_SCALE = get_colorscale("RdBu")
Trace = dict[str, Any]
Panel = tuple[list[Trace], dict]  # a chart's traces and layout, before it becomes a figure (see ``stack``)


# --------------------------------------------------------------------------------------------- helpers


def downsample_index(y: np.ndarray, max_points: int = MAX_POINTS) -> np.ndarray:
    """Indices (in order) of at most ``max_points`` points: the min and max of each of ``max_points / 2``
    equal buckets. Unlike a stride this keeps every spike, which is what a reader looks for in a loss."""
    n = len(y)
    if n <= max_points:
        return np.arange(n)
    buckets = max(max_points // 2, 1)
    bucket_N = np.arange(n) * buckets // n
    order = np.lexsort((y, bucket_N))  # by bucket, then by value
    first = np.searchsorted(bucket_N[order], np.arange(buckets))
    last = np.r_[first[1:], n] - 1
    return np.unique(np.r_[order[first], order[last]])


def smooth(y: np.ndarray, weight: float) -> tuple[np.ndarray, np.ndarray | None]:
    """Debiased EMA of ``y`` and the EMA of its spread (a standard deviation), or ``None`` unsmoothed."""
    mean = ema(y, weight)
    if weight <= 0 or len(y) < 2:
        return mean, None
    return mean, np.sqrt(ema((y - mean) ** 2, weight))


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _band(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, color: str, group: str) -> Trace:
    return {
        "type": "scatter", "x": np.r_[x, x[::-1]], "y": np.r_[hi, lo[::-1]], "fill": "toself",
        "fillcolor": _rgba(color, 0.15), "line": {"width": 0}, "hoverinfo": "skip", "showlegend": False,
        "legendgroup": group, "mode": "lines",
    }


def _line(x: Any, y: Any, *, name: str, color: str, dash: str | None = None, width: float = 2,
          mode: str = "lines", **extra: Any) -> Trace:
    return {"type": "scatter", "x": x, "y": y, "name": name, "legendgroup": name, "mode": mode,
            "line": {"color": color, "width": width, "dash": dash}, **extra}


def _error_y(mean: Any, lo: Any, hi: Any, color: str = "#374151") -> dict:
    """Asymmetric error bars from an interval."""
    return {"type": "data", "symmetric": False, "array": np.asarray(hi) - np.asarray(mean),
            "arrayminus": np.asarray(mean) - np.asarray(lo), "color": color, "thickness": 1.2}


def series_traces(
    x: Sequence[float], y: Sequence[float], *, name: str, color: str, smoothing: float = 0.0,
    dash: str | None = None,
) -> list[Trace]:
    """A (smoothed) line with its spread band; NaNs (e.g. loss before learning starts) are left out."""
    x_arr, y_arr = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x_arr) & np.isfinite(y_arr)
    x_arr, y_arr = x_arr[ok], y_arr[ok]
    mean, spread = smooth(y_arr, smoothing)
    idx = downsample_index(mean)
    x_arr, mean = x_arr[idx], mean[idx]
    traces = []
    if spread is not None:
        traces.append(_band(x_arr, mean - spread[idx], mean + spread[idx], color, name))
    traces.append(_line(x_arr, mean, name=name, color=color, dash=dash))
    return traces


def _layout(*, title: str = "", x_title: str = "", y_title: str = "", height: int = 330,
            revision: str | None = None, xaxis: dict | None = None, yaxis: dict | None = None,
            **extra: Any) -> dict:
    return {
        "title": {"text": title, "font": {"size": 15}}, "height": height, "hovermode": "x unified",
        "margin": {"l": 10, "r": 10, "t": 48, "b": 10},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        "uirevision": revision or title,
        "xaxis": {"title": {"text": x_title}, **(xaxis or {})},
        "yaxis": {"title": {"text": y_title}, **(yaxis or {})},
        **extra,
    }


def _figure(traces: list[Trace], layout: dict) -> go.Figure:
    return go.Figure(data=traces, layout=layout, _validate=False)


def _subplots(rows: int, cols: int, traces: list[tuple[Trace, int, int]], layout: dict, **grid: Any) -> go.Figure:
    """A grid of panels; ``traces`` are (trace, row, col)."""
    fig = make_subplots(rows=rows, cols=cols, **grid)
    for trace, row, col in traces:
        fig.add_trace(trace, row=row, col=col)
    fig.update_layout({k: v for k, v in layout.items() if k not in ("xaxis", "yaxis")})
    return fig


def x_values(frame: pd.DataFrame, x: str, metrics: pd.DataFrame) -> np.ndarray:
    """The chosen x-axis for rows of ``frame``; evaluation rows have no episode count, so it is read off
    the training metrics at the same step."""
    if x in frame:
        return frame[x].to_numpy(dtype=np.float64)
    if len(metrics) == 0:
        return np.zeros(len(frame))
    return np.interp(frame["step"], metrics["step"], metrics[x], left=0.0)


# --------------------------------------------------------------------------------------------- training


def _baseline_traces(row: pd.Series, metric: str, x0: float, x1: float) -> list[Trace]:
    """A baseline as a horizontal line at its mean with its 95% interval as a band."""
    _, mean, lo, hi, _ = METRICS[metric]
    color, label = policies.color(row["policy"]), policies.label(row["policy"])
    xs = np.array([x0, x1])
    return [
        _band(xs, np.full(2, row[lo]), np.full(2, row[hi]), color, label),
        _line(xs, np.full(2, row[mean]), name=label, color=color, dash="dash", width=1.5,
              hovertemplate=f"{label}: %{{y:.3g}} [{row[lo]:.3g}, {row[hi]:.3g}]<extra></extra>"),
    ]


def learning_curve(
    metrics: pd.DataFrame, evals: pd.DataFrame, *, metric: str = "return", x: str = "step",
    smoothing: float = 0.6,
) -> go.Figure:
    """DQN's training episodes (smoothed) and held-out evaluations, against every baseline's 95% band."""
    return _figure(*learning_curve_panel(metrics, evals, metric=metric, x=x, smoothing=smoothing))


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
        traces.append(_line(dqn_x, dqn[mean].to_numpy(), name="DQN held-out", color=policies.color("dqn"),
                            dash="dot", width=1, mode="lines+markers", marker={"size": 7},
                            error_y=_error_y(dqn[mean], dqn[lo], dqn[hi], policies.color("dqn"))))
    title = "Return per session" if metric == "return" else "Click-through rate"
    return traces, _layout(title=f"{title}: DQN vs baselines", x_title=X_AXES[x], y_title=y_title, height=360,
                           revision=f"{metric}-{x}")


def q_vs_return(metrics: pd.DataFrame, *, x: str = "step", smoothing: float = 0.6) -> go.Figure:
    """The agent's Q estimate of the states it visited against the discounted return that followed.

    A Q line above the realised-return line is over-estimation; the gap should close as learning goes on.
    """
    return _figure(*q_vs_return_panel(metrics, x=x, smoothing=smoothing))


def q_vs_return_panel(metrics: pd.DataFrame, *, x: str = "step", smoothing: float = 0.6) -> Panel:
    xs = metrics[x] if len(metrics) else []
    traces = series_traces(xs, metrics["q_mean"], name="Q estimate (max over slate)", color=policies.color("dqn"),
                           smoothing=smoothing)
    traces += series_traces(xs, metrics["disc_return"], name="Realised discounted return", color="#059669",
                            smoothing=smoothing, dash="dash")
    return traces, _layout(title="Q-values vs realised return", x_title=X_AXES[x], y_title="Value", revision=f"q-{x}")


def metric_chart(metrics: pd.DataFrame, column: str, *, x: str = "step", smoothing: float = 0.0,
                 color: str | None = None) -> go.Figure:
    """One training metric over time, titled, formatted and scaled as the metric schema declares it."""
    return _figure(*metric_panel(metrics, column, x=x, smoothing=smoothing, color=color))


def metric_panel(metrics: pd.DataFrame, column: str, *, x: str = "step", smoothing: float = 0.0,
                 color: str | None = None) -> Panel:
    m = TRAINING[column]
    traces = series_traces(metrics[x] if len(metrics) else [], metrics[column], name=m.label,
                           color=color or policies.color("dqn"), smoothing=smoothing if m.smooth else 0.0)
    traces[-1]["hovertemplate"] = f"{m.label}: %{{y:{m.fmt}}}<extra></extra>"
    return traces, _layout(title=m.label, x_title=X_AXES[x], y_title=m.title, height=260, revision=f"{column}-{x}",
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
    return _figure(top_traces + bottom_traces, layout)


# --------------------------------------------------------------------------------------------- scenario


def topic_mix_chart(topics_IK: np.ndarray, clickbait_I: np.ndarray) -> go.Figure:
    """How much of the catalogue each topic covers, split into regular items and clickbait."""
    names = topic_names(topics_IK.shape[1])
    share = topics_IK / max(topics_IK.shape[0], 1)
    traces = [
        {"type": "bar", "x": names, "y": share[~clickbait_I].sum(axis=0), "name": "Regular",
         "marker": {"color": policies.color("dqn")}},
        {"type": "bar", "x": names, "y": share[clickbait_I].sum(axis=0), "name": "Clickbait",
         "marker": {"color": policies.color("oracle")}},
    ]
    return _figure(traces, _layout(title="Topic mix of the catalogue", y_title="Share of items", height=300,
                                   barmode="stack", yaxis={"tickformat": ".0%"}))


def quality_chart(quality_I: np.ndarray, clickbait_I: np.ndarray) -> go.Figure:
    """Quality distribution: what refills a user's session budget (clickbait sits in the low tail)."""
    traces = [
        {"type": "histogram", "x": quality_I[mask], "name": name, "opacity": 0.75,
         "marker": {"color": policies.color(color)}}
        for mask, name, color in ((~clickbait_I, "Regular", "dqn"), (clickbait_I, "Clickbait", "oracle"))
    ]
    return _figure(traces, _layout(title="Item quality", x_title="Quality", y_title="Items", height=300,
                                   barmode="overlay", hovermode="closest"))


def popularity_chart(popularity_I: np.ndarray) -> go.Figure:
    """The popularity prior by rank on log-log axes: a straight line is a Zipf law."""
    pop = np.sort(np.asarray(popularity_I, dtype=np.float64))[::-1]
    top = max(pop.size // 10, 1)
    trace = _line(np.arange(1, pop.size + 1), pop, name="Popularity", color=policies.color("popularity"),
                  mode="lines+markers", marker={"size": 4})
    note = {"xref": "paper", "yref": "paper", "x": 1.0, "y": 1.0, "showarrow": False, "xanchor": "right",
            "yanchor": "bottom", "font": {"size": 11},
            "text": f"top 10% of items hold {pop[:top].sum():.0%} of the prior"}
    spans_decades = pop[-1] > 0 and pop[0] / pop[-1] > 10  # a flat prior (Zipf 0) reads better on a linear axis
    return _figure([trace], _layout(title="Popularity curve", x_title="Rank", y_title="Popularity prior",
                                    height=300, showlegend=False, hovermode="closest", annotations=[note],
                                    xaxis={"type": "log", "dtick": 1},
                                    yaxis={"type": "log", "dtick": 1} if spans_decades else None))


def _heatmap(z: np.ndarray, x: Sequence, y: Sequence, hover: str) -> Trace:
    return {"type": "heatmap", "z": z, "x": x, "y": y, "zmin": -1, "zmax": 1, "zmid": 0, "colorscale": INTEREST_SCALE,
            "colorbar": INTEREST_BAR, "hovertemplate": hover}


def interest_heatmap(profile_SK: np.ndarray, segment_names: Sequence[str], share_S: np.ndarray) -> go.Figure:
    """Each segment's interest in each topic (-1 dislikes, +1 loves)."""
    labels = [f"{n} ({s:.0%})" for n, s in zip(segment_names, share_S, strict=True)]
    trace = _heatmap(profile_SK, topic_names(profile_SK.shape[1]), labels, "%{y}<br>%{x}: %{z:.2f}<extra></extra>")
    return _figure([trace], _layout(title="Segment interests", height=max(220, 60 + 36 * len(labels)),
                                    hovermode="closest", yaxis={"autorange": "reversed"}))


# --------------------------------------------------------------------------------------------- inspect


def session_chart(sessions: Mapping[str, pd.DataFrame]) -> go.Figure:
    """Cumulative reward and remaining session budget, step by step, for several policies on one user.

    ``sessions`` maps a label to a trace's ``steps`` frame; clicks are marked on the reward line.
    """
    traces = []
    for i, (label, steps) in enumerate(sessions.items()):
        color = RUN_PALETTE[i % len(RUN_PALETTE)]
        clicked = steps[steps["clicked"]]
        traces += [
            (_line(steps["step"], steps["cum_reward"], name=label, color=color), 1, 1),
            (_line(clicked["step"], clicked["cum_reward"], name=f"{label}: click", color=color, mode="markers",
                   legendgroup=label, showlegend=False, marker={"size": 7}), 1, 1),
            (_line(steps["step"], steps["budget_after"], name=label, color=color, dash="dot", showlegend=False),
             2, 1),
        ]
    fig = _subplots(2, 1, traces, _layout(height=420, revision="session"), shared_xaxes=True,
                    vertical_spacing=0.08, subplot_titles=("Cumulative reward", "Session budget left"))
    fig.update_xaxes(title_text="Step", row=2, col=1)
    return fig


def interest_drift_chart(interest_TK: np.ndarray, *, title: str) -> go.Figure:
    """How the session moved the user's interests: the change of each topic's interest since the first step.

    Drift is small beside the -1…1 range of the interests themselves (≤ 0.05 a session on video), so the colour
    scale spans the largest change of this session, not the range: a static-looking map of the raw values
    would hide exactly what the chart is for. Hover gives the value and the change.
    """
    change_KT = (interest_TK - interest_TK[:1]).T
    span = max(float(np.abs(change_KT).max(initial=0.0)), 1e-3)
    trace = {**_heatmap(change_KT, np.arange(interest_TK.shape[0]), topic_names(interest_TK.shape[1]),
                        "step %{x}<br>%{y}: %{customdata:.3f} (%{z:+.3f} since the start)<extra></extra>"),
             "customdata": interest_TK.T, "zmin": -span, "zmax": span,
             "colorbar": {**INTEREST_BAR, "title": {"text": "Change", "side": "right"},
                          "tickvals": [-span, 0, span], "ticktext": [f"{-span:+.2g}", "0", f"{span:+.2g}"]}}
    return _figure([trace], _layout(title=title, x_title="Step", height=max(240, 80 + 18 * interest_TK.shape[1]),
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
    fig = _subplots(1, len(panels), traces, _layout(height=max(240, 40 + 22 * len(keep)), revision="candidates",
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


# --------------------------------------------------------------------------------------------- compare


def final_metrics_chart(table: pd.DataFrame) -> go.Figure:
    """Return and click-through rate per policy with 95% intervals (``table`` has the evaluation columns)."""
    colors = [policies.color(p) for p in table["policy"]]
    labels = [policies.label(p) for p in table["policy"]]
    traces = []
    for col, metric in enumerate(("return", "ctr"), start=1):
        _, mean, lo, hi, _ = METRICS[metric]
        traces.append(({"type": "bar", "x": labels, "y": table[mean], "marker": {"color": colors},
                        "showlegend": False, "name": metric, "error_y": _error_y(table[mean], table[lo], table[hi]),
                        "hovertemplate": "%{x}: %{y:.3g}<extra></extra>"}, 1, col))
    fig = _subplots(1, 2, traces, _layout(height=340, revision="final", hovermode="closest"),
                    subplot_titles=("Return per session", "Click-through rate"))
    fig.update_yaxes(tickformat=".0%", row=1, col=2)
    return fig


def segment_chart(segments: pd.DataFrame) -> go.Figure:
    """Mean return per audience segment and policy, with 95% intervals: who gains from the DQN."""
    traces = [
        {"type": "bar", "x": rows["segment_name"], "y": rows["return_mean"], "name": policies.label(str(policy)),
         "marker": {"color": policies.color(str(policy))},
         "error_y": _error_y(rows["return_mean"], rows["return_lo"], rows["return_hi"])}
        for policy, rows in segments.groupby("policy", sort=False)
    ]
    return _figure(traces, _layout(title="Return per segment", y_title="Return per session", height=340,
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
        traces += [_band(xs, dqn[lo].to_numpy(), dqn[hi].to_numpy(), color, name),
                   _line(xs, dqn[mean].to_numpy(), name=name, color=color, mode="lines+markers", marker={"size": 6})]
    return _figure(traces, _layout(title="Learning curves", x_title=X_AXES[x], y_title=y_title, height=380,
                                   revision=f"runs-{source}-{metric}-{x}"))
