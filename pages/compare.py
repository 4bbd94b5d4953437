"""Compare: one run's DQN against every baseline with 95% intervals, and stored runs side by side."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dqn_sim import plots, policies
from dqn_sim.compare import NotComparable, compare, resolve
from dqn_sim.describe import MECHANISM_COLUMNS, final_results, mechanism_sentence
from dqn_sim.store.groups import GroupStore
from dqn_sim.vocab import EVALUATION, Metric
from ui.fmt import inert, percent, plain
from ui.history import run_labels, stored_runs_comparison, with_intervals
from ui.page import header
from ui.state import selected_run_id, snapshot, store


def metric_column(metric: Metric) -> st.column_config.NumberColumn:
    """A results column labelled, explained (its formula) and formatted from the metric's declaration."""
    return st.column_config.NumberColumn(metric.label, help=metric.help,
                                         format="percent" if metric.fmt.endswith("%") else "%.3g")


RESULT_COLUMNS = {
    "policy": st.column_config.TextColumn("Policy"),
    "return_mean": st.column_config.NumberColumn("Return", format="%.3g", help="Mean return per session"),
    "return_ci": st.column_config.TextColumn("Return 95% CI"),
    "ctr": st.column_config.NumberColumn("CTR", format="percent", help="Clicks per recommendation step"),
    "ctr_ci": st.column_config.TextColumn("CTR 95% CI"),
    "episode_len_mean": st.column_config.NumberColumn("Session length", format="%.1f", help="Steps per session"),
    "vs_best_baseline": st.column_config.TextColumn("vs best baseline", help="Return relative to the best "
                                                     "baseline's (the oracles included, the ceiling not)"),
    **{name: metric_column(EVALUATION[name])
       for name in ("leave_rate", "clickbait_share", "quality", "diversity", "novelty", "coverage")},
}

header(
    "Compare",
    "Every policy is judged on the **same held-out users** with the same random draws. Intervals are 95% "
    "confidence intervals over those **evaluation sessions** of one trained model: they say how precisely this "
    "model was measured, not how another training seed of the same settings would do."
)


def run_results() -> None:
    """Final results and per-segment results of one run (the selected one to begin with), live while it trains."""
    runs = store().list_runs()
    if runs.empty:
        st.info("No runs yet. Start one on the **Train** page (or import one on **Runs**) and compare it here.",
                icon=":material/info:")
        st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
        return
    labels = run_labels(runs)
    ids, selected = list(labels), selected_run_id()
    st.subheader("One run: final results", divider="violet")
    run_id = st.selectbox("Run", ids, format_func=labels.get, key="compare:run",
                          index=ids.index(selected) if selected in ids else 0,
                          help="Any stored run: trained here, with the CLI, or imported.")
    snap = snapshot(run_id)
    if snap is None:
        st.warning("This run is no longer in the store.", icon=":material/warning:")
        return
    if not (snap.evals["policy"] == snap.train.algo).any():
        st.info(f"The baselines are evaluated; the {policies.label(snap.train.algo)}'s first evaluation comes after "
                f"{snap.train.eval_every:,} steps.", icon=":material/hourglass_top:")
    elif snap.active:
        st.caption(f"Latest evaluation at step {snap.evals['step'].max():,} of {snap.total_steps:,}; the final "
                   "result comes when training ends.")

    table = final_results(snap.evals)
    shown = with_intervals(table).assign(policy=table["policy"].map(policies.label))
    st.dataframe(shown, hide_index=True, column_order=list(RESULT_COLUMNS), column_config=RESULT_COLUMNS)
    st.plotly_chart(plots.final_metrics_chart(table))
    st.caption(f"{policies.label('patient-oracle')}: {policies.KINDS['ceiling']}.")
    mechanism(table, snap.summary.get("survival"))

    st.subheader("One run: who gains, per segment", divider="violet")
    if len(snap.segments):
        st.plotly_chart(plots.segment_chart(snap.segments))
    else:
        st.caption("Per-segment results are computed from the final evaluation, when the run ends.")


def mechanism(table: pd.DataFrame, survival: dict[str, list[float]] | None) -> None:
    """Why the returns differ, across every held-out user: how long sessions last under each policy, beside what
    each recommended (clickbait wins the next click and drains the session, quality refills it)."""
    st.subheader("One run: why, across all held-out users", divider="violet")
    if not survival or table[MECHANISM_COLUMNS].isna().any(axis=None):
        st.caption("Session survival, clickbait share and item quality come from the final test evaluation, when "
                   "the run ends (runs stored before these were recorded have none).")
        return
    left, right = st.columns(2)
    left.plotly_chart(plots.survival_chart({p: survival[p] for p in table["policy"] if p in survival}))
    right.plotly_chart(plots.quality_chart_by_policy(table))
    sentence = mechanism_sentence(table)
    if sentence:
        st.markdown(sentence)


def a_or_b() -> None:
    """Which of two runs or groups is better, by how much, how sure: P(A > B), the IQM difference, and what
    variation the intervals cover (training seeds when a side has several, else only evaluation sessions)."""
    runs, groups = store().list_runs(), GroupStore(store()).list_groups()
    options = {**{g: f"group · {n} ({s} seeds)" for g, n, s in zip(groups["id"], groups["name"], groups["seeds"],
                                                                      strict=True)},
               **{i: f"run · {n}" for i, n in run_labels(runs).items()}}
    if len(options) < 2:
        st.caption("Two stored runs or groups are needed. A group (Seeds > 1 on Train) gives intervals over "
                   "training seeds; two single runs can only be compared over their evaluation sessions.")
        return
    ids = list(options)
    left, right = st.columns(2)
    a = left.selectbox("A", ids, index=0, format_func=options.get, key="compare:a")
    b = right.selectbox("B", ids, index=1, format_func=options.get, key="compare:b")
    if a == b:
        st.caption("Choose two different runs or groups.")
        return
    try:
        result = compare(resolve(a, store()), resolve(b, store()))
    except NotComparable as e:
        st.info(f"Not comparable yet: {inert(e)}.", icon=":material/hourglass_top:")
        return
    p, (lo, hi) = result["probability_of_improvement"], result["probability_of_improvement_ci"]
    d, (dlo, dhi) = result["iqm_difference"], result["iqm_difference_ci"]
    cols = st.columns(3)
    cols[0].metric("P(A > B)", percent(p), help="Probability of improvement (Agarwal et al. 2021): the share of "
                   f"pairs in which A's return beats B's; 95% CI {percent(lo)} – {percent(hi)}")
    cols[1].metric("IQM difference A − B", f"{d:+.3g}", help=f"Interquartile mean return of A minus B's; 95% CI "
                   f"{dlo:+.3g} – {dhi:+.3g}")
    cols[2].metric("Variation covered", result["variation"], help=result["note"])
    sentence = (result["sentence"].replace("A ", f"A ({plain(options[a])}) ", 1)
                .replace("B ", f"B ({plain(options[b])}) ", 1))
    note = result["note"][:1].upper() + result["note"][1:]  # not str.capitalize(): it lowercases "A and B"
    (st.success if lo > 0.5 or hi < 0.5 else st.info)(
        f"{sentence}. IQM difference {d:+.3g} [{dlo:+.3g}, {dhi:+.3g}]. {note}.")


# three questions, three tabs: the page stays one screen per question instead of one long scroll
one_run, versus, across = st.tabs(["One run against the baselines", "A or B: which is better, how sure",
                                   "Across stored runs"], key="compare:tab")
with one_run:
    run_results()
with versus:
    a_or_b()
with across:
    st.markdown("Every run is kept: from this studio, the command line or an imported zip. Pick runs to see how "
                "their hyperparameters changed what they learned.")
    stored_runs_comparison()
