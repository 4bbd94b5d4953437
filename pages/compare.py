"""Compare: the DQN against every baseline with 95% intervals, and this session's runs side by side."""

from __future__ import annotations

import streamlit as st

from dqn_sim import plots
from dqn_sim.describe import final_results
from ui.page import header
from ui.state import active_job, session_jobs

RESULT_COLUMNS = {
    "policy": st.column_config.TextColumn("Policy"),
    "return_mean": st.column_config.NumberColumn("Return", format="%.3g", help="Mean return per session"),
    "return_ci": st.column_config.TextColumn("Return 95% CI"),
    "ctr": st.column_config.NumberColumn("CTR", format="percent", help="Clicks per recommendation step"),
    "ctr_ci": st.column_config.TextColumn("CTR 95% CI"),
    "episode_len_mean": st.column_config.NumberColumn("Session length", format="%.1f", help="Steps per session"),
    "vs_best_baseline": st.column_config.NumberColumn("vs best baseline", format="percent"),
}

header(
    "Compare",
    "Every policy is judged on the **same held-out users** with the same random draws. Intervals are 95% "
    "confidence intervals over sessions: where two intervals do not overlap, the difference is not luck."
)

jobs = session_jobs()
if not jobs:
    st.info("No runs in this session yet. Start one on the **Train** page; its results and learning curves "
            "appear here.", icon=":material/info:")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()

by_id = {job.id: job for job in jobs}
current = active_job()
st.subheader("1 · Final results", divider="violet")
run_id = st.selectbox("Run", list(by_id), format_func=lambda i: by_id[i].name, key="compare:run",
                      index=list(by_id).index(current.id) if current and current.id in by_id else len(by_id) - 1)
snap = by_id[run_id].snapshot()
if not (snap.evals["policy"] == "dqn").any():
    st.info("The baselines are evaluated; the DQN's first evaluation comes after "
            f"{snap.train.eval_every:,} steps.", icon=":material/hourglass_top:")
elif snap.active:
    st.caption(f"Latest evaluation at step {snap.evals['step'].max():,} of {snap.total_steps:,}; the final "
               "result comes when training ends.")

table = final_results(snap.evals)
shown = table.assign(
    policy=table["policy"].map(plots.policy_label),
    return_ci=[f"{lo:.3g} – {hi:.3g}" for lo, hi in zip(table["return_lo"], table["return_hi"], strict=True)],
    ctr_ci=[f"{lo:.1%} – {hi:.1%}" for lo, hi in zip(table["ctr_lo"], table["ctr_hi"], strict=True)],
)
st.dataframe(shown, hide_index=True, column_order=list(RESULT_COLUMNS), column_config=RESULT_COLUMNS)
st.plotly_chart(plots.final_metrics_chart(table))

st.subheader("2 · Who gains: results per segment", divider="violet")
if len(snap.segments):
    st.plotly_chart(plots.segment_chart(snap.segments))
else:
    st.caption("Per-segment results are computed from the final evaluation, when the run ends.")

st.subheader("3 · Learning curves of this session's runs", divider="violet")
cols = st.columns([3, 2, 2, 3])
chosen = cols[0].multiselect("Runs", list(by_id), default=list(by_id), format_func=lambda i: by_id[i].name,
                             key="compare:runs")
source = cols[1].segmented_control("Curve", ["eval", "train"], default="eval", required=True, key="compare:source",
                                   format_func={"eval": "Held-out", "train": "Training"}.get)
metric = cols[2].segmented_control("Metric", list(plots.METRICS), default="return", required=True,
                                   key="compare:metric", format_func={"return": "Return", "ctr": "CTR"}.get)
x = cols[3].segmented_control("X-axis", list(plots.X_AXES), default="step", required=True, key="compare:x",
                              format_func=plots.X_AXES.get)
snaps = [by_id[i].snapshot() for i in chosen]
st.plotly_chart(plots.runs_chart({s.name: (s.metrics, s.evals) for s in snaps}, source=source or "eval",
                                 metric=metric or "return", x=x or "step"))
st.caption("Held-out curves show the greedy DQN on evaluation users with 95% bands; training curves show the "
           "ε-greedy episodes it learned from, smoothed.")
