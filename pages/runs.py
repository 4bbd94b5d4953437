"""Runs: every stored training run, to come back to, compare, take up again, share as a zip, or delete."""

from __future__ import annotations

import functools
import re

import streamlit as st

from dqn_sim import plots, policies, stats
from dqn_sim.errors import INPUT_ERRORS, one_line
from dqn_sim.store import RunNotFound, StoreError
from dqn_sim.vocab import STORED_STATES
from ui import history
from ui.fmt import compact, delta_color, duration, inert, percent, plain
from ui.page import header
from ui.state import display_name, owns, select_run, selected_job, start_problem, who
from ui.status import state_badge

NOTES = {"success": (st.success, ":material/check_circle:"), "error": (st.error, ":material/block:")}


def flash(area: str, kind: str, text: str) -> None:
    """Keep an action's outcome (``kind`` is a key of ``NOTES``) for the next run, which the callbacks below
    trigger: ``show`` then draws it next to the control that acted."""
    st.session_state[f"runs:note:{area}"] = (kind, text)


def show(area: str) -> None:
    if (note := st.session_state.pop(f"runs:note:{area}", None)) is not None:
        kind, text = note
        element, icon = NOTES[kind]
        element(text, icon=icon)


def pick_row(ids: list[str]) -> None:
    """Ticking a table row picks that run below (``ids`` are the table's rows, in order)."""
    rows = st.session_state["runs:table"]["selection"]["rows"]
    if rows:
        st.session_state["runs:pick"] = ids[rows[0]]


def on_import() -> None:
    upload = st.session_state.get("runs:import")
    if upload is None:
        return
    try:
        run_id = history.import_run(upload.name, upload.getvalue())
    except INPUT_ERRORS as e:  # whatever the file holds: one line, never a traceback
        flash("import", "error", f"Not imported: {inert(one_line(e))}")
        return
    st.session_state["runs:pick"] = run_id
    flash("import", "success", f"Imported **{plain(history.store().get_run(run_id)['name'])}** as a new run: it "
          "is picked below.")


def on_save(run_id: str) -> None:
    name = st.session_state[f"runs:name:{run_id}"].strip()
    if not name:
        flash("edit", "error", "A run needs a name: the name was not changed.")
        return
    history.store().rename(run_id, name, by=display_name(who()))
    history.store().set_notes(run_id, st.session_state[f"runs:notes:{run_id}"])
    flash("edit", "success", "Saved.")


def on_delete(run_id: str, name: str) -> None:
    history.store().delete(run_id, by=display_name(who()))
    st.session_state.pop("runs:pick", None)
    flash("pick", "success", f"Deleted **{plain(name)}**, its metrics and its model.")


def delete_controls(run_id: str, name: str, live: bool = False, *, until_confirmed: bool = False) -> None:
    """A run's "Yes, delete this run" tick and its Delete button, which acts once ticked (never while ``live``).
    ``until_confirmed``: the button appears only once ticked, else it shows disabled until then."""
    confirmed = st.checkbox("Yes, delete this run", key=f"runs:confirm:{run_id}", disabled=live)
    if confirmed or not until_confirmed:
        st.button("Delete run", on_click=on_delete, args=(run_id, name), disabled=live or not confirmed,
                  icon=":material/delete:")


def file_name(name: str) -> str:
    """A run name as a file name people recognise: ``video · fast lr`` -> ``video-fast-lr``."""
    return re.sub(r"[^\w]+", "-", name).strip("-") or "run"


header(
    "Runs",
    "Every training run is kept, with its settings, learning curves and model, whether it was started here, "
    "from the command line, or imported. Find yesterday's runs, note what you tried, take a run up again "
    "with its settings or its trained model, and hand one to a colleague as a single zip file."
)

store = history.store()
runs = store.list_runs()

st.subheader("1 · All runs", divider="violet")
if runs.empty:
    st.info("No runs yet. Start one on the **Train** page, or import a run a colleague exported.",
            icon=":material/info:")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
else:
    cols = st.columns([3, 2, 2, 2])
    text = cols[0].text_input("Search", key="runs:search", placeholder="name, notes or who started it",
                              help="Runs whose name, notes or starter contain this text, in any case.")
    statuses = cols[1].multiselect("Status", [s for s in STORED_STATES if s in set(runs["status"])], key="runs:status",
                                   format_func=lambda s: history.STATUS_LOOK[s][0], placeholder="any")
    presets = cols[2].multiselect("Scenario", sorted(runs["preset"].dropna().unique()), key="runs:preset",
                                  placeholder="any")
    sort = cols[3].selectbox("Sort by", list(history.SORTS), format_func=lambda k: history.SORTS[k][0],
                             key="runs:sort", help="Or click a column header.")
    shown = history.filter_runs(history.runs_table(runs), text, statuses, presets, sort)
    st.dataframe(
        shown.assign(status=shown["status"].map(lambda s: [s])), hide_index=True,
        column_order=list(history.RUN_COLUMNS), column_config=history.RUN_COLUMNS, key="runs:table",
        on_select=functools.partial(pick_row, list(shown["id"])), selection_mode="single-row",
    )
    with st.container(horizontal=True, vertical_alignment="center"):
        st.caption(f"{len(shown)} of {len(runs)} runs. Tick a row to look closer.")
        history.csv_download(shown[list(history.RUN_COLUMNS)], "runs.csv", key="runs:csv")

with st.expander("Import a run from a zip", icon=":material/upload:", expanded=runs.empty):
    st.file_uploader("Run export (.zip)", type=["zip"], key="runs:import", on_change=on_import,
                     help="A zip exported here or with `python -m dqn_sim export`: config.json, metrics.csv, "
                          "summary.json and, when saved, model.pt. A file that is not one changes nothing.")
    show("import")

show("pick")
if runs.empty:
    st.stop()

st.subheader("2 · A closer look", divider="violet")
labels = history.run_labels(runs)
if st.session_state.get("runs:pick") not in labels:
    st.session_state["runs:pick"] = next(iter(labels))
run_id = st.selectbox("Run", list(labels), format_func=labels.get, key="runs:pick",
                      help="Newest first. Ticking a row of the table picks it too.")
try:
    run = store.get_run(run_id)
except RunNotFound:  # deleted from another tab or by the CLI since the list was read
    st.session_state.pop("runs:pick")
    st.rerun()
except StoreError as e:  # its settings do not load (written by hand, or by an older import): it can only go
    st.error(f"This run cannot be shown: {inert(one_line(e))}", icon=":material/error:")
    name = str(runs.set_index("id").at[run_id, "name"])
    delete_controls(run_id, name, until_confirmed=True)
    st.stop()

summary = run["summary"] or {}
with st.container(horizontal=True, vertical_alignment="center"):
    st.markdown(f"**{plain(run['name'])}**")
    state_badge(run["status"])
    st.caption(f"{plain(run['preset'])} · seed {run['seed']} · created {history.ago(run['created'])} · "
               f"{history.SOURCES.get(run['source'], 'source unknown')}{history.started_by(run)} · id `{run_id}`")
    renames = [e for e in store.events(run_id) if e["action"] == "rename"]
    if renames:
        st.caption(f"Renamed {history.ago(renames[-1]['at'])} by {inert(renames[-1]['who'] or 'someone')}.")
if run["error"]:
    st.error(f"**{plain(str(run['status']).title())}**: {inert(run['error'])}", icon=":material/error:")
metrics, evals = store.metrics(run_id), store.evals(run_id)
steps = summary.get("steps", metrics["step"].iloc[-1] if len(metrics) else None)  # how far an unfinished one got
cols = st.columns(4)
learner = run["train"].algo  # the run's own learner: the DQN or a rival
if f"{learner}_return" in summary and "best_baseline" in summary:
    lo, hi = summary[f"{learner}_return_ci"]
    lift = stats.lift(summary[f"{learner}_return"], summary["best_baseline_return"])
    cols[0].metric(f"{policies.label(learner)} return", f"{summary[f'{learner}_return']:.3g}",
                   delta=f"{percent(lift, signed=True)} vs best baseline", delta_color=delta_color(lift),  # type: ignore[arg-type]
                   help=f"Final mean return per session on held-out users; 95% CI {lo:.3g} – {hi:.3g}")
    cols[1].metric(f"Best baseline: {policies.label(summary['best_baseline']).lower()}",
                   f"{summary['best_baseline_return']:.3g}",
                   help="The best baseline (oracles included, the ceiling not) on the same users")
else:
    cols[0].metric(f"{policies.label(learner)} return", "—", help="Known when the run has been evaluated to its end")
    cols[1].metric("Best baseline", "—")
cols[2].metric("Trained", "—" if steps is None else f"{compact(steps)} steps",
               help=f"of {run['train'].total_steps:,} planned user-steps")
cols[3].metric("Time", duration(summary.get("wall_time")),
               help=f"{summary['sps']:,.0f} user-steps per second" if "sps" in summary else None)
if "checkpoint_step" in summary:  # it stopped without its end: a kill, a crash
    st.caption(f"Its saved model is from step {summary['checkpoint_step']:,.0f}, its last checkpoint before it "
               "stopped.")
if len(metrics) or len(evals):
    st.plotly_chart(plots.learning_curve(metrics, evals))
with st.expander("Settings", icon=":material/tune:"):
    for tab, cfg in zip(st.tabs(["Scenario", "Agent", "Training"]), ("scenario", "agent", "train"), strict=True):
        tab.json(run[cfg].to_dict(), expanded=1)

st.subheader("3 · Take it up again", divider="violet")
load_col, resume_col = st.columns(2, gap="large")
with load_col:
    st.markdown("**Open it**")
    st.caption("Select it for Train (its charts and outcome), Inspect (its model) and Compare.")
    if st.button("Open on Train", icon=":material/open_in_new:"):
        select_run(run_id)
        history.load_settings(run)
        st.switch_page("pages/train.py")
    st.markdown("**Continue or tweak its settings**")
    st.caption("Its scenario goes to the Scenario page and its hyperparameters to the Train form; Train opens.")
    if st.button("Load into Scenario & Train", icon=":material/input:"):
        history.load_settings(run)
        st.switch_page("pages/train.py")
with resume_col:
    st.markdown("**Resume training from its checkpoint**")
    job = selected_job()
    if history.live(run):
        why_not = "It is still training."
    elif not store.checkpoint_path(run_id).is_file():
        why_not = ("No model was saved for it: it stopped before its first checkpoint (every "
                   f"{run['train'].checkpoint_period:,} steps, and at the end), or was imported without its model.")
    elif job is not None and job.status().active and owns(job.id):
        why_not = "Your selected run is still training: stop it on the Train page first."
    else:
        why_not = None
    st.caption(why_not or f"A new run starts from its trained weights with its settings, for "
               f"{run['train'].total_steps:,} more steps; Train opens on it.")
    if st.button("Resume training", icon=":material/play_arrow:", disabled=why_not is not None):
        if problem := start_problem(run["scenario"], run["agent"], run["train"],
                                    init_from=store.checkpoint_path(run_id)):
            st.error(problem, icon=":material/memory:")
        else:
            history.resume(run)  # queued if every slot is taken: Train says where it stands
            st.switch_page("pages/train.py")

st.subheader("4 · Name, notes, share, delete", divider="violet")
edit_col, share_col, delete_col = st.columns(3)
with edit_col, st.form(f"runs:edit:{run_id}"):
    st.markdown("**Name and notes**")
    st.text_input("Name", value=run["name"], key=f"runs:name:{run_id}")
    st.text_area("Notes", value=run["notes"] or "", key=f"runs:notes:{run_id}", height=100,
                 placeholder="What did you try, and what did you learn?")
    st.form_submit_button("Save", on_click=on_save, args=(run_id,), icon=":material/save:")
    show("edit")
with share_col, st.container(border=True, height="stretch"):
    st.markdown("**Share**")
    st.caption("One zip with its settings (config.json), metrics.csv, summary.json and its model (model.pt). A "
               "colleague imports it above, or with `python -m dqn_sim import FILE`.")
    st.download_button("Export zip", data=functools.partial(history.export_bytes, run_id),
                       file_name=f"{file_name(run['name'])}.zip", mime="application/zip", on_click="ignore",
                       icon=":material/archive:")
    st.caption("For slides: a one-page report (headline numbers, charts, settings, what the intervals mean) "
               "that opens offline. Every chart also downloads as PNG from its toolbar.")
    st.download_button("Report (HTML)", data=functools.partial(history.report_bytes, run_id),
                       file_name=f"{file_name(run['name'])}.html", mime="text/html", on_click="ignore",
                       icon=":material/description:")
with delete_col, st.container(border=True, height="stretch"):
    st.markdown("**Delete**")
    live = history.live(run)
    st.caption("Stop it on the Train page first: it is still training." if live else
               "The run goes for good, with its metrics and its model. Export it first to keep a copy.")
    delete_controls(run_id, run["name"], live)
