"""Figures that compare stored runs, and the tables they draw: learning curves against the baselines, final
results with 95% intervals, hyperparameters against the final return, and results per audience segment.

Each run shows its own learner, whichever of the registry's learners it trained (the DQN or a rival): a run trains
one, so its learner's rows are those naming a registry learner, and runs of different learners sit side by side.

Pure functions (DataFrames in, figures out), in the conventions of ``dqn_sim.plots``. A run keeps one colour
on every chart: the tables carry it (``color``: the caller's ``run_colors``, else the run's position among the
chosen runs), so a reader can follow a run from its curve to its interval and its point on the hyperparameter
chart. Baselines keep their policy colour. Runs that share a scenario and seed meet identical baselines: those
are drawn once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dqn_sim import policies
from dqn_sim.describe import final_results
from dqn_sim.plots.base import (
    METRICS,
    RUN_PALETTE,
    Trace,
    band_trace,
    base_layout,
    error_bars,
    grid_figure,
    line_trace,
    to_figure,
)
from dqn_sim.plots.results import runs_chart

RESULT_COLUMNS = ["return_mean", "return_lo", "return_hi", "ctr", "ctr_lo", "ctr_hi"]
SEGMENT_COLUMNS = ["segment", "return_mean", "return_lo", "return_hi"]
RETURN_SCALE = [[0.0, "#C4B5FD"], [1.0, "#3B0764"]]  # violet, light (low return) to dark (high)
DASHES = ["dash", "dot", "dashdot", "longdash", "longdashdot"]  # one baseline's results from several runs ...
PATTERNS = ["", "/", "x", ".", "\\", "+"]  # ... on lines and on bars
LEGEND_BELOW = {"orientation": "h", "yanchor": "top", "y": -0.2, "xanchor": "left", "x": 0.0}  # many runs
MAX_TICKS = 8  # a parallel-coordinates axis with more distinct values gets plotly's own ticks


# --------------------------------------------------------------------------------------------- tables


def run_color(run_index: int) -> str:
    """The colour of the ``run_index``-th chosen run where the caller gives no colours, as ``plots.runs_chart``."""
    return RUN_PALETTE[run_index % len(RUN_PALETTE)]


def _learner(policy: str) -> bool:
    """Whether a result row is its run's own learner (a run trains one), not a baseline."""
    return policy in policies.learners()


def _learner_rows(table: pd.DataFrame) -> pd.Series:
    return table["policy"].isin(policies.learners())


def _series_color(policy: str, run_color: str) -> str:
    return run_color if _learner(policy) else policies.color(policy)


def final_return(learners: Iterable[str]) -> str:
    """The final-return axis's name: the learner's when the runs trained one ("Final DQN return"), else any
    learner's, so a chart of DQN and LinUCB runs does not call LinUCB's return the DQN's."""
    names = set(learners)
    return f"Final {policies.label(names.pop())} return" if len(names) == 1 else "Final learner return"


def _stack(frames: Mapping[str, pd.DataFrame], baselines: Sequence[str],
           colors: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One frame per run into one, keeping the run's learner and the chosen baselines, with ``run``, ``run_index``
    and the run's ``color`` (from ``colors`` by run name, else by its position)."""
    keep = [*policies.learners(), *baselines]
    parts = [frame[frame["policy"].isin(keep)].assign(run=run, run_index=i,
                                                      color=colors[run] if colors else run_color(i))
             for i, (run, frame) in enumerate(frames.items())]
    parts = [p for p in parts if len(p)]  # pandas warns on concatenating empty frames
    # no row yet (a young run has no learner evaluation): still every column, so readers of it need no special case
    columns = [*next(iter(frames.values()), pd.DataFrame(columns=["policy"])).columns, "run", "run_index", "color"]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    # the runs' learners first (in run order, whichever each trained), then baseline by baseline
    order = {p: 0 for p in policies.learners()} | {p: k for k, p in enumerate(baselines, start=1)}
    return table.sort_values(["policy", "run_index"], key=lambda c: c.map(order) if c.name == "policy" else c,
                             kind="stable").reset_index(drop=True)


def _label_series(table: pd.DataFrame, values: list[str]) -> pd.DataFrame:
    """Name each row's series: a run's learner by the run, a baseline by its policy.

    A baseline whose ``values`` repeat, bit for bit, an earlier run's result of the same policy is dropped (same
    scenario and seed, same users). Where a policy still has results from several runs, the run's name tells
    them apart, and ``variant`` (0, 1, ...) numbers them so that charts can dash or hatch them differently.
    """
    first: dict[tuple[str, bytes], str] = {}  # (policy, its numbers) -> the first run that has them
    for (run, policy), rows in table[~_learner_rows(table)].groupby(["run", "policy"], sort=False):
        first.setdefault((str(policy), rows[values].to_numpy(dtype=np.float64).tobytes()), str(run))
    seen: Counter[str] = Counter()
    variant: dict[tuple[str, str], int] = {}  # (policy, run) of each kept baseline result -> its number
    for (policy, _), run in first.items():
        variant[policy, run] = seen[policy]
        seen[policy] += 1
    mine = _learner_rows(table).to_numpy(dtype=bool)  # the learner rows, found once for the whole table
    keep = mine | np.array([(policy, run) in variant
                            for policy, run in zip(table["policy"], table["run"], strict=True)], dtype=bool)
    table, mine = table[keep], mine[keep]
    pairs = list(zip(table["policy"], table["run"], strict=True))
    series = [run if learner else f"{policies.label(policy)} · {run}" if seen[policy] > 1
              else policies.label(policy) for learner, (policy, run) in zip(mine, pairs, strict=True)]
    return table.assign(series=series, variant=[variant.get(pair, 0) for pair in pairs]).reset_index(drop=True)


def final_table(evals: Mapping[str, pd.DataFrame], baselines: Sequence[str],
                colors: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Each run's learner result (its test evaluation once the run has ended, else its latest) and the chosen
    baselines' results.

    ``evals`` maps a run's name to its evaluation rows (the store's ``evals`` columns); one row per series, with
    ``series``, ``run``, ``run_index``, ``color`` and the learner's ``vs_best_baseline`` (against every baseline of
    its run). ``colors``: each run's colour by name (``plots.run_colors``).
    """
    table = _label_series(_stack({run: final_results(e) for run, e in evals.items()}, baselines, colors),
                          RESULT_COLUMNS)
    if len(table):  # a baseline's own lift over the best baseline means nothing
        table.loc[~_learner_rows(table), "vs_best_baseline"] = np.nan
    return table


def segment_table(segments: Mapping[str, pd.DataFrame], baselines: Sequence[str],
                  colors: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Each run's per-segment results (the store's ``segment_results``) for its learner and the chosen
    baselines."""
    return _label_series(_stack(segments, baselines, colors), SEGMENT_COLUMNS)


def hyperparameter_table(params: pd.DataFrame, finals: pd.DataFrame) -> pd.DataFrame:
    """Runs' hyperparameters (``params``: one row per run, indexed by its name) beside their learner (its policy
    name) and its final return.

    List values (layer widths) become text, so each column holds numbers, booleans or text. Runs without a learner
    result yet are left out.
    """
    mine = finals[_learner_rows(finals)].set_index("run")
    table = params.map(lambda v: ", ".join(map(str, v)) if isinstance(v, list) else v)
    table = table.loc[[r for r in table.index if r in mine.index]]
    return table.assign(run_index=mine["run_index"], color=mine["color"], learner=mine["policy"],
                        learner_return=mine["return_mean"], learner_lo=mine["return_lo"],
                        learner_hi=mine["return_hi"]).rename_axis("run").reset_index()


def varying(table: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """The columns whose value differs between rows: the only ones that can explain a difference."""
    return [c for c in columns if c in table and table[c].astype(str).nunique() > 1]


# --------------------------------------------------------------------------------------------- figures


def curves_chart(
    runs: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]], baselines: pd.DataFrame, *, source: str = "eval",
    metric: str = "return", x: str = "step", smoothing: float = 0.6, colors: Mapping[str, str] | None = None,
) -> go.Figure:
    """``plots.runs_chart`` of the runs (in ``colors``, by run name), with each baseline result of ``baselines``
    (rows of ``final_table``) as a dashed line across the chart and its 95% interval as a band."""
    fig = runs_chart(runs, source=source, metric=metric, x=x, smoothing=smoothing, colors=colors)
    x1 = max((float(np.nanmax(t.x)) for t in fig.data if t.x is not None and len(t.x)), default=0.0) or 1.0
    _, mean, lo, hi, _ = METRICS[metric]
    xs = np.array([0.0, x1])
    traces: list[Trace] = []
    for row in baselines[~_learner_rows(baselines)].itertuples():
        color, name = policies.color(row.policy), row.series
        traces += [
            band_trace(xs, np.full(2, getattr(row, lo)), np.full(2, getattr(row, hi)), color, name),
            line_trace(xs, np.full(2, getattr(row, mean)), name=name, color=color, width=1.5,
                  dash=DASHES[row.variant % len(DASHES)],
                  hovertemplate=f"{name}: %{{y:.3g}} [{getattr(row, lo):.3g}, {getattr(row, hi):.3g}]<extra></extra>"),
        ]
    fig.add_traces(traces)
    return fig.update_layout(height=420, legend=LEGEND_BELOW)


def final_chart(table: pd.DataFrame) -> go.Figure:
    """Return and click-through rate of every series (rows of ``final_table``) with 95% intervals, one row each:
    where two intervals do not overlap, the difference is not luck. Learners' results are dots, baselines
    diamonds."""
    traces = []
    for row in table.itertuples():
        color = _series_color(row.policy, row.color)
        for col, metric in enumerate(("return", "ctr"), start=1):
            _, mean, lo, hi, _ = METRICS[metric]
            value = getattr(row, mean)
            traces.append(({
                "type": "scatter", "x": [value], "y": [row.series], "mode": "markers", "showlegend": False,
                "name": row.series, "marker": {"color": color, "size": 10,
                                               "symbol": "circle" if _learner(row.policy) else "diamond"},
                "error_x": error_bars([value], [getattr(row, lo)], [getattr(row, hi)], color),
                "hovertemplate": f"{row.series}: %{{x:.3g}} [{getattr(row, lo):.3g}, {getattr(row, hi):.3g}]"
                                 "<extra></extra>",
            }, 1, col))
    fig = grid_figure(1, 2, traces, base_layout(height=110 + 32 * len(table), revision="history-final",
                                          hovermode="closest"),
                    shared_yaxes=True, horizontal_spacing=0.04, subplot_titles=("Return per session",
                                                                                "Click-through rate"))
    fig.update_yaxes(type="category", autorange="reversed")  # first series on top; run names stay text
    fig.update_xaxes(tickformat=".0%", row=1, col=2)
    return fig


def _axis(values: pd.Series) -> tuple[str, list[Any]]:
    """How a hyperparameter is laid out on an axis: ``log`` when positive and spanning a decade or more,
    ``linear`` for other numbers, ``category`` (values as text, booleans as off/on) for the rest."""
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "category", [("on" if v else "off") if isinstance(v, (bool, np.bool_)) else str(v) for v in values]
    v = values.to_numpy(dtype=np.float64)
    spans_decades = bool(np.all(v > 0) and v.max() / v.min() >= 10)
    return ("log" if spans_decades else "linear"), v.tolist()


def hyperparameter_scatter(table: pd.DataFrame, param: str, *, label: str) -> go.Figure:
    """One hyperparameter (``label`` is its name for people) against the final return of each run's learner with
    its 95% interval, a point per run (rows of ``hyperparameter_table``)."""
    axis, xs = _axis(table[param])
    traces = [
        line_trace([x], [row.learner_return], name=row.run, color=row.color, mode="markers",
              marker={"size": 11, "color": row.color},
              error_y=error_bars([row.learner_return], [row.learner_lo], [row.learner_hi], row.color),
              hovertemplate=f"{row.run}<br>{label}: %{{x}}<br>{policies.label(row.learner)} return %{{y:.3g}} "
                            f"[{row.learner_lo:.3g}, {row.learner_hi:.3g}]<extra></extra>")
        for x, row in zip(xs, table.itertuples(), strict=True)
    ]
    in_sentence = label[:1].lower() + label[1:] if label[1:2].islower() else label  # "PER" stays "PER"
    y_title = final_return(table["learner"])
    return to_figure(traces, base_layout(title=f"{y_title} against {in_sentence}", x_title=label,
                                   y_title=y_title, height=400, hovermode="closest", legend=LEGEND_BELOW,
                                   revision=f"history-scatter-{param}",
                                   xaxis={"type": axis, "categoryorder": "category ascending"}))


def _dimension(values: pd.Series, label: str) -> dict[str, Any]:
    """A parallel-coordinates axis, ticked at the runs' own values where they are few (no "3.5" between n-steps
    of 3 and 4): log10 positions for a log axis, one position per value in order for text and booleans."""
    axis, shown = _axis(values)
    ticks = sorted(set(shown))
    if axis == "category":
        return {"label": label, "values": [ticks.index(s) for s in shown], "tickvals": list(range(len(ticks))),
                "ticktext": ticks, "range": [-0.5, len(ticks) - 0.5]}
    if axis == "linear":
        dim = {"label": label, "values": shown}
        return dim | {"tickvals": ticks, "ticktext": [f"{t:g}" for t in ticks]} if len(ticks) <= MAX_TICKS else dim
    if len(ticks) > MAX_TICKS:  # a log axis is ticked at the decades it spans, never at bare exponents
        ticks = list(10.0 ** np.arange(np.floor(np.log10(ticks[0])), np.ceil(np.log10(ticks[-1])) + 1))
    return {"label": label, "values": np.log10(shown), "tickvals": np.log10(ticks),
            "ticktext": [f"{t:g}" for t in ticks]}


def hyperparameter_parcoords(table: pd.DataFrame, params: Sequence[str], labels: Mapping[str, str]) -> go.Figure:
    """Parallel coordinates: an axis per hyperparameter then the final return of each run's learner, a line per
    run coloured by that return, so the settings of the best runs stand out (drag along an axis to filter)."""
    dims = [_dimension(table[p], labels.get(p, p)) for p in params]
    dims.append({"label": final_return(table["learner"]), "values": table["learner_return"]})
    trace = {"type": "parcoords", "dimensions": dims, "labelangle": 0, "labelside": "top",
             "line": {"color": table["learner_return"], "colorscale": RETURN_SCALE, "showscale": True,
                      "colorbar": {"title": {"text": "Return", "side": "right"}, "thickness": 12}}}
    layout = base_layout(title="Hyperparameters and final return", height=400, revision="history-parcoords")
    layout["margin"] = {"l": 60, "r": 40, "t": 110, "b": 30}  # room for the axis titles above the axes
    return to_figure([trace], layout)


def segments_chart(table: pd.DataFrame) -> go.Figure:
    """Mean return per audience segment of every series (rows of ``segment_table``) with 95% intervals: which
    users each run serves better."""
    traces = [
        {"type": "bar", "x": rows["segment_name"], "y": rows["return_mean"], "name": str(series),
         "marker": {"color": _series_color(rows["policy"].iloc[0], rows["color"].iloc[0]),
                    "pattern": {"shape": PATTERNS[rows["variant"].iloc[0] % len(PATTERNS)]}},
         "error_y": error_bars(rows["return_mean"], rows["return_lo"], rows["return_hi"])}
        for series, rows in table.groupby("series", sort=False)
    ]
    return to_figure(traces, base_layout(title="Return per segment", y_title="Return per session", height=400,
                                   barmode="group", hovermode="closest", revision="history-segments",
                                   legend=LEGEND_BELOW))
