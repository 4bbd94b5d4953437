"""Sweep: search hyperparameters with Optuna, watch the trials learn and get pruned, train the best for real."""

from __future__ import annotations

import time

import streamlit as st

from dqn_sim.config import ConfigError
from dqn_sim.memory import MemoryLimitError
from dqn_sim.sweep import study as studies
from dqn_sim.sweep import views
from dqn_sim.sweep.choices import OBJECTIVES, PRUNERS, SAMPLERS
from ui import sweep_page as sp
from ui.page import header
from ui.state import agent_config, current_scenario, owns, train_config, use_config, watch_only
from ui.status import POLL_S, state_badge

SAMPLER_NAMES = {"tpe": "TPE (learns where good trials lie)", "random": "Random", "grid": "Grid"}
PRUNER_NAMES = {"median": "Median (below the median so far)", "halving": "Successive halving",
                "none": "None (every trial runs its budget)"}

header(
    "Sweep",
    "Which settings make the DQN earn more? A sweep trains many trials, each with values drawn for the knobs you "
    "pick, starting from this session's scenario and Train settings. Optuna chooses the values (TPE learns from the "
    "trials so far), and a trial whose validation curve falls behind the others is pruned early, so the budget "
    "goes to promising ones. Every trial's runs are kept in Runs, tagged with the sweep.",
)
scenario, agent, train = current_scenario(), agent_config(), train_config()

st.subheader("What to search")
# every field's default is its value when the page was last drawn (sp.kept), so the form survives a page switch
paths = st.multiselect("Knobs", sp.searchable(), default=sp.kept("sweep:knobs", list(sp.DEFAULT_KNOBS)),
                       format_func=sp.knob_label, key="sweep:knobs",
                       help="Any knob of the agent, the training or the scenario.")
params, errors, texts = [], 0, {}
for path in paths:
    # a default of the widget's own, not put into st.session_state first: the browser kept a bare '' for a knob
    # dropped and picked again that way (ui.state.view_value says why)
    k = f"sweep:range:{path}"
    text = texts[k] = st.text_input(sp.knob_label(path), sp.kept(k, sp.whole_range(path)), key=k,
                                    help="LO:HI (add :log or :linear), or choices a,b,c. It starts as everything the "
                                    "knob allows: narrow it.")
    try:
        params.append(sp.read_param(path, text))
    except ConfigError as e:
        errors += 1
        st.error(str(e).partition(": ")[2], icon=":material/error:")

st.subheader("Budget and search")
c1, c2, c3, c4 = st.columns(4)
trials = c1.number_input("Trials", 1, 500, sp.kept("sweep:trials", 12), key="sweep:trials")
seeds = c2.number_input("Seeds per trial", 1, 16, sp.kept("sweep:seeds", 1), key="sweep:seeds",
                        help="The objective is the IQM over these seeds of the last validation value.")
steps = c3.number_input("Steps per seed", train.eval_every, 10**9,
                        max(train.eval_every, sp.kept("sweep:steps", train.total_steps // 5)),
                        step=train.eval_every, key="sweep:steps",
                        help="Each trial's budget in user-steps; it is judged at every evaluation "
                        f"(every {train.eval_every:,} steps, from the Train settings).")
parallel = c4.number_input("Trials at once", 1, sp.max_parallel(),
                           min(sp.max_parallel(), sp.kept("sweep:parallel", sp.default_parallel(seeds))),
                           key="sweep:parallel",
                           help="Each trial at once takes one of this server's "
                           f"{sp.max_parallel()} training slots, shared with everyone's runs; when they are taken, "
                           "the sweep waits in the queue.")
c1, c2, c3, c4 = st.columns(4)
sampler = c1.selectbox("Sampler", SAMPLERS, SAMPLERS.index(sp.kept("sweep:sampler", SAMPLERS[0])),
                       format_func=SAMPLER_NAMES.get, key="sweep:sampler")
pruner = c2.selectbox("Pruner", PRUNERS, PRUNERS.index(sp.kept("sweep:pruner", PRUNERS[0])),
                      format_func=PRUNER_NAMES.get, key="sweep:pruner")
objective = c3.selectbox("Objective", list(OBJECTIVES), list(OBJECTIVES).index(sp.kept("sweep:objective", "return")),
                         format_func={"return": "Return", "ctr": "CTR"}.get, key="sweep:objective")
name = c4.text_input("Name", sp.kept("sweep:name", f"{scenario.name}-{time.strftime('%Y%m%d-%H%M')}"),
                     key="sweep:name", help="The same name resumes a sweep (same settings).")
sp.keep({"sweep:knobs": paths, **texts, "sweep:trials": trials, "sweep:seeds": seeds, "sweep:steps": steps,
         "sweep:parallel": parallel, "sweep:sampler": sampler, "sweep:pruner": pruner, "sweep:objective": objective,
         "sweep:name": name})

if st.button("Start sweep", type="primary", icon=":material/play_arrow:", key="sweep:start",
             disabled=errors > 0 or not params or not name.strip() or sp.running(name.strip()) is not None):
    spec = sp.spec_for(name.strip(), scenario, agent, train, tuple(params), seeds=seeds, steps=steps,
                       sampler=sampler, pruner=pruner, objective=objective)
    try:
        sp.start(spec, trials, parallel)
        st.session_state["sweep:view"] = spec.name
    except (ConfigError, MemoryLimitError) as e:
        st.error(str(e), icon=":material/error:")

stored = [s["name"] for s in studies.list_sweeps(sp.storage_url())]
if not stored:
    st.info("No sweeps yet: pick knobs and start one.", icon=":material/info:")
    st.stop()
st.divider()
if st.session_state.get("sweep:view") not in stored:
    st.session_state["sweep:view"] = stored[-1]
viewed = st.selectbox("Sweep", stored, key="sweep:view")


@st.fragment(run_every=POLL_S if sp.running(viewed) else None)
def live(name: str) -> None:
    study, spec = studies.load(name, sp.storage_url())
    job = sp.running(name)
    tally = studies.tally(study)
    target = study.user_attrs.get(studies.TRIALS_ATTR, tally.done)
    left, mid, right = st.columns([1, 4, 1], vertical_alignment="center")
    with left:
        if job is not None:
            state_badge(job.state, job.id)  # a sweep waiting for its slots says so
        else:
            state_badge("finished" if tally.done >= target else "stopped")
    mid.progress(min(1.0, tally.done / max(target, 1)), text=f"{tally.done} / {target} trials done · "
                 f"{tally.running} running · best {'—' if tally.best is None else f'{tally.best:.4g}'}")
    if job is not None:
        if owns(job.id):  # only who started it may stop it; everyone else watches, as with a run
            right.button("Stop", icon=":material/stop:", key="sweep:stop", on_click=sp.stop, args=(job,),
                         help="Running trials end and are queued again: resume picks them up.")
        else:
            st.caption(watch_only(job.id))
        if (place := sp.queued(job)) is not None:
            st.info(sp.queue_note(job, place), icon=":material/hourglass_top:")
    elif tally.done < target and right.button("Resume", icon=":material/play_arrow:", key="sweep:resume"):
        before = sp.sweeps().get(name)
        try:
            sp.start(spec, target, before.slots if before else sp.default_parallel(spec.seeds))
            st.rerun()
        except (ConfigError, MemoryLimitError) as e:  # refused up front, as Start is
            st.error(str(e), icon=":material/error:")
    # sampled numbers to 4 significant digits, as the best trial's line says them (the table's default, 4
    # decimals, showed a learning rate of 0.0006182 as 0.0006)
    sampled = {p.path: st.column_config.NumberColumn(format="%.4g")
               for p in spec.params if p.choices is None and not p.integer}
    st.dataframe(views.trial_table(study), hide_index=True, column_config=sampled)
    figures = views.figures(study, spec.objective)
    for tab, (title, figure) in zip(st.tabs(list(figures)), figures.items(), strict=True):
        with tab:
            if isinstance(figure, str):
                st.caption(figure)
            else:
                st.plotly_chart(figure, key=f"sweep:figure:{title}")
    best = studies.best(study)
    if best is not None:
        shown = ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in best["params"].items())
        st.success(f"Best so far: **{best['value']:.4g}** with {shown}", icon=":material/trophy:")
        if st.button("Train this configuration", icon=":material/model_training:", key="sweep:train-best"):
            use_config(sp.trial_config(spec, best["params"]))
            st.switch_page("pages/train.py")
    if job is None and st.session_state.get("sweep:was-running") == name:
        st.session_state.pop("sweep:was-running")
        st.rerun()  # it ended: a full rerun stops the polling
    if job is not None:
        st.session_state["sweep:was-running"] = name


live(viewed)
