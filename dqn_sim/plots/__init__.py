"""Figures of the studio: pure functions from arrays and DataFrames to Plotly figures (no Streamlit), by concern:
``base`` (shared pieces and conventions), ``training`` (live learning curves), ``world`` (a scenario's previews),
``session`` (one user's session), ``results`` (final results of a run), ``history`` (across stored runs).

Pages call them as ``plots.<figure>``; the modules say what each figure is for.
"""

from dqn_sim.plots.base import (
    MAX_POINTS,
    METRICS,
    RUN_PALETTE,
    X_AXES,
    Panel,
    downsample_index,
    run_colors,
    series_traces,
    smooth,
)
from dqn_sim.plots.results import (
    final_metrics_chart,
    quality_chart_by_policy,
    runs_chart,
    segment_chart,
    survival_chart,
)
from dqn_sim.plots.session import candidates_chart, interest_drift_chart, session_chart
from dqn_sim.plots.training import (
    grid4,
    learning_curve,
    learning_curve_panel,
    metric_chart,
    metric_panel,
    q_vs_return,
    q_vs_return_panel,
    stack,
)
from dqn_sim.plots.world import interest_heatmap, popularity_chart, quality_chart, topic_mix_chart

__all__ = [
    "MAX_POINTS", "METRICS", "RUN_PALETTE", "X_AXES", "Panel", "candidates_chart", "downsample_index", "grid4",
    "final_metrics_chart", "interest_drift_chart", "interest_heatmap", "learning_curve", "learning_curve_panel",
    "metric_chart", "metric_panel", "popularity_chart", "q_vs_return", "q_vs_return_panel",
    "quality_chart", "quality_chart_by_policy", "run_colors", "runs_chart", "segment_chart", "series_traces",
    "session_chart", "smooth", "stack", "survival_chart", "topic_mix_chart",
]
