"""Train: set the DQN's hyperparameters, start a background run, and watch it learn against the baselines."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from dqn_sim import plots, policies, stats
from dqn_sim.agent_presets import AGENT_PRESETS
from dqn_sim.config import AgentConfig, TrainConfig
from dqn_sim.describe import final_results
from dqn_sim.presets import preset_agent
from dqn_sim.runs import GroupView
from dqn_sim.splits import validation_rows
from dqn_sim.train.job import JobSnapshot
from dqn_sim.vocab import ACTIVE_STATES, STATES, SUCCESS_STATES, TRAINING
from ui import forms, lineup
from ui.fmt import compact, delta_color, duration, percent
from ui.live_chart import live_chart
from ui.page import header, require_entry_point
from ui.state import (
    agent_config,
    current_scenario,
    owns,
    queue_text,
    registry,
    run_group,
    selected_lineup,
    selected_run_id,
    snapshot,
    start_job,
    start_lineup,
    start_problem,
    train_config,
    view_to_url,
    view_value,
    watch_only,
)
from ui.status import POLL_S, progress_bar, state_badge

TABS = {"train": "Run", "network": "Network", "replay": "Replay", "learning": "Learning",
        "exploration": "Exploration"}  # the DQN's; a rival learner has one tab of its own (its knobs' group)
# the diagnostic drawn under the return curve: name -> panel of (metrics, evals, x-axis, smoothing, learner); two
# that compare, then every training metric the schema offers as a chart of its own
SPECIAL_PANELS: dict[str, Callable[[pd.DataFrame, pd.DataFrame, str, float, str], plots.Panel]] = {
    "Click-through rate": lambda m, e, x, s, lr: plots.learning_curve_panel(m, e, metric="ctr", x=x, smoothing=s,
                                                                           learner=lr),
    "Q-values vs return": lambda m, e, x, s, lr: plots.q_vs_return_panel(m, x=x, smoothing=s, learner=lr),
}
LOWER_PANELS = {
    **SPECIAL_PANELS,
    **{metric.label: (lambda m, e, x, s, lr, name=metric.name: plots.metric_panel(m, name, x=x, smoothing=s))
       for metric in TRAINING.columns if metric.chart and metric.name not in ("episode_return", "ctr")},
}
GRID = "All four plots"  # the default view: return, Q vs return, CTR and ε at once; or the return above one panel
VIEWS = [GRID, *(f"Return + {name}" for name in LOWER_PANELS)]
GRID_HEIGHT = 400  # with the run's status above it, the four panels fit a 1440 x 900 window
DEFAULT_SEEDS, MAX_SEEDS = 3, 16  # a run group by default: one seed is an anecdote
STOP_WAIT_S = 3.0  # a stop finishes the step and the final evaluation; wait that long for a clean state


def apply_agent_preset() -> None:
    """Load the chosen agent preset over the scenario's tuned DQN settings into the form."""
    chosen = AGENT_PRESETS[st.session_state["train:agent-preset"]]
    forms.load("agent", chosen.apply(preset_agent(current_scenario().name)))


def learner_choice() -> list[str]:
    """The learners to train: one (the registry's learners), and any others side by side with it; for the DQN, an
    agent preset. Outside the form, so the tabs follow the choice at once."""
    left, middle, right = st.columns(3)
    algo = left.selectbox("Learner", policies.learners(), key=forms.key("train", "algo"), format_func=policies.label,
                          help="Trained in the same loop, on the same users, budget and seeds; " + "; ".join(
                              f"{policies.label(n)}: {policies.POLICIES[n].description}" for n in policies.learners()))
    others = [n for n in policies.learners() if n != algo]
    if "train:also" in st.session_state:  # the learner just chosen above is no longer an option here
        st.session_state["train:also"] = [n for n in st.session_state["train:also"] if n in others]
    also = middle.multiselect("Side by side with", others, key="train:also", format_func=policies.label,
                              placeholder="Train it alone",
                              help="Also train these learners on the same scenario, budget, users and seeds, each as "
                              "a run (or group) of its own, and watch their learning curves together. Each takes a "
                              "training slot of this server; beyond the free slots the rest wait in the queue.")
    chosen = [algo, *also]
    right.selectbox("Agent preset", list(AGENT_PRESETS), format_func=lambda n: AGENT_PRESETS[n].label,
                    key="train:agent-preset", on_change=apply_agent_preset, disabled="dqn" not in chosen,
                    help="Loads DQN settings into the tabs below: " + "; ".join(
                        f"{p.label}: {p.description}" for p in AGENT_PRESETS.values()))
    return chosen


def hyperparameter_form(active: bool) -> None:
    """Every TrainConfig and AgentConfig field, grouped in tabs; submitting starts a run."""
    agent_cfg, train_cfg = agent_config(), train_config()
    forms.ensure("agent", agent_cfg)
    forms.ensure("train", train_cfg)
    chosen = learner_choice()
    agent, agent_errors = forms.validate(AgentConfig, forms.read("agent", agent_cfg), fallback=agent_cfg)
    train, train_errors = forms.validate(TrainConfig, forms.read("train", train_cfg), fallback=train_cfg)
    tabs = {**(TABS if "dqn" in chosen else {"train": TABS["train"]}),
            **{name: policies.label(name) for name in chosen if name != "dqn"}}
    fields = {"train": ("train", [f for f in forms.groups(train_cfg)["general"] if f[0] != "algo"], train_errors),
              **{name: ("agent", group, agent_errors) for name, group in forms.groups(agent_cfg).items()},
              **{name: ("train", group, train_errors) for name, group in forms.groups(train_cfg).items()}}
    flagged = [tabs[name] for name, (_, group, errors) in fields.items()
               if name in tabs and any(path in errors for path, _, _ in group)]
    # while a run trains, its live view matters more: fold the form away. Not an st.form: a choice such as the
    # exploration schedule must show its own knobs at once; the other knobs wait for the button (forms.knob_grid)
    box = st.expander("Settings for the next run", icon=":material/tune:") if active else st.container()
    with box, st.container(border=not active):
        titles = [f"{title} ⚠" if title in flagged else title for title in tabs.values()]
        for tab, name in zip(st.tabs(titles), tabs, strict=True):
            with tab:
                scope, group, errors = fields[name]
                forms.knob_grid(scope, group, errors, columns=3, defer=True)
        left, right = st.columns([1, 3], vertical_alignment="bottom")
        seeds = left.number_input("Seeds", 1, MAX_SEEDS, DEFAULT_SEEDS, key="train:seeds", on_change="ignore",
                                  help="Train these settings on this many seeds (the training seed, +1, …) side by "
                                  "side: one seed is an anecdote; results over seeds come with intervals that say "
                                  "how much another seed would change them.")
        with right:
            submitted = st.button("Start training", type="primary", icon=":material/play_arrow:", disabled=active,
                                  key="train:start")
        if active:
            st.caption("Your run is still going: stop it to start another with these settings.")
        elif len(chosen) > 1:
            st.caption(f"Starts {len(chosen)} runs side by side ({', '.join(map(policies.label, chosen))}), each on "
                       f"{int(seeds)} seed(s).")
    if not submitted:
        return
    if agent is None or train is None:
        where = f" in the tab(s) marked ⚠: {', '.join(flagged)}" if flagged else ""
        st.error(f"{len(agent_errors) + len(train_errors)} setting(s) need fixing{where}.", icon=":material/error:")
        return
    st.session_state.agent_cfg, st.session_state.train_cfg = agent, train
    if problem := start_problem(current_scenario(), agent, train, seeds=int(seeds), lineup=chosen):
        st.error(problem, icon=":material/memory:")
        return
    if len(chosen) > 1:
        start_lineup(current_scenario(), agent, train, chosen, seeds=int(seeds))
    else:
        start_job(current_scenario(), agent, train, seeds=int(seeds))
    st.rerun()


def stop(*run_ids: str) -> None:
    for run_id in run_ids:
        registry().stop(run_id)
    for run_id in run_ids:
        entry = registry().get(run_id) or registry().group(run_id)
        if entry is not None:
            entry.join(STOP_WAIT_S)


def each(action: Callable[[str], None], *run_ids: str) -> None:
    """Pause or resume every run of a lineup (one run alone is a lineup of one)."""
    for run_id in run_ids:
        action(run_id)


def controls(run_id: str, state: str, *others: str) -> None:
    """Pause / Resume and Stop for the person who started the run (and the ``others`` started side by side with
    it); callbacks act before the view redraws, so the new state shows at once. Everyone else watches, and is told
    who started it."""
    if not owns(run_id):
        if state in ACTIVE_STATES:
            st.caption(watch_only(run_id))
        return
    ids = (run_id, *others)
    if all(registry().get(i) is None and registry().group(i) is None for i in ids) or state not in ACTIVE_STATES:
        return  # not training in this server (stored, or the CLI's), or ended: nothing to steer
    with st.container(horizontal=True, horizontal_alignment="right"):
        if state == "paused":
            st.button("Resume", on_click=each, args=(registry().resume, *ids), icon=":material/play_arrow:")
        else:
            st.button("Pause", on_click=each, args=(registry().pause, *ids), icon=":material/pause:",
                      disabled=state != "running")
        st.button("Stop", on_click=stop, args=ids, icon=":material/stop:", disabled=state not in ACTIVE_STATES)


def saving_note(run_id: str) -> None:
    """Training never waits for the run store; when the store is busy (another process holds it), say so (for a
    run, or a group and its members)."""
    job, group = registry().get(run_id), registry().group(run_id)
    saving = job.observer if job is not None else group.recorder if group is not None else None
    if getattr(saving, "behind", False):
        st.caption(f":material/hourglass_top: Saving to the run store is behind ({saving.pending_rows:,} rows "
                   "waiting, retried with back-off): training goes on and nothing is lost.")


def queue_note(run_id: str) -> None:
    """A run waiting for a slot: where it stands, who holds the slots, and roughly how long."""
    place = registry().queued(run_id)
    if place is None:
        return
    taken = f"all {registry().max_running} training slots of this server are taken ({{holders}})"
    st.info(queue_text(place, taken, "run(s) wait before this one", "a slot frees"), icon=":material/schedule:")


def headline(snap: JobSnapshot) -> None:
    """The numbers a stakeholder asks first: speed, episodes, exploration, and DQN vs the best baseline."""
    m, evals = snap.metrics, validation_rows(snap.evals)
    last = m.iloc[-1] if len(m) else None
    cols = st.columns(4)
    cols[0].metric("Speed (steps/s)", compact(last.sps) if last is not None else "—",
                   help="Simulated user-steps per second, learning included")
    cols[1].metric("Episodes", compact(last.episode) if last is not None else "—",
                   help="Finished user sessions in training")
    cols[2].metric("Exploration ε", f"{last.epsilon:.3f}" if last is not None and pd.notna(last.epsilon) else "—",
                   help="Share of random recommendations (a rival learner explores otherwise)")
    name = policies.label(snap.train.algo)
    mine, base = evals[evals.policy == snap.train.algo], evals[evals.policy.isin(policies.rivals())]
    if len(mine) and len(base):
        best = base.loc[base.return_mean.idxmax()]
        ret = mine.return_mean.iloc[-1]
        lift = stats.lift(ret, best.return_mean)
        cols[3].metric(f"{name} held-out return", f"{ret:.3g}", delta=f"{percent(lift, signed=True)} vs "
                       f"{policies.label(best.policy).lower()}", delta_color=delta_color(lift),  # type: ignore[arg-type]
                       help="Latest greedy evaluation on validation users, compared with the best baseline")
    else:
        cols[3].metric(f"{name} held-out return", "—", help="Appears at the first evaluation")


def charts(snap: JobSnapshot, smoothing: float, x: str, view: str) -> None:
    """The four live plots at once, or the return against the baselines above one diagnostic: one figure updated in
    place each refresh (see ``ui.live_chart``), so a zoom or a hover survives it and the browser redraws only what
    changed."""
    m, e, learner = snap.metrics, snap.evals, snap.train.algo
    if view == GRID:
        live_chart(plots.grid4(m, e, x=x, smoothing=smoothing, learner=learner, height=GRID_HEIGHT), key="train:chart")
        return
    top = plots.learning_curve_panel(m, e, metric="return", x=x, smoothing=smoothing, learner=learner)
    lower = LOWER_PANELS[list(LOWER_PANELS)[VIEWS.index(view) - 1]]
    live_chart(plots.stack(top, lower(m, e, x, smoothing, learner)), key="train:chart")


def outcome(snap: JobSnapshot) -> None:
    """How the run ended, said plainly: green only for a DQN ahead of every baseline with the intervals apart."""
    if snap.error:
        st.error(f"**{STATES[snap.state].label}**: {snap.error}. The charts below keep what was recorded.",
                 icon=":material/error:")
        return
    s = snap.summary
    if snap.state not in SUCCESS_STATES or not s:
        return
    took = f"{STATES[snap.state].label} after {snap.step:,} steps in {duration(snap.elapsed_s)}"
    if not s.get("updates"):
        st.warning(f"{took}, but the DQN **never learned**: no gradient update happened (learning starts after "
                   f"{snap.train.learning_starts:,} steps). Its result is an untrained network's; train longer or "
                   "lower *Learning starts*.", icon=":material/warning:")
        return
    learner = snap.train.algo
    if f"{learner}_return" not in s or "best_baseline" not in s:
        return
    mine, (lo, hi) = s[f"{learner}_return"], s[f"{learner}_return_ci"]
    best = s["best_baseline"]
    best_row = final_results(snap.evals).set_index("policy").reindex([best]).iloc[0]
    lift = stats.lift(mine, s["best_baseline_return"])
    result = (f"the {policies.label(learner)} earns **{mine:.3g}** per session (95% CI {lo:.3g}–{hi:.3g}, over "
              f"evaluation sessions), **{percent(lift, signed=True)}** against the best baseline "
              f"({policies.label(best).lower()}, {s['best_baseline_return']:.3g})")
    ceiling = s.get("patient-oracle_return")
    if ceiling:
        result += f"; that is {percent(mine / ceiling)} of the ceiling ({ceiling:.3g})"
    kept = s.get("kept")
    if isinstance(kept, dict) and kept.get("rule"):
        result += f". Model kept: the **{kept['rule']}** checkpoint (step {kept.get('step', 0):,})"
    speed = f" ({s.get('sps', 0):,.0f} steps/s on average)"
    if lo > best_row.get("return_hi", float("inf")):
        st.success(f"{took}{speed}: {result}.", icon=":material/check_circle:")
    elif lift > 0:
        st.info(f"{took}{speed}: {result}. Ahead, but the intervals overlap: not yet a clear win.",
                icon=":material/info:")
    else:
        advice = (" Look at *Q-values vs return* (does it over- or under-estimate?), *TD loss* (does it settle?) and "
                  "the reward scale (Learning tab)." if learner == "dqn" else "")
        st.warning(f"{took}{speed}: {result}. **The {policies.label(learner)} trails the best baseline.**{advice}",
                   icon=":material/trending_down:")
    cols = st.columns(2)
    cols[0].page_link("pages/inspect.py", label="Inspect a user's session", icon=":material/person_search:")
    cols[1].page_link("pages/compare.py", label="Compare with the baselines", icon=":material/leaderboard:")


def chart_controls() -> tuple[float, str, str]:
    """Smoothing, x-axis and the lower panel; inside the chart's fragment, so a change redraws the chart alone."""
    smoothing = view_value("train:smoothing", "smoothing", 0.6, lambda v: min(max(float(v), 0.0), 0.99))
    x = view_value("train:x", "x", "step", lambda v: v if v in plots.X_AXES else "step")
    lower = view_value("train:lower", "panel", GRID, lambda v: v if v in VIEWS else GRID)
    left, middle, right = st.columns([3, 4, 3], vertical_alignment="bottom")
    smoothing = left.slider("Smoothing", 0.0, 0.99, smoothing, step=0.01, key="train:smoothing",
                            on_change=view_to_url, args=("train:smoothing", "smoothing"),
                            help="Exponential moving average, as in TensorBoard (0 = raw).")
    x = middle.segmented_control("X-axis", list(plots.X_AXES), default=x, format_func=plots.X_AXES.get,
                                 key="train:x", required=True, on_change=view_to_url, args=("train:x", "x"))
    lower = right.selectbox("View", VIEWS, VIEWS.index(lower), key="train:lower", on_change=view_to_url,
                            args=("train:lower", "panel"),
                            help="All four live plots at once, or the return above one diagnostic you pick.")
    return smoothing, x or "step", lower


def run_status(run_id: str, polling: bool) -> None:
    """State, Pause / Resume / Stop (for a job training in this server), progress and the headline numbers: one
    fragment, so a button click redraws only these (the chart has its own fragment)."""
    snap = snapshot(run_id)
    if snap is None:
        st.warning("This run is no longer in the store (deleted?).", icon=":material/warning:")
        return
    head, buttons = st.columns([3, 2], vertical_alignment="center")
    with head, st.container(horizontal=True, vertical_alignment="center"):
        st.text(snap.name)  # shown as text: a name is never read as Markdown
        state_badge(snap.state, run_id)
    with buttons:
        controls(run_id, snap.state)
    queue_note(run_id)
    progress_bar(snap)
    saving_note(run_id)
    outcome(snap)
    headline(snap)
    if polling and not snap.active:
        st.rerun()  # the run ended: redraw the page once, which stops the polling


def run_charts(run_id: str) -> None:
    """The chart and its controls: a control change redraws this fragment alone."""
    smoothing, x, lower = chart_controls()
    snap = snapshot(run_id)
    if snap is not None:
        charts(snap, smoothing, x, lower)


def group_status(group_id: str, polling: bool) -> None:
    """A run group: its state and controls, each member's progress, and when it has ended, the result over seeds."""
    view = run_group(group_id)
    if view is None:
        st.warning("This group is no longer in the store (deleted?).", icon=":material/warning:")
        return
    head, buttons = st.columns([3, 2], vertical_alignment="center")
    with head, st.container(horizontal=True, vertical_alignment="center"):
        st.text(view.name)
        state_badge(view.state, group_id)
    with buttons:
        controls(group_id, view.state)
    queue_note(group_id)
    progress_bar(view)
    saving_note(group_id)
    group_outcome(view)
    members = pd.DataFrame([{
        "seed": m.train.seed, "state": STATES[m.state].label if m.state in STATES else m.state,
        "steps": m.step, "progress": m.progress,
        "validation return": last_validation(m), "test return": m.summary.get(f"{m.train.algo}_return"), "run": m.id,
    } for m in view.members])
    st.dataframe(members, hide_index=True, column_config={
        "progress": st.column_config.ProgressColumn("Progress", min_value=0.0, max_value=1.0),
        "validation return": st.column_config.NumberColumn(format="%.3g", help="Latest evaluation on validation "
                                                           "users (what picks the kept checkpoint)"),
        "test return": st.column_config.NumberColumn(format="%.3g", help="The kept checkpoint on test users: the "
                                                     "member's result"),
        "run": st.column_config.TextColumn("Run id", help="Open it alone on Runs, Inspect or Compare"),
    })
    if polling and not view.active:
        st.rerun()


def last_validation(snap: JobSnapshot) -> float | None:
    curve = validation_rows(snap.evals)
    mine = curve[curve["policy"] == snap.train.algo]
    return float(mine["return_mean"].iloc[-1]) if len(mine) else None


def group_outcome(view: GroupView) -> None:
    """The result over training seeds: IQM with its bootstrap interval for the DQN and the best baseline."""
    agg, best = view.summary.get("aggregate") or {}, view.summary.get("best_baseline")
    dqn, rival = agg.get("dqn") or {}, agg.get(best) or {}
    if view.active or dqn.get("iqm") is None or rival.get("iqm") is None:
        return
    (lo, hi), (rlo, rhi) = dqn["iqm_ci"], rival["iqm_ci"]
    text = (f"{STATES[view.state].label}: over **{dqn['n']} training seeds**, the DQN's interquartile mean return is "
            f"**{dqn['iqm']:.3g}** (95% bootstrap interval over seeds {lo:.3g}–{hi:.3g}; seeds from "
            f"{dqn['min']:.3g} to {dqn['max']:.3g}) against {policies.label(best).lower()}'s {rival['iqm']:.3g} "
            f"({rlo:.3g}–{rhi:.3g}). These intervals cover the variation between training seeds.")
    if lo > rhi:
        st.success(text, icon=":material/check_circle:")
    elif dqn["iqm"] > rival["iqm"]:
        st.info(text + " Ahead, but the intervals overlap: more seeds would tell.", icon=":material/info:")
    else:
        st.warning(text + " **The DQN trails the best baseline.**", icon=":material/trending_down:")


def group_charts(group_id: str) -> None:
    """Each member's validation curve, in one chart (the same controls as a single run's)."""
    smoothing, x, _ = chart_controls()
    view = run_group(group_id)
    if view is not None and view.members:
        source = "eval" if any((m.evals["policy"] == m.train.algo).any() for m in view.members) else "train"
        live_chart(plots.runs_chart({f"seed {m.train.seed}": (m.metrics, m.evals) for m in view.members},
                                    source=source, x=x, smoothing=smoothing), key="train:group-chart")


def lineup_status(ids: list[str], polling: bool) -> None:
    """Learners trained side by side: the lineup's state and controls, each learner's progress (and place in the
    queue), and once all have ended, who wins."""
    learners = lineup.read(ids)
    if not learners:
        st.warning("These runs are no longer in the store (deleted?).", icon=":material/warning:")
        return
    state = lineup.state(learners)
    head, buttons = st.columns([3, 2], vertical_alignment="center")
    with head, st.container(horizontal=True, vertical_alignment="center"):
        st.text("Side by side: " + ", ".join(policies.label(entry.learner) for entry in learners))
        state_badge(state, next(entry.id for entry in learners if entry.state == state))
    with buttons:
        controls(ids[0], state, *ids[1:])
    for entry in learners:
        if entry.state == "pending":
            queue_note(entry.id)
    lineup.outcome(learners)
    st.dataframe(lineup.table(learners), hide_index=True, column_config={
        "progress": st.column_config.ProgressColumn("Progress", min_value=0.0, max_value=1.0),
        "seeds": st.column_config.NumberColumn("Seeds", help="Training seeds: the same for every learner"),
        "validation return": st.column_config.NumberColumn(format="%.3g", help="Latest evaluation on validation "
                                                           "users (mean over seeds)"),
        "test return": st.column_config.NumberColumn(format="%.3g", help="On test users: the run's result, or the "
                                                     "interquartile mean over a group's seeds"),
        "run": st.column_config.TextColumn("Run id", help="Open it alone on Runs, Inspect or Compare"),
    })
    if polling and not any(entry.active for entry in learners):
        st.rerun()


def lineup_charts(ids: list[str]) -> None:
    """Every learner's curves in one chart, a colour per learner (the same controls as a single run's)."""
    smoothing, x, _ = chart_controls()
    learners = lineup.read(ids)
    if learners:
        live_chart(lineup.chart(learners, x=x, smoothing=smoothing), key="train:lineup-chart")


def scenario_section(number: int) -> None:
    st.subheader(f"{number} · Scenario", divider="violet")
    st.markdown(
        f"**{scenario.name}** · {scenario.catalogue.n_items:,} items · {scenario.audience.n_users:,} users in "
        f"{scenario.audience.n_segments} segment(s) · slate of {scenario.dynamics.slate_size} · reward = "
        f"`{scenario.reward}`"
    )
    st.page_link("pages/scenario.py", label="Change the scenario", icon=":material/tune:")


def settings_section(number: int) -> None:
    st.subheader(f"{number} · Hyperparameters", divider="violet")
    st.caption("Hover the (?) next to a field for what it does. Choosing a preset on the Scenario page loads its "
               "settings here.")
    hyperparameter_form(active)


def training_section(number: int | None) -> None:
    """The run's status and live chart; without a ``number`` (a run training) it opens the page, with no heading."""
    if number is not None:
        st.subheader(f"{number} · Training", divider="violet")
    if run_id is None:
        st.info("Press **Start training**: progress and live charts appear here.", icon=":material/info:")
        return
    live = st.toggle("Live", value=True, key="train:live", persist_state="session",
                     help="Refresh every second; a zoom or hover on the chart survives the refresh. Turn off to "
                     "freeze the view: training goes on.")
    every = POLL_S if live and training else None  # anyone watching a run that trains sees it move
    if side_by_side:
        st.fragment(run_every=every)(lineup_status)(side_by_side, every is not None)
        st.fragment(run_every=every)(lineup_charts)(side_by_side)
    elif run_group(run_id) is not None:
        st.fragment(run_every=every)(group_status)(run_id, every is not None)
        st.fragment(run_every=every)(group_charts)(run_id)
    else:
        st.fragment(run_every=every)(run_status)(run_id, every is not None)
        st.fragment(run_every=every)(run_charts)(run_id)


require_entry_point()
scenario = current_scenario()
run_id = selected_run_id()
side_by_side = selected_lineup()  # the runs started with the selected one, several learners side by side
entries = [e for i in side_by_side or [run_id] if (e := registry().get(i) or registry().group(i)) is not None]
training = any(e.status().active for e in entries)
active = training and owns(run_id)
# while a run trains, its live view comes first and fits a 1440 x 900 window: the story, the scenario and the
# settings for the next run follow below it
header("Train", "" if active else (
    "A **Deep Q-Network** learns which item to recommend from the value of the whole session that follows, "
    "not just the next click; rival learners (LinUCB, Thompson sampling, REINFORCE) train in the same loop. A run "
    "trains in the background on the scenario you built: switch pages or reload and it goes on. Beside it, "
    f"{policies.baseline_phrase()} meet the same held-out users; the oracles read the simulator's true click "
    "model, which no real ranker can."
))
if active:
    training_section(None)
scenario_section(1)
settings_section(2)
if not active:
    training_section(3)
