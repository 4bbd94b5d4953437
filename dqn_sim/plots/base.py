"""Shared pieces of every figure: point budgets, smoothing, bands, lines, layouts (pure functions, no Streamlit).

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

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import get_colorscale, qualitative
from plotly.subplots import make_subplots

from dqn_sim.stats import ema

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


def run_colors(run_ids: Sequence[str]) -> dict[str, str]:
    """Each run's colour by its place among ``run_ids`` (every stored run, oldest first), not among the runs a chart
    happens to show: a run keeps one colour on every chart and tab, whichever runs are chosen beside it, and runs
    stored one after another never share a colour until the palette wraps."""
    return {run_id: RUN_PALETTE[i % len(RUN_PALETTE)] for i, run_id in enumerate(run_ids)}


INTEREST_BAR = {"title": {"text": "Interest", "side": "right"}, "thickness": 12, "tickvals": [-1, 0, 1]}
# red = dislikes, blue = likes; spelled out, as plotly.js reads the name "RdBu" the other way round
INTEREST_SCALE = get_colorscale("RdBu")
Trace = dict[str, Any]
Panel = tuple[list[Trace], dict]  # a chart's traces and layout, before it becomes a figure (see ``stack``)


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


def band_trace(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, color: str, group: str) -> Trace:
    return {
        "type": "scatter", "x": np.r_[x, x[::-1]], "y": np.r_[hi, lo[::-1]], "fill": "toself",
        "fillcolor": _rgba(color, 0.15), "line": {"width": 0}, "hoverinfo": "skip", "showlegend": False,
        "legendgroup": group, "mode": "lines",
    }


def line_trace(x: Any, y: Any, *, name: str, color: str, dash: str | None = None, width: float = 2,
          mode: str = "lines", **extra: Any) -> Trace:
    return {"type": "scatter", "x": x, "y": y, "name": name, "legendgroup": name, "mode": mode,
            "line": {"color": color, "width": width, "dash": dash}, **extra}


def error_bars(mean: Any, lo: Any, hi: Any, color: str = "#374151") -> dict:
    """Asymmetric error bars from an interval. A Beta interval of a share at 0% or 100% lies just beside its point;
    that side draws no bar rather than one of negative length."""
    mean = np.asarray(mean, dtype=np.float64)
    return {"type": "data", "symmetric": False, "array": np.maximum(np.asarray(hi) - mean, 0.0),
            "arrayminus": np.maximum(mean - np.asarray(lo), 0.0), "color": color, "thickness": 1.2}


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
        traces.append(band_trace(x_arr, mean - spread[idx], mean + spread[idx], color, name))
    traces.append(line_trace(x_arr, mean, name=name, color=color, dash=dash))
    return traces


def base_layout(*, title: str = "", x_title: str = "", y_title: str = "", height: int = 330,
            revision: str | None = None, xaxis: dict | None = None, yaxis: dict | None = None,
            **extra: Any) -> dict:
    # the toolbar stands upright in a right margin of its own: across the top it covered the legend's last entry
    return {
        "title": {"text": title, "font": {"size": 15}}, "height": height, "hovermode": "x unified",
        "margin": {"l": 10, "r": 40, "t": 48, "b": 10}, "modebar": {"orientation": "v"},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        "uirevision": revision or title,
        "xaxis": {"title": {"text": x_title}, **(xaxis or {})},
        "yaxis": {"title": {"text": y_title}, **(yaxis or {})},
        **extra,
    }


def to_figure(traces: list[Trace], layout: dict) -> go.Figure:
    return go.Figure(data=traces, layout=layout, _validate=False)


def grid_figure(rows: int, cols: int, traces: list[tuple[Trace, int, int]], layout: dict, **grid: Any) -> go.Figure:
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




def heatmap_trace(z: np.ndarray, x: Sequence, y: Sequence, hover: str) -> Trace:
    return {"type": "heatmap", "z": z, "x": x, "y": y, "zmin": -1, "zmax": 1, "zmid": 0, "colorscale": INTEREST_SCALE,
            "colorbar": INTEREST_BAR, "hovertemplate": hover}


