"""The run history in the UI: the server's run store, the runs table, taking a stored run up again (its settings,
or its checkpoint), and the comparison of stored runs that the Compare page shows.

The store outlives the process, so these views read it afresh on every run: a run that trains in the background,
or one imported from the CLI meanwhile, shows up on the next click without any cache to invalidate.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import Field
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dqn_sim import plots, policies
from dqn_sim.assembly import RunConfig
from dqn_sim.config import AgentConfig, TrainConfig, leaf_fields
from dqn_sim.plots import history as history_plots
from dqn_sim.report import build_report
from dqn_sim.runs import stored_snapshot
from dqn_sim.store import validate
from dqn_sim.train.groups import GroupJob
from dqn_sim.train.job import TrainingJob
from dqn_sim.vocab import LIVE_STATES, STATES, STORED_STATES
from ui import forms
from ui.fmt import PERCENT_COLUMN, duration, percent, plain
from ui.state import start_job, store, use_config

STATUS_LOOK = {s: (STATES[s].label, STATES[s].color) for s in STORED_STATES}  # (label, colour) of a stored status
SOURCES = {"app": "trained in the studio", "cli": "trained with the CLI", "import": "imported"}
SORTS = {  # sort key -> (label, ascending)
    "created": ("Newest first", False),
    "learner_return": ("Best return", False),
    "lift": ("Biggest lift over baselines", False),
    "name": ("Name", True),
}
RUN_COLUMNS: dict[str, Any] = {  # the runs table, in this order: what it is, how it did, how it was set up
    "name": st.column_config.TextColumn("Run", width="medium"),
    "status": st.column_config.MultiselectColumn(
        "Status", options=list(STATUS_LOOK), color=[color for _, color in STATUS_LOOK.values()],
        format_func=lambda s: STATUS_LOOK[s][0]),
    "created": st.column_config.DatetimeColumn("Created", format="calendar"),
    "started_by": st.column_config.TextColumn("Started by", help="The signed-in account that started it in the "
                                              "studio, or the user who trained it with the CLI; empty when not known "
                                              "(nobody signed in, or a run from before this was kept)"),
    "preset": st.column_config.TextColumn("Scenario"),
    "learner": st.column_config.TextColumn("Learner", help="What the run trained: the DQN or a rival learner"),
    "learner_return": st.column_config.NumberColumn("Return", format="%.3g", help="The run's learner: final mean "
                                                    "return per session on held-out users"),
    "learner_ctr": st.column_config.NumberColumn("CTR", format="percent", help="The run's learner: final "
                                                 "click-through rate on held-out users"),
    "lift": st.column_config.NumberColumn("Lift", format=PERCENT_COLUMN,
                                          help="The learner's return relative to the best baseline's"),
    "best_baseline": st.column_config.TextColumn("Best baseline"),
    "best_baseline_return": st.column_config.NumberColumn("Baseline return", format="%.3g"),
    "seed": st.column_config.NumberColumn("Seed", format="%d"),
    "lr": st.column_config.NumberColumn("LR", format="%g", help="Learning rate"),
    "gamma": st.column_config.NumberColumn("γ", format="%g", help="Discount factor"),
    "n_step": st.column_config.NumberColumn("N-step", format="%d"),
    "network": st.column_config.TextColumn("Network"),
    "notes": st.column_config.TextColumn("Notes", width="medium"),
    "problem": st.column_config.TextColumn("Problem", help="What is wrong with this stored row (an odd import): "
                                           "the run is listed, its bad values left out"),
    "id": st.column_config.TextColumn("Id", help="For the CLI: python -m dqn_sim export <id>"),
}
RESULT_COLUMNS: dict[str, Any] = {  # final results with their intervals
    "series": st.column_config.TextColumn("Run / baseline", width="medium"),
    "return_mean": st.column_config.NumberColumn("Return", format="%.3g", help="Mean return per session"),
    "return_ci": st.column_config.TextColumn("Return 95% CI"),
    "ctr": st.column_config.NumberColumn("CTR", format="percent", help="Clicks per recommendation step"),
    "ctr_ci": st.column_config.TextColumn("CTR 95% CI"),
    "vs_best_baseline": st.column_config.TextColumn("vs best baseline",
                                                      help="The run's learner against the best baseline of its own "
                                                           "run"),
    "step": st.column_config.NumberColumn("At step", format="compact", help="When it was evaluated"),
}
DEFAULT_LEARNER = TrainConfig().algo  # a run of it is named alone, as before rivals existed (run names omit it too)


def _setting_label(path: str, f: Field) -> str:
    """What people call a setting; a rival learner's knob carries its learner ("LinUCB: Alpha"), so that it is not
    taken for the DQN's knob of the same name (REINFORCE's learning rate and the DQN's)."""
    owner, name = path.rpartition(".")[0], forms.label(path, f)
    return f"{policies.label(owner)}: {name}" if owner in policies.learners() else name


HYPERPARAMETERS = {  # column -> what people call it: the scenario, then every agent and training setting
    "preset": "Scenario",
    **{path: _setting_label(path, f) for cfg in (AgentConfig(), TrainConfig()) for path, f, _ in leaf_fields(cfg)},
    "algo": "Learner",
}
DEFAULT_RUNS = 3  # the comparison starts with the most recent few


# --------------------------------------------------------------------------------------------- tables


def runs_table(runs: pd.DataFrame) -> pd.DataFrame:
    """``RunStore.list_runs()`` as people read it: created as a date, the learner and the best baseline by name,
    and the learner's lift over it (runs that have not ended have no summary yet: those cells stay empty)."""
    table = runs.reindex(columns=list(dict.fromkeys([*RUN_COLUMNS, *runs.columns])))
    return table.assign(
        created=pd.to_datetime(table["created"], unit="s", utc=True),
        learner=table["learner"].map(policies.label, na_action="ignore"),
        best_baseline=table["best_baseline"].map(policies.label, na_action="ignore"),
        lift=100 * (table["learner_return"] / table["best_baseline_return"].where(table["best_baseline_return"] != 0)
                    - 1),
    )


def filter_runs(table: pd.DataFrame, text: str = "", statuses: list[str] | None = None,
                presets: list[str] | None = None, sort: str = "created") -> pd.DataFrame:
    """The runs whose name, notes or starter contain ``text`` (any case), with one of ``statuses`` and ``presets``
    (all when empty), sorted by ``sort`` (a key of ``SORTS``; runs without that value last)."""
    keep = pd.Series(True, index=table.index)
    if text:
        words = table["name"].fillna("") + "\n" + table["notes"].fillna("") + "\n" + table["started_by"].fillna("")
        keep &= words.str.contains(text, case=False, regex=False)
    if statuses:
        keep &= table["status"].isin(statuses)
    if presets:
        keep &= table["preset"].isin(presets)
    return table[keep].sort_values(sort, ascending=SORTS[sort][1], na_position="last", kind="stable")


def with_intervals(table: pd.DataFrame) -> pd.DataFrame:
    """Evaluation rows with their 95% intervals as text, the way a results table shows them."""
    out = table.assign(
        return_ci=[f"{lo:.3g} – {hi:.3g}" for lo, hi in zip(table["return_lo"], table["return_hi"], strict=True)],
        ctr_ci=[f"{percent(lo)} – {percent(hi)}" for lo, hi in zip(table["ctr_lo"], table["ctr_hi"], strict=True)],
    )
    if "vs_best_baseline" in out:
        out["vs_best_baseline"] = out["vs_best_baseline"].map(lambda x: percent(x, signed=True))
    return out


def csv_download(frame: pd.DataFrame, file_name: str, key: str) -> None:
    """A table as a CSV file, exactly as its frame holds it (no index)."""
    st.download_button("Download CSV", frame.to_csv(index=False), file_name=file_name, mime="text/csv",
                       icon=":material/download:", on_click="ignore", key=key)


def ago(timestamp: Any) -> str:
    """``3h 05m ago`` within two days, the date after that (a count of hours stops being readable); a time a row
    holds that is no Unix time of 2000-2100 (by hand, or an import before they were checked) is "at an unknown time"."""
    try:
        timestamp = validate.created(timestamp)
    except validate.Problem:
        return "at an unknown time"
    age = time.time() - timestamp
    return f"{duration(age)} ago" if age < 2 * 86400 else time.strftime("on %d %b %Y", time.localtime(timestamp))


def started_by(run: dict[str, Any]) -> str:
    """`` · started by …`` for a run whose starter is known (a signed-in account, the CLI's user), else nothing."""
    return f" · started by {plain(run['started_by'])}" if run.get("started_by") else ""


def run_labels(runs: pd.DataFrame) -> dict[str, str]:
    """Run id -> its name, or name and id where two runs share a name (chart legends need distinct names)."""
    counts = runs["name"].value_counts()
    return {i: f"{n} · {i}" if counts[n] > 1 else n for i, n in zip(runs["id"], runs["name"], strict=True)}


def learner_labels(runs: pd.DataFrame) -> dict[str, str]:
    """``run_labels`` where runs of several learners meet: a rival learner's run leads with its learner's label
    from the registry ("LinUCB · video · seed 0"), so every chart says which learner a curve or an interval is."""
    learners = dict(zip(runs["id"], runs["learner"], strict=True))
    return {i: label if learners[i] == DEFAULT_LEARNER else f"{policies.label(learners[i])} · {label}"
            for i, label in run_labels(runs).items()}


# --------------------------------------------------------------------------------------------- actions


def export_bytes(run_id: str) -> bytes:
    """The run as an export zip (configs, metric CSVs, summary, model), for a download button."""
    with tempfile.TemporaryDirectory() as folder:
        return store().export_zip(run_id, Path(folder) / "run.zip").read_bytes()


def report_bytes(run_id: str) -> bytes:
    """The run's one-page HTML report (``python -m dqn_sim report``), for a download button."""
    return build_report(stored_snapshot(store(), run_id)).encode("utf-8")


def import_run(file_name: str, data: bytes) -> str:
    """Add an uploaded export zip to the store as a new run; returns its id.

    Raises ``RunImportError`` naming what is wrong, and then the store is unchanged. The file keeps its name on
    disk, so that the reason names the file the user chose.
    """
    name = Path(file_name).name  # never a path: the browser sends the name, and "..", "/" must not escape
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / (name if name not in ("", ".", "..") else "upload.zip")
        path.write_bytes(data)
        return store().import_zip(path)


def live(run: dict[str, Any]) -> bool:
    """Whether some process still trains the run (it must be stopped before it is deleted or resumed)."""
    return run["status"] in LIVE_STATES


def load_settings(run: dict[str, Any]) -> None:
    """Make the run's scenario and hyperparameters this session's, in the Scenario and Train forms too.

    Call before those forms are drawn (from another page, or a callback).
    """
    use_config(RunConfig(run["scenario"], run["agent"], run["train"]))
    st.session_state.pop("scenario:preset", None)  # the Scenario page picks the preset that matches again


def resume(run: dict[str, Any]) -> TrainingJob | GroupJob:
    """Train on from the run's checkpoint with its settings, as a new run this session selects (queued when every
    slot of the server is taken)."""
    load_settings(run)
    return start_job(run["scenario"], run["agent"], run["train"], name=f"{run['name']} · resumed",
                     init_from=store().checkpoint_path(run["id"]))


# --------------------------------------------------------------------------------------------- comparison


def _run_data(run_ids: list[str], labels: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each chosen run's rows, learner and settings, by its label (the store is read once per table and run).

    Settings by dotted path (a rival's knobs are nested: ``linucb.alpha``), the learner by its label."""
    s = store()
    data = {}
    for run_id in run_ids:
        run = s.get_run(run_id)
        settings = {path: value for cfg in (run["agent"], run["train"]) for path, _, value in leaf_fields(cfg)}
        data[labels[run_id]] = {
            "metrics": s.metrics(run_id), "evals": s.evals(run_id), "segments": s.segment_results(run_id),
            "learner": run["train"].algo,
            "params": {"preset": run["preset"], **settings, "algo": policies.label(run["train"].algo)},
        }
    return data


def _curve_controls() -> tuple[str, str, str, float]:
    """Curve source, metric, x-axis and smoothing of the stored-run curves."""
    cols = st.columns([2, 2, 3, 3], vertical_alignment="bottom")
    source = cols[0].segmented_control("Curve", ["eval", "train"], default="eval", required=True,
                                       key="history:source", format_func={"eval": "Held-out", "train": "Training"}.get)
    metric = cols[1].segmented_control("Metric", list(plots.METRICS), default="return", required=True,
                                       key="history:metric", format_func={"return": "Return", "ctr": "CTR"}.get)
    x = cols[2].segmented_control("X-axis", list(plots.X_AXES), default="step", required=True, key="history:x",
                                  format_func=plots.X_AXES.get)
    smoothing = cols[3].slider("Smoothing", 0.0, 0.99, 0.6, 0.01, key="history:smoothing",
                               disabled=source != "train", help="Exponential moving average of the training "
                               "curves, as in TensorBoard (0 = raw). Held-out points are not smoothed.")
    return source or "eval", metric or "return", x or "step", smoothing


def _hyperparameters(final: pd.DataFrame, data: dict[str, dict[str, Any]]) -> None:
    """What mattered: the settings that differ between the chosen runs against their learners' final return."""
    params = pd.DataFrame.from_dict({label: d["params"] for label, d in data.items()}, orient="index")
    table = history_plots.hyperparameter_table(params, final)
    differing = history_plots.varying(table, list(HYPERPARAMETERS))
    if len(table) < 2 or not differing:
        st.caption("Choose at least two finished runs whose settings differ to see which setting mattered.")
        return
    left, right = st.columns([1, 2], vertical_alignment="bottom")
    view = left.segmented_control("View", ["scatter", "parcoords"], default="scatter", required=True,
                                  key="history:view", format_func={"scatter": "One setting",
                                                                   "parcoords": "All settings"}.get)
    if view == "parcoords":
        st.plotly_chart(history_plots.hyperparameter_parcoords(table, differing, HYPERPARAMETERS))
        st.caption("One line per run, darker for a higher final return. Drag along an axis to keep only the "
                   "runs in that range.")
    else:
        param = right.selectbox("Setting", differing, format_func=HYPERPARAMETERS.get, key="history:param",
                                help="Only the settings that differ between the chosen runs are listed.")
        st.plotly_chart(history_plots.hyperparameter_scatter(table, param, label=HYPERPARAMETERS[param]))
    shown = table[["run", *differing, "learner_return", "learner_lo", "learner_hi"]]
    csv_download(shown, "hyperparameters.csv", key="history:params_csv")


def stored_runs_comparison() -> None:
    """Stored runs side by side: learning curves over the chosen baselines, final results with 95% intervals,
    hyperparameters against the final return, and results per segment. Draws its own subheaders.

    Every run the store holds can be chosen, from this server, the CLI or an import, finished or still training.
    """
    runs = store().list_runs()
    if runs.empty:
        st.info("No stored runs yet: every run started on the **Train** page, or with `python -m dqn_sim train`, "
                "is kept and can be compared here.", icon=":material/info:")
        return
    labels = learner_labels(runs)
    evaluated = list(runs.loc[runs.reindex(columns=["learner_return"])["learner_return"].notna(), "id"])
    left, right = st.columns([3, 2])
    chosen = left.multiselect("Stored runs", list(labels), default=(evaluated or list(labels))[:DEFAULT_RUNS],
                              format_func=labels.get, key="history:runs", placeholder="Choose runs",
                              help="Newest first; the most recent runs with a final result are chosen to begin "
                                   "with.")
    best = runs.reindex(columns=["id", "best_baseline"]).set_index("id")["best_baseline"].reindex(chosen).dropna()
    baselines = right.multiselect("Baselines", policies.evaluated_in_training(), default=list(best.mode()[:1]),
                                  format_func=policies.label, key="history:baselines",
                                  help="Drawn with each run; runs with the same scenario and seed share them.")
    if not chosen:
        st.info("Choose one or more runs to compare.", icon=":material/info:")
        return
    data = _run_data(chosen, labels)
    # a run's colour comes from its place in the store, so it is the same whichever runs are chosen beside it
    colors = {labels[run_id]: color for run_id, color in plots.run_colors(list(runs["id"])[::-1]).items()}
    final = history_plots.final_table({label: d["evals"] for label, d in data.items()}, baselines, colors)

    st.subheader("Learning curves", divider="violet")
    source, metric, x, smoothing = _curve_controls()
    st.plotly_chart(history_plots.curves_chart({label: (d["metrics"], d["evals"]) for label, d in data.items()},
                                               final, source=source, metric=metric, x=x, smoothing=smoothing,
                                               colors=colors))
    unevaluated = [label for label, d in data.items() if not (d["evals"]["policy"] == d["learner"]).any()]
    if source == "eval" and unevaluated:
        st.caption(f"Not evaluated on held-out users yet: {plain(', '.join(unevaluated))}. The **Training** curve "
                   "shows how far they got.")

    st.subheader("Final results", divider="violet")
    if final.empty:
        st.caption("None of the chosen runs has been evaluated yet.")
    else:
        shown = with_intervals(final)
        st.dataframe(shown, hide_index=True, column_order=list(RESULT_COLUMNS), column_config=RESULT_COLUMNS)
        columns = ["series", "run", "policy", *[c for c in RESULT_COLUMNS if c != "series"]]
        csv_download(shown[columns], "final_results.csv", key="history:final_csv")
        st.plotly_chart(history_plots.final_chart(final))

    st.subheader("What mattered: settings against the final return", divider="violet")
    _hyperparameters(final, data)

    st.subheader("Who gains: results per segment", divider="violet")
    segments = history_plots.segment_table({label: d["segments"] for label, d in data.items()}, baselines, colors)
    if segments.empty:
        st.caption("Per-segment results are computed from a run's final evaluation, when it ends.")
    else:
        st.plotly_chart(history_plots.segments_chart(segments))
        csv_download(segments[["series", "run", "policy", "segment", "segment_name", "episodes", "return_mean",
                               "return_lo", "return_hi"]], "segments.csv", key="history:segments_csv")
